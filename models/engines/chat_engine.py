"""An engine for any model behind an OpenAI-compatible chat API (`/chat/completions`): a
hosted API, Ollama, llama.cpp's server, TGI, SGLang, vLLM. No tokenizer is needed here.

Each request is the system and user turns `prompts` renders for the other engines (the
server applies its own chat template), greedy (temperature 0), with the seed and the
profile's token budget. Answer constraints go as text where the server applies them: at
start, one small probe per form asks for an answer no model would give unconstrained, and a
form counts only when the answer obeys it (a server may ignore a field it does not know).
The forms, probed in this order:

- choice (multiple choice: one of the option numbers): vLLM's `structured_outputs.choice`
  (vLLM >= 0.10), then its older `guided_choice`;
- regex (ranking and retrieval: candidate numbers, comma-separated; multiple choice too when
  no choice form is applied): `structured_outputs.regex`, `guided_regex`, then SGLang's
  `regex`.

Without either, answers rely on repair. The results file and the report say which forms the
server applied (`constraints`). Token usage (`usage.prompt_tokens`, `completion_tokens`)
comes back with every answer, for the run's totals.

HTTP, retries, refusals, interrupts and secrets: models/engines/http_client.py.
"""
from __future__ import annotations

import logging
import re

from decoding.constraints import TextConstraint
from models.engines import ChatRequest, Generated
from models.engines.http_client import HttpClient, Refused, first_choice, require, token_usage
from models.settings import ServerSettings

log = logging.getLogger("shopbench.model")
PATH = "/chat/completions"
CHOICE, REGEX = "choice", "regex"
STRUCTURED_OUTPUTS, GUIDED, SGLANG = "structured_outputs", "guided", "sglang"
FORMS = {CHOICE: (STRUCTURED_OUTPUTS, GUIDED), REGEX: (STRUCTURED_OUTPUTS, GUIDED, SGLANG)}
# Probes: answers no model gives unprompted, so only a constraint can produce them.
_PROBE_QUESTION = "Reply with one word."
_PROBE_CHOICES = ("7qz", "9kx")
_PROBE_PATTERN = "(4|7)(,(4|7)){2}q"
_PROBE_TOKENS = 16


def constraint_fields(form: str, kind: str, value) -> dict:
    """The request fields that ask `form`'s server for a choice among `value` or a full match
    of the regex `value`."""
    if form == STRUCTURED_OUTPUTS:
        return {"structured_outputs": {kind: list(value) if kind == CHOICE else value}}
    if form == GUIDED:
        return {f"guided_{kind}": list(value) if kind == CHOICE else value}
    if form == SGLANG and kind == REGEX:
        return {"regex": value}
    raise ValueError(f"{form} has no {kind} constraint")


def choices_as_pattern(choices) -> str:
    return "(" + "|".join(re.escape(c) for c in choices) + ")"


def chat_body(model: str, request: ChatRequest, seed: int, constraints: dict) -> dict:
    """One /chat/completions body: greedy, the token budget, the constraint in the form the
    server applies (`constraints`: kind -> form or None), or none."""
    constraint: TextConstraint = request.constraint
    body = {"model": model, "messages": [dict(m) for m in request.messages], "max_tokens": constraint.max_new_tokens,
            "temperature": 0.0, "seed": seed}
    if constraint.repetition_penalty != 1.0:  # vLLM's and SGLang's extension; sent only when asked for
        body["repetition_penalty"] = constraint.repetition_penalty
    if constraint.choices and constraints.get(CHOICE):
        body |= constraint_fields(constraints[CHOICE], CHOICE, constraint.choices)
    elif constraint.choices and constraints.get(REGEX):
        body |= constraint_fields(constraints[REGEX], REGEX, choices_as_pattern(constraint.choices))
    elif constraint.pattern and constraints.get(REGEX):
        body |= constraint_fields(constraints[REGEX], REGEX, constraint.pattern)
    return body


def read_answer(answer, url: str) -> Generated:
    """The answer's text and token usage, each field checked against the shape read."""
    message = require(first_choice(answer, url).get("message"), dict, url, "'choices[0].message'")
    content = message.get("content")
    text = "" if content is None else require(content, str, url, "'choices[0].message.content'")
    return Generated(None, text, token_usage(answer, url))


class ChatEngine:
    name = "chat"
    tokenizer = None  # text in, text out: the models build ChatRequests
    token_list_cap = None

    def __init__(self, settings: ServerSettings):
        self.settings = settings
        self.client = HttpClient(settings)
        self.model, self.max_model_len = self.client.served_model()
        self.constraints = {kind: self._probe(kind) for kind in FORMS}

    def generate(self, requests: list[ChatRequest]) -> list[Generated | None]:
        """The answers in order; None for a question the server refused (logged), since
        without a tokenizer a prompt too long for the server's context is only found there,
        and one refused question must not cost the rest of its batch."""
        bodies = [chat_body(self.model, r, self.settings.seed, self.constraints) for r in requests]
        url = self.client.url(PATH)
        results = []
        for answer in self.client.post_all(PATH, bodies, keep_refusals=True):
            if isinstance(answer, Refused):
                log.error("chat engine: a question got no answer: %s", answer)
                results.append(None)
            else:
                results.append(read_answer(answer, url))
        return results

    def _probe(self, kind: str) -> str | None:
        """The first form of `kind` the server applies, or None. A form it refuses (4xx) or
        ignores is passed over; a server that fails otherwise is an error."""
        value = _PROBE_CHOICES if kind == CHOICE else _PROBE_PATTERN
        constraint = TextConstraint(_PROBE_TOKENS)
        request = ChatRequest(({"role": "user", "content": _PROBE_QUESTION},), constraint)
        for form in FORMS[kind]:
            body = chat_body(self.model, request, self.settings.seed, {}) | constraint_fields(form, kind, value)
            try:
                text = read_answer(self.client.post(PATH, body), self.client.url(PATH)).text.strip()
            except Refused:
                continue
            if (text in value) if kind == CHOICE else re.fullmatch(value, text):
                return form
        return None

