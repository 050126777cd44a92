"""A large negative bias on tokens spelling "None"/"none": an NER answer of "None" never
scores, while any span from the question might."""
from __future__ import annotations

from decoding.constraints import Vocabulary


def none_penalty(vocabulary: Vocabulary, penalty: float) -> dict[int, float]:
    return {token_id: penalty for token_id in vocabulary.nones} if penalty else {}
