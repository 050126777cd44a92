"""Table 7's rows built from sources already read: 6 (the products a customer likes, from
Amazon Reviews 2023), 21-22 (the query of a product shown by its description or features),
24-25 (the title of a product shown by its description or features), 27 (a product's bullet
points), 30 (the queries of a product) and 34 (query-product pairs ranked) from ESCI, 31 (the
products a session viewed before its last) and 10 (a product's description in another
language) from Amazon-M2."""
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from routing.classifier import classify
from shopbench import data
from shopbench.scoring import Scorer
from tests.conftest import write_jsonl
from training.build import build
from training.check import check
from training.sources import SOURCES


def tasks_of(path) -> dict[str, list]:
    found: dict[str, list] = {}
    for question in data.load_questions(path):
        found.setdefault(question.task_name, []).append(question)
    return found


def listed(question) -> list[str]:
    """The candidates of a question, in their numbered order."""
    route = classify(question.input_field, question.is_multiple_choice)
    lines = question.input_field.splitlines()
    return [lines[i].split(". ", 1)[1] for i in range(len(lines)) if lines[i].split(". ", 1)[0] in map(str, route.candidates)]


def esci_release(folder: Path, judged: list[tuple[str, str, str]], bullets: dict[str, list[str]],
                 descriptions: dict[str, str] | None = None) -> Path:
    """An ESCI release of (query, product title, label) judgements; a product is its title.
    Without `descriptions` the products file has no description column."""
    folder.mkdir(parents=True)
    titles = list(dict.fromkeys([title for _, title, _ in judged] + list(bullets)))
    queries = list(dict.fromkeys(query for query, _, _ in judged))
    described = {} if descriptions is None else {"product_description": [descriptions.get(t) for t in titles]}
    pq.write_table(pa.table({
        "product_id": [f"B{n:04d}" for n in range(len(titles))], "product_title": titles, **described,
        "product_bullet_point": ["\n".join(bullets.get(t, [])) for t in titles],
        "product_brand": ["Acme"] * len(titles), "product_color": [""] * len(titles), "product_locale": ["us"] * len(titles),
    }), folder / "shopping_queries_dataset_products.parquet")
    pq.write_table(pa.table({
        "example_id": list(range(len(judged))), "query": [q for q, _, _ in judged],
        "query_id": [queries.index(q) for q, _, _ in judged], "product_id": [f"B{titles.index(t):04d}" for _, t, _ in judged],
        "product_locale": ["us"] * len(judged), "esci_label": [label for _, _, label in judged],
        "small_version": [1] * len(judged), "large_version": [1] * len(judged), "split": ["train"] * len(judged),
    }), folder / "shopping_queries_dataset_examples.parquet")
    return folder


def test_esci_bullet_points_of_the_product_are_the_answers(tmp_path):
    bullets = {f"Lamp {n}": [f"Lamp {n} point {k}" for k in range(4 if n else 2)] for n in range(6)}
    folder = esci_release(tmp_path / "esci", [("lamp", title, "E") for title in bullets], bullets)
    report = build(SOURCES["esci"], folder, tmp_path / "out.jsonl")
    tally = next(t for t in report.tallies if t.task.name == "esci-bullet-points")
    assert tally.written == 5 and tally.skipped == {"product with fewer than 3 distinct bullet points": 1}
    for question in tasks_of(tmp_path / "out.jsonl")["esci-bullet-points"]:
        product = question.input_field.split("'")[1]
        candidates = listed(question)
        assert len(candidates) == 10 and len(question.output_field) == 3
        assert {candidates[n - 1] for n in question.output_field} <= set(bullets[product])
        assert sum(c in bullets[product] for c in candidates) == 3


def test_esci_queries_of_a_product_rank_by_their_judgements_unjudged_last(tmp_path):
    judged = [("desk lamp", "Lamp", "E"), ("lamp shade", "Lamp", "C"), ("floor lamp", "Lamp", "S"),
              ("mug", "Mug", "I")] + [(f"query {n}", f"Thing {n}", "E") for n in range(6)]
    folder = esci_release(tmp_path / "esci", judged, {})
    report = build(SOURCES["esci"], folder, tmp_path / "out.jsonl")
    tally = next(t for t in report.tallies if t.task.name == "esci-rank-queries")
    assert tally.skipped == {"product that no query judged more than irrelevant": 1}  # the mug
    lamp = next(q for q in tasks_of(tmp_path / "out.jsonl")["esci-rank-queries"] if "'Lamp'" in q.input_field)
    weights = dict(zip(listed(lamp), lamp.output_field))
    assert {q: w for q, w in weights.items() if w} == {"desk lamp": 1.0, "floor lamp": 0.1, "lamp shade": 0.01}
    assert sorted(weights.values()) == [0.0, 0.0, 0.01, 0.1, 1.0]


