"""Making every answer one the official parser of its task type reads as valid.

A valid answer is returned unchanged; anything else is rebuilt from what the model said
(its numbers in its order) and the prompt (the candidate list, the subject text). Pure
functions: what the model emitted in (already cut as the parser cuts it), the string to
return and whether it was changed out. Each profile of decoding/profiles.py names its
`repair_*` function here; `decoding.profiles.repair` chooses it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from routing import anatomy
from routing.classifier import Route
from shopbench.decoding_config import DecodingConfig
from shopbench import parsers, spec
from shopbench.text import QUOTATION, QUOTE_MARKS, ends_sentence, quotations, sentences, without_quotations

_LOOP_REPEATS = 3  # a phrase said this many times in a row is a loop
_LONGEST_LOOP = 8  # words in the longest phrase looked for
_LEADING_LABEL = re.compile(r"^\s*(?:\*\*)?([^\W\d_][^:：\n]{0,30}?)(?:\*\*)?\s*[:：]\s*")
_NUMBER = re.compile(r"\d+")
_WORD = re.compile(r"\S+")
_LIST_SEPARATOR = re.compile(r"[,;、，]")


_EDGE_PUNCTUATION = QUOTE_MARKS + "()[]{}<>.,;:!?。、！？"
_FALLBACK_ENTITY = "unknown"
_DEFAULT_RANKING = tuple(range(1, spec.RANKING_LIMIT + 1))


@dataclass(frozen=True)
class Repaired:
    text: str
    repaired: bool


def _numbers_in_order(text: str, allowed) -> list[int]:
    """The model's numbers that are allowed, first occurrence only, in its order."""
    allowed = set(allowed)
    seen: list[int] = []
    for match in _NUMBER.findall(text):
        number = int(match)
        if number in allowed and number not in seen:
            seen.append(number)
    return seen


def _multiple_choice(route: Route, prompt: str, response: str) -> str | None:
    if parsers.parse_multiple_choice(response) in route.choices:
        return None
    for character in response:
        if character.isdecimal() and int(character) in route.choices:
            return str(int(character))
    return str(route.choices[0])


def _ranking(route: Route, prompt: str, response: str) -> str | None:
    readable = [n for n in route.candidates or _DEFAULT_RANKING if n <= spec.RANKING_LIMIT][: spec.RANKING_LIMIT]
    parsed = parsers.parse_ranking(response)
    if sorted(parsed) == sorted(readable):
        return None
    order = _numbers_in_order(response, readable)
    return ", ".join(map(str, order + [n for n in readable if n not in order]))


def _retrieval(route: Route, prompt: str, response: str) -> str | None:
    candidates = route.candidates or tuple(range(1, route.answer_count + 1))
    wanted = min(route.answer_count, len(candidates))
    parsed = parsers.parse_retrieval(response)
    if len(parsed) >= wanted and len(set(parsed)) == len(parsed) and set(parsed) <= set(candidates):
        return None
    picks = _numbers_in_order(response, candidates)[:wanted]
    picks += [n for n in candidates if n not in picks][: wanted - len(picks)]
    return ", ".join(map(str, picks))


def _entity_fallback(prompt: str) -> str:
    subject = anatomy.read(prompt).subject_text
    return subject if parsers.parse_named_entity_recognition(subject) else _FALLBACK_ENTITY


def _named_entity_recognition(route: Route, prompt: str, response: str) -> str | None:
    return None if parsers.parse_named_entity_recognition(response) else _entity_fallback(prompt)


def cut_to_sentences(text: str, word_limit: int) -> str:
    """Whole sentences, stopping at the first sentence end past `word_limit` words. Text
    with no sentence end past the limit (a title, a list) is kept whole."""
    if not word_limit or len(text.split()) <= word_limit:
        return text
    kept = ""
    for sentence in sentences(text):
        kept += sentence
        if len(kept.split()) > word_limit and ends_sentence(kept):
            break
    return kept.strip()


def _word_key(word: str) -> str:
    return word.strip(_EDGE_PUNCTUATION).casefold()


