"""The transport of the server engines (models/engines/http_client.py), against the fake
server failing on purpose: retries and their waits, Retry-After, refusals in one line,
answers of the wrong shape, secrets a server echoes, and settings refused before any request."""
import email.utils
import urllib.parse

import pytest

from models import settings as settings_module
from models.engines.http_client import (
    RETRY_AFTER_CAP, HttpClient, Redactor, Refused, ServerError, first_choice, retry_after,
)
from models.settings import ServerSettings
from tests.fake_server import FakeServer, Script

KEY = "sk-Test/0123+abc=def"  # a key whose URL-encoded form differs from it


class RecordingClient(HttpClient):
    """Waits nothing, and records each wait it was asked for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.waits = []

    def pause(self, stop, seconds):
        self.waits.append(seconds)


def client_for(url, **changes):
    return RecordingClient(ServerSettings(url, **{"backoff": 0.5, "api_key": KEY, **changes}))


BODY = {"model": "fake-model", "prompt": [1], "max_tokens": 1}


def test_retry_after_reads_seconds_and_http_dates_and_is_capped():
    now = 1_000_000.0
    assert retry_after("7", now) == 7.0 and retry_after(" 1.5 ", now) == 1.5
    assert retry_after(email.utils.formatdate(now + 12, usegmt=True), now) == pytest.approx(12.0)
    assert retry_after(email.utils.formatdate(now - 50, usegmt=True), now) == 0.0  # a date passed: at once
    assert retry_after("86400", now) == RETRY_AFTER_CAP
    assert retry_after(email.utils.formatdate(now + 10**6, usegmt=True), now) == RETRY_AFTER_CAP
    for unreadable in (None, "", "soon", "-3", "²", "1e9"):
        assert retry_after(unreadable, now) is None


@pytest.mark.parametrize("header, wait", [("3", 3.0), ("100000", RETRY_AFTER_CAP), (None, 0.5)])
def test_429_waits_what_retry_after_says_then_retries(header, wait):
    script = Script(actions=["429", "ok"], retry_after=header)
    with FakeServer(script) as url:
        client = client_for(url)
        answer = client.post("/completions", BODY)
    assert first_choice(answer, url)["token_ids"] == [15]
    assert len(script.bodies) == 2 and client.waits == [wait]  # no Retry-After: the back-off's first wait


def test_transient_failures_are_retried_with_doubling_waits():
    script = Script(actions=["503", "drop", "503", "ok"])
    with FakeServer(script) as url:
        client = client_for(url, retries=3)
        client.post("/completions", BODY)
    assert len(script.bodies) == 4 and client.waits == [0.5, 1.0, 2.0]


def test_after_the_retries_the_error_is_one_line_naming_the_url_and_the_last_failure():
    script = Script(otherwise="503")
    with FakeServer(script) as url:
        with pytest.raises(ServerError, match=rf"^{url}/completions: no answer after 3 tries \(last: HTTP 503\)$"):
            client_for(url, retries=2).post("/completions", BODY)
    assert len(script.bodies) == 3


def test_a_timeout_is_retried_then_named():
    script = Script(otherwise="slow", slow_seconds=1.0)
    with FakeServer(script) as url:
        with pytest.raises(ServerError, match=r"no answer after 2 tries \(last: timed out\)"):
            client_for(url, retries=1, timeout=0.2).post("/completions", BODY)
    assert len(script.bodies) == 2


def test_a_refusal_is_named_in_one_line_and_not_retried():
    script = Script(refuse=("max_tokens",))
    with FakeServer(script) as url:
        with pytest.raises(Refused) as raised:
            client_for(url).post("/completions", BODY)
    assert len(script.bodies) == 1 and "\n" not in str(raised.value)
    assert str(raised.value) == (f"{url}/completions: the server refused the request (HTTP 400: "
                                 "Unrecognized request argument supplied: max_tokens)")
    assert raised.value.status == 400


def secret_forms():
    return [KEY, KEY.upper(), KEY.lower(), urllib.parse.quote(KEY, safe=""), urllib.parse.quote_plus(KEY), "hunter2"]


def test_a_key_the_server_echoes_is_never_in_the_message():
    script = Script(actions=["echo"])
    with FakeServer(script) as url:
        with pytest.raises(Refused) as raised:
            client_for(url).post("/completions", BODY)
    message = str(raised.value)
    assert script.headers[0]["Authorization"] == f"Bearer {KEY}"  # the server did get the key
    assert "HTTP 401: invalid credentials" in message and "admin:" not in message
    assert not [form for form in secret_forms() if form.lower() in message.lower()], message
    assert raised.value.server_message.count("***") >= 4


def test_redaction_covers_every_form_of_the_key_and_any_url_credentials():
    redact = Redactor(KEY)
    text = (f"key {KEY} {KEY.upper()} {urllib.parse.quote(KEY, safe='')} {urllib.parse.quote_plus(KEY)} "
            f'{{"authorization": "Bearer other-token"}} AUTHORIZATION=basic dXNlcjpwYXNz '
            f"http://user:pa55@host:8000/v1 https://token@example.org/x")
    cleaned = redact(text)
    for secret in (*secret_forms()[:-1], "other-token", "dXNlcjpwYXNz", "pa55", "user:", "token@"):
        assert secret.lower() not in cleaned.lower(), (secret, cleaned)
    assert "http://***@host:8000/v1" in cleaned and "https://***@example.org/x" in cleaned
    assert Redactor(None)("nothing secret") == "nothing secret"


@pytest.mark.parametrize("action, field", [
    ("empty", "'choices' is empty"),
    ("strings", "'choices\\[0\\]' is a string, expected an object"),
    ("list", "body is a list, expected an object"),
    ("not-json", "the answer: not valid JSON"),
    ("deep", "the answer: nested more than 100 levels deep"),
])
def test_answers_of_the_wrong_shape_name_the_url_and_the_field(action, field):
    with FakeServer(Script(actions=[action])) as url:
        with pytest.raises(ServerError, match=f"^{url}/completions: .*{field}") as raised:
            first_choice(client_for(url).post("/completions", BODY), f"{url}/completions")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("listing, field", [
    ([], "body is a list, expected an object"),
    ({"data": 5}, "'data' is an integer, expected a list"),
    ({"object": "list"}, "'data' is missing or null, expected a list"),
    ({"data": ["m"]}, "'data\\[0\\]' is a string, expected an object"),
    ({"data": [{"id": ["m"]}]}, "'data\\[0\\].id' is a list, expected a string"),
])
def test_a_model_list_of_the_wrong_shape_names_the_url_and_the_field(listing, field):
    with FakeServer(Script(models_answer=listing)) as url:
        with pytest.raises(ServerError, match=f"^{url}/models: the answer's {field}$"):
            client_for(url).served_model()


def test_post_all_keeps_the_order_and_stops_at_the_first_failure():
    script = Script(delay=0.05)
    with FakeServer(script) as url:
        client = client_for(url, concurrency=2)
        bodies = [{**BODY, "max_tokens": n} for n in range(1, 6)]
        answers = client.post_all("/completions", bodies)
        assert [len(first_choice(a, url)["token_ids"]) for a in answers] == [1, 2, 3, 4, 5]
        script.bodies.clear()
        script.actions = ["not-json"]
        with pytest.raises(ServerError, match="not valid JSON"):
            client_for(url, concurrency=1).post_all("/completions", bodies)
    assert len(script.bodies) == 1  # one worker: nothing sent after the failure


def clear_server_environment(monkeypatch):
    for name in ("SHOPBENCH_SERVED_MODEL", "SHOPBENCH_SERVER_CONCURRENCY", "SHOPBENCH_SERVER_TIMEOUT",
                 "OPENAI_API_KEY", "AICROWD_RUN_SEED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHOPBENCH_SERVER_URL", "http://127.0.0.1:8000/v1")


@pytest.mark.parametrize("key, problem", [
    (KEY + "\n", "starts or ends with whitespace"),
    (" " + KEY, "starts or ends with whitespace"),
    (KEY[:5] + " " + KEY[5:], "holds a space or a control character"),
    (KEY[:5] + "\x07" + KEY[5:], "holds a space or a control character"),
    (KEY + "é", None),  # Latin-1 is what a header carries
    (KEY + "€", "holds a character outside Latin-1"),
    (KEY + "\u200b", "holds a space or a control character"),
])
def test_a_key_a_header_cannot_carry_is_refused_without_showing_it(monkeypatch, key, problem):
    clear_server_environment(monkeypatch)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    if problem is None:
        assert settings_module.server_settings().api_key == key
        return
    with pytest.raises(ValueError, match=f"^OPENAI_API_KEY {problem}") as raised:
        settings_module.server_settings()
    assert KEY[:8] not in str(raised.value) and "\n" not in str(raised.value)


def test_the_key_is_kept_out_of_printed_settings(monkeypatch):
    clear_server_environment(monkeypatch)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server = settings_module.server_settings()
    assert server.api_key == KEY and KEY not in repr(server) and server == ServerSettings("http://127.0.0.1:8000/v1")


@pytest.mark.parametrize("url, shown", [
    ("http://user:s3cret@127.0.0.1:8000/v1", "http://user:***@127.0.0.1:8000/v1"),
    ("https://:s3cret@api.example.org/v1", "https://:***@api.example.org/v1"),
    ("http://s3cret@127.0.0.1:8000/v1", "http://***@127.0.0.1:8000/v1"),  # a name alone may be a token
])
def test_a_url_with_credentials_is_refused_with_the_password_hidden(monkeypatch, url, shown):
    clear_server_environment(monkeypatch)
    monkeypatch.setenv("SHOPBENCH_SERVER_URL", url)
    with pytest.raises(ValueError) as raised:
        settings_module.server_settings()
    assert str(raised.value) == f"SHOPBENCH_SERVER_URL holds credentials ({shown}); give the key in OPENAI_API_KEY instead"
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize("url", ["localhost:8000", "ftp://127.0.0.1/v1", "http://", "http://127.0.0.1:port/v1"])
def test_a_url_that_is_no_server_address_is_refused(monkeypatch, url):
    clear_server_environment(monkeypatch)
    monkeypatch.setenv("SHOPBENCH_SERVER_URL", url)
    with pytest.raises(ValueError, match="^SHOPBENCH_SERVER_URL must be the server's base URL"):
        settings_module.server_settings()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:1/v1?api_key=s3cret", "http://127.0.0.1:8000/v1/?s3cret", "https://api.example.org/v1?a=1&key=s3cret",
    "http://127.0.0.1:8000/v1#s3cret", "http://user:pw@127.0.0.1:8000/v1?key=s3cret", "ftp://host/v1?key=s3cret",
])
def test_a_url_with_a_query_or_fragment_is_refused_without_its_values(monkeypatch, url):
    """A path is appended to the base URL (/models, /completions), so a query string would end
    up inside the path; and a key put there must not be printed."""
    clear_server_environment(monkeypatch)
    monkeypatch.setenv("SHOPBENCH_SERVER_URL", url)
    with pytest.raises(ValueError) as raised:
        settings_module.server_settings()
    message = str(raised.value)
    assert message.startswith("SHOPBENCH_SERVER_URL must be a base URL (scheme, host, port and a path such as /v1) without a query")
    assert "s3cret" not in message and "\n" not in message


@pytest.mark.parametrize("text, cleaned", [
    ("cannot reach http://h:1/v1?api_key=s3cret/models: refused", "cannot reach http://h:1/v1?api_key=***"),
    ("see https://h/v1?s3cret now", "see https://h/v1?*** now"),
    ('{"url": "http://h/x?a=s3cret&b=s3cret;c#top"}', '{"url": "http://h/x?a=***&b=***#top"}'),
    ("HTTP://U:s3cret@H/?Token=s3cret", "HTTP://***@H/?Token=***"),
])
def test_redaction_hides_every_query_value_of_any_url(text, cleaned):
    redacted = Redactor(None)(text)
    assert redacted.startswith(cleaned) and "s3cret" not in redacted, redacted
    assert Redactor(None)("a question? no url=here") == "a question? no url=here"