def test_esci_pairs_rank_by_their_labels_and_one_label_alone_is_skipped(tmp_path):
    labels = {"E": 1.0, "S": 0.1, "C": 0.01, "I": 0.0}
    judged = [(f"query {n}", f"Product {n} {label}", label) for n in range(5) for label in labels]
    folder = esci_release(tmp_path / "esci", judged, {})
    build(SOURCES["esci"], folder, tmp_path / "out.jsonl")
    questions = tasks_of(tmp_path / "out.jsonl")["esci-rank-pairs"]
    assert len(questions) == len(judged)
    for question in questions:
        pairs = listed(question)
        assert [labels[pair.rsplit(" ", 1)[1].rstrip("'")] for pair in pairs] == question.output_field
        assert len(set(question.output_field)) >= 3  # one pair of each other label
    folder = esci_release(tmp_path / "one-label", [(f"q{n}", f"P{n}", "E") for n in range(6)], {})
    report = build(SOURCES["esci"], folder, tmp_path / "out2.jsonl")
    assert next(t for t in report.tallies if t.task.name == "esci-rank-pairs").skipped == {"pairs of a single label only": 6}


def _shown_lines(question) -> list[str]:
    """The lines between a question's first line and its question sentence: the data shown."""
    lines = question.input_field.splitlines()
    return lines[1:next(i for i, line in enumerate(lines) if line.endswith("?"))]


def products_judged_by_queries(tmp_path, descriptions):
    """Six queries, each with one exact product (described or not) and three other judged ones."""
    judged = []
    for n in range(6):
        judged += [(f"query {n}", f"Exact {n}", "E"), (f"query {n}", f"Sub {n}", "S"), (f"query {n}", f"Comp {n}", "C"),
                   (f"query {n}", f"Irr {n}", "I")]
    bullets = {f"Exact {n}": [f"Exact {n} feature {k}" for k in range(7)] for n in range(6) if n != 5}
    return esci_release(tmp_path / "esci", judged, bullets, descriptions)


def test_esci_query_for_a_products_description_or_features(tmp_path):
    descriptions = {f"Exact {n}": f"<p>About <b>exact</b> {n} &amp; more</p>" for n in range(4)}
    folder = products_judged_by_queries(tmp_path, {**descriptions, "Sub 0": "A substitute."})
    report = build(SOURCES["esci"], folder, tmp_path / "out.jsonl")
    tallies = {t.task.name: t for t in report.tallies}
    assert tallies["esci-query-for-description"].written == 4
    assert tallies["esci-query-for-description"].skipped == {"query without an exact match with a description": 2}
    assert tallies["esci-query-for-features"].skipped == {"query without an exact match with bullet points": 1}
    questions = tasks_of(tmp_path / "out.jsonl")
    for question in questions["esci-query-for-description"]:
        options = listed(question)
        (shown,) = _shown_lines(question)
        n = shown.split()[2]
        assert shown == f"About exact {n} & more"  # the markup gone, the entities read
        assert options[question.output_field] == f"query {n}" and len(set(options)) == 4
    for question in questions["esci-query-for-features"]:
        shown = _shown_lines(question)
        n = shown[0].split()[2]
        assert shown == [f"- Exact {n} feature {k}" for k in range(5)]  # the first five
        assert listed(question)[question.output_field] == f"query {n}"
    assert check(data.load_questions(tmp_path / "out.jsonl"), Scorer({})).passed


def test_esci_title_for_a_products_description_or_features_among_the_querys_other_products(tmp_path):
    folder = products_judged_by_queries(tmp_path, {f"Exact {n}": f"Described {n}." for n in range(3)})
    report = build(SOURCES["esci"], folder, tmp_path / "out.jsonl")
    tallies = {t.task.name: t for t in report.tallies}
    assert (tallies["esci-title-for-description"].written, tallies["esci-title-for-features"].written) == (3, 5)
    assert tallies["esci-title-for-description"].skipped == {
        "query without an exact match with a description and three other judged products": 3}
    questions = tasks_of(tmp_path / "out.jsonl")
    for question in questions["esci-title-for-description"] + questions["esci-title-for-features"]:
        n = _shown_lines(question)[0].split()[-1].rstrip(".") if question.task_name.endswith("description") else \
            _shown_lines(question)[0].split()[2]
        assert sorted(listed(question)) == sorted([f"Exact {n}", f"Sub {n}", f"Comp {n}", f"Irr {n}"])
        assert listed(question)[question.output_field] == f"Exact {n}"


def test_esci_without_a_description_column_builds_every_other_task(tmp_path):
    report = build(SOURCES["esci"], products_judged_by_queries(tmp_path, None), tmp_path / "out.jsonl")
    written = {t.task.name: t.written for t in report.tallies}
    assert written["esci-query-for-description"] == written["esci-title-for-description"] == 0
    assert (written["esci-query-for-features"], written["esci-query-for-product"]) == (5, 6)


def _review(user: str, asin: str, rating: float) -> dict:
    return {"rating": rating, "title": "", "text": "Fine.", "images": [], "asin": asin, "parent_asin": asin,
            "user_id": user, "timestamp": 1, "helpful_vote": 0, "verified_purchase": True}


