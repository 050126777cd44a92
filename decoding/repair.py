"""Making every answer one the official parser of its task type reads as valid.

A valid answer is returned unchanged; anything else is rebuilt from what the model said
(its numbers in its order) and the prompt (the candidate list, the subject text). Pure
functions: what the model emitted in, the string to return and whether it was changed out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from routing import anatomy
from routing.classifier import Route
from decoding.config import DEFAULT, DecodingConfig
from shopbench import parsers, spec

_SENTENCE = re.compile(r"[^.!?。！？]*(?:[.!?。！？]+|$)")
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
    for match in re.findall(r"\d+", text):
        number = int(match)
        if number in allowed and number not in seen:
            seen.append(number)
    return seen


def _multiple_choice(route: Route, response: str) -> str | None:
    if parsers.parse_multiple_choice(response) in route.choices:
        return None
    for character in response:
        if character.isdecimal() and int(character) in route.choices:
            return str(int(character))
    return str(route.choices[0])


def _ranking(route: Route, response: str) -> str | None:
    readable = [n for n in route.candidates or _DEFAULT_RANKING if n <= spec.RANKING_LIMIT][: spec.RANKING_LIMIT]
    parsed = parsers.parse_ranking(response)
    if sorted(parsed) == sorted(readable):
        return None
    order = _numbers_in_order(response, readable)
    return ", ".join(map(str, order + [n for n in readable if n not in order]))


def _retrieval(route: Route, response: str) -> str | None:
    candidates = route.candidates or tuple(range(1, route.answer_count + 1))
    wanted = min(route.answer_count, len(candidates))
    parsed = parsers.parse_retrieval(response)
    if len(parsed) >= wanted and len(set(parsed)) == len(parsed) and set(parsed) <= set(candidates):
        return None
    picks = _numbers_in_order(response, candidates)[:wanted]
    picks += [n for n in candidates if n not in picks][: wanted - len(picks)]
    return ", ".join(map(str, picks))


def _entity_fallback(prompt: str) -> str:
    subject = anatomy.subject_text(prompt)
    return subject if parsers.parse_named_entity_recognition(subject) else _FALLBACK_ENTITY


def _named_entity_recognition(prompt: str, response: str) -> str | None:
    return None if parsers.parse_named_entity_recognition(response) else _entity_fallback(prompt)


def cut_to_sentences(text: str, word_limit: int) -> str:
    """Whole sentences, stopping at the first sentence end past `word_limit` words."""
    if not word_limit or len(text.split()) <= word_limit:
        return text
    kept = ""
    for sentence in _SENTENCE.findall(text):
        kept += sentence
        if len(kept.split()) > word_limit and re.search(r"[.!?。！？]\s*$", kept):
            break
    return kept.strip()


def _generation(prompt: str, response: str, config: DecodingConfig) -> str:
    text = response.strip()
    return cut_to_sentences(text, config.generation_word_limit) if text else _entity_fallback(prompt)


def repair(route: Route, prompt: str, response: str, config: DecodingConfig = DEFAULT) -> Repaired:
    response = parsers.cut(response)
    if route.task_type == spec.GENERATION:
        text = _generation(prompt, response, config)
        return Repaired(text, text != response.strip())
    if route.task_type == spec.MULTIPLE_CHOICE:
        fixed = _multiple_choice(route, response)
    elif route.task_type == spec.RANKING:
        fixed = _ranking(route, response)
    elif route.task_type == spec.RETRIEVAL:
        fixed = _retrieval(route, response)
    else:
        fixed = _named_entity_recognition(prompt, response)
    return Repaired(response, False) if fixed is None else Repaired(fixed, True)
