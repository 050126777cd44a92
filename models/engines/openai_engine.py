"""An engine whose model runs elsewhere: an OpenAI-compatible completions server.

Rendering, routing and constraints stay here, built with the model folder's own tokenizer,
so a request is the same token ids and the same constraint as in the other engines: the
prompt goes as token ids, the hard mask as `allowed_token_ids` and the copy bias as
`logit_bias` (vLLM's server takes both, up to the same 1024 entries as in process), and the
new token ids come back with `return_token_ids`. Those are vLLM extensions of the OpenAI
API; at start two one-token probes check that the server applies the mask and the bias,
because a server that does not know a parameter may also ignore it without a word.

HTTP, retries, refusals, interrupts and secrets: models/engines/http_client.py.
"""
from __future__ import annotations

import json
from pathlib import Path

from decoding.constraints import Constraint
from models.engines import Generated, Request, trim_at_stop
from models.engines.http_client import HttpClient, ServerError, first_choice, require, token_usage
from models.settings import CPU_CONTEXT, ServerSettings
from models.engines.vllm_engine import TOKEN_LIST_CAP

LOGIT_BIAS_LIMIT = 100.0  # OpenAI's API refuses biases beyond +-100; vLLM clamps to it
# Request fields beyond the OpenAI completions API: a refusal naming one of these means the
# server lacks a feature the constraints need.
EXTENSIONS = ("allowed_token_ids", "logit_bias", "return_token_ids", "stop_token_ids", "ignore_eos",
              "repetition_penalty")
_PROBE_TEXT = "Answer with one digit: 7"


def completion_body(model: str, request: Request, seed: int) -> dict:
    """The JSON body of one /completions request: greedy, the constraint as token lists."""
    constraint = request.constraint
    body = {
        "model": model,
        "prompt": list(request.prompt_token_ids),
        "max_tokens": constraint.max_new_tokens,
        "temperature": 0.0,
        "seed": seed,
        "repetition_penalty": constraint.repetition_penalty,
        # The request's stop ids are the only stops, as in the other engines.
        "ignore_eos": True,
        "stop_token_ids": list(request.stop_token_ids),
        "return_token_ids": True,
    }
    if constraint.allowed_token_ids is not None:
        body["allowed_token_ids"] = list(constraint.allowed_token_ids)
    if constraint.logit_bias:
        body["logit_bias"] = {str(token_id): max(-LOGIT_BIAS_LIMIT, min(LOGIT_BIAS_LIMIT, bias))
                              for token_id, bias in constraint.logit_bias.items()}
    for name in ("allowed_token_ids", "logit_bias"):
        if len(body.get(name) or ()) > TOKEN_LIST_CAP:
            raise ValueError(f"{name} has {len(body[name])} entries; the server accepts at most {TOKEN_LIST_CAP}")
    return body


class OpenAIEngine:
    name = "openai"
    token_list_cap = TOKEN_LIST_CAP

    def __init__(self, model_dir: str, settings: ServerSettings):
        from transformers import AutoTokenizer

        self.settings = settings
        self.client = HttpClient(settings, EXTENSIONS, "the openai engine needs vLLM's extensions of the "
                                 f"completions API ({', '.join(EXTENSIONS)}); SHOPBENCH_ENGINE=chat needs none")
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model, served_length = self.client.served_model()
        self.max_model_len = served_length or _configured_length(Path(model_dir))
        self._probe()

    def generate(self, requests: list[Request]) -> list[Generated]:
        bodies = [completion_body(self.model, r, self.settings.seed) for r in requests]
        answers = self.client.post_all("/completions", bodies)
        url = self.client.url("/completions")
        results = []
        for request, answer in zip(requests, answers):
            new = trim_at_stop(self._token_ids(answer), set(request.stop_token_ids), request.constraint.max_new_tokens)
            results.append(Generated(new, self.tokenizer.decode(new, skip_special_tokens=True), token_usage(answer, url)))
        return results

    def _token_ids(self, answer) -> list[int]:
        url = self.client.url("/completions")
        choice = first_choice(answer, url)
        if choice.get("token_ids") is not None:
            ids = require(choice["token_ids"], list, url, "'choices[0].token_ids'")
            for i, token_id in enumerate(ids):
                require(token_id, int, url, f"'choices[0].token_ids[{i}]'")
            return list(ids)
        # A server without return_token_ids: its text, tokenized here (the stops are already cut).
        text = choice.get("text")
        text = "" if text is None else require(text, str, url, "'choices[0].text'")
        return self.tokenizer.encode(text, add_special_tokens=False)

    def _probe(self) -> None:
        """Two one-token requests: the mask alone must choose its token, and so must a +100
        bias alone; a server that ignores either would decode unconstrained without a word."""
        prompt = self.tokenizer.encode(_PROBE_TEXT, add_special_tokens=False)
        masked, biased = self.tokenizer.encode(" banana", add_special_tokens=False)[0], prompt[0]
        for name, constraint, expected in (
            ("allowed_token_ids", Constraint(1, allowed_token_ids=(masked,)), masked),
            ("logit_bias", Constraint(1, logit_bias={biased: LOGIT_BIAS_LIMIT}), biased),
        ):
            body = completion_body(self.model, Request(prompt, constraint, ()), self.settings.seed)
            got = self._token_ids(self.client.post("/completions", body))
            if got[:1] != [expected]:
                raise ServerError(f"{self.settings.url}: the server ignored {name!r} (asked for token {expected}, "
                                  f"got {got[:1]}); the openai engine needs a server that applies it, such as vLLM's")


def _configured_length(model_dir: Path) -> int:
    """The context to fit prompts to when the server does not say its own."""
    try:
        length = json.loads((model_dir / "config.json").read_text()).get("max_position_embeddings")
    except (OSError, ValueError, AttributeError):
        length = None
    return length if isinstance(length, int) and length > 0 else CPU_CONTEXT
