"""The Shopping MMLU release: its data layout (a folder or data.zip, skill files and per-task
files), its own scoring rules (--rules shopping-mmlu), the leaderboard report and its
zero-shot baseline. Release-layout files are built here from the dev questions; nothing of the
release can be downloaded."""
import json
import math
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import local_evaluation
from models.baselines import KIT, RELEASE, ReleaseBaseline
from shopbench import metric_registry, mmlu_rules, release, spec
from shopbench.data import DataError, Question
from shopbench.scoring import Scorer
from tests.conftest import DEV_DATA, ROOT, write_jsonl

SKILL_FILES = {1: "skill1_concept", 2: "skill2_knowledge", 3: "skill3_behavior", 4: "skill4_multilingual"}
RELEASE_FIELDS = ("input_field", "output_field", "task_name", "task_type", "metric")
CORPUS = ROOT / "tests" / "data" / "shopping_mmlu_release_scores.json"


def skill_file(record) -> str:
    return SKILL_FILES[spec.TRACK_BY_ID[record["track"]].number]


def write_release(folder, records_by_skill: dict[str, list[dict]]):
    """Skill files as the release writes them: the dev fields without track or is_multiple_choice."""
    (folder / "skills").mkdir(parents=True)
    for skill, records in records_by_skill.items():
        write_jsonl(folder / "skills" / f"{skill}.json", [{k: r[k] for k in RELEASE_FIELDS} for r in records])
    return folder


def zip_folder(folder, path, under: str = ""):
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, under + file.relative_to(folder).as_posix())
    return path


def dev_by_skill(dev_records) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for record in dev_records:
        grouped.setdefault(skill_file(record), []).append(record)
    return dict(sorted(grouped.items()))


