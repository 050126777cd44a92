import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.classifier import Route, classify
from decoding.config import DecodingConfig
from decoding.repair import cut_to_sentences, repair
from shopbench import parsers, spec

MC_PROMPT = "Pick one\n0. a\n1. b\n2. c\n3. d\nAnswer:"
RATING_PROMPT = "Rate the review on a scale of 1 to 5.\nReview: great\nAnswer:"
RANKING_PROMPT = "Rank the products by relevance to 'tent'.\n1. a\n2. b\n3. c\n4. d\n5. e\nOutput:"
RETRIEVAL_PROMPT = "Select 3 products.\n" + "\n".join(f"{i}. item {i}" for i in range(1, 16)) + "\nOutput:"
NER_PROMPT = "Extract entities of type 'brand' from the query.\nQuery: nike running shoes\nOutput:"
GENERATION_PROMPT = "Instructions: Tell me what this product category is about\nInput: Toggle Switch\nOutput:"
ROUTES = {
    "mc": (MC_PROMPT, True), "rating": (RATING_PROMPT, True), "ranking": (RANKING_PROMPT, False),
    "retrieval": (RETRIEVAL_PROMPT, False), "ner": (NER_PROMPT, False), "generation": (GENERATION_PROMPT, False),
}
noise = st.one_of(
    st.text(max_size=60),
    st.lists(st.integers(-3, 20).map(str), max_size=8).map(", ".join),
    st.text(alphabet="0123456789, \n[]", max_size=30),
)


def valid(route: Route, text: str) -> bool:
    parsed = parsers.parse(route.task_type, text)
    if route.task_type == spec.MULTIPLE_CHOICE:
        return parsed in route.choices
    if route.task_type == spec.RANKING:
        return sorted(parsed) == sorted(route.candidates)
    if route.task_type == spec.RETRIEVAL:
        return len(parsed) == route.answer_count == len(set(parsed)) and set(parsed) <= set(route.candidates)
    return bool(parsed)


@pytest.mark.parametrize("name", ROUTES)
@settings(max_examples=1500, deadline=None)
@given(response=noise)
def test_every_repaired_answer_parses_valid(name, response):
    prompt, flag = ROUTES[name]
    route = classify(prompt, flag)
    result = repair(route, prompt, response)
    assert valid(route, result.text)
    assert result.repaired == (result.text != (response.strip() if route.task_type == spec.GENERATION else response))


@pytest.mark.parametrize(
    "name, answer",
    [("mc", "2"), ("mc", " 3 because"), ("rating", "4"), ("ranking", "3, 1, 2, 5, 4"), ("ranking", "[5,4,3,2,1]"),
     ("retrieval", "6, 9, 15"), ("retrieval", "1, 2, 3, 4"), ("ner", "nike"), ("ner", "['nike', 'adidas']"),
     ("generation", "A switch with a lever.")],
)
def test_valid_answers_are_never_changed(name, answer):
    prompt, flag = ROUTES[name]
    assert repair(classify(prompt, flag), prompt, answer).text == answer


@pytest.mark.parametrize(
    "name, answer, expected",
    [
        ("mc", "Answer: 2", "2"), ("mc", "7", "0"), ("rating", "0 stars, no: 4", "4"),
        ("ranking", "3, 3, 1", "3, 1, 2, 4, 5"), ("ranking", "5 4", "5, 4, 1, 2, 3"),
        ("retrieval", "6, 6", "6, 1, 2"), ("retrieval", "99, 14", "14, 1, 2"), ("retrieval", "", "1, 2, 3"),
        ("ner", "", "nike running shoes"), ("ner", " , ", "nike running shoes"), ("generation", "  ", "Toggle Switch"),
    ],
)
def test_repairs_keep_the_models_order_then_fill(name, answer, expected):
    prompt, flag = ROUTES[name]
    result = repair(classify(prompt, flag), prompt, answer)
    assert (result.text, result.repaired) == (expected, True)


def test_zero_based_candidates_and_short_lists():
    prompt = "Rank these.\n0. a\n1. b\n2. c\nOutput:"
    route = classify(prompt, False)
    assert repair(route, prompt, "2").text == "2, 0, 1"
    route = Route(spec.RETRIEVAL, spec.RETRIEVAL, (1, 2), 3)  # two candidates cannot give three
    assert repair(route, "", "x").text == "1, 2"
    assert repair(route, "", "2, 1").text == "2, 1"


def test_generation_cut_to_whole_sentences():
    text = "One two three four five six seven eight. Nine ten eleven twelve thirteen fourteen fifteen sixteen. Tail words"
    assert cut_to_sentences(text, 15) == "One two three four five six seven eight. Nine ten eleven twelve thirteen fourteen fifteen sixteen."
    assert cut_to_sentences("Short answer. Two.", 15) == "Short answer. Two."
    long_sentence = " ".join(["word"] * 30)
    assert cut_to_sentences(long_sentence, 15) == long_sentence  # no sentence end: nothing to cut at
    assert cut_to_sentences(text, 0) == text
    config = DecodingConfig(generation_word_limit=0)
    assert repair(classify(GENERATION_PROMPT, False), GENERATION_PROMPT, text, config).text == text
