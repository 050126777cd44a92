"""The small interface every engine offers the UserModel.

An engine takes already-tokenized prompts, each with its own `Constraint`, decodes them
greedily and returns the new tokens without the stop token. It never sees task types,
prompts as text or answers; the UserModel never sees the framework.

A chat engine (a model behind a chat API, whose tokenizer we do not have) is the exception:
it takes the system and user turns as text, each with a `TextConstraint`, and returns text.
Its `tokenizer` is None, which is how the models tell the two apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from decoding.constraints import Constraint, TextConstraint
from shopbench.protocol import TokenUsage


@dataclass(frozen=True)
class Request:
    prompt_token_ids: list[int]
    constraint: Constraint
    stop_token_ids: tuple[int, ...]  # the only tokens that end decoding early

    @property
    def length(self) -> int:
        return len(self.prompt_token_ids)


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[dict, ...]  # {"role", "content"} turns, as prompts.server_messages makes them
    constraint: TextConstraint

    @property
    def length(self) -> int:
        return sum(len(m["content"]) for m in self.messages)


@dataclass(frozen=True)
class Generated:
    token_ids: list[int] | None  # new tokens, stop token excluded (None: a chat engine, text only)
    text: str
    usage: TokenUsage | None = None  # what the server counted, when it says

    @property
    def new_tokens(self) -> int:
        if self.token_ids is not None:
            return len(self.token_ids)
        return self.usage.completion_tokens if self.usage else 0


class Engine(Protocol):
    name: str
    tokenizer: object
    max_model_len: int
    token_list_cap: int | None  # most entries in an allowed-ids list or a bias (None: no limit)

    def generate(self, requests: list[Request]) -> list[Generated]: ...


class ChatEngine(Protocol):
    name: str
    tokenizer: None
    max_model_len: int | None  # None: the server does not say
    token_list_cap: None
    constraints: dict  # which answer constraints the server applies, and in which form

    def generate(self, requests: list[ChatRequest]) -> list[Generated]: ...


def precision(engine) -> str:
    """The weights' dtype as the engine runs them; an engine that does not say (a server
    decides its own) is "the server's"."""
    return getattr(engine, "dtype", None) or "the server's"


def trim_at_stop(token_ids, stop_token_ids, max_new_tokens: int) -> list[int]:
    """The tokens before the first stop, at most `max_new_tokens` of them."""
    kept = []
    for token_id in list(token_ids)[:max_new_tokens]:
        if token_id in stop_token_ids:
            break
        kept.append(token_id)
    return kept