def run(capsys, *argv):
    code = local_evaluation.main([*argv, "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def gold_response(record) -> str:
    truth = record["output_field"]
    if record["metric"] == spec.NDCG:
        return "1,2,3,4,5"
    return ", ".join(map(str, truth)) if isinstance(truth, list) else str(truth)


@pytest.fixture
def dev_release(tmp_path, dev_records):
    """The dev questions as a release folder, the same as a zip (under data/, as zips often
    are), and responses in the release's question order."""
    grouped = dev_by_skill(dev_records)
    folder = write_release(tmp_path / "data", grouped)
    archive = zip_folder(folder, tmp_path / "data.zip", under="data/")
    ordered = [record for records in grouped.values() for record in records]
    responses = write_jsonl(tmp_path / "r.jsonl", [{"response": gold_response(r)} for r in ordered])
    return folder, archive, responses, ordered


def test_folder_and_zip_give_the_same_results_and_the_skill_table(dev_release, tmp_path, capsys):
    folder, archive, responses, ordered = dev_release
    outputs = []
    for data in (folder, archive):
        output = tmp_path / f"{data.name}.json"
        code, out, err = run(capsys, "--data", str(data), "--rules", "shopping-mmlu", "--responses", str(responses),
                             "--output", str(output))
        assert code == 0, err
        outputs.append((out, json.loads(output.read_text())))
    (out, results), (zip_out, zip_results) = outputs
    assert results == zip_results and out.replace(str(folder), "") == zip_out.replace(str(archive), "")
    assert results["rules"] == "shopping-mmlu" and len(results["samples"]) == 96
    skills = [results["tracks"][skill.track] for skill in spec.SKILLS]
    assert results["overall"] == pytest.approx(sum(skills) / 4)
    # the same questions under the same track as the dev file says
    assert [results["tasks"][r["task_name"]]["track"] for r in ordered] == [r["track"] for r in ordered]
    for text in ["skill1 Shopping Concept Understanding", "skill4 Multi-lingual Abilities", "this run",
                 "Claude 3 Sonnet (leaderboard)", "80.75", "72.58*", spec.LEADERBOARD_SOURCE]:
        assert text in out
    overall_row = next(line for line in out.splitlines() if line.startswith("Overall "))
    assert f"{results['overall'] * 100:.2f}" in overall_row
    task12 = next(line for line in out.splitlines() if line.startswith("task12 "))
    assert "skill3" in task12 and task12.endswith(f"{results['tasks']['task12']['score'] * 100:.2f}")


def test_skill_picks_one_skill_file(dev_release, capsys, tmp_path, dev_records):
    folder, _, _, _ = dev_release
    behavior = [r for r in dev_records if skill_file(r) == "skill3_behavior"]
    responses = write_jsonl(tmp_path / "b.jsonl", [{"model_output": gold_response(r)} for r in behavior])
    output = tmp_path / "o.json"
    code, out, err = run(capsys, "--data", str(folder), "--skill", "skill3_behavior", "--rules", "shopping-mmlu",
                         "--responses", str(responses), "--output", str(output))
    assert code == 0, err
    results = json.loads(output.read_text())
    assert {task["track"] for task in results["tasks"].values()} == {spec.SKILLS[2].track}
    assert list(results["tracks"]) == [spec.SKILLS[2].track]
    assert results["overall"] == results["tracks"][spec.SKILLS[2].track]
    assert "mean of the 1 skill(s) scored" in out
    assert next(line for line in out.splitlines() if line.startswith("skill1 ")).split()[4] == "-"


def test_questions_keep_the_skill_files_fields_and_derive_the_rest(dev_release, dev_records):
    folder, archive, _, ordered = dev_release
    questions = release.load_questions(archive)
    assert [q.input_field for q in questions] == [r["input_field"] for r in ordered]
    assert [q.track for q in questions] == [r["track"] for r in ordered]
    assert all(q.is_multiple_choice == (q.task_type == spec.MULTIPLE_CHOICE) for q in questions)
    assert questions == release.load_questions(folder)


@pytest.mark.parametrize("argv, message", [
    (["--skill", "skill9"], "no skill 'skill9' (skills: skill1_concept, skill2_knowledge, skill3_behavior, "
                            "skill4_multilingual)"),
    (["--task", "task99"], "no per-task file for task 'task99' (tasks: none)"),
])
def test_an_unknown_skill_or_task_is_one_line(dev_release, capsys, argv, message):
    folder, _, responses, _ = dev_release
    code, _, err = run(capsys, "--data", str(folder), *argv, "--responses", str(responses))
    assert code == 2 and err == f"error: {folder}: {message}\n"


def test_a_layout_that_is_not_the_release_is_one_line(tmp_path, capsys):
    (tmp_path / "other" / "questions").mkdir(parents=True)
    code, _, err = run(capsys, "--data", str(tmp_path / "other"), "--rules", "shopping-mmlu")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: {tmp_path / 'other'}: expected the Shopping MMLU release: skills/<skill>.json or "
                          "a per-task folder (multiple_choice, ranking, retrieval, named_entity_recognition, "
                          "generation)")
    (tmp_path / "fake.zip").write_text("not a zip")
    code, _, err = run(capsys, "--data", str(tmp_path / "fake.zip"))
    assert code == 2 and err.startswith(f"error: {tmp_path / 'fake.zip'}: cannot read as a zip")
    code, _, err = run(capsys, "--data", str(DEV_DATA), "--skill", "skill1_concept")
    assert code == 2 and err.startswith("error: --skill picks from the Shopping MMLU release, but --data")
    with pytest.raises(SystemExit):
        run(capsys, "--skill", "a", "--task", "b")
    assert "not allowed with argument" in capsys.readouterr().err


def test_bad_files_inside_the_release_are_named(tmp_path, dev_records):
    folder = write_release(tmp_path / "data", {"skill1_concept": dev_records[:2]})
    (folder / "skills" / "extra.json").write_text("{}\n")
    with pytest.raises(DataError, match=r"skills/extra.json: not a skill file of the release \(expected skills/"):
        release.load_questions(folder)
    (folder / "skills" / "extra.json").unlink()
    (folder / "skills" / "skill1_concept.json").write_text(json.dumps({**dev_records[0], "metric": "f2"}) + "\n")
    archive = zip_folder(folder, tmp_path / "d.zip")
    with pytest.raises(DataError) as error:
        release.load_questions(archive)
    assert str(error.value).startswith(f"{archive}:skills/skill1_concept.json:1: field 'metric': expected one of")


def test_two_releases_in_one_container_are_refused(tmp_path, dev_records):
    write_release(tmp_path / "all" / "a", {"skill1_concept": dev_records[:1]})
    write_release(tmp_path / "all" / "b", {"skill1_concept": dev_records[:1]})
    with pytest.raises(DataError, match=r"all: 2 releases \(a, b\); point --data at one of them"):
        release.load_questions(tmp_path / "all")


def per_task_release(folder):
    """The task-wise layout, with the README's target_field."""
    (folder / "multiple_choice").mkdir(parents=True)
    (folder / "multiple_choice" / "asin_compatibility_dataset.csv").write_text(
        'question,choices,answer\n'
        '"Which fits, the case or the charger?","[\'case\', \'charger\', \'cable\', \'stand\', \'extra\']",1\n',
        encoding="utf-8")
    (folder / "multiple_choice" / "review_rating_prediction_dataset.csv").write_text(
        "question,choices,answer\nGreat mixer.,,5\n", encoding="utf-8")
    (folder / "ranking").mkdir()
    write_jsonl(folder / "ranking" / "query_product_ranking_dataset.json",
                [{"input_field": "Rank these.", "target_field": [1, 0.1, 0, 0, 0]}])
    (folder / "generation").mkdir()
    for task, truth in [("attribute_extraction", "red"), ("title_translation_JP", "赤い靴"),
                        ("product_multilingual_description", "a shoe"), ("pt_name_explain", "a shoe")]:
        write_jsonl(folder / "generation" / f"{task}_dataset.json", [{"input_field": "Say it.", "target_field": truth}])
    return folder


def test_per_task_files_are_prompted_as_the_task_wise_scripts(tmp_path):
    folder = per_task_release(tmp_path / "data")
    (question,) = release.load_questions(folder, task="asin_compatibility")
    assert question.input_field == ("Which fits, the case or the charger?\n0. case\n1. charger\n2. cable\n3. stand"
                                    "\nAnswer: ")
    assert (question.output_field, question.metric, question.track, question.is_multiple_choice) == (1, "accuracy",
                                                                                                      None, True)
    (rating,) = release.load_questions(folder, task="review_rating_prediction")
    assert (rating.input_field, rating.output_field) == ("Great mixer.\nAnswer: ", 5)
    every = release.load_questions(folder)  # no skill files: every per-task file
    assert [(q.task_name, q.metric) for q in every] == [
        ("asin_compatibility", "accuracy"), ("review_rating_prediction", "accuracy"),
        ("query_product_ranking", "ndcg"), ("attribute_extraction", "rougel"),
        ("product_multilingual_description", "multilingual-sent-transformer"), ("pt_name_explain", "sent-transformer"),
        ("title_translation_JP", "jp-bleu"),
    ]
    assert every[2].output_field == [1, 0.1, 0, 0, 0]


def test_per_task_file_problems_name_the_file_line_and_field(tmp_path):
    folder = per_task_release(tmp_path / "data")
    path = folder / "multiple_choice" / "asin_compatibility_dataset.csv"
    path.write_text('question,choices,answer\nq,"[\'a\', \'b\']",1\n')
    with pytest.raises(DataError, match=r"asin_compatibility_dataset.csv:2: field 'choices': expected a list of at "
                                        r"least 4 choices"):
        release.load_questions(folder, task="asin_compatibility")
    path.write_text('question,choices,answer\nq,"[\'a\', \'b\', \'c\', \'d\']",two\n')
    with pytest.raises(DataError, match=r"asin_compatibility_dataset.csv:2: field 'answer': expected an integer"):
        release.load_questions(folder, task="asin_compatibility")
    write_jsonl(folder / "ranking" / "query_product_ranking_dataset.json", [{"input_field": "Rank these."}])
    with pytest.raises(DataError, match=r"query_product_ranking_dataset.json:1: field 'target_field': missing"):
        release.load_questions(folder, task="query_product_ranking")


def test_kdd_layout_data_scores_under_either_rules_and_records_them(tmp_path, capsys):
    questions = [json.loads(line) for line in DEV_DATA.read_text().splitlines()]
    # "\n2" is the answer 2 for the kit (it strips any whitespace), not for the release (spaces only)
    responses = write_jsonl(tmp_path / "r.jsonl", [{"response": "\n" + gold_response(q)} for q in questions])
    results = {}
    for rules in metric_registry.RULE_NAMES:
        output = tmp_path / f"{rules}.json"
        assert run(capsys, "--rules", rules, "--responses", str(responses), "--output", str(output))[0] == 0
        results[rules] = json.loads(output.read_text())
    assert results["kdd"]["rules"] == "kdd" and results["shopping-mmlu"]["rules"] == "shopping-mmlu"
    assert results["kdd"]["tasks"]["task2"]["score"] == 1.0
    assert results["shopping-mmlu"]["tasks"]["task2"]["score"] == 0.0


# Each quirk of the release's metrics, with values worked out by hand.

def mmlu_question(metric, truth, task_type=None, task="t", track=None):
    task_type = task_type or metric_registry.get(metric).task_types[0]
    return Question(0, "q", truth, task, task_type, metric, track, task_type == spec.MULTIPLE_CHOICE)


def score(question, response, rules="shopping-mmlu", models=None):
    return Scorer(models, rules=rules).score([question], [response]).samples[0]


@pytest.mark.parametrize("response, expected", [
    ("2", 1.0), ("  2  ", 1.0), ("2, or maybe 3", 1.0), ("21", 1.0),
    ("\n2", 0.0), ("\t2", 0.0),  # only spaces are stripped
    ("Answer: 2", 0.0), ("", 0.0), ("   ", 0.0), ("２", 0.0),
])
def test_multiple_choice_compares_the_first_character_with_the_answers_text(response, expected):
    assert score(mmlu_question(spec.ACCURACY, 2), response).score == expected


def test_a_multiple_choice_answer_of_two_digits_never_matches():
    assert score(mmlu_question(spec.ACCURACY, 10), "10").score == 0.0
    assert mmlu_rules.first_character(" 10") == "1"


@pytest.mark.parametrize("response, parsed, expected", [
    ("1, 4, 9", [1, 4, 9], 1.0),
    ("1, 2\n4, 9", [1, 9], 2 / 3),  # the whole response is split, "2\n4" is no number
    ("-1, 4, +9", [-1, 4, 9], 2 / 3),  # a sign is kept (the kit drops it)
    ("[1, 4, 9]", [4], 1 / 3),  # brackets stay on the numbers
    ("1 4 9", [], 0.0),
    ("7, 8, 5, 1", [7, 8, 5], 0.0),  # the first three numbers
    (" 1_0 , ٤", [10, 4], 1 / 3),  # int()'s underscores and other scripts' digits
])
def test_hit_rate_splits_the_whole_response_on_commas(response, parsed, expected):
    sample = score(mmlu_question(spec.HIT_RATE_3, [1, 4, 9]), response)
    assert (sample.parsed, sample.score) == (parsed, pytest.approx(expected))


def test_responses_are_not_cut_at_5000_characters():
    question = mmlu_question(spec.HIT_RATE_3, [1])
    response = "x" * 5000 + ",1"
    assert score(question, response).score == 1.0
    assert score(question, response, rules="kdd").score == 0.0


GAIN_2 = 1 / math.log2(3)  # a relevance of 1 at position 2


@pytest.mark.parametrize("weights, response, parsed, expected", [
    ([1, 0, 0, 0, 0], "2,1\n1,2", [2, 1], GAIN_2),  # the first line only
    ([1, 0, 0, 0, 0], "\n\n2,1\n", [2, 1], GAIN_2),
    ([1, 1, 0], "[1, 2, 3]", [2], 1 / (1 + GAIN_2)),  # "[1" and "3]" are no numbers
    ([0, 0, 0, 0, 1], "0", [0], 1.0),  # candidate 0 takes the last weight
    ([1, 0, 0, 0, 0], "-4", [-4], 1.0),  # -4 takes the fifth weight from the end, the first
    ([1, 0, 0, 0, 0], "3,4,5,2,1,1", [3, 4, 5, 2, 1, 1], 1 / math.log2(6)),  # kept: as many as the weights
    ([1, 0, 0, 0, 0], "-7,1", [-7, 1], GAIN_2),  # the release raises IndexError on -7: relevance 0 here
    ([0, 0, 0], "1,2,3", [1, 2, 3], 0.0),  # the release returns NaN when no weight is above 0
])
def test_ndcg_reads_the_first_line(weights, response, parsed, expected):
    sample = score(mmlu_question(spec.NDCG, weights), response)
    assert (sample.parsed, sample.score) == (parsed, pytest.approx(expected))


@pytest.mark.parametrize("response, parsed, counts", [
    ("Nike, Air Max", ["Nike", " Air Max"], (2, 0, 0)),
    ("nike\nair max", ["nike"], (1, 0, 1)),  # the first line
    ("\n\nnike, x", ["nike", " x"], (1, 1, 1)),  # after leading newlines
    ("nike, ,air max", ["nike", " ", "air max"], (2, 1, 0)),  # a blank entity counts
    ("['nike', 'air max']", ["['nike'", " 'air max']"], (0, 2, 2)),  # no list literal
    ("nike\t, air max", ["nike\t", " air max"], (1, 1, 1)),  # only spaces are stripped
    ("Nike, nike", ["Nike", " nike"], (1, 1, 1)),  # duplicates are false positives
])
def test_ner_reads_the_first_line_lowered(response, parsed, counts):
    sample = score(mmlu_question(spec.MICRO_F1, ["nike", "air max"]), response)
    assert (sample.parsed, sample.counts) == (parsed, counts)


def test_micro_f1_with_nothing_predicted_is_0():
    questions = [mmlu_question(spec.MICRO_F1, ["nike"]), mmlu_question(spec.MICRO_F1, ["x"])]
    # the release divides 0 by 0 here (ZeroDivisionError)
    report = Scorer(rules="shopping-mmlu").score(questions, ["", "\n\n"])
    assert report.tasks["t"].score == 0.0
    pooled = Scorer(rules="shopping-mmlu").score(questions, ["nike, a", "x"])
    assert pooled.tasks["t"].score == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))  # tp 2, fp 1, fn 0


