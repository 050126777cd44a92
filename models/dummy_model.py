"""A weightless model that answers in shapes the official parsers accept, like the kit's dummy.

It reads nothing of the question: a random digit for multiple choice, a random
permutation of 1-5 otherwise (a valid ranking, three valid retrieval picks, a list of
entities, and a string for generation). It is the floor any real model must beat.
"""
from __future__ import annotations

import random

from models.base_model import ShopBenchBaseModel
from shopbench import spec
from shopbench.environment import run_seed


class DummyModel(ShopBenchBaseModel):
    def __init__(self):
        self.rng = random.Random(run_seed())

    def batch_predict(self, batch: dict, is_multiple_choice: bool) -> list[str]:
        return [self._answer(is_multiple_choice) for _ in batch["prompt"]]

    def _answer(self, is_multiple_choice: bool) -> str:
        if is_multiple_choice:
            return str(self.rng.randint(0, 3))
        order = list(range(1, spec.RANKING_LIMIT + 1))
        self.rng.shuffle(order)
        return ", ".join(map(str, order))
