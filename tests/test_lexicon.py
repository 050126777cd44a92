"""The lexicon is routing's only word table, and each of its lists says each thing once: no
entry twice, none matched in full by another entry of its list, none never reached because an
earlier entry of its list always matches first."""
import re
from pathlib import Path

import pytest

from routing import lexicon

try:  # Python 3.11 moved the regular-expression parser
    import re._constants as sre_constants
    import re._parser as sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants
    import sre_parse

C = sre_constants
ROOT = Path(__file__).resolve().parent.parent
WORD_LISTS = {name: value for name, value in vars(lexicon).items()
              if name.isupper() and isinstance(value, tuple) and value and all(isinstance(v, str) for v in value)}
_CAP = 64  # examples kept per entry
_CLASS_EXAMPLE = {C.CATEGORY_WORD: "x", C.CATEGORY_SPACE: " ", C.CATEGORY_DIGIT: "1"}


def examples(entry: str) -> list[str]:
    """Strings the entry matches (lookarounds ignored): each alternative, each optional part
    with and without it, each repeat at its least and one more, a set's first member."""

    def sequence(items) -> list[str]:
        found = [""]
        for op, av in items:
            found = [head + tail for head in found for tail in node(op, av)][:_CAP]
        return found

    def node(op, av) -> list[str]:
        if op is C.LITERAL:
            return [chr(av)]
        if op in (C.NOT_LITERAL, C.ANY):
            return ["x"]
        if op is C.CATEGORY:
            return [_CLASS_EXAMPLE.get(av, "x")]
        if op is C.IN:
            kind, value = av[0]
            return [chr(value) if kind is C.LITERAL else chr(value[0]) if kind is C.RANGE else _CLASS_EXAMPLE.get(value, "x")]
        if op is C.BRANCH:
            return [s for branch in av[1] for s in sequence(branch)][:_CAP]
        if op is C.SUBPATTERN:
            return sequence(av[-1])
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            least, most, body = av
            return [s * n for n in sorted({least, min(most, least + 1)}) for s in sequence(body)][:_CAP]
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            return [""]
        raise AssertionError(f"no examples for {op} in {entry!r}")

    return sequence(sre_parse.parse(entry))


def test_examples_cover_each_form():
    assert examples(r"brands?") == ["brand", "brands"]
    assert set(examples(r"tradu[ci]\w*")) == {"traduc", "traducx"}
    assert set(examples(r"(?:item|list) numbers?")) == {"item number", "item numbers", "list number", "list numbers"}
    assert examples(r"rank(?!\s*#)") == ["rank"]


def _problems(name: str, entries: tuple[str, ...]) -> list[str]:
    problems = []
    for index, entry in enumerate(entries):
        if entry in entries[:index]:
            problems.append(f"{name}: {entry!r} twice")
            continue
        covering = [other for other in entries if other != entry
                    and all(re.fullmatch(other, example) for example in examples(entry))]
        if covering:
            problems.append(f"{name}: {entry!r} is matched in full by {covering[0]!r}")
        elif index and all(lexicon.pattern(entries[:index]).match(example) for example in examples(entry)):
            problems.append(f"{name}: {entry!r} is never reached: an earlier entry matches first")
    return problems


@pytest.mark.parametrize("name", sorted(WORD_LISTS))
def test_no_entry_is_duplicated_or_shadowed(name):
    assert _problems(name, WORD_LISTS[name]) == []


@pytest.mark.parametrize("entries, problem", [
    (("quali", "which", "quali"), "'quali' twice"),
    (("hersteller", r"hersteller\w*"), r"'hersteller' is matched in full by 'hersteller\\w*'"),
    (("what", "what's"), "\"what's\" is never reached"),
    (("商品名", "商品名称"), "'商品名称' is never reached"),
    ((r"in (?:the|an?) order", r"in order(?! to)", r"in (?:the )?order of"), "'in (?:the )?order of' is never reached"),
])
def test_the_lint_finds_each_kind_of_problem(entries, problem):
    assert any(problem in found for found in _problems("LIST", entries))


def test_longer_entries_before_their_prefixes_are_reached():
    assert _problems("LIST", (r"brand names?", r"brands?")) == []