def test_bleu_reads_the_raw_first_line():
    question = mmlu_question(spec.BLEU, "red running shoes for men")
    assert score(question, "\t\nred running shoes for men").score == 0.0  # the first line is "\t"
    # the kit strips the response first
    assert score(question, "\t\nred running shoes for men", rules="kdd").score == pytest.approx(1.0)
    assert score(question, "\n\nRed Running Shoes For Men\nmore").score == pytest.approx(1.0)  # lowercased, first line


class FixedEmbeddings:
    """A stand-in sentence model: each text's vector is given."""

    def __init__(self, vectors):
        self.vectors = vectors

    def encode(self, texts, **_):
        return np.array([self.vectors[t] for t in texts], dtype=np.float32)


def test_embedding_scores_average_over_references_then_clip_negatives():
    model = {spec.SENT_TRANSFORMER: FixedEmbeddings({"a": [1, 0], "b": [-1, 0], "c": [0, 1], "d": [3, 4]})}
    question = mmlu_question(spec.SENT_TRANSFORMER, "b")
    assert score(question, "a", models=model).score == 0.0  # cosine -1
    assert score(mmlu_question(spec.SENT_TRANSFORMER, ["a", "c"]), "a", models=model).score == 0.5
    assert score(mmlu_question(spec.SENT_TRANSFORMER, ["b", "d"]), "a", models=model).score == pytest.approx(0.0)
    assert score(mmlu_question(spec.SENT_TRANSFORMER, ["c", "d"]), "a", models=model).score == pytest.approx(0.3)


