import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from routing.classifier import TITLE, Route, classify
from shopbench.decoding_config import DecodingConfig
from decoding.profiles import repair
from decoding.repair import Repaired, cut_to_sentences
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


@pytest.mark.slow
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


def test_titles_are_never_cut_inside_a_number_or_at_a_dot_without_a_space():
    title = "Corsair HS60 PRO Surround Gaming Headset 7.1 with 2.5mm jack, USB-C, v2.0 firmware, for PC PS5 and Xbox"
    assert cut_to_sentences(title, 15) == title  # no sentence end in it, so nothing is cut
    prose = ("Hallo Welt, dies ist ein sehr langer Satz mit vielen Wörtern, der über fünfzehn Wörter hinausgeht. "
             "Zweiter Satz.")
    assert cut_to_sentences(prose, 15) == prose.split(" Zweiter")[0]
    cjk = "这是一个非常长的句子，里面有很多很多的词语。第二句。"
    assert cut_to_sentences(cjk, 0) == cjk
    assert cut_to_sentences("这 是 一 个 很 长 的 句 子 有 超 过 十 五 个 词 。 第二句 。", 15) == "这 是 一 个 很 长 的 句 子 有 超 过 十 五 个 词 。"


@pytest.mark.parametrize(
    "looping, collapsed",
    [
        ("Corsair, 7.1, 7.1, 7.1, 7.1, 7.1, 7.1, 7.1, 7.1, 7.1,", "Corsair, 7.1"),
        ("very very very comfortable shoes", "very comfortable shoes"),
        ("Set of 4 glasses, Set of 4 glasses, Set of 4 glasses, Set of 4 glasses", "Set of 4 glasses"),
        ("ab cd ab cd ab cd ef ef ef gh", "ab cd ef gh"),
        ("Bluetooth Kopfhörer, Over Ear, Bluetooth Kopfhörer, Over Ear", "Bluetooth Kopfhörer, Over Ear, Bluetooth Kopfhörer, Over Ear"),
        ("Pack of 2, 2 pieces, black", "Pack of 2, 2 pieces, black"),
    ],
)
def test_a_phrase_said_three_times_in_a_row_is_kept_once(looping, collapsed):
    from decoding.repair import collapse_repetition

    assert collapse_repetition(looping) == collapsed


def test_generation_loops_are_collapsed_unless_switched_off():
    route = classify(GENERATION_PROMPT, False)
    looping = "Toggle switch, switch, switch, switch, switch"
    assert repair(route, GENERATION_PROMPT, looping).text == "Toggle switch"
    assert repair(route, GENERATION_PROMPT, looping, DecodingConfig(cut_repetition=False)).text == looping


NER_QUERY = "Extract phrases from the query that correspond to the entity type 'brand'.\nQuery: nike adidas running shoes for men\nOutput:"


@pytest.mark.parametrize(
    "sentence, spans",
    [
        ("The brand in the query is 'Nike'.", "Nike"),
        ('Die Marke ist „adidas“ laut der Anfrage.', "adidas"),
        ("The brands are nike, adidas.", "nike, adidas"),
        ("The query mentions running shoes for men.", "running shoes for men"),
        # nothing taken from the query: the entity type echoed back is not an answer
        ("The entity type that matches the query is 'brand'.", "nike adidas running shoes for men"),
    ],
)
def test_an_ner_sentence_is_reduced_to_what_it_takes_from_the_query(sentence, spans):
    route = classify(NER_QUERY, False)
    assert route.task_type == spec.NER
    result = repair(route, NER_QUERY, sentence)
    assert (result.text, result.repaired) == (spans, True)
    off = DecodingConfig(spans_from_sentences=False)
    assert repair(route, NER_QUERY, sentence, off).text == sentence


@pytest.mark.parametrize("answer", ["nike", "nike, adidas", "['nike', 'adidas']", '"nike", "adidas"', "Nike Air", "men's shoes"])
def test_entity_lists_are_not_sentences(answer):
    from decoding.repair import looks_like_sentence

    assert not looks_like_sentence(answer)
    assert repair(classify(NER_QUERY, False), NER_QUERY, answer).text == answer


def test_repair_switched_off_returns_what_the_model_said():
    off = DecodingConfig(repair=False)
    for name, answer in (("mc", "Answer: 2"), ("ranking", "3, 3, 1"), ("retrieval", ""), ("ner", " , ")):
        prompt, flag = ROUTES[name]
        assert repair(classify(prompt, flag), prompt, answer, off) == Repaired(answer, False)