def test_routing_modules_hold_no_word_lists():
    # An alternation of three words, or a run of CJK text, in a pattern of the classifier or the
    # anatomy is a word list that belongs in the lexicon.
    word_alternation = re.compile(r"[^\W\d_]{2,}\|[^\W\d_]{2,}\|[^\W\d_]{2,}")
    cjk = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
    for module in ("classifier.py", "anatomy.py"):
        for number, line in enumerate((ROOT / "routing" / module).read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#")[0]
            if code.strip().startswith(('"', "'")) or '"""' in line:  # docstrings give examples
                continue
            assert not word_alternation.search(code) and not cjk.search(code), f"{module}:{number}: {line.strip()}"


# Lists matched anywhere (`pattern(anywhere=...)`), not as whole words.
UNBOUNDED = {"CLITIC_COPULAS", "EXTRACTION_FIELD_STEMS", "OPINION_STEMS"}


@pytest.mark.parametrize("name", sorted(set(WORD_LISTS) - UNBOUNDED))
def test_every_word_starts_with_a_word_character(name):
    # `pattern` looks ahead for one, to skip the other positions fast: an entry starting
    # with a space or a mark would never match
    starts = [(entry, example) for entry in WORD_LISTS[name] if not lexicon.is_cjk(entry)
              for example in examples(entry) if not re.match(r"\w", example)]
    assert starts == []


def test_words_match_whole_and_cjk_anywhere():
    found = lexicon.pattern((r"rank\w*", r"sort"), ("並べ",))
    assert [m.group() for m in found.finditer("ranking; resort sort-of 並べて")] == ["ranking", "sort", "並べ"]
    assert lexicon.pattern((r"order",), at_start=True).match("order them") and not \
        lexicon.pattern((r"order",), at_start=True).search("in order")


def _corpus_texts() -> list[str]:
    from shopbench import data, spec

    prompts = [p.input_field for path in (spec.DEV_DATA, ROOT / "tests" / "data" / "routing_corpus.jsonl")
               for p in data.load_prompts(path)]
    return [text for prompt in prompts for text in (prompt, prompt.lower())]


# Lists the code joins into one pattern, besides each list alone.
_JOINED = [("COPY_VERBS", "WRITE_VERBS", "RANK_WORDS", "SELECT_WORDS"), ("COUNT_VERBS", "COUNT_ANSWER_WORDS"),
           ("EXTRACT_VERBS", "SELECT_WORDS"), tuple(WORD_LISTS),
           ("TRANSFORM_WORDS", "PROSE_ANSWERS", "ENTITY_TASK", "WHICH_WORDS", "SUMMARY_SLOTS", "ANSWER_ORDERS")]


def test_the_pattern_by_first_letter_matches_as_the_plain_alternation():
    """`pattern` writes a list's words as one branch per first letter: every match of the plain
    alternation, at the same place and of the same length, on each entry's examples (in a
    sentence too) and on every dev and corpus prompt."""
    texts = _corpus_texts()
    factored = 0
    # (bounded lists, lists matched anywhere): each list alone, the joined ones, and each
    # list beside a Latin-script list matched anywhere, as pattern(..., anywhere=...) builds them
    cases = [(names, ()) for names in [(name,) for name in WORD_LISTS] + _JOINED]
    cases += [((name,), ("EXTRACTION_FIELD_STEMS", "CLITIC_COPULAS")) for name in WORD_LISTS]
    cases += [(("OPINION_SOURCES",), ("OPINION_STEMS",))]  # as the classifier joins them
    for bounded, anywhere in cases:
        words = [w for name in bounded for w in WORD_LISTS[name]]
        latin = [w for w in words if not lexicon.is_cjk(w)]
        loose = [w for w in words if lexicon.is_cjk(w)] + [w for name in anywhere for w in WORD_LISTS[name]]
        fast = lexicon.by_first_letter(latin, loose)
        if fast is None:
            continue
        factored += 1
        plain, fast = re.compile(lexicon.plain(latin, loose)), re.compile(fast)
        samples = [s for entry in latin + loose for e in examples(entry) for s in (e, f"so {e}, then {e}s {e}")]
        for text in samples + texts:
            assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)], (bounded, anywhere, text)
    assert factored >= 40  # most lists take the fast form


def test_presence_tells_what_a_search_of_the_pattern_tells():
    """`presence` answers as `pattern(...).search` does, for each list and the joined ones, on
    every dev and corpus prompt, the same prompts with their non-ASCII characters dropped (an
    ASCII text takes the faster form), and each entry's examples alone and in a sentence."""
    texts = _corpus_texts()
    texts += [text.encode("ascii", "ignore").decode() for text in texts]
    forms = set()
    for names in [(name,) for name in sorted(set(WORD_LISTS) - UNBOUNDED)] + _JOINED:
        lists = [WORD_LISTS[name] for name in names]
        full, found = lexicon.pattern(*lists), lexicon.presence(*lists)
        forms.add("full only" if found.ascii_words is None else
                  "word starts" if found.ascii_words.pattern.startswith("\\b") else "first letters")
        samples = [s for entry in (w for words in lists for w in words) for e in examples(entry) for s in (e, f"so {e}, then {e}s")]
        for text in samples + texts:
            assert found(text) == (full.search(text) is not None), (names, text)
    assert forms == {"full only", "word starts", "first letters"}


def test_presence_searches_ascii_text_for_a_cjk_entry_that_could_match_there():
    """An entry classed as CJK (by its first character) that holds ASCII characters might
    match an ASCII text: `presence` then searches the whole pattern."""
    found = lexicon.presence(("rank", "並?abc"))
    assert found.ascii_words is None and found("xyz abc")
    assert lexicon.presence(("rank", "並べ")).ascii_words is not None


def test_an_entry_opening_with_a_group_is_spelled_out_in_the_engines_order():
    spelled = lexicon._leading_group_spelled_out
    assert spelled("(?:re-?)?arrang\\w*") == ["re-?arrang\\w*", "arrang\\w*"]
    assert spelled("(?:a|(?:b|c)d)e") == ["ae", "bde", "cde"]
    assert spelled("(?:a|b)*c") == ["(?:a|b)*c"]  # under another quantifier: left whole
    assert lexicon.by_first_letter(["[ab]c"]) is None and lexicon.by_first_letter(["a|b"]) is None
    assert lexicon.by_first_letter([], ["'s"]) == "'(?:s)"
    # a class or a bar inside the leading group stays in its branch
    assert spelled("(?:a[|)]|b)c") == ["a[|)]c", "bc"] and lexicon._split_top_level("a|[|]b|(?:c|d)") == ["a", "[|]b", "(?:c|d)"]
    # a digit class opens a branch of its own, unless a digit written out could match where it does
    assert lexicon.by_first_letter(["\\d sentences", "two"]) == "\\d(?<!\\w.)(?: sentences)(?!\\w)|t(?<!\\w.)(?:wo)(?!\\w)"
    assert lexicon.by_first_letter(["\\d x", "3d"]) is None and lexicon.by_first_letter(["\\d+ x"]) is None