def test_the_release_scores_a_corpus_of_hard_responses_as_we_do(tmp_path, capsys, dev_records):
    """Held to the numbers the release's own code gave (see the file's "about")."""
    expected = json.loads(CORPUS.read_text(encoding="utf-8"))
    samples = expected["samples"]
    grouped: dict[str, list[int]] = {}
    for position, sample in enumerate(samples):
        grouped.setdefault(sample["skill"], []).append(position)
    grouped = dict(sorted(grouped.items()))
    folder = write_release(tmp_path / "data", {
        skill: [{**dev_records[samples[p]["dev_index"]]} for p in positions] for skill, positions in grouped.items()
    })
    order = [p for positions in grouped.values() for p in positions]
    responses = write_jsonl(tmp_path / "r.jsonl", [{"response": samples[p]["response"]} for p in order])
    output = tmp_path / "o.json"
    code, _, err = run(capsys, "--data", str(folder), "--rules", "shopping-mmlu", "--responses", str(responses),
                       "--output", str(output))
    assert code == 0, err
    ours = json.loads(output.read_text())
    assert len(ours["samples"]) == len(samples) == 791
    for got, position in zip(ours["samples"], order):
        want = samples[position]
        if "release_counts" in want:
            assert [got["tp"], got["fp"], got["fn"]] == want["release_counts"], want
        else:
            assert got["score"] == pytest.approx(want["release_score"], abs=1e-6), want
    for skill, tasks in expected["tasks"].items():
        track = spec.skill_of_file(skill).track
        for task, value in tasks.items():
            got = ours["tracks"][track] if task == "track_wise" else ours["tasks"][task]["score"]
            assert got == pytest.approx(value, abs=1e-6), (skill, task)


