"""The ECInstruct builder (paper Table 7, rows 11-19 and 28): the release's layouts and field
formats, the conversion of each task, and its refusals."""
import json
from collections import Counter
from pathlib import Path

import pytest

from routing.classifier import classify
from shopbench import data, spec
from shopbench.data import DataError
from shopbench.scoring import Scorer
from tests.conftest import write_jsonl
from training import synthetic
from training.__main__ import main
from training.build import build
from training.check import check
from training.sources import SOURCES, ecinstruct

SOURCE = SOURCES["ecinstruct"]
SENTIMENT_OPTIONS = json.dumps(["A: very positive", "B: positive", "C: neutral", "D: negative", "E: very negative"])


def record(task, input_, output, options=None, setting=ecinstruct.SETTING, split="train"):
    return {"task": task, "setting": setting, "split": split, "instruction": "Do it.",
            "input": input_ if isinstance(input_, str) else json.dumps(input_), "options": options, "output": output}


def by_task(path) -> dict[str, list]:
    found: dict[str, list] = {}
    for question in data.load_questions(path):
        found.setdefault(question.task_name, []).append(question)
    return found


def test_every_task_of_the_synthetic_release_scores_full_and_routes(tmp_path):
    folder = synthetic.write_ecinstruct(tmp_path / "ecinstruct", 600)
    report = build(SOURCE, folder, tmp_path / "out.jsonl")
    questions = data.load_questions(tmp_path / "out.jsonl")
    result = check(questions, Scorer({}))
    assert result.passed and result.misrouted == [] and result.below_full_score == []
    assert {task.name: task.questions > 10 for task in result.tasks} == {task.name: True for task in SOURCE.tasks}
    assert all(task.gold_score == pytest.approx(1.0) for task in result.tasks)
    # The other setting and Answer_Generation are passed over, and counted.
    assert report.unusable["Answer_Generation: free-text answers, which Table 7 does not use"] == 60
    assert report.unusable["setting OOD_Unseen_Instruction, not IND_Diverse_Instruction"] > 0
    assert {q.task_type for q in questions} == {spec.NER, spec.MULTIPLE_CHOICE, spec.RETRIEVAL, spec.RANKING}


def test_a_seeded_build_is_reproducible_and_the_seed_changes_it(tmp_path):
    folder = synthetic.write_ecinstruct(tmp_path / "ecinstruct", 200)
    outputs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        build(SOURCE, folder, tmp_path / f"{name}.jsonl", seed=seed)
        outputs.append((tmp_path / f"{name}.jsonl").read_bytes())
    assert outputs[0] == outputs[1] != outputs[2]


def test_labels_are_taken_in_turn_and_answers_spread_over_the_options(tmp_path):
    folder = synthetic.write_ecinstruct(tmp_path / "ecinstruct", 2000)
    build(SOURCE, folder, tmp_path / "out.jsonl")
    tasks = by_task(tmp_path / "out.jsonl")
    for name in ("ecinstruct-answerability", "ecinstruct-product-matching", "ecinstruct-substitute"):
        answers = Counter(q.input_field.splitlines()[-3 + q.output_field][3:] for q in tasks[name])
        # yes and no in turn: as balanced as the rarer label allows over the first questions
        first = Counter(q.input_field.splitlines()[-3 + q.output_field][3:] for q in tasks[name][:40])
        assert set(answers) == {"yes", "no"} and first["yes"] == first["no"] == 20, (name, first)
    sentiments = [q.input_field.splitlines()[-1 - len(_options(q)) + q.output_field][3:] for q in tasks["ecinstruct-sentiment"][:50]]
    assert Counter(sentiments) == {s: 10 for s in ecinstruct.SENTIMENTS}
    for name in ("ecinstruct-query-relevance", "ecinstruct-next-purchase", "ecinstruct-sentiment"):
        positions = Counter(q.output_field for q in tasks[name])
        assert len(positions) == len(_options(tasks[name][0])) and max(positions.values()) / sum(positions.values()) < 0.4


def _options(question) -> list[str]:
    return [line for line in question.input_field.splitlines() if line[:1].isdigit() and line[1:3] == ". "]


