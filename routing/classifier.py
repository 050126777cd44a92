"""Which task a prompt is, read from its structure and from what its instruction asks for.

`task_type` is the official type, whose parser will read the answer; `profile` is how to
decode it. They differ for extractive generation ("extract the keyphrase from the
review"): scored as generation, decoded by copying from the prompt like NER.

Only the instruction is read for words (`Anatomy.instruction`: the prompt without its
candidate list, its labelled data fields and long quoted text), so a review that says
"rank" or a title that says "entity" steers nothing. The rules, in order (`RULES` holds them
as one table of rule, test and route; every word they listen for is in `lexicon`):

1. The evaluator's `is_multiple_choice` flag decides multiple choice whenever it is a
   bool: the kit groups questions by task type and passes the flag with every batch, so
   False means "not multiple choice", whatever the prompt ends with. Only an unknown flag
   (None) is read from structure: an "Answer:" slot after options or a rating scale.
2. A candidate list with an explicit request for its numbers (rank/sort/order words, a
   count to select, "numbers", "indices") is ranking or retrieval.
3. An instruction to pull something out of the given text is extraction. NER when it asks
   for entities, for a stated value (brand, colour, size, material, an attribute's value),
   or for a kind (product type, category) that must be copied from the text; extractive
   generation when it copies a free phrase (keyphrase, snippet) out of a review. A slot
   named in quotation marks after an asking verb, in a sentence that names the text
   ("identify the 'NAME' in the product title '...'"), is NER whatever the label says. Not
   extraction: a question (a customer's, a shopper's) that the instruction orders answered,
   when it asks for no copy and holds the answer to no value ("with the brand only"): the
   answer is written; and keywords, main
   characteristics or key features drawn from a title or a description (not a review's or a
   query's), which are written lists: labelled and scored as generation (ROUGE-L), and given
   generation's token budget, which NER's would cut short.
4. A candidate list with a request to select (and none to write) is retrieval of the
   requested count, else of three. In rule 2, a requested count smaller than the list is
   retrieval, ranking words make a ranking, and otherwise a list longer than five is
   retrieval (the ranking parser reads at most 5 items) and a shorter one a ranking.
5. Everything else is generation.

Where the evidence is weak, the cheaper mistake wins. A short span copied from the
prompt scores well as generation too (ROUGE-L and embeddings reward the right words),
while a sentence scored by micro-F1 scores 0; so an instruction that asks to name a stated
value from the text is extraction even without the word "extract". Numbers given to a
free-text question lose everything, so a numbered list inside free text makes ranking or
retrieval only when the instruction asks for its numbers or for a selection. And a flag
that is a bool is never second-guessed: overruling it costs a whole answer shape.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable

from routing import anatomy, lexicon
from routing.once import once
from shopbench import spec
from shopbench.text import QUOTATION, has_cjk, is_cjk, split_clauses, words

_VERB_TO_SLOT_CHARS = 60  # how far a requested value may follow the verb asking for it
_QUESTION_TO_SLOT_CHARS = 20  # "what is the brand", "which colour": a question word stays close
_LONGEST_SLOT_CHARS = 40  # a slot noun starting within reach is read whole
# A question word asks for what follows it directly ("which brand", "what screen size") or
# after a copula ("what is the brand"); "what the customer values" asks for no value.
_DETERMINER = lexicon.pattern(lexicon.DETERMINERS)
_COPULA = lexicon.pattern(lexicon.COPULAS, anywhere=(lexicon.CLITIC_COPULAS,))


_WRITE = lexicon.pattern(lexicon.WRITE_VERBS)
_TITLE_NOUN = lexicon.pattern(lexicon.TITLE_NOUNS)
_TRANSLATE = lexicon.pattern(lexicon.TRANSLATE_WORDS)
_JSON_KEY = re.compile(r'"[^"\n]*"\s*:')
_TITLE_ASK = lexicon.pattern(lexicon.TITLE_ASK_WORDS)
_TITLE_REACH = 60  # characters before a title noun where its verb may be
_ASK = lexicon.pattern(lexicon.EXTRACT_VERBS)
_VALUE = lexicon.pattern(lexicon.VALUE_SLOTS)
_KIND = lexicon.pattern(lexicon.KIND_SLOTS)
_PHRASE = lexicon.pattern(lexicon.PHRASE_SLOTS)
_QUESTION = lexicon.pattern(lexicon.QUESTION_WORDS)
_OPINION_SOURCE = lexicon.pattern(lexicon.OPINION_SOURCES, anywhere=(lexicon.OPINION_STEMS,))
_ASPECT = lexicon.pattern(lexicon.ASPECT_SLOTS)
_AS_PHRASE = lexicon.pattern(lexicon.PHRASE_ANSWERS)
# The nouns an asking verb can take, by kind; the nearest one after the verb is its object.
_OBJECTS = (("value", _VALUE), ("kind", _KIND), ("aspect", _ASPECT), ("phrase", _PHRASE))
_SUMMARY = lexicon.pattern(lexicon.SUMMARY_SLOTS)
# A summary noun goes first: "key features" is a summary, not the aspect "features".
_OBJECTS_AND_SUMMARY = (("summary", _SUMMARY), *_OBJECTS)
# A slot named in quotation marks ("identify the 'NAME' in the product title"): any asking or picking verb.
_LABEL_ASK = lexicon.pattern(lexicon.EXTRACT_VERBS, lexicon.SELECT_WORDS)
_LABEL_WORDS = 3  # a quoted slot label has at most this many words
_LABEL_QUESTION = re.compile(rf"^\s*(?:{lexicon.alternatives(lexicon.BE_VERBS)})\s+(?:{lexicon.alternatives(lexicon.DETERMINERS)}\s+)?$")
# "the terms that describe ...": a span of the text, described by what it says.
_SPAN_CLAUSE = re.compile(
    rf"(?<!\w)(?:{lexicon.alternatives(lexicon.RELATIVE_PRONOUNS)}) (?:{lexicon.alternatives(lexicon.SPAN_VERBS)})"
)
# Searched once over the whole instruction, so that sentences are searched only for cues it
# has; only presence is asked, which `lexicon.presence` tells faster than a search of the pattern.
_CUE_WORDS = {
    "transform": lexicon.TRANSFORM_WORDS, "copy": lexicon.COPY_VERBS, "write": lexicon.WRITE_VERBS,
    "entity": lexicon.ENTITY_TASK, "source": lexicon.SOURCE_PHRASES, "ask": lexicon.EXTRACT_VERBS,
    "which words": lexicon.WHICH_WORDS, "prose": lexicon.PROSE_ANSWERS, "summary": lexicon.SUMMARY_SLOTS,
    "answer order": lexicon.ANSWER_ORDERS, "value answer": lexicon.VALUE_ANSWERS, "query source": lexicon.QUERY_SOURCES,
}
_EXTRACTION_CUES = {
    **{name: lexicon.presence(words) for name, words in _CUE_WORDS.items()},
    "quoted": lexicon.Presence(QUOTATION), "opinion source": lexicon.Presence(_OPINION_SOURCE),
}
_HAS_COPY, _HAS_WRITE, _HAS_ENTITY, _HAS_SOURCE, _HAS_WHICH_WORDS = (
    _EXTRACTION_CUES[name] for name in ("copy", "write", "entity", "source", "which words"))
# Cues few instructions have (on the dev set and the routing corpus, at most one in six of
# those read for extraction): searched first as one, so that an instruction with none of
# them learns so from one search instead of up to six.
_SELDOM_CUES = ("transform", "prose", "entity", "which words", "summary", "answer order")
_ANY_SELDOM_CUE = lexicon.presence(*(_CUE_WORDS[name] for name in _SELDOM_CUES))
_NONE_SELDOM = dict.fromkeys(_SELDOM_CUES, False)
_RANKS = lexicon.presence(lexicon.RANK_WORDS)
_SELECTS = lexicon.presence(lexicon.SELECT_WORDS)
_NAMES_NUMBERS = lexicon.presence(lexicon.NUMBER_WORDS)
# Nouns of written output: "give a description of the material" asks for writing.
_WRITTEN_THING = lexicon.pattern(lexicon.WRITTEN_THINGS)
# "no brand", "without the colour": a value the answer must leave out.
_NEGATION = re.compile(rf"(?<!\w)(?:{lexicon.alternatives(lexicon.NEGATIONS)})\s+(?:\w+\s+)?$")
# Arithmetic over values is reasoning, not extraction: "what is the total weight".
_ARITHMETIC = lexicon.pattern(lexicon.ARITHMETIC_WORDS)
# "return the number of the item": one candidate's number (unless the sentence does arithmetic).
_ONE_NUMBER = re.compile(rf"(?<!\w)(?:{lexicon.alternatives(lexicon.ANSWER_VERBS)}) (?:only )?(?:the|its) (?:\w+ )?number(?!\w)")
_EXTRACTION_FIELD = lexicon.pattern(anywhere=(lexicon.EXTRACTION_FIELD_STEMS,))
# A writing verb after these describes someone else's writing: "a customer would write".
_NOT_AN_ORDER = re.compile(rf"(?<!\w)(?:{lexicon.alternatives(lexicon.NOT_AN_ORDER)})\s+$")
_ANSWER_WORD = re.compile(rf"^(?:{lexicon.alternatives(lexicon.ANSWER_WORDS)})\s*[:：]?$", re.IGNORECASE)


TITLE = "title"  # the profile of a generation answer that is a title or a translation, kept whole


@dataclass(frozen=True)
class Route:
    task_type: str  # the official type: which parser reads the answer
    # How to decode and prompt it: a profile of decoding/profiles.py, named by a task type
    # (extractive generation: NER), or TITLE (generation asking for a title or a translation).
    profile: str
    candidates: tuple[int, ...] = ()  # numbers of the prompt's candidate list
    answer_count: int = 1  # how many numbers a retrieval answer holds
    choices: tuple[int, ...] = ()  # multiple choice: the digits that are valid answers


def _multiple_choice(read: anatomy.Anatomy) -> Route:
    candidates = read.candidates
    if candidates is not None:
        choices = candidates.numbers
    else:
        scale = read.rating_range
        choices = tuple(range(scale[0], scale[1] + 1)) if scale else tuple(range(10))
    return Route(spec.MULTIPLE_CHOICE, spec.MULTIPLE_CHOICE, candidates.numbers if candidates else (), 1, choices)


def _looks_multiple_choice(read: anatomy.Anatomy) -> bool:
    """For an unknown flag: an answer slot after options or after a rating scale."""
    has_answer_slot = bool(_ANSWER_WORD.match(read.last_line))
    return has_answer_slot and (read.candidates is not None or read.rating_range is not None)


def _asked_objects(sentence: str, objects=_OBJECTS) -> set[str]:
    """What the sentence asks for: after each asking verb, the nearest slot noun within reach
    (nothing written and no negation between); in CJK text, where the verb comes last, any
    slot of the sentence."""
    found: set[str] = set()
    verbs = list(_ASK.finditer(sentence))  # read once: both loops below walk them
    for verb in verbs:
        question = _QUESTION.fullmatch(verb.group()) is not None
        reach = _QUESTION_TO_SLOT_CHARS if question else _VERB_TO_SLOT_CHARS
        nearest = None
        for name, slot in objects:
            match = slot.search(sentence, verb.end(), verb.end() + reach + _LONGEST_SLOT_CHARS)
            if match and match.start() <= verb.end() + reach and (nearest is None or (match.start(), -len(match.group())) < (nearest[1].start(), -len(nearest[1].group()))):
                nearest = (name, match)
        if nearest is not None:
            between = sentence[verb.end():nearest[1].start()]
            if question and _DETERMINER.search(between) and not _COPULA.search(between):
                continue
            if not _WRITTEN_THING.search(between) and not _NEGATION.search(between):
                found.add(nearest[0])
    if verbs and has_cjk(sentence) and (
            any(is_cjk(verb.group()) for verb in verbs) or any(is_cjk(m.group()) for _, slot in objects for m in slot.finditer(sentence))):
        found.update(name for name, slot in objects if any(is_cjk(m.group()) for m in slot.finditer(sentence)))
    return found


def _asks_quoted_label(sentence: str) -> bool:
    """"identify the 'NAME' in the product title": a slot named in quotation marks right after
    an asking or picking verb ("what is the 'SIZE'" after a question word and a copula)."""
    for verb in _LABEL_ASK.finditer(sentence):
        question = bool(_QUESTION.fullmatch(verb.group()))
        reach = _QUESTION_TO_SLOT_CHARS if question else _VERB_TO_SLOT_CHARS
        label = QUOTATION.search(sentence, verb.end(), verb.end() + reach + _LONGEST_SLOT_CHARS)
        if label is None or label.start() > verb.end() + reach:
            continue
        between = sentence[verb.end():label.start()]
        named = next(g for g in label.groups() if g is not None)
        if len(named.split()) > _LABEL_WORDS or _WRITTEN_THING.search(between) or _NEGATION.search(between):
            continue
        if not question or _LABEL_QUESTION.match(between):
            return True
    return False


class _Cues(dict):
    """Whether the text has each of `_EXTRACTION_CUES`, searched when first asked (the
    seldom ones all known absent at once when the text has none of them)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text
        self.any_seldom: bool | None = None  # None: not searched yet

    def __missing__(self, name: str) -> bool:
        if name in _SELDOM_CUES:
            if self.any_seldom is None:
                self.any_seldom = _ANY_SELDOM_CUE(self.text)
            if not self.any_seldom:
                self.update(_NONE_SELDOM)
                return False
        self[name] = found = _EXTRACTION_CUES[name](self.text)
        return found