def test_the_release_baseline_is_the_release_inference_recipe():
    assert ReleaseBaseline.recipe is RELEASE
    assert RELEASE.system_text == ("You are a helpful online shopping assistant. Please answer the following question "
                                   "about online shopping and follow the given instructions.\n\n")
    assert (RELEASE.multiple_choice_tokens, RELEASE.other_tokens) == (1, 100)
    assert RELEASE.name != KIT.name


@pytest.mark.engine
def test_the_release_baseline_sends_its_text_raw(transformers_engine, dev_records):
    from models.settings import ModelSettings

    sent = []

    class Recording:
        name, tokenizer = transformers_engine.name, transformers_engine.tokenizer
        max_model_len, token_list_cap = transformers_engine.max_model_len, transformers_engine.token_list_cap

        def generate(self, requests):
            sent.extend(requests)
            return transformers_engine.generate(requests)

    multiple_choice = next(r["input_field"] for r in dev_records if r["task_type"] == spec.MULTIPLE_CHOICE)
    baseline = ReleaseBaseline(ModelSettings("tiny", "transformers", "test"), engine=Recording())
    baseline.batch_predict({"prompt": [multiple_choice]}, True)
    baseline.batch_predict({"prompt": [dev_records[0]["input_field"]]}, False)
    tokenizer = transformers_engine.tokenizer
    assert tokenizer.decode(sent[0].prompt_token_ids) == RELEASE.system_text + multiple_choice
    assert [r.constraint.max_new_tokens for r in sent] == [1, 100]
    assert baseline.run_settings["baseline"] == RELEASE.name


def test_help_names_the_release_options():
    done = subprocess.run([sys.executable, "local_evaluation.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0
    for option in ("--rules", "{kdd,shopping-mmlu}", "--skill", "--task", "data.zip"):
        assert option in done.stdout