def test_options_are_the_releases_renumbered_from_0_and_recommendation_keeps_four(tmp_path):
    history = str(["1st: Red mug. Home & Kitchen. Acme.", "2nd: Blue mug. Home & Kitchen. Acme."])
    candidates = [f"{chr(65 + n)}: Product number {n}" for n in range(20)]
    path = write_jsonl(tmp_path / "records.jsonl", [
        record(ecinstruct.SR, history, "H", str(candidates)),
        record(ecinstruct.SA, "Broke after a day, useless.", "E: very negative", SENTIMENT_OPTIONS),
        record(ecinstruct.PRP, {"Product 1:": "Mug", "Product 2:": "Coaster"}, "A",
               json.dumps(["A: bought together", "B: viewed together", "C: similar"])),
    ])
    build(SOURCE, path, tmp_path / "out.jsonl")
    tasks = by_task(tmp_path / "out.jsonl")
    (next_purchase,) = tasks["ecinstruct-next-purchase"]
    options = _options(next_purchase)
    assert len(options) == 4 and options[next_purchase.output_field] == f"{next_purchase.output_field}. Product number 7"
    assert "- Red mug. Home & Kitchen. Acme.\n- Blue mug. Home & Kitchen. Acme.\n" in next_purchase.input_field
    (sentiment,) = tasks["ecinstruct-sentiment"]
    assert sorted(o[3:] for o in _options(sentiment)) == sorted(ecinstruct.SENTIMENTS)
    assert _options(sentiment)[sentiment.output_field][3:] == "very negative"
    (relation,) = tasks["ecinstruct-product-relation"]
    assert _options(relation)[relation.output_field][3:] == "bought together"
    assert classify(relation.input_field, True).choices == (0, 1, 2)


def test_attribute_values_become_ner_questions_with_the_values_as_gold_spans(tmp_path):
    texts = {"product title": "Acme Mug, 12 oz, Navy Blue", "product description": "A stoneware mug.",
             "target attributes": "color and material and capacity and pattern"}
    output = json.dumps([
        {"attribute": "color", "value": "navy blue", "source": "product title"},
        {"attribute": "material", "value": "stoneware", "source": "product description"},
        {"attribute": "material", "value": "Stoneware", "source": "product title"},
        {"attribute": "capacity", "value": "16 oz", "source": "product title"},  # not in the text shown
        {"attribute": "pattern", "value": "None", "source": "None"},
    ])
    path = write_jsonl(tmp_path / "ave.jsonl", [record(ecinstruct.AVE, texts, output)])
    report = build(SOURCE, path, tmp_path / "out.jsonl")
    questions = data.load_questions(tmp_path / "out.jsonl")
    assert sorted(q.output_field for q in questions) == [["navy blue"], ["stoneware"]]
    assert all(q.task_type == spec.NER and q.metric == spec.MICRO_F1 for q in questions)
    assert "'color'" in questions[0].input_field or "'color'" in questions[1].input_field
    assert report.tallies[0].skipped == {"attribute value not found in the product text shown": 1,
                                         "attribute without a value in the product's texts": 1}
    assert check(questions, Scorer({})).passed


def test_query_product_ranking_becomes_retrieval_of_the_top_products(tmp_path):
    ranked = record(ecinstruct.QPR, {"query": "red mug", "product list": ["A: Blue plate", "B: Red mug", "C: Mug coaster",
                                                                          "D: Red cup"]}, "B,D,C,A")
    path = write_jsonl(tmp_path / "qpr.jsonl", [ranked] * 30)
    build(SOURCE, path, tmp_path / "out.jsonl")
    counts = Counter()
    for question in data.load_questions(tmp_path / "out.jsonl"):
        listed = [line[3:] for line in question.input_field.splitlines() if line[:2] in ("1.", "2.", "3.", "4.")]
        chosen = {listed[n - 1] for n in question.output_field}
        assert chosen == set(["Red mug", "Red cup", "Mug coaster"][: len(chosen)])
        assert classify(question.input_field, False).answer_count == len(chosen)
        counts[len(chosen)] += 1
    assert set(counts) == {1, 2, 3}


def test_reviews_are_ranked_from_the_most_positive_with_graded_weights(tmp_path):
    levels = ["A: very positive", "B: positive", "C: neutral", "D: negative", "E: very negative"]
    rows = [record(ecinstruct.SA, f"Review {n} of {level[3:]}.", level, SENTIMENT_OPTIONS) for level in levels for n in range(3)]
    rows.append(record(ecinstruct.SA, "Lonely review.", "A", json.dumps(["A: loved it", "B: hated it"])))
    path = write_jsonl(tmp_path / "sa.jsonl", rows)
    report = build(SOURCE, path, tmp_path / "out.jsonl")
    questions = by_task(tmp_path / "out.jsonl")["ecinstruct-rank-reviews"]
    assert len(questions) == 15
    for question in questions:
        listed = [line[3:] for line in question.input_field.splitlines() if line[:2] in ("1.", "2.", "3.", "4.", "5.")]
        weights = {text.split(" of ")[1].rstrip("."): weight for text, weight in zip(listed, question.output_field)}
        assert weights == {"very positive": 1.0, "positive": 0.75, "neutral": 0.5, "negative": 0.25, "very negative": 0.0}
    ranking = next(t for t in report.tallies if t.task.name == "ecinstruct-rank-reviews")
    assert ranking.skipped == {"sentiment other than very positive, positive, neutral, negative, very negative": 1}