@pytest.mark.parametrize(
    "prompt",
    [
        "Translate the product title 'Bosch Professional GSR 18V-55 Akku-Bohrschrauber' into English.\nOutput:",
        "Übersetze den folgenden Titel ins Französische:\nSony WH-1000XM5 Kabellose Kopfhörer\nAntwort:",
        "A product entitled 'Lego Technic 42115' exists on a US website. Generate an adequate title for the product "
        "when it appears on a(n) Japanese online shopping website.\nOutput:",
        "Localize this listing name for amazon.es:\nDyson V15 Detect Absolute cordless vacuum\nRespuesta:",
        "この商品名を英語に翻訳してください：ソニー ワイヤレスヘッドホン\n答え：",
    ],
)
def test_title_and_translation_requests_are_kept_whole_and_get_room(prompt):
    route = classify(prompt, False)
    assert (route.task_type, route.profile) == (spec.GENERATION, TITLE)
    long_title = ("Bosch Professional 18V System cordless drill driver GSR 18V-55 (incl. 2x2.0Ah battery, charger "
                  "GAL 18V-20, in L-Case) for wood, metal and plastic. Blue edition.")
    assert repair(route, prompt, long_title).text == long_title  # never cut to sentences
    assert repair(route, prompt, "Output: Sony WH-1000XM5 casque sans fil").text == "Sony WH-1000XM5 casque sans fil"
    said = "The English title is 'Bosch Professional GSR 18V-55 cordless drill driver'."
    assert repair(route, prompt, said).text == "Bosch Professional GSR 18V-55 cordless drill driver"


@pytest.mark.parametrize(
    "prompt",
    [
        GENERATION_PROMPT,
        "Explain in one sentence what the following product does.\n{\"title\": \"Philips Sonicare 4100\"}\nAnswer:",
        "Given the review below, summarise the customer's opinion.\nReview: the translation of the manual is bad\nSummary:",
    ],
)
def test_prose_requests_are_not_titles(prompt):
    assert classify(prompt, False).profile == spec.GENERATION


def test_a_repeated_answer_label_is_dropped_only_when_it_names_the_slot():
    from decoding.repair import without_echoed_label

    assert without_echoed_label("Output: a lever switch", GENERATION_PROMPT) == "a lever switch"
    assert without_echoed_label("Antwort: ein Schalter", GENERATION_PROMPT) == "ein Schalter"
    assert without_echoed_label("Note: it is a switch", GENERATION_PROMPT) == "Note: it is a switch"
    assert without_echoed_label("Summary: fine", "Review: ok\nSummary:") == "fine"


def test_a_title_that_was_mostly_a_loop_falls_back_to_the_title_given():
    prompt = ("A user found a product with title 'Corsair HS60 PRO Surround Gaming Headset (7.1 Surround Sound) - "
              "Yellow' on an online shopping website. Please translate the product title into French.\nOutput:")
    route = classify(prompt, False)
    looped = "Corsair, 7.1, 7.1, 7.1, 7.1, 7.1, 7.1, 7.1, 7.1"
    given = "Corsair HS60 PRO Surround Gaming Headset (7.1 Surround Sound) - Yellow"
    assert repair(route, prompt, looped).text == given
    assert repair(route, prompt, "").text == given
    fine = "Casque de jeu Corsair HS60 PRO Surround (son surround 7.1) - Jaune"
    assert repair(route, prompt, fine) == Repaired(fine, False)
    assert repair(route, prompt, looped, DecodingConfig(repair=False)).text == "Corsair, 7.1"


def test_title_handling_switched_off_treats_a_title_as_prose():
    prompt = "Translate the product title 'Anker PowerCore 10000 portable charger' into German.\nOutput:"
    route = classify(prompt, False)
    said = "Here is the German title: 'Anker PowerCore 10000 tragbares Ladegerät'. I kept the brand and the model name."
    assert repair(route, prompt, said).text == "Anker PowerCore 10000 tragbares Ladegerät"
    assert repair(route, prompt, said, DecodingConfig(titles=False)).text == said


def test_a_title_given_as_input_does_not_make_a_title_request():
    prompt = ("Given the product title below, explain in one sentence why customers buy it.\n"
              "Product title: Sony WH-1000XM4 Wireless Headphones")
    route = classify(prompt, False)
    assert (route.task_type, route.profile) == (spec.GENERATION, spec.GENERATION)
    said = 'Customers buy the "Sony WH-1000XM4 Wireless Headphones" because their noise cancelling is excellent.'
    assert repair(route, prompt, said).text == said


