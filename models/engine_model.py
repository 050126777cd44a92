"""What every model served by one of our engines shares (the UserModel and the zero-shot
baselines): the settings, the engine started once (or the one given), and the one wrapper
that keeps answering a batch from ever raising."""
from __future__ import annotations

import logging
import sys
from dataclasses import replace

from models.base_model import ShopBenchBaseModel
from models.engines import Engine, registry
from shopbench.protocol import Answer
from models.settings import ModelSettings, from_environment

log = logging.getLogger("shopbench.model")


def start_engine(owner: str, settings: ModelSettings, engine: Engine | None) -> tuple[Engine, str]:
    """(the engine, "MODEL with the NAME engine"): the one given (tests, ablations share one),
    else a new one, announced in one line with why it was chosen."""
    name = settings.model_dir
    if engine is None:
        engine, name = registry.from_settings(settings)
        print(f"{owner}: serving {name} with the {engine.name} engine ({settings.reason})", file=sys.stderr)
        if engine.tokenizer is None:
            from shopbench.protocol import describe_constraints

            print(f"{owner}: answer constraints the server applies: {describe_constraints(engine.constraints)}",
                  file=sys.stderr)
    return engine, f"{name} with the {engine.name} engine"


class EngineModel(ShopBenchBaseModel):
    """A model answering through an engine. A subclass gives `answers` (a list of questions
    in, one `Answer` each out) and `FALLBACK`, the answer every question of a batch gets when
    `answers` raises."""

    FALLBACK: Answer

    def __init__(self, settings: ModelSettings | None = None, engine: Engine | None = None):
        self.settings = settings or from_environment()
        self.engine, self.description = start_engine(type(self).__name__, self.settings, engine)
        self.tokenizer = self.engine.tokenizer  # None: a chat engine, sent text

    def get_batch_size(self) -> int:
        return self.settings.batch_size

    def batch_predict(self, batch: dict, is_multiple_choice: bool) -> list[str]:
        return [answer.text for answer in self.batch_answer(batch, is_multiple_choice)]

    def batch_answer(self, batch: dict, is_multiple_choice: bool) -> list[Answer]:
        """Never raises, on the official evaluator's path (batch_predict) and ours alike: the
        evaluator would lose the whole track. A failed batch is logged and each of its prompts
        gets `FALLBACK`."""
        prompts_given = batch.get("prompt") if isinstance(batch, dict) else None
        try:
            return self.answers(list(prompts_given), is_multiple_choice)
        except Exception as exc:  # noqa: BLE001 - an answer of some shape beats a lost track
            count = len(prompts_given) if isinstance(prompts_given, (list, tuple)) else 0
            log.error("%s: batch of %d prompts failed, answering each with %r: %r",
                      type(self).__name__, count, self.FALLBACK.text, exc)
            return [replace(self.FALLBACK) for _ in range(count)]

    def answers(self, questions: list, is_multiple_choice: bool) -> list[Answer]:
        raise NotImplementedError(f"{type(self).__name__} must implement answers")
