"""Answers made only of digits and commas: multiple choice, ranking, retrieval.

A hard mask: the digits the answer can use, the comma where a list is expected, and the
stop tokens. Tokens of several commas (",,") are never in it, so a list cannot skip an
item, and no token carries a space or a letter.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from routing.classifier import Route
from shopbench.decoding_config import DecodingConfig
from decoding.constraints import Constraint, TextConstraint, Vocabulary
from shopbench import spec


_ANY_DIGIT = frozenset("0123456789")


def _digits_of(numbers) -> frozenset[str]:
    return frozenset(digit for number in numbers for digit in str(number))


# The same few option and candidate sets recur across questions: their ids are found once.
@functools.lru_cache(maxsize=1024)
def _ids(vocabulary: Vocabulary, digits: frozenset[str], with_comma: bool) -> tuple[int, ...]:
    ids = {i for d in digits for i in vocabulary.digits[d]} | set(vocabulary.stops)
    if with_comma:
        ids |= set(vocabulary.commas)
    return tuple(sorted(ids))


def _single_digit(choices: tuple[int, ...]) -> bool:
    return all(0 <= c <= 9 for c in choices)


def _choice_length(choices: tuple[int, ...], budget: int) -> int:
    return budget if _single_digit(choices) else 2


def multiple_choice_length(route: Route, config: DecodingConfig) -> int:
    return _choice_length(route.choices, config.max_new_tokens[spec.MULTIPLE_CHOICE])


def multiple_choice(route: Route, vocabulary: Vocabulary, config: DecodingConfig) -> Constraint:
    return _multiple_choice(route.choices, vocabulary, config.limit_choices_to_options,
                            config.max_new_tokens[spec.MULTIPLE_CHOICE])


@functools.lru_cache(maxsize=1024)  # one constraint per option set, shared (constraints are not changed)
def _multiple_choice(choices: tuple[int, ...], vocabulary: Vocabulary, limit: bool, budget: int) -> Constraint:
    digits = _digits_of(choices) if limit and _single_digit(choices) else _ANY_DIGIT
    return Constraint(_choice_length(choices, budget), _ids(vocabulary, digits, with_comma=False))


@dataclass(frozen=True)
class NumberList:
    """How many numbers a list answer holds (its profile, decoding/profiles.py, says which)."""

    every_candidate: bool  # every number of the candidate list (a ranking), else the route's answer_count
    most: int  # without a candidate list: as many numbers as the parser reads

    def count(self, route: Route) -> int:
        return len(route.candidates) if self.every_candidate else route.answer_count


RANKED = NumberList(every_candidate=True, most=spec.RANKING_LIMIT)
RETRIEVED = NumberList(every_candidate=False, most=spec.RETRIEVAL_READS)


def number_list_length(route: Route, config: DecodingConfig, shape: NumberList) -> int:
    """As many tokens as the longest valid answer, one per digit and comma, plus the stop."""
    if not route.candidates:
        return config.max_new_tokens[route.profile]
    return _longest_answer(route.candidates, shape.count(route))


@functools.lru_cache(maxsize=1024)  # candidate lists recur across questions
def _longest_answer(candidates: tuple[int, ...], count: int) -> int:
    longest = sorted(candidates, key=lambda n: len(str(n)))[-count:]
    return sum(len(str(n)) for n in longest) + (count - 1) + 1


def number_list(route: Route, vocabulary: Vocabulary, config: DecodingConfig, shape: NumberList) -> Constraint:
    """Ranking and retrieval: the candidates' digits and commas, at most as many tokens as
    the longest valid answer plus the stop."""
    return _number_list(route.candidates, number_list_length(route, config, shape), vocabulary)


@functools.lru_cache(maxsize=1024)  # one constraint per candidate list and length, shared
def _number_list(candidates: tuple[int, ...], length: int, vocabulary: Vocabulary) -> Constraint:
    digits = _digits_of(candidates) if candidates else _ANY_DIGIT
    return Constraint(length, _ids(vocabulary, digits, with_comma=True))


# The same answers as text, for servers that take a choice list or a regular expression.
_ANY_NUMBER = "[0-9]{1,2}"  # no candidate list: the numbers a question of ours can list


def multiple_choice_text(route: Route, config: DecodingConfig) -> TextConstraint:
    """One of the options' numbers (with `limit_choices_to_options`), else any one or two digits."""
    length = multiple_choice_length(route, config)
    if config.limit_choices_to_options and route.choices:
        return TextConstraint(length, choices=tuple(str(c) for c in route.choices))
    return TextConstraint(length, pattern="[0-9]" if _single_digit(route.choices) else _ANY_NUMBER)


def number_list_text(route: Route, config: DecodingConfig, shape: NumberList) -> TextConstraint:
    """Numbers from the candidate list, comma-separated, as many as the answer holds (a
    ranking: every candidate; retrieval: the count asked for); without a list, up to as many
    numbers as the parser reads."""
    if route.candidates:
        item = "(" + "|".join(str(n) for n in sorted(set(route.candidates), key=lambda n: (-len(str(n)), n))) + ")"
        count = shape.count(route)
        repeat = f"{{{count - 1}}}" if count > 1 else "{0}"
    else:
        item = _ANY_NUMBER
        repeat = f"{{0,{shape.most - 1}}}"
    # plain groups: every server's regex engine (xgrammar, outlines, guidance) reads them
    return TextConstraint(number_list_length(route, config, shape), pattern=f"{item}(,{item}){repeat}")
