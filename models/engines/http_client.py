"""JSON over HTTP for the engines whose model runs on a server (`openai`, `chat`): the one
transport both use, standard library only.

- Retries: connection errors, dropped connections, timeouts and 5xx answers are retried after
  doubling waits (`ServerSettings.backoff`, twice that, ...); a 429 waits what its
  `Retry-After` says (seconds or an HTTP date, at most RETRY_AFTER_CAP), else the same wait.
- Refusals: any other 4xx is `Refused`, one line with the server's own message and the
  parameter it names, so an engine can say which of its extensions the server lacks.
- Redirects are not followed: urllib would send every header, the key included, to any host.
- Interrupts: `post_all` runs its requests in daemon threads. A failure or an interrupt (Ctrl-C
  in the main thread) stops the others: no retry waits out, no new request starts, and the
  threads still waiting on an answer cannot keep the process alive. After an interrupt the
  client sends nothing more at all.
- Secrets: every message passes through `Redactor`, which removes the key (in any letter case,
  URL-encoded, after `Authorization:`) and any credentials or query-string values in a URL,
  whatever a server echoes.
- Shapes: a body that is not JSON, or nests too deep, is a one-line error naming the URL;
  `require` and `first_choice` check the parts an engine reads, naming the URL and the field.
"""
from __future__ import annotations

import datetime
import email.utils
import http.client
import json
import queue
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from shopbench.protocol import ModelUnavailable, TokenUsage
from shopbench import jsonsafe
from shopbench.errors import DataError
from shopbench.text import single_spaced
from models.settings import REDACTED, SERVED_MODEL_ENV, SERVER_URL_ENV, ServerSettings, redact_urls

RETRY_AFTER_CAP = 60.0  # seconds: the longest a 429's Retry-After makes a request wait
REQUEST_REFUSALS = (400, 413, 422)  # statuses that refuse one request for what it holds, not its sender
MESSAGE_CHARS = 300  # of a server's own error text, kept in our one line


class ServerError(ModelUnavailable):
    """The server refused a request, answered in a shape we cannot read, or did not answer
    within the retries. Its message is one line with every secret removed."""


class Refused(ServerError):
    """A 4xx answer other than 429: the request itself was refused; retrying cannot help."""

    def __init__(self, message: str, status: int, server_message: str, param: str | None):
        super().__init__(message)
        self.status, self.server_message, self.param = status, server_message, param


class Cancelled(ServerError):
    """The request was not sent, or not retried, because the work was stopped."""


# The value after an Authorization header's name, in whatever form a server echoes it.
_AUTHORIZATION = re.compile(r"""(?i)(authorization["']?\s*[:=]\s*["']?)(?:(?:bearer|basic|token)\s+)?[^\s"',;}]+""")


class Redactor:
    """Removes a key and URL credentials from text meant for a person."""

    def __init__(self, *secrets: str | None):
        forms = set()
        for secret in filter(None, secrets):
            forms |= {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
                      json.dumps(secret)[1:-1]}
        # longest first, so a form that contains another is removed whole
        self._secrets = re.compile("|".join(map(re.escape, sorted(forms, key=len, reverse=True))),
                                   re.IGNORECASE) if forms else None

    def __call__(self, text: str) -> str:
        text = _AUTHORIZATION.sub(lambda m: m.group(1) + REDACTED, str(text))
        text = redact_urls(text)
        return self._secrets.sub(REDACTED, text) if self._secrets else text


