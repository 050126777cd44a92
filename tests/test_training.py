"""Training data: builders on small files in the datasets' real schemas, the export to chat
records, the gold-answer and routing check, and the axolotl recipe."""
import json
import math
from collections import Counter
from pathlib import Path

import pytest
import yaml

import prompts
from decoding.profiles import profile_of
from routing.classifier import classify
from shopbench import data, spec
from shopbench.data import DataError
from shopbench.scoring import Scorer
from tests.conftest import DEV_DATA, ROOT, write_jsonl
from training import synthetic
from training.__main__ import main
from training.build import build
from training.check import check, routing_problem
from training.export import gold_answer, sft_record
from training.sources import SOURCES, m2, reviews

SOURCE_NAMES = ("esci", "reviews", "m2", "ecinstruct", "mmlu", "alpaca")


def built(tmp_path: Path, name: str, records: int = 40, seed: int = 0, limit=None, build_seed: int = 0):
    source_input = synthetic.write_source(name, tmp_path / f"input-{seed}", records, seed)
    out = tmp_path / f"{name}-{seed}-{build_seed}-{limit}.jsonl"
    report = build(SOURCES[name], source_input, out, limit=limit, seed=build_seed)
    return report, out


@pytest.fixture(scope="module")
def scorer(minilm):
    return Scorer({spec.SENT_TRANSFORMER: minilm})


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_every_builder_makes_questions_that_score_full_and_route_to_their_type(tmp_path, name, scorer):
    report, out = built(tmp_path, name, records=120)
    questions = data.load_questions(out)  # the evaluator's own reader accepts the file
    assert len(questions) == report.questions > 0
    assert {q.task_name for q in questions} == {t.name for t in SOURCES[name].tasks}
    result = check(questions, scorer)
    assert result.below_full_score == []
    assert result.misrouted == []
    assert result.passed
    assert all(task.gold_score == pytest.approx(1.0, abs=1e-6) for task in result.tasks)
    for question in questions:
        assert question.is_multiple_choice == (question.task_type == spec.MULTIPLE_CHOICE)


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_a_build_is_fixed_by_its_seed(tmp_path, name):
    _, first = built(tmp_path, name, build_seed=5)
    _, again = built(tmp_path / "again", name, build_seed=5)
    _, other = built(tmp_path, name, build_seed=6)
    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_a_limited_build_is_the_start_of_each_task_of_the_full_one(tmp_path):
    full_report, full = built(tmp_path, "esci", records=120)
    tasks = len(SOURCES["esci"].tasks)
    limited_report, limited = built(tmp_path, "esci", records=120, limit=5 * tasks)
    assert limited_report.questions == 5 * tasks
    by_task = lambda path: {  # noqa: E731
        name: [q.input_field for q in data.load_questions(path) if q.task_name == name]
        for name in (t.name for t in SOURCES["esci"].tasks)
    }
    full_tasks, limited_tasks = by_task(full), by_task(limited)
    assert all(len(questions) == 5 for questions in limited_tasks.values())
    for name, questions in limited_tasks.items():
        assert questions == full_tasks[name][: len(questions)]


def test_limit_left_by_a_short_task_passes_to_the_next(tmp_path):
    report, _ = built(tmp_path, "reviews", records=300, limit=300)
    written = {t.task.name: t.written for t in report.tallies}
    # Few products have five distinct vote counts; the two tasks after share what helpfulness left.
    assert written["reviews-rating"] == 75 and written["reviews-helpfulness"] < 75
    assert written["reviews-aspects"] == math.ceil((225 - written["reviews-helpfulness"]) / 2)


def _answer_positions(questions, task_name):
    return Counter(q.output_field for q in questions if q.task_name == task_name)


@pytest.mark.parametrize("name, tasks", [
    ("esci", ("esci-product-for-query", "esci-query-for-product", "esci-relation", "esci-brand",
              "esci-query-for-description", "esci-query-for-features", "esci-title-for-description",
              "esci-title-for-features")),
    ("m2", ("m2-next-product", "m2-description-other-language")),
])
def test_multiple_choice_answers_are_spread_over_the_positions(tmp_path, name, tasks):
    _, out = built(tmp_path, name, records=4000 if name == "esci" else 1200)
    questions = data.load_questions(out)
    for task in tasks:
        positions = _answer_positions(questions, task)
        total = sum(positions.values())
        assert total >= 150, (task, total)
        assert set(positions) == {0, 1, 2, 3}, (task, positions)
        assert all(0.15 < count / total < 0.35 for count in positions.values()), (task, positions)


