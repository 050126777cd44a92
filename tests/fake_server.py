"""OpenAI-compatible servers for tests: a small fake on 127.0.0.1 that answers, or fails, as a
test scripts it, and vLLM's own server (`vllm_server_on`).

Its "model" always prefers token PREFERRED; it applies `allowed_token_ids` and `logit_bias`
the way vLLM does (the mask first, then the largest bias wins), so the engine's start-up
probes pass unless the test tells it to ignore or refuse a parameter.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PREFERRED = 15  # the token the fake model picks unconstrained ("0" in the Qwen2 vocabulary)


@dataclass
class Script:
    models: tuple[str, ...] = ("fake-model",)
    # What each successive completion request gets: "ok", "503", "drop" (close without an
    # answer), "redirect" (307 elsewhere), "400" (this request alone refused), "slow" (answer
    # after `slow_seconds`), "429" (with `retry_after` as its Retry-After header, when set),
    # "echo" (a 401 whose message quotes the key as a careless server might: its Authorization
    # header, upper-cased, URL-encoded, and a URL with credentials), or a wrong shape: "empty"
    # (200 without choices), "strings" (choices holding strings), "list" (the body a list),
    # "not-json", "deep" (nested 5000 levels); requests past the list get `otherwise`.
    actions: list[str] = field(default_factory=list)
    otherwise: str = "ok"
    slow_seconds: float = 2.0
    retry_after: str | None = None
    models_answer: object = None  # what GET /models answers instead of the served models
    # /chat/completions: the constraint forms the fake applies (chat_engine's names:
    # "structured_outputs", "guided", "sglang"; others are ignored, as unknown fields), and
    # what its model says unconstrained. Its tokens are characters.
    chat_forms: tuple[str, ...] = ("structured_outputs",)
    chat_text: str = "I think the answer is 2."
    ignore: tuple[str, ...] = ()  # parameters applied as if absent
    refuse: tuple[str, ...] = ()  # parameters answered with 400, in OpenAI's words
    stop_after: int | None = None  # end each answer with the request's first stop id after this many tokens
    delay: float = 0.0  # seconds every completion takes
    # The model's answer to an unconstrained request: prompt token ids -> reply token ids (cut to
    # max_tokens, the request's first stop id added); None: PREFERRED tokens. Constrained
    # requests (the engine's probes) are answered as without it.
    reply: object = None
    # what was received, for the tests to read
    bodies: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def pick(body: dict, ignore=()) -> int:
    allowed = None if "allowed_token_ids" in ignore else body.get("allowed_token_ids")
    bias = {} if "logit_bias" in ignore else {int(k): v for k, v in (body.get("logit_bias") or {}).items()}
    candidates = list(allowed) if allowed else sorted(set(bias) | {PREFERRED})
    return max(candidates, key=lambda token: (bias.get(token, 0.0), token == PREFERRED))


def first_match(pattern: str) -> str:
    """The first string the regex matches in full, taking the first branch and each repeat's
    least count: enough for the patterns the chat engine sends."""
    import re._parser as parser

    def walk(items) -> str:
        out = []
        for op, arg in items:
            name = str(op)
            if name == "LITERAL":
                out.append(chr(arg))
            elif name == "IN":
                kind, value = arg[0]
                out.append(chr(value[0] if str(kind) == "RANGE" else value))
            elif name in ("MAX_REPEAT", "MIN_REPEAT"):
                out.append(walk(arg[2]) * arg[0])
            elif name == "SUBPATTERN":
                out.append(walk(arg[-1]))
            elif name == "BRANCH":
                out.append(walk(arg[1][0]))
            else:
                raise ValueError(f"the fake server cannot follow {name} in {pattern!r}")
        return "".join(out)

    return walk(parser.parse(pattern))


def chat_completion(body: dict, script: Script) -> dict:
    """The fake chat model's answer: the first choice or the first match of a regex, in the
    forms the script says it applies, else its unconstrained text; cut to max_tokens."""
    structured = body.get("structured_outputs") or {}
    forms = script.chat_forms
    if "structured_outputs" in forms and "choice" in structured:
        text = structured["choice"][0]
    elif "structured_outputs" in forms and "regex" in structured:
        text = first_match(structured["regex"])
    elif "guided" in forms and "guided_choice" in body:
        text = body["guided_choice"][0]
    elif "guided" in forms and "guided_regex" in body:
        text = first_match(body["guided_regex"])
    elif "sglang" in forms and "regex" in body:
        text = first_match(body["regex"])
    else:
        text = script.chat_text
    text = text[: body["max_tokens"]]
    prompt = sum(len(m["content"]) for m in body["messages"])
    return {"object": "chat.completion", "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": len(text), "total_tokens": prompt + len(text)}}


class _Handler(BaseHTTPRequestHandler):
    script: Script

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.endswith("/v1/models") and self.script.models_answer is not None:
            self._send(200, self.script.models_answer)
        elif self.path.endswith("/v1/models"):
            self._send(200, {"object": "list", "data": [{"id": m, "max_model_len": 2048} for m in self.script.models]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def _send_json_text(self, status: int, text: str, headers: dict | None = None) -> None:
        data = text.encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _failure(self, action: str) -> bool:
        """Answers a failing or wrong-shaped action; False for the ones that answer normally."""
        if action == "503":
            self._send(503, {"error": {"message": "overloaded"}})
        elif action == "429":
            headers = {"Retry-After": self.script.retry_after} if self.script.retry_after is not None else {}
            self._send_json_text(429, json.dumps({"error": {"message": "rate limited"}}), headers)
        elif action == "redirect":
            self.send_response(307)
            self.send_header("Location", "http://elsewhere.example/v1/completions")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif action == "drop":
            self.close_connection = True
        elif action == "400":
            self._send(400, {"error": {"message": "This model's maximum context length is 2048 tokens",
                                       "type": "invalid_request_error", "param": "messages"}})
        elif action == "echo":
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            message = (f"invalid credentials: Authorization: {self.headers.get('Authorization')}; key {key.upper()}; "
                       f"encoded {urllib.parse.quote(key, safe='')}; see https://admin:hunter2@example.org/keys")
            self._send(401, {"error": {"message": message, "type": "invalid_request_error"}})
        elif action == "empty":
            self._send(200, {"object": "text_completion", "choices": []})
        elif action == "strings":
            self._send(200, {"object": "text_completion", "choices": ["7"]})
        elif action == "list":
            self._send_json_text(200, json.dumps([{"text": "7"}]))
        elif action == "not-json":
            self._send_json_text(200, "<html>busy</html>")
        elif action == "deep":
            self._send_json_text(200, "[" * 5000 + "]" * 5000)
        else:
            return False
        return True

    def do_POST(self):
        script = self.script
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with script.lock:
            script.bodies.append(body)
            script.headers.append(dict(self.headers))
            action = script.actions.pop(0) if script.actions else script.otherwise
            script.in_flight += 1
            script.most_in_flight = max(script.most_in_flight, script.in_flight)
        try:
            time.sleep(script.delay + (script.slow_seconds if action == "slow" else 0))
            if self._failure(action):
                return
            refused = [name for name in script.refuse if name in body]
            if refused:
                return self._send(400, {"error": {"message": f"Unrecognized request argument supplied: {refused[0]}",
                                                  "type": "invalid_request_error", "param": None}})
            if self.path.endswith("/chat/completions"):
                return self._send(200, chat_completion(body, script))
            if script.reply is not None and not body.get("allowed_token_ids") and not body.get("logit_bias"):
                tokens = list(script.reply(body["prompt"]))[:body["max_tokens"]] + body["stop_token_ids"][:1]
                return self._send(200, {"object": "text_completion", "model": body["model"],
                                        "choices": [{"index": 0, "text": "", "token_ids": tokens}]})
            tokens = [pick(body, script.ignore)] * body["max_tokens"]
            if script.stop_after is not None and body["stop_token_ids"]:
                tokens = tokens[:script.stop_after] + [body["stop_token_ids"][0]]
            self._send(200, {"object": "text_completion", "model": body["model"],
                             "choices": [{"index": 0, "text": "", "token_ids": tokens}]})
        finally:
            with script.lock:
                script.in_flight -= 1


class FakeServer:
    """`with FakeServer(script) as url:` serves until the block ends."""

    def __init__(self, script: Script):
        handler = type("Handler", (_Handler,), {"script": script})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


HEALTHY_WITHIN = 420  # seconds; a 135M model is ready in 30-90 s on 2 cores


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def vllm_server_on(model_dir, log_dir: Path):
    """vLLM's OpenAI-compatible server (the CPU build) on `model_dir` with the in-process
    engine's CPU settings, healthy within HEALTHY_WITHIN seconds; yields its /v1 URL and is
    always stopped."""
    from models.settings import VLLM_ON_CPU

    port = free_port()
    log = log_dir / "server.log"
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
               "--host", "127.0.0.1", "--port", str(port), "--enforce-eager", "--dtype", VLLM_ON_CPU.dtype,
               "--max-model-len", str(VLLM_ON_CPU.max_model_len),
               "--gpu-memory-utilization", str(VLLM_ON_CPU.gpu_memory_utilization), "--seed", str(VLLM_ON_CPU.seed)]
    with open(log, "w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + HEALTHY_WITHIN
        while True:
            if server.poll() is not None:
                pytest.fail(f"the vLLM server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the vLLM server was not healthy within {HEALTHY_WITHIN} s:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            time.sleep(1)
        yield f"{url}/v1"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