def extraction(text: str, reviewed: bool, has: "_Cues") -> str | None:
    """NER, extractive generation, or None. An instruction that asks for a transformed
    value or for sentences is never extraction; otherwise each sentence is read, and one that
    asks for writing (and not for copying) never counts. `reviewed`: the prompt's data holds
    a review (a "Review:" field), whose opinions spans are copied from. `has`: the text's cues
    (`_Cues(text)`), which the extraction slot reads too."""
    if (has["transform"] or has["prose"]) and not has["copy"]:
        return None
    phrase = False
    for sentence in split_clauses(text):
        if not sentence:  # an empty clause (after the last end mark) asks nothing
            continue
        copies = has["copy"] and _HAS_COPY(sentence)
        if has["write"] and not copies and _asks_writing(sentence):
            continue
        if "?" in sentence and _answering(has):
            continue
        if (has["entity"] and _HAS_ENTITY(sentence)) or (len(sentence) < 40 and _bare_slot(sentence)):
            return spec.NER
        if _summarising(has, reviewed) and "summary" in _asked_objects(sentence, _OBJECTS_AND_SUMMARY):
            return None
        sourced = copies or (has["source"] and _HAS_SOURCE(sentence))
        if has["quoted"] and sourced and _asks_quoted_label(sentence):
            return spec.NER
        asked = _asked_objects(sentence) if has["ask"] else set()
        if asked and _AS_PHRASE.search(sentence):
            asked = {"phrase"}
        if "value" in asked and (sourced or not _ARITHMETIC.search(sentence)):
            return spec.NER
        if ("kind" in asked and sourced) or ("aspect" in asked and _from_opinions(has, reviewed)):
            return spec.NER
        phrase = phrase or ("phrase" in asked and (sourced or bool(_SPAN_CLAUSE.search(sentence))))
        phrase = phrase or (has["which words"] and _HAS_WHICH_WORDS(sentence))
    # A span asked for without naming a value ("the phrase about the aspect", "extract it
    # exactly as written in the title"): from a review's opinions it is scored as
    # generation (ROUGE-L); from a query or a title it is an entity.
    if phrase or (has["copy"] and has["source"]):
        return spec.GENERATION if _from_opinions(has, reviewed) else spec.NER
    return None


