"""Running a model over questions the way the official evaluator does.

Questions are grouped by task type and sent in batches of `get_batch_size()` (asked
before every batch, as it may change), with `is_multiple_choice` true for a batch of
multiple-choice questions. Responses come back in data order, with the time of every
batch and so of every question.
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass

from shopbench.protocol import (EVALUATOR_BASE_CLASS, EVALUATOR_BASE_MODULE, EVALUATOR_METHODS, Answer,
                                ExplainsAnswers, GuardAction)
from shopbench import spec
from shopbench.data import Question


class ModelError(RuntimeError):
    """The model broke the evaluator's interface."""


def answer_batch(model, prompts: list[str], is_multiple_choice: bool) -> list[Answer]:
    """The model's answers: from `batch_answer` when it offers one (our models, with
    routing details), else from `batch_predict` alone, as the official evaluator calls."""
    batch = {"prompt": prompts}
    if isinstance(model, ExplainsAnswers):
        return model.batch_answer(batch, is_multiple_choice)
    responses = model.batch_predict(batch, is_multiple_choice)
    if not isinstance(responses, (list, tuple)):
        return responses
    return [Answer(r) for r in responses]


@dataclass
class Batch:
    task_type: str
    size: int
    seconds: float

    @property
    def seconds_per_question(self) -> float:
        return self.seconds / self.size


@dataclass
class ModelRun:
    answers: list[Answer]  # one per question, in question order
    seconds: list[float]  # per question: its batch's time shared equally
    batches: list[Batch]
    time_guard: bool | None = None  # whether the model's time guard could shorten answers (None: not said)
    settings: dict | None = None  # what the model says decides its answers (None: not said)

    @property
    def responses(self) -> list:
        return [a.text for a in self.answers]

    @property
    def failed_questions(self) -> int | None:
        """How many questions got no model answer (a repaired fallback instead); None when
        the model does not say (only batch_predict)."""
        if all(answer.failed is None for answer in self.answers):
            return None
        return sum(bool(answer.failed) for answer in self.answers)

    def sample_details(self) -> list[dict]:
        """Per question, in question order: how its answer was made (`Answer.details`) and
        its share of its batch's seconds."""
        return [{**answer.details(), "seconds": seconds} for answer, seconds in zip(self.answers, self.seconds)]

    def by_profile(self) -> dict:
        """Questions, repairs, time guard actions, failures, generated tokens and seconds per
        decoding profile, for models that report them."""
        table: dict[str, dict] = {}
        for answer, seconds in zip(self.answers, self.seconds):
            if answer.profile is None:
                continue
            row = table.setdefault(
                answer.profile,
                {"questions": 0, "repaired": 0, **{action.value: 0 for action in GuardAction}, "failed": 0,
                 "generated_tokens": 0, "seconds": 0.0},
            )
            row["questions"] += 1
            row["repaired"] += bool(answer.repaired)
            row["failed"] += bool(answer.failed)
            if answer.guard:
                row[GuardAction(answer.guard).value] += 1
            row["generated_tokens"] += answer.generated_tokens or 0
            row["seconds"] += seconds
        return table

    def token_usage(self) -> dict | None:
        """Prompt and completion tokens the server counted, summed over the answers that say
        (a server engine's); None when none does."""
        counted = [a.usage for a in self.answers if a.usage is not None]
        if not counted:
            return None
        return {"answers": len(counted), "prompt_tokens": sum(u.prompt_tokens for u in counted),
                "completion_tokens": sum(u.completion_tokens for u in counted)}

    def summary(self) -> dict:
        total = sum(b.seconds for b in self.batches)
        worst = max(self.batches, key=lambda b: b.seconds_per_question)
        by_type: dict[str, list[Batch]] = {}
        for batch in self.batches:
            by_type.setdefault(batch.task_type, []).append(batch)
        return {
            "questions": len(self.responses),
            "failed_questions": self.failed_questions,
            "batches": len(self.batches),
            "seconds": total,
            "seconds_per_question": total / len(self.responses),
            "worst_batch_seconds_per_question": worst.seconds_per_question,
            "limit_seconds_per_question": spec.SECONDS_PER_QUESTION,
            "seconds_per_question_by_task_type": {
                task_type: sum(b.seconds for b in batches) / sum(b.size for b in batches)
                for task_type, batches in by_type.items()
            },
            "by_profile": self.by_profile(),
            "token_usage": self.token_usage(),
            "time_guard": self.time_guard,
            "settings": self.settings,
        }