@pytest.mark.parametrize("name, task", [("esci", "esci-exact-matches"), ("reviews", "reviews-aspects"),
                                        ("esci", "esci-bullet-points"), ("m2", "m2-earlier-views")])
def test_retrieval_answers_are_spread_over_the_list(tmp_path, name, task):
    _, out = built(tmp_path, name, records=1200)
    numbers = Counter(n for q in data.load_questions(out) if q.task_name == task for n in q.output_field)
    total = sum(numbers.values())
    assert set(numbers) >= set(range(1, 11))
    assert max(numbers.values()) / total < 0.2


@pytest.mark.parametrize("name, task", [
    ("esci", "esci-rank-products"), ("reviews", "reviews-helpfulness"), ("esci", "esci-rank-queries"),
    ("esci", "esci-rank-pairs"), ("reviews", "reviews-liked-products"), ("ecinstruct", "ecinstruct-rank-reviews"),
])
def test_ranking_most_relevant_candidates_are_spread_over_the_list(tmp_path, name, task):
    _, out = built(tmp_path, name, records=4000 if name == "esci" else 1200)
    weights = [q.output_field for q in data.load_questions(out) if q.task_name == task]
    best = Counter(position for w in weights for position, weight in enumerate(w) if weight == max(w))
    total = sum(best.values())
    assert len(weights) >= 100 and set(best) == set(range(5))
    assert all(0.12 < count / total < 0.28 for count in best.values()), best


def test_review_ratings_are_balanced_as_far_as_the_data_allows(tmp_path):
    _, out = built(tmp_path, "reviews", records=400, limit=150)
    ratings = _answer_positions(data.load_questions(out), "reviews-rating")
    assert sorted(ratings) == [1, 2, 3, 4, 5] and max(ratings.values()) - min(ratings.values()) <= 1


def _write_parquet(path: Path, columns: dict):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def _esci_folder(tmp_path, labels_by_query: dict[str, list[str]], drop: str | None = None) -> Path:
    folder = tmp_path / "esci"
    examples = {c: [] for c in ("example_id", "query", "query_id", "product_id", "product_locale", "esci_label",
                                "small_version", "large_version", "split")}
    products = {c: [] for c in ("product_id", "product_title", "product_description", "product_bullet_point",
                                "product_brand", "product_color", "product_locale")}
    for query_number, (query, labels) in enumerate(labels_by_query.items()):
        for label in labels:
            product_id = f"B{len(products['product_id']):05d}"
            for column, value in zip(products, (product_id, f"{query} item {product_id}", "", "", f"Brand{product_id}", "", "us")):
                products[column].append(value)
            for column, value in zip(examples, (len(examples["query"]), query, query_number, product_id, "us", label, 1, 1, "train")):
                examples[column].append(value)
    if drop:
        del examples[drop]
    _write_parquet(folder / "shopping_queries_dataset_examples.parquet", examples)
    _write_parquet(folder / "shopping_queries_dataset_products.parquet", products)
    return folder


def test_esci_queries_without_enough_candidates_are_skipped_and_counted(tmp_path):
    folder = _esci_folder(tmp_path, {"usb cable": ["E", "S", "I"], "desk lamp": ["E", "E", "S", "C", "I", "I"],
                                     "red mug": ["S", "S", "C", "I", "I"]})
    report = build(SOURCES["esci"], folder, tmp_path / "out.jsonl")
    tallies = {t.task.name: t for t in report.tallies}
    assert tallies["esci-rank-products"].written == 2
    assert tallies["esci-rank-products"].skipped == {"query with fewer than 5 judged products": 1}
    assert tallies["esci-product-for-query"].written == 1
    assert sum(tallies["esci-product-for-query"].skipped.values()) == 2
    questions = data.load_questions(tmp_path / "out.jsonl")
    exact = [q for q in questions if q.task_name == "esci-exact-matches"]
    assert len(exact) == 1 and len(exact[0].output_field) == 2 and "Select the two products" in exact[0].input_field