def one_line(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = single_spaced(str(text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds a Retry-After header asks to wait (a number of seconds or an HTTP date), at most
    RETRY_AFTER_CAP; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", value):
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # "-0000": UTC, as RFC 5322 reads it
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = when.timestamp() - now
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


_KINDS = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number"}


def require(value, kind: type | tuple[type, ...], url: str, where: str):
    """`value` when it is of `kind` (a bool is no number), else a ServerError naming the URL
    and the field."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
        return value
    wanted = " or ".join(_KINDS.get(k, k.__name__) for k in kinds)
    # the kind only, never the value: a server may echo anything, secrets included
    got = "missing or null" if value is None else jsonsafe.kind(value)
    raise ServerError(f"{url}: the answer's {where} is {got}, expected {wanted}")


def first_choice(answer, url: str) -> dict:
    """The first of a completion's `choices`. A 200 without any is an engine failure, not an
    empty answer: it would otherwise become a repaired fallback without a word."""
    choices = require(require(answer, dict, url, "body").get("choices"), list, url, "'choices'")
    if not choices:
        raise ServerError(f"{url}: the answer's 'choices' is empty (HTTP 200 without a completion)")
    return require(choices[0], dict, url, "'choices[0]'")


def token_usage(answer: dict, url: str) -> TokenUsage | None:
    """The answer's `usage` (prompt and completion tokens the server counted), None when it
    has none."""
    usage = answer.get("usage")
    if usage is None:
        return None
    usage = require(usage, dict, url, "'usage'")
    return TokenUsage(*(require(usage.get(name), int, url, f"'usage.{name}'") for name in ("prompt_tokens", "completion_tokens")))


def parse_json(payload: bytes, url: str):
    """The body as JSON (shopbench.jsonsafe: nesting too deep, numbers too long refused), or a
    one-line ServerError naming the URL and never quoting the body, which may echo anything.
    Numbers need not be finite here: the fields read are checked by `require`."""
    try:
        return jsonsafe.loads(payload, f"{url}: the answer", finite=False)
    except DataError as exc:
        raise ServerError(str(exc)) from None


def _refusal(url: str, status: int, payload: bytes) -> tuple[str, str | None]:
    """(the server's message, the parameter it names) from a 4xx body in OpenAI's form
    ({"error": {"message", "param"}}), FastAPI's ({"detail": ...}) or plain text."""
    try:
        answer = jsonsafe.loads(payload, url, finite=False)
    except DataError:
        answer = None
    error = answer.get("error") or answer.get("detail") if isinstance(answer, dict) else None
    if isinstance(error, dict):
        message, param = error.get("message"), error.get("param")
    elif error is not None:
        message, param = error, None
    else:
        message, param = payload.decode("utf-8", "replace"), None
    return one_line(message or "no message"), param if isinstance(param, str) else None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class HttpClient:
    """GET and POST of JSON to one server's base URL, with the retries, refusals, cancelling
    and redaction above."""

    def __init__(self, settings: ServerSettings, extensions: tuple[str, ...] = (), needs: str = ""):
        """`extensions`: request fields beyond the OpenAI API; a refusal naming one says so,
        followed by `needs` (what the engine needs instead)."""
        self.settings = settings
        self.extensions, self.needs = extensions, needs
        self.redact = Redactor(settings.api_key)
        self.cancelled = threading.Event()  # set by an interrupt: nothing is sent after it
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if settings.api_key:
            self._headers["Authorization"] = f"Bearer {settings.api_key}"

    def url(self, path: str) -> str:
        return self.settings.url + path

    def error(self, kind: type[ServerError], message: str, *args) -> ServerError:
        return kind(self.redact(message), *args)

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, body: dict):
        return self.request("POST", path, body)

    def request(self, method: str, path: str, body: dict | None = None, stop: threading.Event | None = None):
        """The answer's JSON. `stop`, when set (another request failed), ends the retries."""
        url = self.url(path)
        data = json.dumps(body).encode() if body is not None else None
        settings = self.settings
        last, wait = "", settings.backoff
        for attempt in range(settings.retries + 1):
            if attempt:
                self.pause(stop or self.cancelled, wait)
                wait = settings.backoff * 2 ** attempt
            if self.cancelled.is_set() or (stop is not None and stop.is_set()):
                raise Cancelled(f"{url}: stopped")
            try:
                with _OPENER.open(urllib.request.Request(url, data, self._headers, method=method),
                                  timeout=settings.timeout) as response:
                    payload = response.read()
                return parse_json(payload, url)
            except urllib.error.HTTPError as exc:
                with exc:
                    try:
                        payload = exc.read()
                    except (OSError, http.client.HTTPException):
                        payload = b""
                if 300 <= exc.code < 400:
                    raise self.error(ServerError, f"{url}: the server redirects (HTTP {exc.code}) to "
                                     f"{exc.headers.get('Location')}; set {SERVER_URL_ENV} to that address "
                                     "(redirects are not followed, so the key never goes elsewhere)") from None
                if exc.code == 429:
                    asked = retry_after(exc.headers.get("Retry-After"), time.time())
                    wait = asked if asked is not None else wait
                    last = "HTTP 429 (rate limited)"
                    continue
                if exc.code < 500:
                    raise self.refusal(url, exc.code, payload, path) from None
                last = f"HTTP {exc.code}"
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last = "timed out" if isinstance(reason, TimeoutError) else f"{type(reason).__name__}: {reason}"
        raise self.error(ServerError, f"{url}: no answer after {settings.retries + 1} tries (last: {one_line(last)})")

    @staticmethod
    def pause(stop: threading.Event, seconds: float) -> None:
        """The wait before a retry; it ends early when the work is stopped."""
        stop.wait(seconds)

    def refusal(self, url: str, status: int, payload: bytes, path: str) -> Refused:
        message, param = _refusal(url, status, payload)
        named = [name for name in self.extensions if name == param or name in message]
        if named:
            line = f"{url}: the server refused {named[0]!r} (HTTP {status}: {message}); {self.needs}"
        else:
            hint = " (does the URL end in /v1?)" if status == 404 and path == "/models" else ""
            line = f"{url}: the server refused the request (HTTP {status}: {message}){hint}"
        return self.error(Refused, line, status, self.redact(message), param)

    def post_all(self, path: str, bodies: list[dict], keep_refusals: bool = False) -> list:
        """Every body's answer, in order, with up to `concurrency` requests in flight. The
        first failure is raised at once; it, or an interrupt, stops the rest. With
        `keep_refusals`, a request the server refuses for what it holds (400, 413, 422: one
        prompt too long, or caught by a hosted API's content filter) gets its `Refused` in its
        place, and the rest go on; a refusal of the caller (401, 403, 404, ...) still stops all."""
        if not bodies:
            return []
        stop = threading.Event()
        pending = iter(range(len(bodies)))
        lock = threading.Lock()
        done: queue.SimpleQueue = queue.SimpleQueue()

        def kept(exc: BaseException) -> bool:
            return keep_refusals and isinstance(exc, Refused) and exc.status in REQUEST_REFUSALS

        def work() -> None:
            while not stop.is_set():
                with lock:
                    index = next(pending, None)
                if index is None:
                    return
                try:
                    done.put((index, self.request("POST", path, bodies[index], stop), None))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                    if not kept(exc):  # stop the others now, not when the caller's thread wakes
                        stop.set()
                    done.put((index, None, exc))

        for _ in range(min(self.settings.concurrency, len(bodies))):
            # daemon: a thread blocked on a slow answer must not keep an interrupted run alive
            threading.Thread(target=work, daemon=True).start()
        answers: list = [None] * len(bodies)
        try:
            for _ in bodies:
                index, answer, exc = done.get()
                if exc is not None and kept(exc):
                    answer = exc
                elif exc is not None:
                    raise exc
                answers[index] = answer
        except BaseException as exc:
            stop.set()
            if not isinstance(exc, Exception):  # an interrupt: this client sends nothing more
                self.cancelled.set()
            raise
        return answers

    def served_model(self) -> tuple[str, int | None]:
        """(the model to ask for, its context length when the server says): the one
        SHOPBENCH_SERVED_MODEL names, else the server's only model."""
        url = self.url("/models")
        listed = require(require(self.get("/models"), dict, url, "body").get("data"), list, url, "'data'")
        lengths = {}
        for i, entry in enumerate(listed):
            entry = require(entry, dict, url, f"'data[{i}]'")
            model_id = require(entry.get("id"), str, url, f"'data[{i}].id'")
            length = entry.get("max_model_len")
            lengths[model_id] = length if isinstance(length, int) and not isinstance(length, bool) and length > 0 else None
        wanted = self.settings.served_model
        if wanted is None:
            if len(lengths) != 1:
                raise self.error(ServerError, f"{self.settings.url}: the server serves {len(lengths)} models "
                                 f"({one_line(', '.join(lengths)) or 'none'}); set {SERVED_MODEL_ENV} to one")
            wanted = next(iter(lengths))
        elif wanted not in lengths and lengths:
            raise self.error(ServerError, f"{SERVED_MODEL_ENV}={wanted!r}: the server at {self.settings.url} "
                             f"serves {one_line(', '.join(lengths))}")
        return wanted, lengths.get(wanted)