def load_model_class(reference: str):
    """`package.module:Class` -> the class, with a one-line error when it is not there or
    is not a model: a class with the evaluator's methods (`EVALUATOR_METHODS`), its own
    `batch_predict` rather than the base class's stub. Nothing is instantiated."""
    module_name, _, class_name = reference.partition(":")
    if not module_name or not class_name:
        raise ModelError(f"--model {reference}: expected MODULE:CLASS, for example models.user_config:UserModel")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"--model {reference}: {exc}") from None
    except Exception as exc:  # the module itself fails as it is imported: its error, on one line
        raise ModelError(f"--model {reference}: importing {module_name} failed: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    if not isinstance(found, type):
        raise ModelError(f"--model {reference}: not a class (a {type(found).__name__}); name a model class")
    problems = [f"no {name} method" for name in EVALUATOR_METHODS if not callable(getattr(found, name, None))]
    if _base_stub(found):
        problems.append("batch_predict is the base class's, which only raises")
    if problems:
        raise ModelError(f"--model {reference}: not a model class ({'; '.join(problems)}); the evaluator calls "
                         f"{' and '.join(EVALUATOR_METHODS)}, see models/base_model.py")
    return found


def _base_stub(found: type) -> bool:
    """Whether `found`'s batch_predict is the one of the evaluator's base class (which only
    raises), found in its own classes: this layer imports nothing from models/."""
    for cls in found.__mro__:
        if "batch_predict" in cls.__dict__:
            return cls.__module__ == EVALUATOR_BASE_MODULE and cls.__name__ == EVALUATOR_BASE_CLASS
    return False


def _batch_size(model, override: int | None) -> int:
    size = override if override is not None else model.get_batch_size()
    if not isinstance(size, int) or not 1 <= size <= spec.MAX_BATCH_SIZE:
        raise ModelError(f"batch size must be an integer from 1 to {spec.MAX_BATCH_SIZE}, got {size!r}")
    return size


def run(model, questions: list[Question], batch_size: int | None = None, progress: bool = False) -> ModelRun:
    from tqdm.auto import tqdm

    groups: dict[str, list[int]] = {}
    for position, question in enumerate(questions):
        groups.setdefault(question.task_type, []).append(position)

    answers: list = [None] * len(questions)
    seconds = [0.0] * len(questions)
    batches = []
    with tqdm(total=len(questions), desc="Generating", disable=not progress, unit="q") as bar:
        for task_type, positions in groups.items():
            start = 0
            while start < len(positions):
                chosen = positions[start : start + _batch_size(model, batch_size)]
                start += len(chosen)
                prompts = [questions[p].input_field for p in chosen]
                is_multiple_choice = all(questions[p].is_multiple_choice for p in chosen)
                began = time.perf_counter()
                returned = answer_batch(model, prompts, is_multiple_choice)
                elapsed = time.perf_counter() - began
                if not isinstance(returned, (list, tuple)) or len(returned) != len(chosen):
                    count = len(returned) if isinstance(returned, (list, tuple)) else type(returned).__name__
                    raise ModelError(f"batch_predict returned {count} responses for a batch of {len(chosen)} prompts")
                batches.append(Batch(task_type, len(chosen), elapsed))
                for p, answer in zip(chosen, returned):
                    answers[p] = answer
                    seconds[p] = elapsed / len(chosen)
                bar.update(len(chosen))
    explains = isinstance(model, ExplainsAnswers)
    return ModelRun(answers, seconds, batches, model.time_guard_on if explains else None,
                    model.run_settings if explains else None)
