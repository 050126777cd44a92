"""Answers made only of digits and commas: multiple choice, ranking, retrieval.

A hard mask: the digits the answer can use, the comma where a list is expected, and the
stop tokens. Tokens of several commas (",,") are never in it, so a list cannot skip an
item, and no token carries a space or a letter.
"""
from __future__ import annotations

from routing.classifier import Route
from decoding.config import DecodingConfig
from decoding.constraints import Constraint, Vocabulary
from shopbench import spec


def _digits_of(numbers) -> set[str]:
    return {digit for number in numbers for digit in str(number)}


def _ids(vocabulary: Vocabulary, digits: set[str], with_comma: bool) -> tuple[int, ...]:
    ids = {i for d in digits for i in vocabulary.digits[d]} | set(vocabulary.stops)
    if with_comma:
        ids |= set(vocabulary.commas)
    return tuple(sorted(ids))


def multiple_choice(route: Route, vocabulary: Vocabulary, config: DecodingConfig) -> Constraint:
    single_digit = all(0 <= c <= 9 for c in route.choices)
    digits = _digits_of(route.choices) if config.limit_choices_to_options and single_digit else set("0123456789")
    length = config.max_new_tokens[spec.MULTIPLE_CHOICE] if single_digit else 2
    return Constraint(length, _ids(vocabulary, digits, with_comma=False))


def number_list(route: Route, vocabulary: Vocabulary, config: DecodingConfig) -> Constraint:
    """Ranking and retrieval: the candidates' digits and commas, at most as many tokens as
    the longest valid answer plus the stop."""
    if not route.candidates:
        return Constraint(config.max_new_tokens[route.profile], _ids(vocabulary, set("0123456789"), with_comma=True))
    count = len(route.candidates) if route.profile == spec.RANKING else route.answer_count
    longest = sorted(route.candidates, key=lambda n: len(str(n)))[-count:]
    length = sum(len(str(n)) for n in longest) + (count - 1) + 1
    return Constraint(length, _ids(vocabulary, _digits_of(route.candidates), with_comma=True))