def collapse_repetition(text: str) -> str:
    """The text with every phrase of 1-8 words said three or more times in a row kept once:
    greedy decoding loops ("Corsair, 7.1, 7.1, 7.1, ..."), and the copies only add wrong
    words to a BLEU or ROUGE answer. The last copy stays, with what follows it; separators
    left dangling at the end are dropped."""
    while True:
        words = list(_WORD.finditer(text))
        keys = [_word_key(w.group()) for w in words]
        loop = _first_loop(keys)
        if loop is None:
            return text
        start, size, copies = loop
        # the text before the first copy, then the last copy and what follows it
        text = (text[:words[start].start()] + text[words[start + size * (copies - 1)].start():]).rstrip(" ,;:-")


def _first_loop(keys: list[str]) -> tuple[int, int, int] | None:
    """(start, phrase length, copies) of the first phrase repeated _LOOP_REPEATS+ times in a row."""
    for start in range(len(keys)):
        if not keys[start]:  # no phrase from here holds a word
            continue
        for size in range(1, _LONGEST_LOOP + 1):
            if start + _LOOP_REPEATS * size > len(keys):
                break
            if keys[start + size] != keys[start]:  # no second copy: ruled out without slicing
                continue
            phrase = keys[start:start + size]
            copies = 1
            while keys[start + copies * size:start + (copies + 1) * size] == phrase:
                copies += 1
            if copies >= _LOOP_REPEATS:
                return start, size, copies
    return None