# What `extraction` reads only where a sentence needs it (each cue is searched once).
def _from_opinions(has: "_Cues", reviewed: bool) -> bool:
    return reviewed or has["opinion source"]


def _answering(has: "_Cues") -> bool:
    """"A customer asks: what is the weight? Answer the customer's question": the question is
    the data and the answer is written, unless copying is asked or the answer held to a value."""
    return has["answer order"] and not has["copy"] and not has["value answer"]


def _summarising(has: "_Cues", reviewed: bool) -> bool:
    """Keywords or key features drawn from a title or a description are written
    (generation); only an asking verb names them (`_asked_objects`)."""
    return has["ask"] and has["summary"] and not _from_opinions(has, reviewed) and not has["query source"]


def _asks_writing(text: str) -> bool:
    """A writing verb given as an order, not "snippets a customer would write"."""
    return any(not _NOT_AN_ORDER.search(text, max(0, found.start() - 24), found.start()) for found in _WRITE.finditer(text))


def _bare_slot(sentence: str) -> bool:
    """A sentence that is only the name of a value: "brand?", "Colour:"."""
    named = " ".join(words(sentence))
    return bool(named) and bool(_VALUE.fullmatch(named))


def _extraction_slot(read: anatomy.Anatomy, has: "_Cues") -> str | None:
    """An answer slot that names a stated value ("Brand:", "Entities:") asks for extraction;
    so does a field naming an attribute when the prompt has no instruction sentence."""
    text = read.instruction
    label = read.answer_label
    if label and (_VALUE.search(label) or _HAS_ENTITY(label)):
        return spec.NER
    # A form of blanks: values are copied; kinds ("Product type: ____") only when copying is asked.
    if any(_VALUE.search(name) or ((has["copy"] or has["source"]) and _KIND.search(name)) for name in read.blanks):
        return spec.NER
    names = [name for name, _ in read.fields]
    if any(_HAS_ENTITY(name) for name in names) and not has["write"]:
        return spec.NER
    if not anatomy.without_answer_slots(text) and any(_EXTRACTION_FIELD.search(name) for name in names):
        return spec.NER
    return None


