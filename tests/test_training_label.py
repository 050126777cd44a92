"""`python -m training label`: Table 7's rows 1, 2, 4 and 20, labelled through an OpenAI-compatible
server (the fake one of tests/fake_server.py, its replies scripted by the test): what each check
keeps and drops, the questions built from the kept labels, resume after a stop, and the refusals."""
import json
import re
import shutil

import pytest

from shopbench import data, spec
from shopbench.scoring import Scorer
from tests.fake_server import FakeServer, Script
from tests.tiny_models import qwen_tokenizer_dir
from training import synthetic
from training.__main__ import main
from training.check import check
from training.records import Dropped, chosen_from
from training.served import journal_path
from training.sources import m2, reviews


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qwen-tokenizer")
    for path in qwen_tokenizer_dir().iterdir():
        shutil.copy2(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def tokenizer(tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)


NOUNS = sorted(synthetic._NOUNS, key=len, reverse=True)


def noun_in(text: str) -> str:
    return next(noun for noun in NOUNS if noun in text.casefold())


def honest(request: str) -> str:
    """A model that answers every kind of ask as the checks want it."""
    if "Which one of the following product categories is this product?" in request:
        return noun_in(request.split("\n")[1])
    if request.startswith("Product:\nTitle:") and "Explain in one sentence" in request:
        category = re.search(r"Product type: (.+)", request).group(1)
        return f"A {category} is a thing that many people use every day."
    if "Copy from the review" in request:
        review = request.split("\n")[1]
        return next(sentence for sentence in synthetic._POSITIVE + synthetic._NEGATIVE if sentence in review)
    if "as its complement?" in request:
        return re.findall(r"^- (.+)$", request, re.MULTILINE)[0]
    raise AssertionError(f"an ask the test does not know:\n{request}")


def replying(tokenizer, answer):
    """The fake server's `reply`: the last user turn of the prompt -> `answer(turn)`, as token ids."""

    def reply(prompt_ids):
        text = tokenizer.decode(prompt_ids)
        request = text.rsplit("<|im_start|>user\n", 1)[1].split("<|im_end|>", 1)[0]
        return tokenizer.encode(answer(request), add_special_tokens=False)

    return reply


@pytest.fixture
def served(tokenizer, tokenizer_dir, monkeypatch):
    """`with served(answer) as script:` the fake server answering with `answer`, in the environment."""
    import contextlib

    @contextlib.contextmanager
    def serve(answer=honest):
        script = Script(reply=replying(tokenizer, answer))
        with FakeServer(script) as url:
            monkeypatch.setenv("SHOPBENCH_SERVER_URL", url)
            monkeypatch.setenv("SHOPBENCH_MODEL_DIR", str(tokenizer_dir))
            yield script

    return serve


def run_label(source, folder, out, *extra):
    return main(["label", source, "--input", str(folder), "--out", str(out), "--no-progress", *extra])


def by_task(path) -> dict[str, list]:
    found: dict[str, list] = {}
    for question in data.load_questions(path):
        found.setdefault(question.task_name, []).append(question)
    return found


def options(question) -> list[str]:
    return re.findall(r"^\d+\. (.+)$", question.input_field, re.MULTILINE)


@pytest.mark.slow
def test_m2_categories_and_explanations_make_rows_1_and_20(tmp_path, served, minilm, capsys):
    folder = synthetic.write_source("m2", tmp_path, 80)
    out = tmp_path / "m2-labelled.jsonl"
    with served():
        assert run_label("m2", folder, out) == 0
    printed = capsys.readouterr().out
    assert re.search(r"product-type\s+\d+\s+\d+", printed) and "m2-attribute-category" in printed
    questions = by_task(out)
    assert set(questions) == {"m2-attribute-category", "m2-explain-type"}
    # synthetic.write_m2 fills an attribute for some kinds of product only
    having = {"material": synthetic._M2_ATTRIBUTES["material"], "size": synthetic._M2_ATTRIBUTES["size"],
              "model": synthetic._M2_ATTRIBUTES["model"], "color": set(NOUNS) - synthetic._UNCOLOURED}
    for question in questions["m2-attribute-category"]:
        attribute = question.input_field.split("the attribute ", 1)[1].split("?")[0]
        listed = options(question)
        assert listed[question.output_field] in having[attribute]
        assert not set(listed[:question.output_field] + listed[question.output_field + 1:]) & having[attribute]
    for question in questions["m2-explain-type"]:
        category = question.input_field.split("Input: ", 1)[1].split("\n")[0]
        assert question.output_field == f"A {category} is a thing that many people use every day."
    explained = [q.input_field for q in questions["m2-explain-type"]]
    assert max(explained.count(q) for q in explained) <= m2.EXPLAINED_PER_TYPE
    assert check(data.load_questions(out), Scorer({spec.SENT_TRANSFORMER: minilm})).passed
    assert not journal_path(out).exists()


@pytest.mark.slow
def test_reviews_snippets_and_complements_make_rows_2_and_4(tmp_path, served, capsys):
    folder = synthetic.write_source("reviews", tmp_path, 300)
    out = tmp_path / "reviews-labelled.jsonl"
    with served():
        assert run_label("reviews", folder, out) == 0
    printed = capsys.readouterr().out
    assert "Not asked (review-snippet): 3-star review, neither positive nor negative:" in printed
    questions = by_task(out)
    assert set(questions) == {"reviews-snippets", "reviews-complements"}
    loaded = reviews.load(folder)
    said = {**{s: "positive" for s in synthetic._POSITIVE}, **{s: "negative" for s in synthetic._NEGATIVE}}
    for question in questions["reviews-snippets"]:
        sentiment = "positive" if "express a positive sentiment" in question.input_field else "negative"
        listed = options(question)
        assert len(listed) == 15 and len(set(listed)) == 15
        chosen = {listed[n - 1] for n in question.output_field}
        assert all(said[snippet] == sentiment for snippet in chosen)
        assert all(said[snippet] != sentiment for snippet in set(listed) - chosen)
    catalogue = set(reviews.catalogue(loaded))
    for question in questions["reviews-complements"]:
        listed = options(question)
        assert set(listed) <= catalogue and question.input_field.split("product type ")[1].split("?")[0] not in listed
    assert check(data.load_questions(out), Scorer({})).passed


@pytest.mark.parametrize("reply, expected", [
    ("backpack", "backpack"), ("- Backpack.", "backpack"), ('"tent"', "tent"), ("Category: tent", "tent"),
    ("None", Dropped("none fits")), ("rucksack", Dropped("not in the list offered")), ("", Dropped("not in the list offered")),
])
def test_a_category_must_be_one_of_the_list_offered(reply, expected):
    offered = ("backpack", "tent", "teapot", "yoga mat")
    if isinstance(expected, Dropped):
        with pytest.raises(Dropped, match=f"^{expected}$"):
            m2.read_product_type(reply, offered)
    else:
        assert m2.read_product_type(reply, offered) == expected


REVIEW = "The straps are padded. It is very comfortable and roomy, but the zip broke after a week."


@pytest.mark.parametrize("reply, expected", [
    ("very comfortable and roomy", "very comfortable and roomy"), ('"The straps are padded."', "The straps are padded."),
    ("It is very comfortable and roomy.", "It is very comfortable and roomy"),
    ("the zip broke after a week.", "the zip broke after a week."), ("Very comfortable", Dropped("not in the review")),
    ("comfortable and spacious", Dropped("not in the review")), ("", Dropped("empty")),
    (REVIEW, Dropped("longer than 12 words")),
])
def test_a_snippet_must_occur_verbatim_in_the_review(reply, expected):
    if isinstance(expected, Dropped):
        with pytest.raises(Dropped, match=f"^{expected}$"):
            reviews.read_snippet(reply, REVIEW)
    else:
        assert reviews.read_snippet(reply, REVIEW) == expected


def test_a_complement_must_be_among_the_catalogues_categories_offered():
    context = ("Tent", ["Sleeping Bag", "Teapot", "Lipstick", "Mug"])
    assert reviews.read_complement("Sleeping bag", context) == {"type": "Tent", "complement": "Sleeping Bag",
                                                                "offered": context[1]}
    with pytest.raises(Dropped, match="^not among the catalogue's categories offered$"):
        reviews.read_complement("Tent pegs", context)
    with pytest.raises(Dropped, match="^none goes with it$"):
        reviews.read_complement("none", context)


@pytest.mark.parametrize("reply, expected", [
    ("A watch band is a bracelet that straps a wristwatch onto the wrist.", None),
    ("Watch bands hold watches on the wrist of the wearer. They come in many materials.", None),
    ("Explanation: A watch band holds a watch on your wrist.", "A watch band holds a watch on your wrist."),
    ("", "empty"),
    ("- A watch band holds a watch on the wrist.", "not a sentence"),
    ("A watch band holds a watch", "not a sentence"),
    ("Watch band.", "not a sentence"),
    ("A watch band holds a watch. It is strong. It is light. It is cheap.", "longer than a sentence or two"),
    ("A strap holds a watch on the wrist of its wearer.", "does not name the type"),
    ("A watch band by Kestrel holds the watch on the wrist.", "about the product, not the type"),
    ("This product is a watch band that holds a watch on the wrist.", "about the product, not the type"),
])
def test_an_explanation_must_be_a_sentence_about_the_type(reply, expected):
    context = ("watch band", "Kestrel")
    if expected is None or expected[0].isupper():
        assert m2.read_explanation(reply, context) == (expected or reply)
    else:
        with pytest.raises(Dropped, match=f"^{expected}$"):
            m2.read_explanation(reply, context)


def test_chosen_from_reads_a_list_mark_but_not_a_number_of_the_item():
    assert chosen_from("3) 2.5 inch screen", ["2.5 inch screen", "mug"], "n", "o") == "2.5 inch screen"
    assert chosen_from("2.5 inch screen", ["2.5 inch screen", "mug"], "n", "o") == "2.5 inch screen"


def test_every_drop_is_counted_by_its_reason_in_the_table(tmp_path, served, capsys):
    folder = synthetic.write_source("m2", tmp_path, 60)
    out = tmp_path / "out.jsonl"
    answers = iter(["none", "rucksack"] * 1000)

    def unruly(request):
        if "Which one of the following product categories" in request:
            return next(answers)
        raise AssertionError("no category was kept: nothing to explain")

    with served(unruly):
        assert run_label("m2", folder, out, "--limit", "10") == 0
    printed = capsys.readouterr().out
    assert re.search(r"product-type\s+10\s+0\s+5\s+5", printed)  # asked, kept, none fits, not in the list
    assert "dropped: none fits" in printed and "dropped: not in the list offered" in printed
    assert out.read_text() == "" and "0 questions written" in printed
    # a prompt longer than the served context (2048 tokens here) is not sent but counted
    (tmp_path / "long.txt").write_text("".join(f"category {n} " + "word " * 700 + "\n" for n in range(4)))
    with served(unruly) as script:
        assert run_label("m2", folder, tmp_path / "out2.jsonl", "--limit", "3", "--categories",
                         str(tmp_path / "long.txt")) == 0
    assert re.search(r"product-type\s+3\s+0\s+3", capsys.readouterr().out)
    assert all("allowed_token_ids" in body or "logit_bias" in body for body in script.bodies)  # probes only


@pytest.mark.slow
def test_a_stopped_run_resumes_from_its_journal_and_ends_where_an_unbroken_one_does(tmp_path, served, capsys,
                                                                                   monkeypatch):
    from training.served import BATCH, Chat

    folder = synthetic.write_source("reviews", tmp_path, 200)
    whole, out = tmp_path / "whole.jsonl", tmp_path / "out.jsonl"
    with served() as script:
        assert run_label("reviews", folder, whole) == 0
    unbroken = len(script.bodies)
    replies = Chat.replies
    calls = []

    def stop_on_the_third_batch(self, asks):
        calls.append(len(asks))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return replies(self, asks)

    monkeypatch.setattr(Chat, "replies", stop_on_the_third_batch)
    with served():
        assert run_label("reviews", folder, out) == 130
    assert "the same command resumes" in capsys.readouterr().err
    assert not out.exists() and len(journal_path(out).read_text().splitlines()) == 1 + 2 * BATCH
    monkeypatch.setattr(Chat, "replies", replies)
    with journal_path(out).open("a") as journal:
        journal.write('{"key": "review-snippet:9", "sta')  # killed in the middle of a line
    with served() as script:
        assert run_label("reviews", folder, out) == 0
    assert f"({2 * BATCH} from an earlier run's journal)" in capsys.readouterr().out
    assert len(script.bodies) == unbroken - 2 * BATCH  # the journaled units are not asked again
    assert out.read_bytes() == whole.read_bytes() and not journal_path(out).exists()


def test_a_journal_of_another_run_is_refused(tmp_path, served, capsys):
    folder = synthetic.write_source("reviews", tmp_path, 40)
    out = tmp_path / "out.jsonl"
    journal_path(out).write_text(json.dumps({"another": "run"}) + "\n")
    with served():
        assert run_label("reviews", folder, out, "--seed", "3") == 2
    assert "the journal of another run" in capsys.readouterr().err and not out.exists()


def test_a_broken_journal_is_named_before_the_server_is_asked(tmp_path, served, capsys):
    folder = synthetic.write_source("reviews", tmp_path, 40)
    out = tmp_path / "out.jsonl"
    journal_path(out).write_text('{"run": 1}\n{"key": "complement:tent"}\n{"key": "x", "status": "kept"}\n')
    with served() as script:
        assert run_label("reviews", folder, out) == 2
    err = capsys.readouterr().err
    assert "out.jsonl.partial:2: not a journal line (field 'status': missing)" in err and err.count("\n") == 1
    assert not script.bodies  # before the engine started


def test_refusals_come_before_any_work(tmp_path, monkeypatch, capsys, served):
    folder = synthetic.write_source("reviews", tmp_path, 40)
    monkeypatch.delenv("SHOPBENCH_SERVER_URL", raising=False)
    assert run_label("reviews", folder, tmp_path / "o.jsonl") == 2
    assert "SHOPBENCH_SERVER_URL must be the server's base URL" in capsys.readouterr().err
    with served() as script:
        for out, refusal in ((folder / "inside.jsonl", "is inside --input"),
                             (m2.PRODUCT_TYPES, "is the same file as --categories")):
            with pytest.raises(SystemExit, match="2"):
                run_label("m2", folder, out, "--categories", str(m2.PRODUCT_TYPES))
            assert refusal in capsys.readouterr().err
        assert run_label("reviews", folder, tmp_path / "o.jsonl", "--categories", str(m2.PRODUCT_TYPES)) == 2
        assert "--categories is for the m2 source" in capsys.readouterr().err
        assert run_label("reviews", tmp_path / "nowhere", tmp_path / "o.jsonl") == 2
        assert "nowhere: not found" in capsys.readouterr().err
        (tmp_path / "few.txt").write_text("# few\ntent\nmug\nmug\n")
        assert run_label("m2", folder, tmp_path / "o.jsonl", "--categories", str(tmp_path / "few.txt")) == 2
        assert "few.txt:4: category 'mug' again (first on line 3)" in capsys.readouterr().err
    assert not script.bodies or all("allowed_token_ids" in b or "logit_bias" in b for b in script.bodies)
    assert not (tmp_path / "o.jsonl").exists() and not journal_path(tmp_path / "o.jsonl").exists()


def test_synthetic_inputs_can_be_labelled():
    offered = {category.casefold() for category in m2.read_categories(m2.PRODUCT_TYPES)}
    assert set(NOUNS) <= offered  # every kind of synthetic product is a category offered
    # each sentiment has enough sentences for a list of snippets; none touches the aspects lexicon
    assert min(len(set(synthetic._POSITIVE)), len(set(synthetic._NEGATIVE))) >= reviews.SNIPPETS_LISTED
    assert not [s for s in synthetic._POSITIVE + synthetic._NEGATIVE if reviews.covered_aspects(s)]


def test_a_snippet_said_with_a_sentiment_anywhere_is_never_a_wrong_answer_for_it():
    import random

    from training.records import Labelled

    said = [("Tent", 5, f"tent joy {n}") for n in range(3)] + [("Lamp", 5, "mixed feelings")]
    said += [("Mug", 1, f"mug woe {n}") for n in range(20)] + [("Mug", 1, "mixed feelings")]
    data = reviews.ReviewsData(
        [reviews.Review(float(stars), "", text, kind, "u", 0) for kind, stars, text in said],
        {kind: reviews.Item(kind, kind) for kind in ("Tent", "Lamp", "Mug")}, {})
    labelled = Labelled(data, {"review-snippet": {str(n): text for n, (_, _, text) in enumerate(said)}})
    for seed in range(5):
        built = [b for b in reviews.snippets(labelled, random.Random(seed)) if not isinstance(b, str)]
        tent = [b for b in built if "a(n) Tent product" in b.input_field]
        assert len(tent) == 3
        assert not any("mixed feelings" in b.input_field for b in tent)  # said positively of a lamp


@pytest.mark.engine
def test_label_through_vllms_server_with_the_embedded_model(tmp_path, monkeypatch, capsys):
    from models import embedded
    from tests.fake_server import vllm_server_on

    folder = synthetic.write_source("reviews", tmp_path, 60)
    monkeypatch.delenv("SHOPBENCH_MODEL_DIR", raising=False)
    out = tmp_path / "labelled.jsonl"
    with vllm_server_on(embedded.safetensors_copy(), tmp_path) as url:
        monkeypatch.setenv("SHOPBENCH_SERVER_URL", url)
        assert run_label("reviews", folder, out, "--limit", "6") == 0
    printed = capsys.readouterr().out
    assert re.search(r"review-snippet\s+6\s+\d", printed) and re.search(r"complement\s+6\s+\d", printed)
    # the small model's labels are poor: what is kept passed its checks, and what is built passes `check`
    if out.read_text():
        assert main(["check", "--data", str(out), "--no-progress"]) == 0