def looks_like_sentence(text: str) -> bool:
    """An answer that talks rather than lists: a quotation with words around it, or a
    sentence end after four or more words. A list literal or a list of quoted names is not."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return False
    talk = [w for w in without_quotations(text).split() if any(c.isalpha() for c in w)]
    if QUOTATION.search(text) and len(talk) >= 2:
        return True
    return len(text.split()) >= 4 and ends_sentence(text)


def _contains_span(haystack: str, span: str) -> bool:
    """`span` occurs in `haystack` (both casefolded) and not inside a longer word."""
    # Occurrences found left to right, none overlapping (as a regex of the span would find
    # them), with str.find: a pattern per span would be compiled for each new answer.
    start = haystack.find(span)
    while start >= 0:
        end = start + len(span)
        before = haystack[start - 1] if start else " "
        after = haystack[end] if end < len(haystack) else " "
        if not (before.isalnum() or after.isalnum()):
            return True
        start = haystack.find(span, start + max(len(span), 1))
    return False


def spans_from_sentence(response: str, prompt: str) -> list[str]:
    """What a sentence-like NER answer takes from the question's data (its labelled fields:
    the query, the title, ...): the spans it quotes that the data holds; else, within each of its
    comma-separated parts, the longest runs of its words that the subject holds, in its order,
    each with a word the rest of the question lacks (so "the query" or the entity type
    echoed from the instruction never counts)."""
    subject = anatomy.read(prompt).data_text
    quoted = quotations(response)
    found = [q for q in quoted if q and _contains_span(subject.casefold(), q.casefold())]
    if found:
        return list(dict.fromkeys(found))
    subject_words = subject.split()
    subject_keys = [_word_key(w) for w in subject_words]
    places: dict[str, list[int]] = {}
    for j, key in enumerate(subject_keys):
        places.setdefault(key, []).append(j)
    rest = prompt
    for value in subject.split("\n"):
        rest = rest.replace(value, " ")
    elsewhere = {_word_key(w) for w in rest.split()}
    spans = []
    for part in _LIST_SEPARATOR.split(response):
        keys = [_word_key(w) for w in part.split()]
        i = 0
        while i < len(keys):
            length, at = _longest_run_from(keys, i, subject_keys, places)
            if length and any(k not in elsewhere for k in subject_keys[at:at + length]):
                spans.append(" ".join(w.strip(_EDGE_PUNCTUATION) for w in subject_words[at:at + length]))
                i += length
            else:
                i += 1
    return list(dict.fromkeys(spans))


def _longest_run_from(keys: list[str], i: int, subject_keys: list[str], places: dict[str, list[int]]) -> tuple[int, int]:
    """(length, start in the subject) of the longest run of keys[i:] the subject holds, the
    first such start on a tie; `places`: each key's starts in the subject, in order (a run
    starts where the subject has keys[i])."""
    best = (0, 0)
    for j in places.get(keys[i], ()) if keys[i] else ():
        length = 1
        while (i + length < len(keys) and j + length < len(subject_keys) and keys[i + length]
               and keys[i + length] == subject_keys[j + length]):
            length += 1
        if length > best[0]:
            best = (length, j)
    return best


def without_echoed_label(text: str, prompt: str) -> str:
    """The answer less a leading "Output:"-style label that names the answer slot (models
    repeat the prompt's last line)."""
    match = _LEADING_LABEL.match(text)
    return text[match.end():] if match and anatomy.read(prompt).is_answer_slot(match.group(1)) else text


def title_in_answer(text: str) -> str:
    """A title or translation said in a sentence ("The German title is 'X'.", "Title: 'X'")
    is its longest quotation of two or more words; a title with a quoted name in it
    (`Nike Men's "Air Max 90" Running Shoes`) is no sentence and stays as it is."""
    outside = without_quotations(text)
    introduced = ends_sentence(text) or ":" in outside
    if not (looks_like_sentence(text) and introduced):
        return text
    titles = [q for q in quotations(text) if len(q.split()) >= 2]
    return max(titles, key=len) if titles else text


def source_title(prompt: str) -> str:
    """The title a title or translation request gives: its longest quotation of three or
    more words, else its subject text."""
    quoted = quotations(prompt)
    titles = [q for q in quoted if len(q.split()) >= 3]
    return max(titles, key=len) if titles else anatomy.read(prompt).subject_text


def _said(prompt: str, response: str, config: DecodingConfig) -> tuple[str, bool]:
    """A written answer less an echoed label and its loops, and whether it was mostly a loop."""
    text = without_echoed_label(response.strip(), prompt)
    said = len(text.split())
    if config.cut_repetition:
        text = collapse_repetition(text)
    return text, len(text.split()) * 2 < said


def _written(text: str, prompt: str, response: str, config: DecodingConfig) -> Repaired:
    text = _entity_fallback(prompt) if not text and config.repair else text
    return Repaired(text, text != response.strip())


def repair_prose(route: Route, prompt: str, response: str, config: DecodingConfig) -> Repaired:
    """Generation: whole sentences up to the word limit."""
    text, _ = _said(prompt, response, config)
    return _written(cut_to_sentences(text, config.generation_word_limit), prompt, response, config)


def repair_title(route: Route, prompt: str, response: str, config: DecodingConfig) -> Repaired:
    """A title or a translation is kept whole. One that was mostly a loop, or nothing, failed:
    the title the question gives is the better answer (brands, model numbers and sizes carry over)."""
    text, looped = _said(prompt, response, config)
    text = title_in_answer(text)
    if config.repair and (looped or not text):
        text = source_title(prompt) or text
    return _written(text, prompt, response, config)


def repair_entities(route: Route, prompt: str, response: str, config: DecodingConfig) -> Repaired:
    """NER: a sentence is reduced to the spans it takes from the question; an answer the
    parser reads no entity from becomes the subject text (or "unknown")."""
    if config.spans_from_sentences and looks_like_sentence(response):
        spans = ", ".join(spans_from_sentence(response, prompt))
        if spans:
            return Repaired(spans, spans != response)
        if config.repair:
            return Repaired(_entity_fallback(prompt), True)
    return _rebuilt(_named_entity_recognition, route, prompt, response, config)


def _rebuilt(rebuild, route: Route, prompt: str, response: str, config: DecodingConfig) -> Repaired:
    """The answer as it is when `rebuild` (route, prompt, response -> the rebuilt answer, or None
    when the parser reads it) keeps it or repair is off; else rebuilt."""
    fixed = rebuild(route, prompt, response) if config.repair else None
    return Repaired(response, False) if fixed is None else Repaired(fixed, True)


def repair_multiple_choice(route: Route, prompt: str, response: str, config: DecodingConfig) -> Repaired:
    return _rebuilt(_multiple_choice, route, prompt, response, config)


def repair_ranking(route: Route, prompt: str, response: str, config: DecodingConfig) -> Repaired:
    return _rebuilt(_ranking, route, prompt, response, config)


def repair_retrieval(route: Route, prompt: str, response: str, config: DecodingConfig) -> Repaired:
    return _rebuilt(_retrieval, route, prompt, response, config)