def test_the_repositorys_tree_layout_takes_task_and_setting_from_the_path(tmp_path):
    root = tmp_path / "ECInstruct"
    for setting in (ecinstruct.SETTING, "IND_Few_Shot"):
        folder = root / "Product_Substitute_Identification" / setting  # the right spelling is read too
        folder.mkdir(parents=True)
        rows = [{"instruction": "x", "input": json.dumps({"query": "mug", "product": f"Mug {n}"}), "output": answer}
                for n, answer in enumerate(["yes", "no", "no"])]
        (folder / "train.json").write_text(json.dumps(rows), encoding="utf-8")
    (root / "Query_Product_Ranking" / ecinstruct.SETTING).mkdir(parents=True)
    (root / "Query_Product_Ranking" / ecinstruct.SETTING / "label.json").write_text('[["E", "S"]]', encoding="utf-8")
    report = build(SOURCE, root, tmp_path / "out.jsonl")
    assert {t.task.name: t.written for t in report.tallies if t.written} == {"ecinstruct-substitute": 3}
    assert report.unusable == {f"setting IND_Few_Shot, not {ecinstruct.SETTING}": 3}


def _refusal(tmp_path, capsys, rows) -> str:
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    out = tmp_path / "out.jsonl"
    assert main(["build", "ecinstruct", "--input", str(path), "--out", str(out), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "bad.jsonl:2: field '" in error
    assert not out.exists() and list(tmp_path.glob("*.tmp")) == []
    return error


def test_refusals_name_the_file_line_and_field_and_write_nothing(tmp_path, capsys):
    good = record(ecinstruct.SA, "Fine.", "B: positive", SENTIMENT_OPTIONS)
    assert "field 'output': missing" in _refusal(tmp_path, capsys, [good, {k: v for k, v in good.items() if k != "output"}])
    assert "field 'options': missing" in _refusal(tmp_path, capsys, [good, {k: v for k, v in good.items() if k != "options"}])
    assert "field 'options': expected options written 'A: text'" in _refusal(
        tmp_path, capsys, [good, {**good, "options": json.dumps(["very positive", "positive"])}])
    assert "field 'options': expected a list of strings" in _refusal(tmp_path, capsys, [good, {**good, "options": "A: a; B: b"}])
    assert "field 'output': expected one of the option letters ABCDE, got 'F'" in _refusal(
        tmp_path, capsys, [good, {**good, "output": "F"}])
    assert "field 'output': expected yes or no, got 'maybe'" in _refusal(
        tmp_path, capsys, [good, record(ecinstruct.PM, {"product 1": {"title": "a"}, "product 2": {"title": "b"}}, "maybe")])
    assert "field 'input': no key 'query'" in _refusal(
        tmp_path, capsys, [good, record(ecinstruct.PSI, {"product": "Mug"}, "yes")])
    assert "field 'output': expected the letters A, B in ranked order" in _refusal(
        tmp_path, capsys, [good, record(ecinstruct.QPR, {"query": "q", "product list": ["A: a", "B: b"]}, "A,C")])
    assert "field 'task': missing" in _refusal(tmp_path, capsys, [good, {k: v for k, v in good.items() if k != "task"}])


def test_an_empty_release_and_a_folder_without_records(tmp_path):
    (tmp_path / "train.json").write_text("[]", encoding="utf-8")
    with pytest.raises(DataError, match="train.json: no records"):
        build(SOURCE, tmp_path / "train.json", tmp_path / "out.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no .json or .jsonl files"):
        build(SOURCE, tmp_path / "empty", tmp_path / "out.jsonl")
    only_generation = write_jsonl(tmp_path / "ag.jsonl", [record(ecinstruct.AG, {"question": "q", "document": []}, "a")])
    with pytest.raises(DataError, match="no question could be built"):
        build(SOURCE, only_generation, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_synthetic_release_has_the_releases_fields_and_files(tmp_path):
    folder = synthetic.write_ecinstruct(tmp_path / "ecinstruct", 30)
    assert sorted(p.name for p in Path(folder).iterdir()) == ["test.json", "train.json", "validation.json"]
    rows = json.loads((folder / "train.json").read_text(encoding="utf-8"))
    assert all(set(r) == {"task", "setting", "split", "instruction", "input", "options", "output"} for r in rows)
    assert {r["task"] for r in rows} >= {ecinstruct.PRP, ecinstruct.PSI}  # the release's own spellings