@pytest.mark.parametrize("title", ['Nike Men\'s "Air Max 90" Running Shoes, White, Size 10',
                                   'Samsung 55" Class "The Frame" QLED 4K Smart TV'])
def test_a_title_with_a_quoted_name_in_it_is_kept_whole(title):
    prompt = "Translate the product title into German.\nTitle: " + title + "\nOutput:"
    assert repair(classify(prompt, False), prompt, title).text == title


def test_ner_spans_come_from_every_field_of_the_data():
    prompt = ("Extract the colour of the product as it is written.\nProduct title: Acme Steel Water Bottle Navy Blue\n"
              "Product brand: Acme\nOutput:")
    route = classify(prompt, False)
    assert route.task_type == spec.NER
    assert repair(route, prompt, "The colour is navy blue.").text == "Navy Blue"
    assert repair(route, prompt, 'The colour of the product is "navy blue".').text == "navy blue"


def test_a_loop_in_the_middle_leaves_no_dangling_separator():
    from decoding.repair import collapse_repetition

    assert collapse_repetition("Size: 10, 10, 10 and 12") == "Size: 10 and 12"


def _first_loop_by_every_slice(keys):
    """_first_loop's definition, unoptimised: the first (start, size) in order whose phrase opens
    with a word, fits, and comes _LOOP_REPEATS times or more in a row."""
    import itertools

    from decoding.repair import _LONGEST_LOOP, _LOOP_REPEATS

    for start, size in itertools.product(range(len(keys)), range(1, _LONGEST_LOOP + 1)):
        phrase = keys[start:start + size]
        copies = next(n for n in itertools.count(1) if keys[start + n * size:start + (n + 1) * size] != phrase)
        if keys[start] and len(phrase) == size and copies >= _LOOP_REPEATS:
            return start, size, copies
    return None


@given(keys=st.lists(st.sampled_from(["", "a", "b", "7.1"]), max_size=40))
@example(keys=["", "a", "", "a", "", "a"])  # a loop that opens with no word is not one
def test_the_loop_finder_skips_only_places_no_loop_can_start(keys):
    from decoding.repair import _first_loop

    assert _first_loop(keys) == _first_loop_by_every_slice(keys)


_SPAN_PIECES = ["a", "b", "-", " ", "1", "é", "ab", "a-a"]


@given(haystack=st.lists(st.sampled_from(_SPAN_PIECES), max_size=10).map("".join),
       span=st.lists(st.sampled_from(_SPAN_PIECES), max_size=3).map("".join))
@example(haystack="ba-a-a", span="a-a")  # a bounded occurrence overlapping an earlier one is not found
@example(haystack="a b", span="")
def test_a_span_is_looked_for_where_a_regex_of_it_would_find_it(haystack, span):
    """`_contains_span` walks the span's occurrences with str.find, left to right and none
    overlapping: the occurrences a regex of the span finds, the empty span included."""
    import re

    from decoding.repair import _contains_span

    def bounded(match):
        before = haystack[match.start() - 1] if match.start() else " "
        after = haystack[match.end()] if match.end() < len(haystack) else " "
        return not (before.isalnum() or after.isalnum())

    assert _contains_span(haystack, span) == any(bounded(m) for m in re.finditer(re.escape(span), haystack))


_KEYS = st.lists(st.sampled_from(["", "a", "b", "c"]), max_size=12)


@settings(max_examples=300)
@given(keys=_KEYS, subject_keys=_KEYS)
@example(keys=["a", "b"], subject_keys=["a", "c", "a", "b"])  # the longer run starts later
@example(keys=["a"], subject_keys=["b", "a", "a"])  # a tie: the first start
def test_the_longest_run_is_looked_for_only_where_the_subject_has_its_first_key(keys, subject_keys):
    """`_longest_run_from` tries the subject's starts that hold keys[i] (from an index of
    places) and finds what trying every start finds: the longest run of non-empty keys, the
    first start on a tie, (0, 0) for none."""
    from decoding.repair import _longest_run_from

    def every_start(i):
        best = (0, 0)
        for j in range(len(subject_keys)):
            length = 0
            while (i + length < len(keys) and j + length < len(subject_keys) and keys[i + length]
                   and keys[i + length] == subject_keys[j + length]):
                length += 1
            if length > best[0]:
                best = (length, j)
        return best

    places: dict[str, list[int]] = {}
    for j, key in enumerate(subject_keys):
        places.setdefault(key, []).append(j)
    for i in range(len(keys)):
        assert _longest_run_from(keys, i, subject_keys, places) == every_start(i)
