"""The metric table: every metric the data, the spec and the training sources name has a
record, and a metric registered here alone is parsed, scored and aggregated end to end."""
import json

import pytest

import local_evaluation
from shopbench import compare, data, metric_registry, metrics, spec
from shopbench.metric_registry import POOLED_F1, Gold, Metric, Reading
from tests.conftest import DEV_DATA, ROOT, write_jsonl

T1, T2 = spec.TRACKS[0].challenge_id, spec.TRACKS[1].challenge_id
# The metric names spec.py defines; a constant added there without a record fails below.
SPEC_METRICS = {spec.ACCURACY, spec.HIT_RATE_3, spec.NDCG, spec.MICRO_F1, spec.ROUGE_L, spec.BLEU, spec.JP_BLEU,
                spec.SENT_TRANSFORMER, spec.MULTILINGUAL_SENT_TRANSFORMER}


def metrics_in(path) -> set[str]:
    return {json.loads(line)["metric"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def test_every_metric_the_data_the_spec_and_the_training_sources_name_has_a_record():
    from training.sources import LABELLED, SOURCES

    named = SPEC_METRICS | metrics_in(DEV_DATA) | metrics_in(ROOT / "tests" / "data" / "routing_corpus.jsonl")
    named |= {task.metric for source in (*SOURCES.values(), *LABELLED.values()) for task in source.tasks}
    assert named <= set(metric_registry.names())


def test_every_record_reads_under_every_rule_set_and_every_task_type_has_a_metric():
    for metric in metric_registry.METRICS.values():
        assert set(metric.readings) == set(metric_registry.RULE_NAMES), metric.name
        assert set(metric.task_types) <= set(spec.TASK_TYPES), metric.name
    assert {t for m in metric_registry.METRICS.values() for t in m.task_types} == set(spec.TASK_TYPES)
    # Every task type of the release's per-task folders has a task-wise metric.
    assert [metric_registry.task_wise_metric(t, "x") for t in spec.TASK_TYPES] == [
        spec.ACCURACY, spec.NDCG, spec.HIT_RATE_3, spec.MICRO_F1, spec.SENT_TRANSFORMER]


@pytest.mark.parametrize("task, metric", [
    ("attribute_extraction", spec.ROUGE_L),
    ("extraction_translation_JP_multilingual", spec.ROUGE_L),  # extraction first
    ("title_translation_JP", spec.JP_BLEU),
    ("multilingual_translation", spec.BLEU),  # translation before multilingual
    ("title_translation_jp", spec.BLEU),  # "JP" is matched with its case
    ("product_multilingual_description", spec.MULTILINGUAL_SENT_TRANSFORMER),
    ("pt_name_explain", spec.SENT_TRANSFORMER),
])
def test_the_task_wise_generation_metric_follows_the_release_scripts_order(task, metric):
    assert metric_registry.task_wise_metric(spec.GENERATION, task) == metric


def test_register_refuses_a_name_twice_and_a_record_without_every_rule_set(monkeypatch):
    monkeypatch.setattr(metric_registry, "METRICS", dict(metric_registry.METRICS))
    with pytest.raises(ValueError, match="already registered"):
        metric_registry.register(metric_registry.get(spec.ACCURACY))
    half = Metric("half", (spec.GENERATION,), Gold(lambda v: True, "anything"),
                  {spec.KDD_RULES: metric_registry.get(spec.BLEU).readings[spec.KDD_RULES]})
    with pytest.raises(ValueError, match="no reading for the shopping-mmlu rules"):
        metric_registry.register(half)
    assert "half" not in metric_registry.names()


# A metric that exists only in this test: F1 of the answer's words against the gold's,
# pooled over the task as micro F1 is. The kit reads the answer by its task type (generation:
# stripped); the release-style reading keeps the first line only. Its tool is the word
# splitter a run shares, made once per run.
WORD_F1 = "word f1"
made_tools = []


def _split_words():
    made_tools.append(1)
    return str.split


def _word_counts(parsed: str, gold: str, split) -> tuple[int, int, int]:
    split = split or str.split
    said, wanted = set(split(parsed.lower())), set(split(gold.lower()))
    return len(said & wanted), len(said - wanted), len(wanted - said)


def word_f1() -> Metric:
    from shopbench import parsers

    return Metric(
        WORD_F1, (spec.GENERATION,), Gold(lambda v: isinstance(v, str), "a string"),
        {spec.KDD_RULES: Reading(parsers.PARSERS, _word_counts),
         spec.MMLU_RULES: Reading(lambda text: text.split("\n")[0], _word_counts)},
        aggregation=POOLED_F1, tool=_split_words,
    )


def test_a_metric_registered_in_a_test_is_parsed_scored_and_aggregated_end_to_end(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(metric_registry, "METRICS", dict(metric_registry.METRICS))
    metric_registry.register(word_f1())
    questions = [
        {"input_field": "Name it.", "output_field": "red running shoe", "task_name": "words", "track": T1},
        {"input_field": "Name it.", "output_field": "blue hat", "task_name": "words", "track": T1},
        {"input_field": "Pick.", "output_field": 1, "task_name": "mc", "task_type": spec.MULTIPLE_CHOICE,
         "metric": spec.ACCURACY, "track": T2},
    ]
    for record in questions[:2]:
        record.update(task_type=spec.GENERATION, metric=WORD_F1)
    responses = ["  Red shoe\nhat ", "blue cap", "1"]
    data_file = write_jsonl(tmp_path / "d.jsonl", questions)
    responses_file = write_jsonl(tmp_path / "r.jsonl", [{"response": r} for r in responses])
    results = {}
    for rules in metric_registry.RULE_NAMES:
        out = tmp_path / f"{rules}.json"
        made_tools.clear()
        code = local_evaluation.main(["--data", str(data_file), "--responses", str(responses_file), "--rules", rules,
                                      "--output", str(out), "--no-progress"])
        assert code == 0, capsys.readouterr().err
        assert made_tools == [1]  # one tool for the run, not one per question
        results[rules] = json.loads(out.read_text(encoding="utf-8"))
    kdd, mmlu = results[spec.KDD_RULES], results[spec.MMLU_RULES]
    # Parsed: the kit strips the whole answer; the other reading keeps its first line.
    assert [s["parsed"] for s in kdd["samples"][:2]] == ["Red shoe\nhat", "blue cap"]
    assert [s["parsed"] for s in mmlu["samples"][:2]] == ["  Red shoe", "blue cap"]
    # Scored: counts per question, each question's score the F1 of its own counts.
    assert [(s["tp"], s["fp"], s["fn"]) for s in kdd["samples"][:2]] == [(2, 1, 1), (1, 1, 1)]
    assert [(s["tp"], s["fp"], s["fn"]) for s in mmlu["samples"][:2]] == [(2, 0, 1), (1, 1, 1)]
    assert kdd["samples"][0]["score"] == pytest.approx(metrics.f1(2, 1, 1))
    # Aggregated: pooled over the task (tp 3, fp 2, fn 2), not the mean of the two scores.
    assert kdd["tasks"]["words"] == {"task_type": spec.GENERATION, "metric": WORD_F1, "track": T1,
                                     "num_samples": 2, "score": pytest.approx(metrics.f1(3, 2, 2))}
    assert mmlu["tasks"]["words"]["score"] == pytest.approx(metrics.f1(3, 1, 2))
    assert kdd["tracks"][T1] == kdd["tasks"]["words"]["score"]
    assert kdd["overall"] == pytest.approx((metrics.f1(3, 2, 2) + 1.0) / 2)
    # The results file reads back for run.py compare, counts and all.
    read = compare.results_from_json("k.json", kdd)
    assert read.metrics["words"] == WORD_F1 and read.answers[0].counts == (2, 1, 1)


def test_a_metric_that_is_not_registered_is_refused_by_name(tmp_path, monkeypatch):
    record = {"input_field": "x", "output_field": "y", "task_name": "t", "task_type": spec.GENERATION,
              "metric": WORD_F1}
    path = write_jsonl(tmp_path / "d.jsonl", [record])
    with pytest.raises(data.DataError, match=f"field 'metric': expected one of {spec.ACCURACY}, .* got \"{WORD_F1}\""):
        data.load_questions(path)
    monkeypatch.setattr(metric_registry, "METRICS", dict(metric_registry.METRICS))
    metric_registry.register(word_f1())
    assert data.load_questions(path)[0].metric == WORD_F1
    # A pooled metric and a mean one cannot share a task.
    mixed = write_jsonl(tmp_path / "m.jsonl", [record, {**record, "metric": spec.ROUGE_L}])
    with pytest.raises(data.DataError, match="mixes 'micro f1' with other metrics"):
        data.load_questions(mixed)