def _list_route(evidence: "_Evidence") -> Route:
    numbers, count = evidence.read.candidates.numbers, evidence.count
    if count is not None and count < len(numbers):
        return Route(spec.RETRIEVAL, spec.RETRIEVAL, numbers, count)
    if evidence.ranks or (len(numbers) <= spec.RANKING_LIMIT and not evidence.selects):
        return Route(spec.RANKING, spec.RANKING, numbers, len(numbers))
    return Route(spec.RETRIEVAL, spec.RETRIEVAL, numbers, spec.RETRIEVAL_READS)


def asks_for_title(text: str) -> bool:
    """Whether an instruction (data removed, lowercased) asks for a title or a translation:
    translate or localise words; a title noun shortly after an asking or writing verb in the
    same sentence; or a title noun naming the answer slot (its last line, of three words at most)."""
    if _TRANSLATE.search(text):
        return True
    named = _JSON_KEY.sub(" ", text)  # a "title" key names a field of the data, not the answer
    for found in _TITLE_NOUN.finditer(named):
        before = split_clauses(named[max(0, found.start() - _TITLE_REACH):found.start()])[-1]
        if _HAS_WRITE(before) or _TITLE_ASK.search(before):
            return True
    lines = named.strip().splitlines()
    return bool(lines and len(lines[-1].split()) <= 3 and _TITLE_NOUN.search(lines[-1]))


