"""The text primitives every layer reads text with (shopbench/text.py)."""
import re

from hypothesis import given
from hypothesis import strategies as st

from shopbench import spec, text


def test_quotations_reads_every_pair_of_marks_and_skips_apostrophes():
    said = "Men's 'Air Max' \"90 Pro\" “Blue” ‘Red’ « Größe » „Hose“ 「靴」 and 17\" wide"
    assert text.quotations(said) == ["Air Max", "90 Pro", "Blue", "Red", "Größe", "Hose", "靴"]


def test_a_quotation_stays_on_its_line_and_needs_a_closing_mark():
    assert text.quotations("'open\nclosed' and \"never") == []


def test_straight_quotations_keep_the_subject_texts_old_reading():
    assert text.straight_quotations("Men's 'Air Max' and \"90\"") == ["s ", "90"]
    assert text.straight_quotations("“curly” ' spaced '") == [" spaced "]
    assert text.straight_quotations("'" + "x" * 201 + "'") == []


def test_without_quotations_leaves_the_words_around_them():
    assert text.without_quotations('The title is "Air Max 90".') == "The title is  ."
    assert text.QUOTE_MARKS == "'\"“”‘’«»„「」"


def test_only_data_length_quotations_are_data():
    title = "'Nike Men's Air Max 90 Running Shoes'"
    assert text.without_data_quotations(f"Extract the brand from {title} now") == "Extract the brand from   now"
    assert text.without_data_quotations("Extract the 'brand' now") == "Extract the 'brand' now"
    assert text.without_data_quotations("翻訳して「ナイキの靴を買う」") == "翻訳して "
    assert text.without_data_quotations("「ナイキの靴」") == "「ナイキの靴」"


def test_sentences_split_at_ends_but_not_inside_numbers_and_join_back():
    said = "It is 7.1 inches long! Great.   Fits 2.5mm cables。好き"
    parts = text.sentences(said)
    assert parts == ["It is 7.1 inches long!", " Great.", "   Fits 2.5mm cables。", "好き", ""]
    assert "".join(parts) == said


def test_ends_sentence():
    assert text.ends_sentence("It fits.  ") and text.ends_sentence("好き。")
    assert not any(text.ends_sentence(t) for t in ("Version 7.1 cable", "brand:", "size; colour;"))


def test_latin_sentence_ends_count_runs_once_and_skip_decimals():
    assert text.latin_sentence_ends("Wow!!! It is 7.1 inches. Great") == 2
    assert text.latin_sentence_ends("Done.") == 1


def test_split_sentences_and_clauses():
    assert text.split_sentences("Read it. Then pick 3.Now!") == ["Read it.", "Then pick 3.", "Now!", ""]
    assert text.split_clauses("Read it; then pick\n\nthree") == ["Read it;", "then pick", "three"]


def test_words_and_single_spacing():
    assert text.words("USB-C_cable, 2m (black)") == ["USB", "C", "cable", "2m", "black"]
    assert text.single_spaced("  a\tb\n\n c\u00a0d ") == "a b c d"


def test_cjk_is_kana_ideographs_and_hangul_not_fullwidth_punctuation():
    assert all(text.is_cjk(c) for c in "ひカ漢㐀한")
    assert not any(text.is_cjk(c) for c in "a。！ＡÉ")
    assert text.is_cjk("請求") and not text.is_cjk("a請")
    assert text.has_cjk("Select 3 個") and not text.has_cjk("Select three.")


def test_number_words_and_english_counts():
    assert text.NUMBER_WORDS["drei"] == text.NUMBER_WORDS["三"] == 3
    assert [text.number_word(n) for n in (1, 2, 3, 10)] == ["one", "two", "three", "ten"]


def test_no_other_module_defines_a_text_primitive():
    """The CJK ranges, the quotation marks and the number words are written once."""
    sources = [p for d in ("shopbench", "routing", "decoding", "prompts", "training", "models") for p in (spec.ROOT / d).rglob("*.py")]
    primitive = re.compile(r"0x3000|\\u3040|“\(?\[\^”|'\(\[\^'\\n|\"quattro\"")
    defining = [p.relative_to(spec.ROOT).as_posix() for p in sources if primitive.search(p.read_text(encoding="utf-8"))]
    # decoding/constraints/token_ids.py names the code points its tokenizer comparison covers, not a script
    assert sorted(defining) == ["decoding/constraints/token_ids.py", "shopbench/text.py"]


_PIECES = ["'", '"', "“", "”", "«", "»", "「", "」", "『", "』", "‘", "„", "\n", " ", "word", "y" * 24, "靴" * 8, "men's"]


def test_a_data_quotation_with_each_opening_mark_is_removed():
    for opening, closing in (("'", "'"), ('"', '"'), ("“", "”"), ("«", "»"), ("「", "」"), ("『", "』")):
        assert text.without_data_quotations(f"x {opening}{'y' * 30}{closing} z") == "x   z"


_MARKED = [*_PIECES, "a", "1", "_", "é", "x'", "'s", "' "]


@given(said=st.lists(st.sampled_from(_MARKED), max_size=14).map("".join))
def test_quotation_patterns_match_as_with_their_lookbehind_first(said):
    """QUOTATION and DATA_QUOTATION test "no word character before the opening mark" after the
    mark, so that each branch opens with a literal: the matches of the patterns written with the
    lookbehind first."""
    quotation = re.compile(r"(?<!\w)(?:" + "|".join(
        f"{re.escape(o)}([^{re.escape(c)}\\n]+){re.escape(c)}" for o, c in text.QUOTE_PAIRS) + ")")
    data = re.compile(text.DATA_QUOTATION.pattern.replace("'(?<!\\w.)", "(?<!\\w)'", 1))
    assert data.pattern.startswith("(?<!\\w)'") and "(?<!" not in data.pattern[8:]
    for fast, plain in ((text.QUOTATION, quotation), (text.DATA_QUOTATION, data)):
        assert [(m.span(), m.groups()) for m in fast.finditer(said)] == [(m.span(), m.groups()) for m in plain.finditer(said)]


def test_a_text_without_an_opening_mark_is_returned_as_it_is():
    """`without_data_quotations` skips the search on an ASCII text with neither straight quote
    (no other opening mark is ASCII): the same text as the substitution gives, on every dev
    and corpus line and on each mark of QUOTE_MARKS around data-length text."""
    from pathlib import Path

    from shopbench import data, spec

    corpus = Path(__file__).parent / "data" / "routing_corpus.jsonl"
    lines = [line for path in (spec.DEV_DATA, corpus) for p in data.load_prompts(path) for line in p.input_field.splitlines()]
    lines += [f"x {opening}{'y' * 30}{closing} z" for opening, closing in (*text.QUOTE_PAIRS, ("『", "』"))]
    for line in lines:
        assert text.without_data_quotations(line) == text.DATA_QUOTATION.sub(" ", line), line
    from routing.lexicon import _split_top_level

    openers = {branch.lstrip("\\")[0] for branch in _split_top_level(text.DATA_QUOTATION.pattern)}
    assert {mark for mark in openers if mark.isascii()} == {"'", '"'}  # the two marks the shortcut looks for