def test_reviews_products_a_customer_bought_rank_by_rating_above_those_not_bought(tmp_path):
    folder = tmp_path / "reviews"
    folder.mkdir()
    write_jsonl(folder / "meta_Toys.jsonl", [{"parent_asin": f"P{n}", "title": f"Toy {n}", "main_category": "Toys",
                                              "categories": []} for n in range(12)])
    write_jsonl(folder / "Toys.jsonl", [_review("alice", "P0", 5.0), _review("alice", "P1", 2.0), _review("alice", "P2", 4.0),
                                        _review("bob", "P3", 5.0), _review("carol", "P4", 4.5)])
    report = build(SOURCES["reviews"], folder, tmp_path / "out.jsonl")
    tally = next(t for t in report.tallies if t.task.name == "reviews-liked-products")
    # bob reviewed one product; carol's rating is not a whole star, so she has none
    assert tally.written == 1 and tally.skipped == {"customer with fewer than two rated products of different titles": 1}
    (question,) = tasks_of(tmp_path / "out.jsonl")["reviews-liked-products"]
    bought = question.input_field.split("'")[1]
    weights = dict(zip(listed(question), question.output_field))
    alice = {"Toy 0": 1.0, "Toy 1": 0.4, "Toy 2": 0.8}
    assert bought in alice and {t: w for t, w in weights.items() if w} == {t: w for t, w in alice.items() if t in weights}
    assert bought not in weights and sum(w > 0 for w in weights.values()) >= 1 and len(weights) == 5


def test_m2_products_viewed_before_the_last_one_are_the_answers(tmp_path):
    folder = tmp_path / "m2"
    folder.mkdir()
    titles = [f"Coffee mug number {n} white" for n in range(15)]
    (folder / "products_train.csv").write_text(
        "id,locale,title\n" + "".join(f"B{n},DE,{title}\n" for n, title in enumerate(titles)) + "B99,DE,\n", encoding="utf-8")
    (folder / "sessions_train.csv").write_text(
        "prev_items,next_item,locale\n\"['B1' 'B2' 'B1']\",B3,DE\n\"['B4' 'B5' 'B6' 'B7' 'B8']\",B9,DE\n"
        "\"['B3']\",B3,DE\n\"['B2']\",B99,DE\n", encoding="utf-8")
    report = build(SOURCES["m2"], folder, tmp_path / "out.jsonl")
    tally = next(t for t in report.tallies if t.task.name == "m2-earlier-views")
    assert tally.written == 2 and tally.skipped == {
        "session without an earlier product titled otherwise than its last": 1, "next product without a title": 1}
    for question in tasks_of(tmp_path / "out.jsonl")["m2-earlier-views"]:
        last = question.input_field.split("'")[1]
        chosen = {listed(question)[n - 1] for n in question.output_field}
        viewed = {titles[1], titles[2]} if last == titles[3] else {titles[n] for n in range(4, 9)}
        assert len(chosen) == min(3, len(viewed)) and chosen <= viewed
        assert len(listed(question)) == 10 and not (set(listed(question)) - chosen) & viewed  # the rest never viewed
    assert check(data.load_questions(tmp_path / "out.jsonl"), Scorer({})).passed


def test_m2_the_same_products_description_in_another_locale(tmp_path):
    folder = tmp_path / "m2"
    folder.mkdir()
    rows = [("B1", "DE", "Tasse weiss"), ("B1", "FR", "Tasse blanche"), ("B1", "IT", "Tazza bianca"),
            ("B2", "DE", "Nur hier"), ("B3", "DE", "Gleich"), ("B3", "UK", "Gleich")]
    rows += [(f"C{n}", locale, f"Anderes Ding {n} {locale}") for n in range(3) for locale in ("DE", "UK")]
    (folder / "products_train.csv").write_text("id,locale,title,desc\n" + "".join(
        f"{i},{locale},Title {i} {locale},{desc}\n" for i, locale, desc in rows), encoding="utf-8")
    (folder / "sessions_train.csv").write_text("prev_items,next_item,locale\n\"['B1']\",B2,DE\n", encoding="utf-8")
    report = build(SOURCES["m2"], folder, tmp_path / "out.jsonl")
    tally = next(t for t in report.tallies if t.task.name == "m2-description-other-language")
    assert tally.written == 4 and tally.skipped == {  # B1 and the three C*; B2 in one locale, B3 the same in both
        "product described in fewer than two locales": 1, "the same description in both locales": 1}
    product_of = {desc: i for i, _, desc in rows}
    locale_of = {desc: locale for _, locale, desc in rows}
    for question in tasks_of(tmp_path / "out.jsonl")["m2-description-other-language"]:
        shown = question.input_field.split("'")[1]
        options = [line.split(". ", 1)[1] for line in question.input_field.splitlines()
                   if line[:2] in ("0.", "1.", "2.", "3.")]
        answer = options[question.output_field]
        assert product_of[answer] == product_of[shown] and answer != shown
        others = [o for n, o in enumerate(options) if n != question.output_field]
        assert all(product_of[o] != product_of[shown] and locale_of[o] != locale_of[shown] for o in others)
