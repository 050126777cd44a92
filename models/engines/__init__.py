"""The small interface every engine offers the UserModel.

An engine takes already-tokenized prompts, each with its own `Constraint`, decodes them
greedily and returns the new tokens without the stop token. It never sees task types,
prompts as text or answers; the UserModel never sees the framework.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from decoding.constraints import Constraint


@dataclass(frozen=True)
class Request:
    prompt_token_ids: list[int]
    constraint: Constraint
    stop_token_ids: tuple[int, ...]  # the only tokens that end decoding early


@dataclass(frozen=True)
class Generated:
    token_ids: list[int]  # new tokens, stop token excluded
    text: str


class Engine(Protocol):
    name: str
    tokenizer: object
    max_model_len: int
    token_list_cap: int | None  # most entries in an allowed-ids list or a bias (None: no limit)

    def generate(self, requests: list[Request]) -> list[Generated]: ...


def trim_at_stop(token_ids, stop_token_ids, max_new_tokens: int) -> list[int]:
    """The tokens before the first stop, at most `max_new_tokens` of them."""
    kept = []
    for token_id in list(token_ids)[:max_new_tokens]:
        if token_id in stop_token_ids:
            break
        kept.append(token_id)
    return kept
