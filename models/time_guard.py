"""Keeping every batch inside its time, and the whole track inside its limit.

The evaluator allows 10 s per question, enforced per batch. Each batch gets a budget
(by default 80% of that, configurable); profiles are decoded cheapest first, and before
each one the guard compares the time left with what the profile would take at the
seconds per decoding step seen so far: when it would not fit, the profile gets fewer new
tokens; when no time is left, its questions get repaired fallback answers.

With SHOPBENCH_TRACK_DEADLINE="START:SECONDS" (unix time the track started, its time
limit in seconds; optionally ":QUESTIONS", else the track aicrowd.json names) each batch
also gets no more than its share of the track's remaining time, so a slow start shortens
later batches instead of overrunning the track.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from shopbench import spec
from shopbench.options import integer, number

# Bounds of SHOPBENCH_TRACK_DEADLINE's parts: a unix time before the year 5000, a track of at
# most a week (the longest track has 140 minutes).
_LATEST_START = 95_617_584_000.0
_LONGEST_TRACK = 7 * 86_400.0


@dataclass(frozen=True)
class TrackDeadline:
    end: float  # unix time
    questions: int

    @classmethod
    def parse(cls, text: str, default_questions: int) -> "TrackDeadline":
        """"START:SECONDS[:QUESTIONS]"; ValueError naming the form when it is not that."""
        parts = text.split(":")
        if not 2 <= len(parts) <= 3:
            raise ValueError(f"expected START:SECONDS[:QUESTIONS], got {text!r}")
        try:
            start = number(parts[0], 0.0, _LATEST_START)
            seconds = number(parts[1], 0.0, _LONGEST_TRACK)
            questions = integer(parts[2], 1, spec.MAX_QUESTIONS) if len(parts) > 2 else default_questions
        except ValueError as exc:
            raise ValueError(f"expected START:SECONDS[:QUESTIONS], got {text!r}: {exc}") from None
        return cls(start + seconds, questions)


class TimeGuard:
    """`enabled=False`: the guard only measures; every profile decodes in full, so answers do
    not depend on how busy the machine is."""

    def __init__(self, seconds_per_question: float, deadline: TrackDeadline | None = None, clock=time.time,
                 enabled: bool = True):
        self.seconds_per_question = seconds_per_question
        self.deadline = deadline
        self.enabled = enabled
        self.clock = clock
        self.answered = 0
        self.step_seconds: float | None = None  # seconds per decoding step of a batch, as measured

    def batch_budget(self, questions: int) -> float:
        if not self.enabled:
            return math.inf
        budget = self.seconds_per_question * questions
        if self.deadline is not None:
            left = max(0.0, self.deadline.end - self.clock())
            remaining_questions = max(questions, self.deadline.questions - self.answered)
            budget = min(budget, left * questions / remaining_questions)
        return budget

    def new_tokens_that_fit(self, seconds_left: float, max_new_tokens: int) -> int:
        """How many new tokens a group can decode in `seconds_left` (0: none)."""
        if not self.enabled:
            return max_new_tokens
        if seconds_left <= 0:
            return 0
        if self.step_seconds is None:
            return max_new_tokens
        return min(max_new_tokens, int(seconds_left / self.step_seconds))

    def record(self, seconds: float, steps: int) -> None:
        if steps > 0:
            measured = seconds / steps
            self.step_seconds = measured if self.step_seconds is None else 0.5 * (self.step_seconds + measured)