def _generation(evidence: "_Evidence") -> Route:
    """A written answer; a title or a translation when the instruction asks for one."""
    return Route(spec.GENERATION, TITLE if asks_for_title(evidence.text) else spec.GENERATION)


@dataclass(frozen=True, eq=False)
class _Evidence:
    """What the rules test, each part read from the prompt's anatomy when a rule first asks."""

    read: anatomy.Anatomy
    flag: bool | None  # the evaluator's is_multiple_choice; None: unknown

    @once
    def multiple_choice(self) -> bool:
        return self.flag if self.flag is not None else _looks_multiple_choice(self.read)

    @once
    def text(self) -> str:
        return self.read.instruction

    @once
    def count(self) -> int | None:
        return self.read.requested_count

    @once
    def ranks(self) -> bool:
        """The instruction asks for an order (a word of `lexicon.RANK_WORDS`)."""
        return _RANKS(self.text)

    @once
    def selects(self) -> bool:
        """The instruction asks to pick (a word of `lexicon.SELECT_WORDS`)."""
        return _SELECTS(self.text)

    @once
    def names_numbers(self) -> bool:
        """Rank words, or "numbers", "indices", "ids": the list's numbers are the answer."""
        return self.ranks or _NAMES_NUMBERS(self.text)

    @once
    def writes(self) -> bool:
        """"explain which one is best, in two sentences": a choice among the list, written out."""
        return not self.names_numbers and (self.count or 0) < 2 and _asks_writing(self.text)

    @once
    def one_number(self) -> bool:
        return bool(_ONE_NUMBER.search(self.text) and not _ARITHMETIC.search(self.text))

    @once
    def extracted(self) -> str | None:
        """The task type of an extraction (NER or extractive generation), None when none is asked."""
        reviewed = any(_OPINION_SOURCE.search(name) for name, _ in self.read.fields)
        cues = _Cues(self.text)  # read by both: the instruction is searched once for each
        return extraction(self.text, reviewed, cues) or _extraction_slot(self.read, cues)


