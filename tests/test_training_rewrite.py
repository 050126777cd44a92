"""`python -m training rewrite`: what may be reworded, what is kept, the journal that lets a
stopped run resume, and the real thing against vLLM's server with the embedded model."""
import json

import pytest

import shopbench.data as data_module
from shopbench import metric_registry, spec
from shopbench.scoring import Scorer
from training import rewrite as rewriting
from training.__main__ import main as training_main

DEV = spec.DEV_DATA


def dev_questions(limit=None):
    questions = data_module.load_questions(DEV)
    return questions[:limit] if limit else questions


def test_only_the_leading_instruction_is_split_off_and_nothing_is_lost(dev_records):
    corpus = [json.loads(line) for line in (spec.ROOT / "tests" / "data" / "routing_corpus.jsonl").open()]
    for record in dev_records + corpus:
        split = rewriting.split_instruction(record["input_field"])
        assert split.with_instruction(split.instruction) == record["input_field"]
    mc = rewriting.split_instruction("Which one is a fruit?\n0. apple\n1. chair\nAnswer:")
    assert (mc.instruction, mc.after) == ("Which one is a fruit?", "\n0. apple\n1. chair\nAnswer:")
    labelled = rewriting.split_instruction("Instructions: Tell me about it \nInput: Toggle Switch\nOutput:")
    assert (labelled.before, labelled.instruction) == ("Instructions: ", "Tell me about it ")
    ner = rewriting.split_instruction("Extract the brand from the query. \nQuery: nike shoes\nOutput: ")
    assert ner.instruction == "Extract the brand from the query. " and ner.after.startswith("\nQuery: nike shoes")
    assert rewriting.split_instruction("Query: nike shoes\nOutput:").instruction == ""


@pytest.mark.parametrize(
    "rewrite, problem",
    [
        ("From the query, pull out every entity of type 'brand' (3 at most).", None),
        ("Extract  entities of type 'brand' from the query (at most 3).", "unchanged"),
        ("Pull out every maker from the query, at most 3.", "lost 'brand'"),
        ("From the query, pull out every entity of type 'brand'.", "lost 3"),
        ("", "empty"),
        ("'brand' 3", "length"),
        ("The entity type 'brand' is sold in 3 stores worldwide, mostly online.", "drifted: other words"),
    ],
)
def test_a_rewrite_keeps_the_quotations_and_numbers_of_the_instruction(rewrite, problem):
    original = "Extract entities of type 'brand' from the query (at most 3)."
    assert rewriting.wording_problem(original, rewrite) == problem


def test_a_question_stays_a_question():
    original = "Which of the following products best complements the product type 'tent'?"
    assert rewriting.wording_problem(original, "The product type 'tent' is complemented by products.") == \
        "drifted: no longer a question"
    assert rewriting.wording_problem(original, "Which product below goes best with the product type 'tent'?") is None


def test_the_models_reply_is_cleaned_to_the_instruction():
    assert rewriting.cleaned_rewrite('Rewritten instruction: "Pick the best one."\n\nI kept the format.') == \
        "Pick the best one."
    assert rewriting.cleaned_rewrite("  Here is the rewrite: Rank the items.  ") == "Rank the items."


class Scripted(rewriting.Rewriter):
    """A rewriter without a model: `reword` gives each instruction's new wording; after
    `fail_after` calls it stops as a killed run would."""

    def __init__(self, reword, fail_after=None):
        self.reword, self.fail_after, self.calls, self.styles = reword, fail_after, 0, []

    def rewrite(self, instructions):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt
        self.calls += 1
        self.styles += [style for _, style in instructions]
        return [self.reword(text) for text, _ in instructions]


def polite(text: str) -> str:
    return "Please answer this. " + text


def run_rewrite(questions, out, rewriter, wordings=3):
    key = {"test": True, "wordings": wordings}
    records = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()]
    return rewriting.rewrite_file(questions, records, out, rewriter, Scorer(), key, wordings)


def test_kept_rewrites_route_and_score_as_before_and_keep_the_data(tmp_path):
    questions = [q for q in dev_questions() if not metric_registry.get(q.metric).model][:40]
    report = run_rewrite(questions, tmp_path / "out.jsonl", Scripted(polite))
    kept = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(kept) == report.kept > 30
    by_index = {q.index: q for q in questions}
    for record in kept:
        original = by_index[record["rewritten_from"]]
        assert record["input_field"] != original.input_field and record["output_field"] == original.output_field
        split = rewriting.split_instruction(original.input_field)
        assert record["input_field"] == split.with_instruction(polite(split.instruction))
        assert record["wording"] in rewriting.STYLES[:3]
    assert not (tmp_path / "out.jsonl.partial").exists()
    assert training_main(["check", "--data", str(tmp_path / "out.jsonl"), "--no-progress"]) == 0


