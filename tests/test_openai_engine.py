"""The openai engine: what it sends, how it retries and refuses (against a fake server that
fails on purpose), and that vLLM's own server gives the answers of the in-process engine."""
import shutil

import pytest

from decoding.constraints import Constraint
from models import settings as settings_module
from models.engines import Request
from models.engines import registry
from models.engines.openai_engine import ServerError, completion_body
from models.settings import ServerSettings
from tests.conftest import tiny_shop_model
from tests.fake_server import PREFERRED, FakeServer, Script
from tests.tiny_models import qwen_tokenizer_dir
from tests.validity import is_valid

KEY = "sk-test-0123456789abcdef"


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qwen-tokenizer")
    for path in qwen_tokenizer_dir().iterdir():
        shutil.copy2(path, folder / path.name)
    return str(folder)


def engine_for(url, tokenizer_dir, **changes):
    return registry.build("openai", tokenizer_dir, ServerSettings(url, **{"backoff": 0.0, "api_key": KEY, **changes}))


def test_requests_carry_prompt_ids_and_the_constraint_as_token_lists(tokenizer_dir, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    script = Script(stop_after=2)
    with FakeServer(script) as url:
        engine = engine_for(url, tokenizer_dir, seed=7)
        constraint = Constraint(5, allowed_token_ids=(15, 16, 17), logit_bias={16: 250.0, 17: -300.0},
                                repetition_penalty=1.0)
        generated = engine.generate([Request([1, 2, 3], constraint, (151645,))])
    body = script.bodies[-1]
    assert (engine.model, engine.max_model_len) == ("fake-model", 2048)
    assert body["prompt"] == [1, 2, 3] and body["max_tokens"] == 5 and body["model"] == "fake-model"
    assert body["allowed_token_ids"] == [15, 16, 17]
    assert body["logit_bias"] == {"16": 100.0, "17": -100.0}  # clamped to what OpenAI's API takes
    assert (body["temperature"], body["seed"], body["repetition_penalty"]) == (0.0, 7, 1.0)
    assert (body["ignore_eos"], body["stop_token_ids"], body["return_token_ids"]) == (True, [151645], True)
    assert script.headers[-1]["Authorization"] == f"Bearer {KEY}"
    # the stop the server sent back is cut, and the text decoded here
    assert generated[0].token_ids == [16, 16] and generated[0].text == engine.tokenizer.decode([16, 16])


def test_no_body_exceeds_the_token_list_cap():
    with pytest.raises(ValueError, match="allowed_token_ids has 1025 entries"):
        completion_body("m", Request([1], Constraint(1, allowed_token_ids=tuple(range(1025))), ()), 0)


def test_retries_after_5xx_and_dropped_connections(tokenizer_dir):
    script = Script()
    with FakeServer(script) as url:
        engine = engine_for(url, tokenizer_dir, retries=2)
        sent = len(script.bodies)
        script.actions = ["503", "drop", "ok"]
        generated = engine.generate([Request([1, 2], Constraint(3), ())])
    assert len(script.bodies) - sent == 3
    assert generated[0].token_ids == [PREFERRED] * 3


def test_a_server_that_never_answers_in_time_is_an_error_after_the_retries(tokenizer_dir, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    script = Script(slow_seconds=1.0)
    with FakeServer(script) as url:
        engine = engine_for(url, tokenizer_dir, retries=1, timeout=0.2)
        sent = len(script.bodies)
        script.actions = ["slow"] * 10
        with pytest.raises(ServerError, match=r"no answer after 2 tries \(last: timed out\)") as raised:
            engine.generate([Request([1, 2], Constraint(3), ())])
    assert len(script.bodies) - sent == 2
    assert KEY not in str(raised.value)


def test_a_redirect_is_refused_so_the_key_goes_nowhere_else(tokenizer_dir, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    script = Script()
    with FakeServer(script) as url:
        engine = engine_for(url, tokenizer_dir)
        script.actions = ["redirect"]
        with pytest.raises(ServerError, match="redirects \\(HTTP 307\\) to http://elsewhere.example") as raised:
            engine.generate([Request([1, 2], Constraint(3), ())])
    assert KEY not in str(raised.value)


@pytest.mark.parametrize("parameter", ["allowed_token_ids", "logit_bias"])
def test_a_refused_parameter_is_named_at_start(tokenizer_dir, parameter):
    with FakeServer(Script(refuse=(parameter,))) as url:
        with pytest.raises(ServerError, match=f"the server refused '{parameter}' .*HTTP 400"):
            engine_for(url, tokenizer_dir)


@pytest.mark.parametrize("parameter", ["allowed_token_ids", "logit_bias"])
def test_a_silently_ignored_parameter_is_caught_at_start(tokenizer_dir, parameter):
    with FakeServer(Script(ignore=(parameter,))) as url:
        with pytest.raises(ServerError, match=f"the server ignored '{parameter}'"):
            engine_for(url, tokenizer_dir)


def test_the_served_model_is_the_only_one_or_the_one_named(tokenizer_dir):
    with FakeServer(Script(models=("a", "b"))) as url:
        with pytest.raises(ServerError, match="serves 2 models \\(a, b\\); set SHOPBENCH_SERVED_MODEL"):
            engine_for(url, tokenizer_dir)
        with pytest.raises(ServerError, match="SHOPBENCH_SERVED_MODEL='c'.*serves a, b"):
            engine_for(url, tokenizer_dir, served_model="c")
        assert engine_for(url, tokenizer_dir, served_model="b").model == "b"
    with FakeServer(Script()) as url:
        with pytest.raises(ServerError, match="HTTP 404.*does the URL end in /v1"):
            engine_for(url.removesuffix("/v1"), tokenizer_dir)


def test_requests_go_out_together_up_to_the_concurrency(tokenizer_dir):
    script = Script(delay=0.3)
    with FakeServer(script) as url:
        engine = engine_for(url, tokenizer_dir, concurrency=3)
        script.most_in_flight = 0
        generated = engine.generate([Request([1, i], Constraint(2), ()) for i in range(2, 10)])
    assert len(generated) == 8 and 2 <= script.most_in_flight <= 3


def test_a_failing_server_still_gets_every_question_a_valid_answer(tokenizer_dir, dev_records):
    script = Script()
    with FakeServer(script) as url:
        engine = engine_for(url, tokenizer_dir, retries=0)
        script.actions = ["503"] * 1000
        model = tiny_shop_model(engine)
        records = dev_records[::6]
        answers = model.batch_answer({"prompt": [r["input_field"] for r in records]}, False)
    assert len(answers) == len(records) and all(a.generated_tokens == 0 and a.repaired for a in answers)
    assert all(is_valid(r["task_type"], a.text) for r, a in zip(records, answers) if not r["is_multiple_choice"])


def test_server_settings_from_the_environment(monkeypatch):
    for name in ("SHOPBENCH_MODEL_DIR", "SHOPBENCH_SERVED_MODEL", "SHOPBENCH_SERVER_CONCURRENCY",
                 "SHOPBENCH_SERVER_TIMEOUT", "SHOPBENCH_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHOPBENCH_ENGINE", "openai")
    with pytest.raises(ValueError, match="SHOPBENCH_SERVER_URL must be the server's base URL"):
        settings_module.from_environment()
    monkeypatch.setenv("SHOPBENCH_SERVER_URL", "localhost:8000")
    with pytest.raises(ValueError, match="SHOPBENCH_SERVER_URL"):
        settings_module.from_environment()
    monkeypatch.setenv("SHOPBENCH_SERVER_URL", "http://127.0.0.1:8000/v1/")
    chosen = settings_module.from_environment()
    assert chosen.engine == "openai" and chosen.server == ServerSettings("http://127.0.0.1:8000/v1")
    assert "server at http://127.0.0.1:8000/v1" in chosen.reason and not chosen.time_guard
    for name, bad in (("SHOPBENCH_SERVER_CONCURRENCY", "0"), ("SHOPBENCH_SERVER_CONCURRENCY", "many"),
                      ("SHOPBENCH_SERVER_TIMEOUT", "-5"), ("SHOPBENCH_SERVER_TIMEOUT", "nan")):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValueError, match=name):
            settings_module.from_environment()
        monkeypatch.delenv(name)


@pytest.mark.engine
def test_vllm_server_gives_the_in_process_answers(vllm_server, vllm_engine, tiny_qwen2, dev_records):
    served = registry.build("openai", str(tiny_qwen2), ServerSettings(vllm_server))
    assert served.max_model_len == vllm_engine.max_model_len
    ours, theirs = [], []
    for flag in (True, False):  # as the evaluator sends them: one flag per batch
        prompts = [r["input_field"] for r in dev_records if r["is_multiple_choice"] == flag]
        ours += tiny_shop_model(served).batch_answer({"prompt": prompts}, flag)
        theirs += tiny_shop_model(vllm_engine).batch_answer({"prompt": prompts}, flag)
    differing = [(i, a.text, b.text) for i, (a, b) in enumerate(zip(ours, theirs)) if a.text != b.text]
    assert len(ours) == len(dev_records) and len(differing) <= 2, differing
    assert sum(a.generated_tokens for a in ours) > 300  # generation ran for real
    # a request the server refuses (here: longer than its context) is an error saying why
    with pytest.raises(ServerError, match="refused the request \\(HTTP 400: .*"):
        served.generate([Request([15] * 5000, Constraint(3), ())])


def test_a_server_that_refuses_is_one_line_from_the_tools(tokenizer_dir, monkeypatch, capsys, tmp_path):
    import local_evaluation

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("SHOPBENCH_ENGINE", "openai")
    monkeypatch.setenv("SHOPBENCH_MODEL_DIR", str(tmp_path / "model"))
    shutil.copytree(tokenizer_dir, tmp_path / "model")
    (tmp_path / "model" / "config.json").write_text("{}")
    with FakeServer(Script(refuse=("allowed_token_ids",))) as url:
        monkeypatch.setenv("SHOPBENCH_SERVER_URL", url)
        assert local_evaluation.main(["--limit", "2", "--output", str(tmp_path / "r.json"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "the server refused 'allowed_token_ids'" in err and "Traceback" not in err and KEY not in err
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("action, field", [("empty", "'choices' is empty"), ("strings", "'choices\\[0\\]' is a string"),
                                           ("list", "body is a list")])
def test_a_generation_of_the_wrong_shape_is_an_engine_failure_naming_the_field(tokenizer_dir, action, field):
    script = Script()
    with FakeServer(script) as url:
        engine = engine_for(url, tokenizer_dir)
        script.actions = [action]
        with pytest.raises(ServerError, match=f"^{url}/completions: the answer's {field}"):
            engine.generate([Request([1, 2], Constraint(3), ())])


def test_a_200_without_choices_is_logged_as_an_engine_failure_not_a_quiet_fallback(tokenizer_dir, dev_records, caplog):
    script = Script()
    with FakeServer(script) as url:
        model = tiny_shop_model(engine_for(url, tokenizer_dir))
        script.otherwise = "empty"
        answers = model.batch_answer({"prompt": [dev_records[0]["input_field"]]}, dev_records[0]["is_multiple_choice"])
    assert answers[0].repaired and answers[0].generated_tokens == 0
    assert "engine failed" in caplog.text and "'choices' is empty" in caplog.text


def test_a_probe_of_the_wrong_shape_is_refused_at_start(tokenizer_dir):
    with FakeServer(Script(actions=["strings"])) as url:
        with pytest.raises(ServerError, match="'choices\\[0\\]' is a string, expected an object"):
            engine_for(url, tokenizer_dir)
    with FakeServer(Script(models_answer={"data": [{"id": ["fake-model"]}]})) as url:
        with pytest.raises(ServerError, match="'data\\[0\\].id' is a list"):
            engine_for(url, tokenizer_dir)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["openai", "chat"])
def test_ctrl_c_ends_a_run_at_once_sending_nothing_more(tokenizer_dir, tmp_path, engine):
    """An interrupt while requests hang on a slow server: the run ends at once with status 130
    and one line, no traceback, no output file, and no request reaches the server after it.
    Both server engines start with two probes, which the fake answers."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from shopbench.spec import ROOT

    model_dir = tmp_path / "model"
    shutil.copytree(tokenizer_dir, model_dir)
    (model_dir / "config.json").write_text("{}")
    output = tmp_path / "results.json"
    script = Script(actions=["ok", "ok"], otherwise="slow", slow_seconds=600)  # the probes answer, then nothing
    with FakeServer(script) as url:
        env = {**os.environ, "SHOPBENCH_ENGINE": engine, "SHOPBENCH_MODEL_DIR": str(model_dir),
               "SHOPBENCH_SERVER_URL": url, "OPENAI_API_KEY": KEY, "SHOPBENCH_SERVER_TIMEOUT": "900"}
        run = subprocess.Popen([sys.executable, "local_evaluation.py", "--limit", "12", "--output", str(output),
                                "--no-progress"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        try:
            seen, still = 0, 0
            while still < 10:  # generation requests arrived, and no more for a second
                assert run.poll() is None, run.communicate()
                time.sleep(0.1)
                still = still + 1 if len(script.bodies) == seen and seen > 2 else 0
                seen = len(script.bodies)
            run.send_signal(signal.SIGINT)
            out, err = run.communicate(timeout=15)
        finally:
            run.kill()
        after = len(script.bodies)
    assert run.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "interrupted", err
    assert KEY not in err + out and not output.exists()
    assert after == seen  # nothing retried or sent after the interrupt
