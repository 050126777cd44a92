"""The interface the ShopBench evaluator calls (Phase 2 of the KDD Cup 2024 starter kit)."""
from __future__ import annotations

from shopbench import spec


class ShopBenchBaseModel:
    def get_batch_size(self) -> int:
        """How many prompts the next `batch_predict` call receives: 1 to 16; may change
        between calls."""
        return spec.MAX_BATCH_SIZE

    def batch_predict(self, batch: dict, is_multiple_choice: bool) -> list[str]:
        """Answer `batch["prompt"]`, a list of raw question texts, in order.

        `is_multiple_choice` is true when every question of the batch is multiple choice;
        the task type is never given. Each answer must be a string; the official parser
        reads its first 5000 characters, and the whole batch must return within
        10 s per question.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement batch_predict")