def test_rewrites_that_change_the_task_are_dropped(tmp_path):
    questions = [q for q in dev_questions() if q.task_type == spec.NER]
    report = run_rewrite(questions, tmp_path / "out.jsonl", Scripted(lambda text: "Write a short poem about it."))
    assert report.kept == 0 and (tmp_path / "out.jsonl").read_text() == ""
    assert sum(t.rejected.get("check", 0) + t.rejected.get("lost", 0) for t in report.tasks.values()) == len(questions)


def test_styles_take_turns_within_each_task(tmp_path):
    questions = [q for q in dev_questions() if q.task_name == "task2"]
    rewriter = Scripted(polite)
    run_rewrite(questions, tmp_path / "out.jsonl", rewriter, wordings=2)
    assert rewriter.styles == [rewriting.STYLES[i % 2] for i in range(len(questions))]


def stopped_run(tmp_path):
    """(questions, an unbroken run's output, the output of a run stopped after one batch)."""
    questions = [q for q in dev_questions() if not metric_registry.get(q.metric).model][:40]
    whole = tmp_path / "whole.jsonl"
    run_rewrite(questions, whole, Scripted(polite))
    out = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_rewrite(questions, out, Scripted(polite, fail_after=1))
    return questions, whole, out


def test_a_stopped_run_resumes_from_its_journal_and_ends_where_an_unbroken_one_does(tmp_path):
    questions, whole, out = stopped_run(tmp_path)
    assert not out.exists() and len((tmp_path / "out.jsonl.partial").read_text().splitlines()) == 1 + rewriting.BATCH
    resumed = Scripted(polite)
    report = run_rewrite(questions, out, resumed)
    assert report.resumed == rewriting.BATCH and len(resumed.styles) <= len(questions) - rewriting.BATCH
    assert out.read_text() == whole.read_text()


def test_a_journal_of_another_run_is_refused(tmp_path):
    out = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.partial").write_text(json.dumps({"another": "run"}) + "\n")
    with pytest.raises(data_module.DataError, match="the journal of another run"):
        run_rewrite(dev_questions(4), out, Scripted(polite))


def test_the_command_needs_a_server_before_any_work(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("SHOPBENCH_SERVER_URL", raising=False)
    assert training_main(["rewrite", "--data", str(DEV), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "SHOPBENCH_SERVER_URL must be the server's base URL" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        training_main(["rewrite", "--data", str(DEV), "--out", str(tmp_path / "o.jsonl"), "--wordings", "9"])
    assert stop.value.code == 2 and "--wordings: must be an integer from 1 to" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.engine
def test_rewrite_through_vllms_server_with_the_embedded_model(tmp_path, monkeypatch, capsys):
    from models import embedded
    from tests.fake_server import vllm_server_on

    monkeypatch.delenv("SHOPBENCH_MODEL_DIR", raising=False)
    with vllm_server_on(embedded.safetensors_copy(), tmp_path) as url:
        monkeypatch.setenv("SHOPBENCH_SERVER_URL", url)
        out = tmp_path / "rewrites.jsonl"
        assert training_main(["rewrite", "--data", str(DEV), "--out", str(out), "--limit", "24", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    # The small model's wordings are poor, yet some pass (11 of these 24 when measured): a
    # run that rejected every rewrite would be broken, not strict.
    assert kept and f"{len(kept)} of 24 questions rewritten and checked" in printed
    originals = {i: r["input_field"] for i, r in enumerate(json.loads(line) for line in DEV.read_text().splitlines())}
    assert all(r["input_field"] != originals[r["rewritten_from"]] for r in kept)
    assert training_main(["check", "--data", str(out), "--no-progress"]) == 0


def test_a_line_cut_short_by_a_stop_survives_two_resumes(tmp_path):
    questions, whole, out = stopped_run(tmp_path)
    with open(tmp_path / "out.jsonl.partial", "a") as journal:
        journal.write('{"index": 99, "sta')  # killed in the middle of a line
    with pytest.raises(KeyboardInterrupt):
        run_rewrite(questions, out, Scripted(polite, fail_after=1))
    report = run_rewrite(questions, out, Scripted(polite))
    assert report.resumed == 2 * rewriting.BATCH and out.read_text() == whole.read_text()