@dataclass(frozen=True)
class Rule:
    name: str
    test: Callable[[_Evidence], bool]
    route: Callable[[_Evidence], Route]


# The rules of the module docstring, in order: the first whose test holds routes the prompt.
RULES = (
    Rule("multiple choice", lambda e: e.multiple_choice, lambda e: _multiple_choice(e.read)),
    Rule("numbers of the list asked for", lambda e: e.read.candidates is not None and not e.writes
         and bool(e.names_numbers or e.count or e.one_number), _list_route),
    Rule("extraction", lambda e: e.extracted is not None, lambda e: Route(e.extracted, spec.NER)),
    Rule("selection from the list", lambda e: e.read.candidates is not None and not e.writes
         and e.selects, _list_route),
    Rule("generation", lambda e: True, _generation),
)


def classify(prompt: str, is_multiple_choice: bool | None = None) -> Route:
    """The route of a prompt. A flag that is no bool is unknown (rule 1)."""
    return _route(prompt, _known(is_multiple_choice))


def rule_of(prompt: str, is_multiple_choice: bool | None = None) -> str:
    """The name of the rule that routes the prompt."""
    return _first_rule(_Evidence(anatomy.read(prompt), _known(is_multiple_choice))).name


def _known(flag) -> bool | None:
    return flag if isinstance(flag, bool) else None


def _first_rule(evidence: _Evidence) -> Rule:
    return next(rule for rule in RULES if rule.test(evidence))


@functools.lru_cache(maxsize=4096)  # a question is routed once: the model, training and reports ask again
def _route(prompt: str, is_multiple_choice: bool | None) -> Route:
    evidence = _Evidence(anatomy.read(prompt), is_multiple_choice)
    return _first_rule(evidence).route(evidence)
