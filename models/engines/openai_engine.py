"""An engine whose model runs elsewhere: an OpenAI-compatible completions server.

Rendering, routing and constraints stay here, built with the model folder's own tokenizer,
so a request is the same token ids and the same constraint as in the other engines: the
prompt goes as token ids, the hard mask as `allowed_token_ids` and the copy bias as
`logit_bias` (vLLM's server takes both, up to the same 1024 entries as in process), and the
new token ids come back with `return_token_ids`. Those are vLLM extensions of the OpenAI
API; at start two one-token probes check that the server applies the mask and the bias,
because a server that does not know a parameter may also ignore it without a word.

Standard library HTTP, one thread per request in flight. Connection errors, timeouts and 5xx
answers are retried with doubling waits; any other refusal is an error that names the
parameter the server refused when its message does.
"""
from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from decoding.constraints import Constraint
from models.engines import Generated, Request, trim_at_stop
from models.protocol import ModelUnavailable
from models.settings import API_KEY_ENV, CPU_CONTEXT, SERVED_MODEL_ENV, ServerSettings
from models.engines.vllm_engine import TOKEN_LIST_CAP

LOGIT_BIAS_LIMIT = 100.0  # OpenAI's API refuses biases beyond +-100; vLLM clamps to it
# Request fields beyond the OpenAI completions API: a refusal naming one of these means the
# server lacks a feature the constraints need.
EXTENSIONS = ("allowed_token_ids", "logit_bias", "return_token_ids", "stop_token_ids", "ignore_eos",
              "repetition_penalty")
_PROBE_TEXT = "Answer with one digit: 7"


class ServerError(ModelUnavailable):
    """The server refused a request, or did not answer within the retries."""


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


def refusal_message(url: str, status: int, payload: bytes) -> str:
    """One line for a 4xx answer, naming the refused parameter when the server's message does."""
    try:
        answer = json.loads(payload)
        error = answer.get("error") or answer.get("detail") or {}  # OpenAI's form, FastAPI's
        message = error.get("message") if isinstance(error, dict) else str(error)
        param = error.get("param") if isinstance(error, dict) else None
    except (ValueError, AttributeError):
        message, param = payload.decode("utf-8", "replace").strip()[:300], None
    message = " ".join(str(message or "no message").split())
    named = [name for name in EXTENSIONS if name == param or name in message]
    if named:
        return (f"{url}: the server refused {named[0]!r} (HTTP {status}: {message}); the openai engine needs "
                f"vLLM's extensions of the completions API ({', '.join(EXTENSIONS)})")
    return f"{url}: the server refused the request (HTTP {status}: {message})"


class OpenAIEngine:
    name = "openai"
    token_list_cap = TOKEN_LIST_CAP

    def __init__(self, model_dir: str, settings: ServerSettings):
        from transformers import AutoTokenizer

        self.settings = settings
        self._api_key = os.environ.get(API_KEY_ENV) or None
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model, served_length = self._served_model()
        self.max_model_len = served_length or _configured_length(Path(model_dir))
        self._probe()

    def generate(self, requests: list[Request]) -> list[Generated]:
        bodies = [completion_body(self.model, r, self.settings.seed) for r in requests]
        pool = ThreadPoolExecutor(max_workers=max(1, min(self.settings.concurrency, len(bodies))))
        try:
            futures = [pool.submit(self._call, "POST", "/completions", body) for body in bodies]
            answers = [future.result() for future in futures]
        finally:
            # A failure or an interrupt returns at once: requests not yet sent are cancelled,
            # and those in flight end on their own (their results are dropped).
            pool.shutdown(wait=False, cancel_futures=True)
        results = []
        for request, answer in zip(requests, answers):
            new = trim_at_stop(self._token_ids(answer), set(request.stop_token_ids), request.constraint.max_new_tokens)
            results.append(Generated(new, self.tokenizer.decode(new, skip_special_tokens=True)))
        return results

    def _token_ids(self, answer: dict) -> list[int]:
        choice = (answer.get("choices") or [{}])[0]
        if choice.get("token_ids") is not None:
            return list(choice["token_ids"])
        # A server without return_token_ids: its text, tokenized here (the stops are already cut).
        return self.tokenizer.encode(choice.get("text") or "", add_special_tokens=False)

    def _served_model(self) -> tuple[str, int | None]:
        listed = self._call("GET", "/models").get("data") or []
        lengths = {m.get("id"): m.get("max_model_len") for m in listed if isinstance(m, dict)}
        wanted = self.settings.served_model
        if wanted is None:
            if len(lengths) != 1:
                raise ServerError(f"{self.settings.url}: the server serves {len(lengths)} models "
                                  f"({', '.join(map(str, lengths)) or 'none'}); set {SERVED_MODEL_ENV} to one")
            wanted = next(iter(lengths))
        elif wanted not in lengths and lengths:
            raise ServerError(f"{SERVED_MODEL_ENV}={wanted!r}: the server at {self.settings.url} serves "
                              f"{', '.join(map(str, lengths))}")
        length = lengths.get(wanted)
        return wanted, length if isinstance(length, int) and length > 0 else None

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
            answer = self._call("POST", "/completions", body)
            got = self._token_ids(answer)
            if got[:1] != [expected]:
                raise ServerError(f"{self.settings.url}: the server ignored {name!r} (asked for token {expected}, "
                                  f"got {got[:1]}); the openai engine needs a server that applies it, such as vLLM's")

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        url = self.settings.url + path
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        data = json.dumps(body).encode() if body is not None else None
        last = ""
        for attempt in range(self.settings.retries + 1):
            if attempt:
                time.sleep(self.settings.backoff * 2 ** (attempt - 1))
            try:
                with _OPENER.open(urllib.request.Request(url, data, headers, method=method),
                                  timeout=self.settings.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                with exc:
                    try:
                        payload = exc.read()
                    except OSError:
                        payload = b""
                if 300 <= exc.code < 400:
                    raise ServerError(f"{url}: the server redirects (HTTP {exc.code}) to {exc.headers.get('Location')}; "
                                      "set SHOPBENCH_SERVER_URL to that address (redirects are not followed, so "
                                      "the key never goes elsewhere)") from None
                if exc.code < 500:
                    hint = " (does the URL end in /v1?)" if exc.code == 404 and path == "/models" else ""
                    raise ServerError(refusal_message(url, exc.code, payload) + hint) from None
                last = f"HTTP {exc.code}"
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", exc)
                last = "timed out" if isinstance(reason, TimeoutError) else f"{type(reason).__name__}: {reason}"
        raise ServerError(f"{url}: no answer after {self.settings.retries + 1} tries (last: {last})")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib would follow a redirect with every header, the API key included, to any host."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _configured_length(model_dir: Path) -> int:
    """The context to fit prompts to when the server does not say its own."""
    try:
        length = json.loads((model_dir / "config.json").read_text()).get("max_position_embeddings")
    except (OSError, ValueError, AttributeError):
        length = None
    return length if isinstance(length, int) and length > 0 else CPU_CONTEXT
