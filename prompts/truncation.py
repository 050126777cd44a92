"""Fitting a question into the model's context without losing what the answer needs.

The rule: the instruction (first line), the candidate list and the last two lines (the
output instruction and the answer slot) are kept. Free text is shortened from the middle
of its longest line, which keeps that line's start and end, replacing the cut with " … ";
then the next longest, and so on. Only when no free text is left is the middle of the
whole question cut.
"""
from __future__ import annotations

import math
from typing import Callable

from routing import anatomy

MARK = " … "
_KEEP_EACH_SIDE = 20  # characters a shortened line keeps at its start and at its end


def _cut_middle(text: str, remove: int) -> str:
    if len(text) - remove < 2 * _KEEP_EACH_SIDE:
        remove = len(text) - 2 * _KEEP_EACH_SIDE
    if remove <= len(MARK):
        return text
    head = (len(text) - remove) // 2
    return text[:head] + MARK + text[head + remove:]


def fit(question: str, budget: int, count_tokens: Callable[[str], int], max_rounds: int = 64) -> str:
    """Shorten `question` until `count_tokens(question)` is within `budget`; returns it
    unchanged when it already fits, and "" when even the protected parts cannot fit."""
    for _ in range(max_rounds):
        tokens = count_tokens(question)
        if tokens <= budget:
            return question
        characters_per_token = len(question) / max(tokens, 1)
        remove = math.ceil((tokens - budget) * characters_per_token * 1.1) + len(MARK)
        lines = question.split("\n")
        filled = [i for i, line in enumerate(lines) if line.strip()]
        protected = set(filled[:1] + filled[-2:])
        candidates = anatomy.read(question).candidates
        if candidates is not None:
            protected |= set(range(candidates.first_line, candidates.last_line + 1))
        free = [i for i in range(len(lines)) if i not in protected and len(lines[i]) > 2 * _KEEP_EACH_SIDE + len(MARK)]
        if free:
            longest = max(free, key=lambda i: len(lines[i]))
            lines[longest] = _cut_middle(lines[longest], remove)
            question = "\n".join(lines)
            continue
        shortened = _cut_middle(question, remove)
        question = shortened if shortened != question else ""
    return question if count_tokens(question) <= budget else ""
