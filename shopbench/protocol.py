"""What our models tell the evaluator beyond `batch_predict`, in one small types module
that the model side and the evaluator side both import; it lives in shopbench/, the bottom
layer, which imports nothing from the model side.

The official evaluator calls only `get_batch_size` and `batch_predict`
(models/base_model.py). Our evaluator also reads, when a model offers `batch_answer`, how
each answer was made: its route, whether it was repaired, what the time guard did, and
whether the model failed to answer it at all.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


# What the official evaluator calls on a model (models/base_model.py): a class to run must offer both.
EVALUATOR_METHODS = ("get_batch_size", "batch_predict")
# The evaluator's base class, whose batch_predict only raises.
EVALUATOR_BASE_MODULE, EVALUATOR_BASE_CLASS = "models.base_model", "ShopBenchBaseModel"


class ModelUnavailable(RuntimeError):
    """The model cannot be served as configured (a missing package, a server that refuses or
    does not answer): our tools print the message as one line rather than a traceback."""


class GuardAction(str, enum.Enum):
    """What the time guard did to an answer (models/time_guard.py); None: nothing."""

    SHORTENED = "shortened"  # decoded with fewer new tokens than its profile allows
    FALLBACK = "fallback"  # not decoded at all: the repaired fallback answer


@dataclass(frozen=True)
class TokenUsage:
    """What a server counted (and bills) for one answer."""

    prompt_tokens: int
    completion_tokens: int


@dataclass
class Answer:
    """One response, with how it was made when the model says (`batch_answer`)."""

    text: object  # what batch_predict returns for the question (a non-string is scored as empty)
    task_type: str | None = None
    profile: str | None = None
    repaired: bool | None = None
    generated_tokens: int | None = None
    guard: GuardAction | None = None
    # True: the model made no answer for this question (its engine failed on the batch, or the
    # question could not be made into a request); the text is the repaired fallback. A time
    # guard's fallback is a choice, not a failure (`guard`). None: the model does not say.
    failed: bool | None = None
    usage: TokenUsage | None = None  # a server's token counts, when the model's engine has them

    def details(self) -> dict:
        """How the answer was made, as JSON (None where the model does not say)."""
        return {"task_type": self.task_type, "profile": self.profile, "repaired": self.repaired,
                "guard": None if self.guard is None else GuardAction(self.guard).value, "failed": self.failed,
                "generated_tokens": self.generated_tokens}


def describe_constraints(constraints: dict) -> str:
    """The constraints a server applies ({kind: form or None}, a run's
    `settings.server_constraints`), for the start line and the report."""
    applied = [f"{kind} ({form})" for kind, form in constraints.items() if form]
    return ", ".join(applied) if applied else "none (answers rely on repair)"


@runtime_checkable
class ExplainsAnswers(Protocol):
    """A model that returns `Answer` records as well as the strings `batch_predict` returns,
    says whether its time guard may shorten answers (then scores depend on speed), and which
    settings decide its answers (so two runs can be told apart and repeated)."""

    time_guard_on: bool
    run_settings: dict  # what decides its answers (model, engine, decoding), recorded with every run

    def batch_answer(self, batch: dict, is_multiple_choice: bool) -> list[Answer]: ...
