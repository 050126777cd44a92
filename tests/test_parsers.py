import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopbench import parsers, spec


@pytest.mark.parametrize(
    "response, expected",
    [("2", 2), ("a", -1), ("\n", -1), (" ", -1), (" 2", 2), ("\n1", 1), ("\n 3", 3), ("\n ", -1),
     ("12", 1), ("Answer: 2", -1), ("", -1), ("٣", 3), ("²", -1)],
)
def test_multiple_choice_reads_the_first_character_only(response, expected):
    assert parsers.parse(spec.MULTIPLE_CHOICE, response) == expected


@pytest.mark.parametrize(
    "response, expected",
    [
        ("1, 2, 3, 4, 5", [1, 2, 3, 4, 5]),
        ("[1, 2, 3, 4, 5]", [1, 2, 3, 4, 5]),
        ("1, 2, 2, 3", []),
        ("1, 2, 4, aicrowd, 5", [1, 2, 4, 5]),
        ("\n", []),
        ("The answer is: 1, 2, 3, 4, 5", [1, 2, 3, 4, 5]),
        ("1 2, 3", [3]),  # "1 2" is not an int: skipped
        ("1, 6, 2, 7, 3, 4, 5", [1, 2, 3, 4, 5]),  # values above 5 dropped before the first 5 are kept
        ("5, 4, 3, 2, 1, 1", [5, 4, 3, 2, 1]),  # the duplicate is past the first 5
        ("0, 1, 2", [0, 1, 2]),
        ("-1, 2", [1, 2]),  # '-' is not kept
        ("1,½,2", [1, 2]),
    ],
)
def test_ranking(response, expected):
    assert parsers.parse(spec.RANKING, response) == expected


def test_ranking_newline_is_dropped_from_a_piece():
    # "\n" is neither numeric nor kept, so "1\n" cleans to "1".
    assert parsers.parse(spec.RANKING, "1\n,2") == [1, 2]


@pytest.mark.parametrize(
    "response, expected",
    [
        ("100, 200, 300", [100, 200, 300]),
        ("100, 200", [100, 200]),
        ("100, 200, jjhg", [100, 200]),
        ("100, 200, 300, 400", [100, 200, 300]),
        ("2, 2, 9", [2, 2, 9]),  # no duplicate check, no <= 5 filter
        ("", []),
    ],
)
def test_retrieval(response, expected):
    assert parsers.parse(spec.RETRIEVAL, response) == expected


@pytest.mark.parametrize(
    "response, expected",
    [
        ("['New York', 'ShopBench', 'Amazon']", ["New York", "ShopBench", "Amazon"]),
        ("New York, ShopBench, Amazon", ["New York", "ShopBench", "Amazon"]),
        ("[New York, ShopBench, Amazon]", ["[New York", "ShopBench", "Amazon]"]),
        ("[4, 1, 2, 3]", ["[4", "1", "2", "3]"]),
        ("[' padded ']", [" padded "]),  # a literal list is used as it is
        ("a, , b,", ["a", "b"]),  # empty pieces dropped
        ("", []),
        ("'just a string'", ["'just a string'"]),
        ("[[" * 200 + "]]" * 200, ["[[" * 200 + "]]" * 200]),  # too deep for literal_eval: no crash
    ],
)
def test_named_entity_recognition(response, expected):
    assert parsers.parse(spec.NER, response) == expected


def test_generation_strips():
    assert parsers.parse(spec.GENERATION, "  a title \n") == "a title"


def test_every_parser_reads_only_the_first_5000_characters():
    assert parsers.parse(spec.GENERATION, "x" * 4999 + "yz") == "x" * 4999 + "y"
    assert parsers.parse(spec.RETRIEVAL, " " * 4999 + "12") == [1]
    assert parsers.parse(spec.MULTIPLE_CHOICE, " " * 5000 + "3") == -1


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(spec.TASK_TYPES), st.text(max_size=300))
def test_no_response_crashes_a_parser(task_type, response):
    parsed = parsers.parse(task_type, response)
    expected_type = {spec.MULTIPLE_CHOICE: int, spec.GENERATION: str}.get(task_type, list)
    assert isinstance(parsed, expected_type)


@given(response=st.text(alphabet="[](){}'\",:# \n\tab1.-+*jxe_\\", max_size=30))
def test_the_entity_parser_skips_literal_eval_only_where_no_list_can_come(response):
    # no "[", no list display: literal_eval cannot give a list, so the comma split reads it
    import ast

    try:
        evaluated = ast.literal_eval(response)
    except Exception:
        evaluated = None
    listed = isinstance(evaluated, list) and all(isinstance(item, str) for item in evaluated)
    pieces = [piece.strip() for piece in response.split(",") if piece.strip()]
    assert parsers.parse_named_entity_recognition(response) == (evaluated if listed else pieces)


@pytest.mark.parametrize("response", [" ['a', 'b']", "\t['a']", "(['a'])", "( [ 'a' ] )", "['a'] # the brand"])
def test_a_list_display_anywhere_literal_eval_reads_it_is_still_read(response):
    assert parsers.parse_named_entity_recognition(response) == (["a", "b"] if "'b'" in response else ["a"])


@settings(max_examples=500)
@given(st.text(alphabet=st.characters(max_codepoint=127)) | st.text(alphabet="0123456789, ab-_+.\n\t½五٣１"))
def test_an_ascii_response_is_cleaned_as_the_kit_cleans_any(response):
    """The ranking and retrieval parsers keep a response's numeric characters, commas and
    spaces; an ASCII response takes a regex substitution, the same as the kit's loop."""
    assert parsers._numeric_commas_spaces(response) == "".join(c for c in response if c.isnumeric() or c in ", ")