def test_esci_missing_column_is_one_error_naming_file_and_column_and_writes_nothing(tmp_path, capsys):
    folder = _esci_folder(tmp_path, {"usb cable": ["E", "S", "C", "I", "I"]}, drop="esci_label")
    out = tmp_path / "out.jsonl"
    assert main(["build", "esci", "--input", str(folder), "--out", str(out), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error
    assert "shopping_queries_dataset_examples.parquet" in error and "column 'esci_label' missing" in error
    assert not out.exists() and list(tmp_path.glob("*.tmp")) == []


def test_esci_unknown_label_names_the_row(tmp_path):
    folder = _esci_folder(tmp_path, {"usb cable": ["E", "S", "X"]})
    with pytest.raises(DataError, match=r"examples.parquet:row 3: field 'esci_label': expected one of E, S, C, I, got 'X'"):
        build(SOURCES["esci"], folder, tmp_path / "out.jsonl")


def test_esci_empty_table_and_missing_folder(tmp_path):
    folder = _esci_folder(tmp_path, {})
    with pytest.raises(DataError, match="products.parquet: no rows"):
        build(SOURCES["esci"], folder, tmp_path / "out.jsonl")
    with pytest.raises(DataError, match="nowhere: not found"):
        build(SOURCES["esci"], tmp_path / "nowhere", tmp_path / "out.jsonl")


def _review(**fields):
    record = {"rating": 5.0, "title": "Nice", "text": "Comfortable, good quality and the price is right.",
              "images": [], "asin": "A1", "parent_asin": "P1", "user_id": "U1", "timestamp": 1, "helpful_vote": 0,
              "verified_purchase": True}
    record.update(fields)
    return record


def test_reviews_bad_inputs(tmp_path):
    folder = tmp_path / "reviews"
    folder.mkdir()
    write_jsonl(folder / "Toys.jsonl", [_review(), {k: v for k, v in _review().items() if k != "rating"}])
    with pytest.raises(DataError, match=r"Toys.jsonl:2: field 'rating': missing"):
        build(SOURCES["reviews"], folder, tmp_path / "out.jsonl")
    (folder / "Toys.jsonl").write_text("")
    with pytest.raises(DataError, match=r"Toys.jsonl: no records"):
        build(SOURCES["reviews"], folder, tmp_path / "out.jsonl")
    (folder / "Toys.jsonl").unlink()
    with pytest.raises(DataError, match="no review files"):
        build(SOURCES["reviews"], folder, tmp_path / "out.jsonl")


def test_reviews_unusable_records_are_skipped_and_counted(tmp_path):
    import gzip

    folder = tmp_path / "reviews"
    folder.mkdir()
    records = [_review(rating=4.5), _review(text=""),
               _review(rating=2.0, title="", text="Two problems:<br />1. too small<br />2. broke fast.")]
    with gzip.open(folder / "Toys.jsonl.gz", "wt", encoding="utf-8") as handle:  # the release's .gz files read too
        handle.writelines(json.dumps(r) + "\n" for r in records)
    report = build(SOURCES["reviews"], folder, tmp_path / "out.jsonl")
    tallies = {t.task.name: t for t in report.tallies}
    assert tallies["reviews-rating"].written == 1
    assert tallies["reviews-rating"].skipped == {"rating not a whole number from 1 to 5": 1, "review without text": 1}
    assert tallies["reviews-helpfulness"].skipped == {
        "product with fewer than 5 reviews of different helpful-vote counts": 1}
    question = data.load_questions(tmp_path / "out.jsonl")[0]
    assert question.output_field == 2
    assert "a review text for a product\nTwo problems: 1. too small 2. broke fast.\nOutput:" in question.input_field
    assert classify(question.input_field, True).choices == (1, 2, 3, 4, 5)


def test_review_aspects_come_from_the_lexicon():
    text = "Very comfortable and true to size, but the color faded after one wash."
    assert reviews.covered_aspects(text) == ["comfort", "size", "color", "cleaning"]
    assert reviews.covered_aspects("At last it came.") == []


def test_m2_session_ids_are_read_with_or_without_commas_and_across_lines(tmp_path):
    folder = synthetic.write_m2(tmp_path / "m2", 20)
    loaded = m2.load(folder)
    some_id, locale = next(iter(loaded.titles))
    for written in (f"['{some_id}' 'X1']", f"['{some_id}',\n 'X1']", f'["{some_id}", "X1"]'):
        assert m2._QUOTED_ID.findall(written) == [some_id, "X1"]


def test_m2_short_titles_are_skipped_because_bleu_cannot_reach_full_score(tmp_path):
    folder = tmp_path / "m2"
    folder.mkdir()
    (folder / "products_train.csv").write_text(
        "id,locale,title,price\nB1,DE,Kaffee Becher,1\nB1,UK,Coffee mug,1\n"
        "B2,DE,Großer Kaffeebecher aus Keramik weiß,1\nB2,UK,Large white ceramic coffee mug,1\n", encoding="utf-8")
    (folder / "sessions_train.csv").write_text("prev_items,next_item,locale\n\"['B1']\",B2,DE\n", encoding="utf-8")
    report = build(SOURCES["m2"], folder, tmp_path / "out.jsonl")
    titles = {t.task.name: t for t in report.tallies}["m2-title-translation"]
    assert titles.written == 1 and titles.skipped == {"target title shorter than 4 BLEU tokens": 1}
    next_product = {t.task.name: t for t in report.tallies}["m2-next-product"]
    assert next_product.skipped == {"too few other products in the locale": 1}


def test_m2_missing_column_and_header_only_file(tmp_path):
    folder = synthetic.write_m2(tmp_path / "m2", 20)
    (folder / "sessions_train.csv").write_text("prev_items,locale\n\"['B1']\",DE\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"sessions_train.csv:1: column 'next_item' missing"):
        build(SOURCES["m2"], folder, tmp_path / "out.jsonl")
    (folder / "sessions_train.csv").write_text("prev_items,next_item,locale\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"sessions_train.csv: no rows after the header"):
        build(SOURCES["m2"], folder, tmp_path / "out.jsonl")


def test_mmlu_keeps_option_order_and_reads_a_header_or_none(tmp_path):
    folder = tmp_path / "mmlu"
    folder.mkdir()
    (folder / "college_physics_test.csv").write_text(
        'question,A,B,C,D,answer\n"Which is heavier?",a kilo of lead,a kilo of feathers,neither,All of the above,C\n',
        encoding="utf-8")
    (folder / "race.csv").write_text('"Pick one.",x,y,z,w,D\n', encoding="utf-8")
    build(SOURCES["mmlu"], folder, tmp_path / "out.jsonl")
    by_answer = {q.output_field: q.input_field for q in data.load_questions(tmp_path / "out.jsonl")}
    assert by_answer[2].startswith("The following is a multiple choice question about college physics.")
    assert "0. a kilo of lead\n1. a kilo of feathers\n2. neither\n3. All of the above\nAnswer: " in by_answer[2]
    assert by_answer[3].startswith("Pick one.")


def test_mmlu_bad_rows(tmp_path):
    path = tmp_path / "x_test.csv"
    path.write_text('"Q?",a,b,c,d\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"x_test.csv:1: field 'answer': missing"):
        build(SOURCES["mmlu"], path, tmp_path / "out.jsonl")
    path.write_text('"Q?",a,b,c,d,E\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"x_test.csv:1: field 'answer': expected one of A, B, C, D, got 'E'"):
        build(SOURCES["mmlu"], path, tmp_path / "out.jsonl")
    path.write_text("")
    with pytest.raises(DataError, match="x_test.csv: no questions"):
        build(SOURCES["mmlu"], path, tmp_path / "out.jsonl")


def test_alpaca_reads_json_arrays_and_lines_and_names_bad_records(tmp_path):
    array = tmp_path / "alpaca.json"
    array.write_text(json.dumps([{"instruction": "Say hi.", "input": "", "output": "Hi."},
                                 {"instruction": "Add.", "input": "2 and 3", "output": ""}]), encoding="utf-8")
    report = build(SOURCES["alpaca"], array, tmp_path / "out.jsonl")
    assert report.questions == 1 and report.tallies[0].skipped == {"record without an instruction or an output": 1}
    lines = write_jsonl(tmp_path / "alpaca.jsonl", [{"instruction": "Say hi.", "input": "Bob", "output": "Hi Bob."}])
    build(SOURCES["alpaca"], lines, tmp_path / "out2.jsonl")
    assert data.load_questions(tmp_path / "out2.jsonl")[0].input_field == "Instructions: Say hi.\nInput: Bob\nOutput:"
    array.write_text(json.dumps([{"instruction": "Say hi.", "output": "Hi."}]), encoding="utf-8")
    with pytest.raises(DataError, match=r"alpaca.json:record 1: field 'input': missing"):
        build(SOURCES["alpaca"], array, tmp_path / "out.jsonl")
    array.write_text("[]")
    with pytest.raises(DataError, match="alpaca.json: no records"):
        build(SOURCES["alpaca"], array, tmp_path / "out.jsonl")


def test_nothing_buildable_is_an_error_and_leaves_no_file(tmp_path):
    folder = _esci_folder(tmp_path, {"usb cable": ["I"]})
    (tmp_path / "esci" / "shopping_queries_dataset_products.parquet").unlink()
    _write_parquet(tmp_path / "esci" / "shopping_queries_dataset_products.parquet",
                   {"product_id": ["B00000"], "product_title": [None], "product_brand": [None], "product_locale": ["us"],
                    "product_bullet_point": [None]})
    with pytest.raises(DataError, match="no question could be built"):
        build(SOURCES["esci"], folder, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def _question(task_type, metric, truth, text="q", flag=None):
    flag = task_type == spec.MULTIPLE_CHOICE if flag is None else flag
    return data.Question(0, text, truth, "t", task_type, metric, None, flag)


def test_gold_answers_are_written_as_the_decoder_writes_them():
    assert gold_answer(_question(spec.MULTIPLE_CHOICE, spec.ACCURACY, 3)) == "3"
    assert gold_answer(_question(spec.RANKING, spec.NDCG, [0.01, 1, 0, 0.1, 1])) == "2,5,4,1,3"
    assert gold_answer(_question(spec.RETRIEVAL, spec.HIT_RATE_3, [4, 9])) == "4,9"
    assert gold_answer(_question(spec.NER, spec.MICRO_F1, ["usb c", "cable"])) == "usb c, cable"
    assert gold_answer(_question(spec.NER, spec.MICRO_F1, ["10,000 mah", "bank"])) == "['10,000 mah', 'bank']"
    assert gold_answer(_question(spec.GENERATION, spec.SENT_TRANSFORMER, ["first", "second"])) == "first"


def test_the_dev_set_gold_answers_score_full_and_route_right(scorer):
    result = check(data.load_questions(DEV_DATA), scorer)
    assert result.passed and result.misrouted == [] and result.below_full_score == []


def test_check_lists_unreadable_gold_answers_and_misrouted_questions(tmp_path, scorer, capsys):
    rows = [json.loads(line) for line in DEV_DATA.read_text(encoding="utf-8").splitlines()]
    mc = next(r for r in rows if r["task_type"] == spec.MULTIPLE_CHOICE)
    ranking = next(r for r in rows if r["task_type"] == spec.RANKING)
    broken = [
        {**mc, "output_field": 12, "task_name": "two-digit-answer"},  # the parser reads "12" as 1
        {**ranking, "task_type": spec.RETRIEVAL, "metric": spec.HIT_RATE_3, "output_field": [1, 2, 3],
         "task_name": "ranking-called-retrieval"},
    ]
    path = write_jsonl(tmp_path / "broken.jsonl", broken)
    result = check(data.load_questions(path), scorer)
    assert [f.task_name for f in result.below_full_score] == ["two-digit-answer"]
    assert [f.task_name for f in result.misrouted] == ["two-digit-answer", "ranking-called-retrieval"]
    assert "routed as ranking" in result.misrouted[1].detail
    assert not result.passed
    assert main(["check", "--data", str(path), "--no-progress"]) == 1
    printed = capsys.readouterr().out
    assert "question 1 (two-digit-answer)" in printed and "Check FAILED" in printed


def test_routing_problem_catches_a_candidate_list_the_classifier_reads_differently():
    prompt = "Pick the products.\n1. a\n2. b\n3. c\n4. d\n5. e\n6. f\n7. g\nSelect two products.\nOutput: "
    question = _question(spec.RETRIEVAL, spec.HIT_RATE_3, [2, 9], prompt)
    assert "[9] are not in the candidate list" in routing_problem(question, classify(prompt, False))


def test_export_writes_what_inference_sends_plus_the_gold_answer(tmp_path, qwen_tokenizer, capsys):
    _, questions_path = built(tmp_path, "esci", records=60)
    rows = data.load_questions(questions_path) + data.load_questions(DEV_DATA)
    path = write_jsonl(tmp_path / "mixed.jsonl", [
        {"input_field": q.input_field, "output_field": q.output_field, "task_name": q.task_name,
         "task_type": q.task_type, "metric": q.metric, "is_multiple_choice": q.is_multiple_choice} for q in rows])
    out = tmp_path / "sft.jsonl"
    assert main(["export", "--data", str(path), "--out", str(out), "--no-progress"]) == 0
    assert f"{len(rows)} records written" in capsys.readouterr().out
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(rows)
    for question, record in zip(rows, records):
        route = classify(question.input_field, question.is_multiple_choice)
        system, user, assistant = record["messages"]
        assert [system["role"], user["role"], assistant["role"]] == ["system", "user", "assistant"]
        assert system["content"] == prompts.system_prompt(profile_of(route).system_prompt)
        assert assistant["content"] == gold_answer(question)
        inference = prompts.render(question.input_field, profile_of(route).system_prompt, qwen_tokenizer)
        training = qwen_tokenizer.apply_chat_template(record["messages"], tokenize=False)
        assert training == inference + assistant["content"] + "<|im_end|>\n"
    extractive = next(r for q, r in zip(rows, records) if q.task_name == "task6")
    assert extractive["messages"][0]["content"] == prompts.system_prompt(spec.NER)  # the profile, as inference sends


def test_export_of_a_bad_file_is_one_line_and_writes_nothing(tmp_path, capsys):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"input_field": "q", "task_name": "t", "task_type": "ranking",
                                                 "metric": "ndcg", "output_field": "x"}])
    out = tmp_path / "sft.jsonl"
    assert main(["export", "--data", str(path), "--out", str(out)]) == 2
    assert "bad.jsonl:1: field 'output_field'" in capsys.readouterr().err
    assert not out.exists()


def test_sft_record_uses_the_flag_like_inference():
    question = _question(spec.MULTIPLE_CHOICE, spec.ACCURACY, 1, "Which?\n0. a\n1. b\nAnswer: ")
    assert sft_record(question)["messages"][0]["content"] == prompts.system_prompt(spec.MULTIPLE_CHOICE)


def test_cli_help_names_every_source_and_task(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["build", "--help"])
    assert exited.value.code == 0
    printed = capsys.readouterr().out
    for source in SOURCES.values():
        assert f"{source.name} (--input: {source.input_help})" in printed
        assert all(task.name in printed for task in source.tasks)


def test_qlora_recipe_holds_the_papers_hyperparameters():
    from models.settings import VllmSettings

    recipe = yaml.safe_load((ROOT / "training" / "qlora.yml").read_text())
    table2 = {"optimizer": "adamw_torch", "lr_scheduler": "cosine", "learning_rate": 0.0002, "weight_decay": 0.01,
              "warmup_steps": 10, "micro_batch_size": 1, "gradient_accumulation_steps": 4, "lora_r": 64,
              "lora_alpha": 32, "lora_dropout": 0.05, "lora_target_linear": True, "load_in_4bit": True}
    assert {key: recipe[key] for key in table2} == table2
    assert recipe["base_model"] == "Qwen/Qwen2-72B-Instruct" and recipe["adapter"] == "qlora"
    assert recipe["bf16"] is True and recipe["sample_packing"] is True and recipe["train_on_inputs"] is False
    assert recipe["sequence_len"] == VllmSettings().max_model_len
    (dataset,) = recipe["datasets"]
    assert dataset["type"] == "chat_template" and dataset["field_messages"] == "messages"
    assert dataset["chat_template"] == "tokenizer_default" and dataset["roles_to_train"] == ["assistant"]
    assert "lora_modules_to_save" not in recipe and "peft_use_dora" not in recipe
    page = (ROOT / "docs" / "training-data.md").read_text(encoding="utf-8")  # the docs name its input and output
    assert f"--out {dataset['path']}" in page and recipe["output_dir"] in page


def test_synthetic_inputs_hold_every_column_of_the_releases(tmp_path):
    import pyarrow.parquet as pq

    folder = synthetic.write_esci(tmp_path / "esci", 30)
    assert set(pq.read_schema(folder / "shopping_queries_dataset_examples.parquet").names) >= {
        "example_id", "query", "query_id", "product_id", "product_locale", "esci_label", "small_version",
        "large_version", "split"}
