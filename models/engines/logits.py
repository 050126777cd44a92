"""Constraints as logits arithmetic, shared by the transformers engine and the vLLM 0.5.x
fallback so the two apply exactly the same thing.

One additive row per request, built once: -inf outside the allowed ids (what vLLM's
`allowed_token_ids` does), plus the bias at its ids (what `logit_bias` does). Applying it
is one tensor addition per step, with no Python loop over tokens.
"""
from __future__ import annotations

import torch

from decoding.constraints import Constraint


def additive_row(constraint: Constraint, width: int, device=None, dtype=torch.float32) -> torch.Tensor | None:
    """The row to add to a [width] logits vector, or None when the constraint is empty.
    Ids at or past `width` (the tokenizer can be larger than a tiny model's head) are
    dropped; the logits row can also be wider than the tokenizer, and those padded ids
    are never allowed by a mask."""
    if constraint.allowed_token_ids is None and not constraint.logit_bias:
        return None
    row = torch.zeros(width, dtype=dtype, device=device)
    if constraint.allowed_token_ids is not None:
        allowed = torch.tensor([i for i in constraint.allowed_token_ids if i < width], dtype=torch.long, device=device)
        row.fill_(float("-inf"))
        row[allowed] = 0.0
    if constraint.logit_bias:
        ids = [i for i in constraint.logit_bias if i < width]
        index = torch.tensor(ids, dtype=torch.long, device=device)
        row[index] += torch.tensor([constraint.logit_bias[i] for i in ids], dtype=dtype, device=device)
    return row


class BatchConstraintProcessor:
    """transformers `LogitsProcessor`: each batch row gets its request's additive row."""

    def __init__(self, constraints: list[Constraint], width: int, device=None):
        rows = [additive_row(c, width, device) for c in constraints]
        self.table = None
        if any(r is not None for r in rows):
            zero = torch.zeros(width, device=device)
            self.table = torch.stack([zero if r is None else r for r in rows])

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.table is None:
            return scores
        return scores + self.table[:, : scores.shape[-1]].to(scores.dtype)


class RequestConstraintProcessor:
    """vLLM 0.5.x per-request logits processor, `(token_ids, logits) -> logits`. The row is
    made on the first call, on the logits' device and at their width, then reused."""

    def __init__(self, constraint: Constraint):
        self.constraint = constraint
        self.row: torch.Tensor | None = None

    def __call__(self, token_ids, logits: torch.Tensor) -> torch.Tensor:
        if self.row is None:
            self.row = additive_row(self.constraint, logits.shape[-1], logits.device, logits.dtype)
        return logits if self.row is None else logits + self.row
