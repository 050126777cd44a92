"""How text is read everywhere: quotations, sentences, words, spacing, CJK script, number words.

One definition of each, imported by routing, decoding, prompts and training; it lives in
`shopbench/`, the bottom layer, so that every layer may import it. Pure functions and
compiled patterns only.
"""
from __future__ import annotations

import re

# Quotation marks as (opening, closing) pairs: straight, curly, guillemets, German low-high,
# CJK corner brackets.
QUOTE_PAIRS = (("'", "'"), ('"', '"'), ("“", "”"), ("‘", "’"), ("«", "»"), ("„", "“"), ("「", "」"))
QUOTE_MARKS = "".join(dict.fromkeys(mark for pair in QUOTE_PAIRS for mark in pair))
# A quotation is text between a pair of marks on one line. Quotations, not apostrophes: the
# opening mark may not follow a letter or digit (men's, 17").
# The lookbehind follows the opening mark (its width grown by one) rather than leading the
# pattern: every branch then opens with a literal, and the regex engine jumps from one
# quotation mark to the next instead of trying every position.
QUOTATION = re.compile(
    "|".join(f"{re.escape(o)}(?<!\\w.)([^{re.escape(c)}\\n]+){re.escape(c)}" for o, c in QUOTE_PAIRS)
)
# A quotation long enough to be data rather than a name (a title, a review: 24 characters or
# more, 8 in CJK brackets, where words are denser); a straight single quote may hold
# apostrophes (it's, men's) since a data quotation is long. Each branch opens with its mark, as in QUOTATION.
DATA_QUOTATION = re.compile(
    r"'(?<!\w.)(?:[^'\n]|'(?=\w)){24,400}?'(?!\w)|\"[^\"\n]{24,400}?\"|“[^”\n]{24,400}?”|«[^»\n]{24,400}?»|"
    r"「[^」\n]{8,400}?」|『[^』\n]{8,400}?』"
)


# Straight quotes only, apostrophes not told apart (in "Men's 'X'" it reads "s "): the reading a
# prompt's subject text has always had (routing.anatomy); QUOTATION reads 2 of the dev set's 64
# prompts without labelled fields differently, which would change their answers.
_STRAIGHT_QUOTATION = re.compile(r"'([^'\n]{1,200})'|\"([^\"\n]{1,200})\"")


def quotations(text: str) -> list[str]:
    """The texts inside the quotation marks of `text` (see QUOTE_PAIRS), stripped, in order."""
    return [next(g for g in m.groups() if g is not None).strip() for m in QUOTATION.finditer(text)]


def straight_quotations(text: str) -> list[str]:
    """The texts inside straight quotes ('' or "", 1 to 200 characters), unstripped, in order."""
    return [next(part for part in groups if part) for groups in _STRAIGHT_QUOTATION.findall(text)]


def without_quotations(text: str) -> str:
    """`text` with each quotation, marks included, replaced by a space."""
    return QUOTATION.sub(" ", text)


def without_data_quotations(text: str) -> str:
    """`text` with each data-length quotation (DATA_QUOTATION) replaced by a space."""
    if text.isascii() and "'" not in text and '"' not in text:  # no opening mark: nothing to replace
        return text
    return DATA_QUOTATION.sub(" ", text)


# Sentence ends: . ! ? end a sentence only before a space or the end of the text (so "7.1"
# and "2.5mm" are not ends); CJK full stops need no space after them.
_END = "[.!?]"
_CJK_END = "[。！？]"
_SENTENCE = re.compile(rf"(?:[^.!?。！？]|{_END}(?!\s|$))*(?:{_END}+(?=\s|$)|{_CJK_END}+|$)")
_ENDS_SENTENCE = re.compile(rf"(?:{_END}|{_CJK_END})\s*$")
_LATIN_SENTENCE_END = re.compile(rf"{_END}+(?=\s|$)")
# Where an instruction breaks into sentences: after any end mark, whatever follows.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?。！？])\s*")
# Clauses: sentences, also broken at semicolons and line breaks (an instruction's asks).
_CLAUSE_BREAK = re.compile(r"(?<=[.!?;。！？；])\s*|\n+")


def sentences(text: str) -> list[str]:
    """`text` cut into its sentences, each with its end marks and the spaces before it;
    joined they give `text` back (the last item is "" or the unfinished rest)."""
    return _SENTENCE.findall(text)


def ends_sentence(text: str) -> bool:
    """`text` ends with a sentence end mark (trailing spaces aside)."""
    return bool(_ENDS_SENTENCE.search(text))


def latin_sentence_ends(text: str) -> int:
    """How many sentences of Latin-script prose end in `text` (a run of . ! ? before a space
    or the end counts once)."""
    return len(_LATIN_SENTENCE_END.findall(text))


def split_sentences(text: str) -> list[str]:
    """`text` split after every end mark, the spaces after it dropped (instructions)."""
    return _SENTENCE_BREAK.split(text)


def split_clauses(text: str) -> list[str]:
    """`text` split after every end mark or semicolon and at line breaks."""
    return _CLAUSE_BREAK.split(text)


_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The runs of letters and digits of `text` (punctuation and underscores separate them)."""
    return _WORD.findall(text)


def single_spaced(text: str) -> str:
    """`text` on one line: every run of whitespace (line breaks included) one space, stripped."""
    return " ".join(text.split())


# CJK script: kana, CJK ideographs (extension A and the unified block), Hangul. Written
# with the verb last, which the routing rules read differently.
_CJK = re.compile("[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def is_cjk(character: str) -> bool:
    """`character` (one, or the first of a string) is CJK script."""
    return bool(_CJK.match(character))


def has_cjk(text: str) -> bool:
    """`text` holds a CJK character anywhere."""
    return not text.isascii() and _CJK.search(text) is not None  # every CJK character is beyond ASCII


# Counts written as words in the languages ShopBench's prompts use; English first, so that
# `number_word` writes English.
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "twee": 2, "drie": 3, "vijf": 5, "dois": 2, "três": 3, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "dos": 2, "tres": 3,
    "cuatro": 4, "cinco": 5, "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
}


def number_word(number: int) -> str:
    """The English word of a count from one to ten."""
    return next(word for word, value in NUMBER_WORDS.items() if value == number)
