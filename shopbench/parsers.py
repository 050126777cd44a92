"""The official ShopBench response parsers, reproduced behaviour for behaviour.

The hidden evaluator cuts every response to its first 5000 characters and then parses it
by the question's task type; an answer the parser cannot read scores 0. The quirks are
kept on purpose, because they decide real scores: only the first character counts for
multiple choice, a repeated number empties a ranking, "1 2" (no comma) is skipped.
"""
from __future__ import annotations

import ast
import re
from typing import Callable

from shopbench import spec

def cut(response: str) -> str:
    return response[: spec.MAX_RESPONSE_CHARS]


def parse_multiple_choice(response: str) -> int:
    try:
        return int(response.strip()[0])
    except (ValueError, IndexError):
        return -1


def integers(pieces) -> list[int]:
    """int() of each piece, skipping those it refuses, as both official parsers do: int()
    takes surrounding whitespace, a sign, underscores between digits and any script's decimal
    digits, and rejects "1 2", "" and numeric characters that are not decimal digits ("½", "五")."""
    numbers = []
    for piece in pieces:
        try:
            numbers.append(int(piece))
        except ValueError:
            continue
    return numbers


def _comma_separated_ints(response: str) -> list[int]:
    return integers(_numeric_commas_spaces(response).split(","))


# In ASCII only the digits are numeric: an ASCII response is cleaned by one substitution.
_NOT_ASCII_NUMERIC_COMMA_SPACE = re.compile(r"[^0-9, ]+")


def _numeric_commas_spaces(response: str) -> str:
    """The response's numeric characters, commas and spaces, in order (as the kit keeps them)."""
    if response.isascii():
        return _NOT_ASCII_NUMERIC_COMMA_SPACE.sub("", response)
    return "".join(c for c in response if c.isnumeric() or c in ", ")


def parse_ranking(response: str) -> list[int]:
    ranked = [n for n in _comma_separated_ints(response) if n <= spec.RANKING_LIMIT][: spec.RANKING_LIMIT]
    if len(ranked) != len(set(ranked)):
        return []
    return ranked


def parse_retrieval(response: str) -> list[int]:
    return _comma_separated_ints(response)[: spec.RETRIEVAL_READS]


def parse_named_entity_recognition(response: str) -> list[str]:
    try:
        # Only a list display gives a list, and it needs a "[": other answers skip the compile.
        entities = ast.literal_eval(response) if "[" in response else None
    except Exception:
        # The kit catches SyntaxError and ValueError; literal_eval can also raise
        # TypeError, MemoryError or RecursionError on odd input, which the kit would
        # crash on. Falling back to the comma split keeps the scorer total.
        entities = None
    if isinstance(entities, list) and all(isinstance(item, str) for item in entities):
        return entities
    pieces = (piece.strip() for piece in response.split(","))
    return [piece for piece in pieces if piece]


def parse_generation(response: str) -> str:
    return response.strip()


PARSERS: dict[str, Callable[[str], object]] = {
    spec.MULTIPLE_CHOICE: parse_multiple_choice,
    spec.RANKING: parse_ranking,
    spec.RETRIEVAL: parse_retrieval,
    spec.NER: parse_named_entity_recognition,
    spec.GENERATION: parse_generation,
}


def parse(task_type: str, response: str):
    """Cut to 5000 characters, then parse as the official evaluator does for `task_type`."""
    return PARSERS[task_type](cut(response))
