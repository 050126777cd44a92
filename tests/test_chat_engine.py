"""SHOPBENCH_ENGINE=chat: any model behind an OpenAI-compatible chat API. What it sends (the
turns `prompts` renders, greedy, the seed, each profile's budget), which answer constraints it
finds the server applying and uses, the token usage it sums, against a fake server that fails
on purpose and against vLLM's own CPU server."""
import json
import re

import pytest

import prompts
from shopbench.decoding_config import DecodingConfig
from decoding.constraints import TextConstraint
from decoding.profiles import constraint_for, text_constraint_for
from models.baselines import KitBaseline
from models.engines import ChatRequest
from models.engines import registry
from models.engines.chat_engine import chat_body
from models.engines.http_client import ServerError
from models.settings import ModelSettings, ServerSettings
from models.shop_model import ShopModel
from routing.classifier import Route, classify
from shopbench import spec
from tests.fake_server import FakeServer, Script, first_match
from tests.validity import is_valid

KEY = "sk-chat-0123456789"
ALL_FORMS = {"choice": "structured_outputs", "regex": "structured_outputs"}


def chat_engine(url, **changes):
    return registry.build("chat", ServerSettings(url, **{"backoff": 0.0, "api_key": KEY, "seed": 11, **changes}))


def chat_model(engine, **decoding):
    return ShopModel(ModelSettings(None, "chat", "test", decoding=DecodingConfig(**decoding)), engine=engine)


def routed(records):
    return [(r, classify(r["input_field"], r["is_multiple_choice"])) for r in records]


def test_text_constraints_keep_the_token_budgets_and_allow_exactly_the_answer_shapes(dev_records, qwen_tokenizer,
                                                                                     qwen_vocabulary):
    for record, route in routed(dev_records):
        text = text_constraint_for(route)
        tokens = constraint_for(route, record["input_field"], qwen_tokenizer, qwen_vocabulary)
        assert text.max_new_tokens == tokens.max_new_tokens  # one budget per profile, whatever the engine
        if route.profile == spec.MULTIPLE_CHOICE:
            assert text.choices == tuple(map(str, route.choices)) and text.pattern is None
        elif route.profile in (spec.RANKING, spec.RETRIEVAL):
            count = len(route.candidates) if route.profile == spec.RANKING else route.answer_count
            numbers = [str(n) for n in route.candidates]
            assert re.fullmatch(text.pattern, ",".join(numbers[-count:]))
            assert not re.fullmatch(text.pattern, ",".join(numbers[-count:] + numbers[:1]))  # one too many
            assert not re.fullmatch(text.pattern, ",".join(["99"] + numbers[: count - 1]))  # not a candidate
            assert not re.fullmatch(text.pattern, " ".join(numbers[-count:]))
        else:
            assert text.choices is None and text.pattern is None
    free = text_constraint_for(classify(dev_records[0]["input_field"], True), DecodingConfig(masks=False))
    assert free.choices is None and free.pattern is None and free.max_new_tokens == 1


def test_multiple_choice_without_its_options_limited_allows_any_digit_or_two(qwen_tokenizer, qwen_vocabulary):
    """With `limit_choices_to_options` off: one digit of any value for single-digit options,
    one or two digits (in two tokens) where an option is 10 or more; the same shapes as token ids."""
    unlimited = DecodingConfig(limit_choices_to_options=False)
    single = Route(spec.MULTIPLE_CHOICE, spec.MULTIPLE_CHOICE, (1, 2, 3, 4), 1, (1, 2, 3, 4))
    double = Route(spec.MULTIPLE_CHOICE, spec.MULTIPLE_CHOICE, tuple(range(1, 13)), 1, tuple(range(1, 13)))
    assert (text_constraint_for(single, unlimited).pattern, text_constraint_for(single, unlimited).max_new_tokens) == ("[0-9]", 1)
    assert (text_constraint_for(double, unlimited).pattern, text_constraint_for(double, unlimited).max_new_tokens) == ("[0-9]{1,2}", 2)
    for route in (single, double):
        tokens = constraint_for(route, "q", qwen_tokenizer, qwen_vocabulary, unlimited)
        assert len(tokens.allowed_token_ids) == 10 + len(qwen_vocabulary.stops)
        assert tokens.max_new_tokens == text_constraint_for(route, unlimited).max_new_tokens
    limited = constraint_for(double, "q", qwen_tokenizer, qwen_vocabulary)  # options of two digits: any digit
    assert {qwen_tokenizer.decode([i]) for i in limited.allowed_token_ids} - {"<|endoftext|>", "<|im_end|>"} == set("0123456789")
    assert constraint_for(single, "q", qwen_tokenizer, qwen_vocabulary) is constraint_for(single, "", qwen_tokenizer, qwen_vocabulary)


def test_a_request_is_the_rendered_turns_greedy_with_the_seed_and_the_budget(dev_records):
    record = next(r for r in dev_records if r["task_type"] == spec.MULTIPLE_CHOICE)
    route = classify(record["input_field"], record["is_multiple_choice"])
    request = ChatRequest(prompts.server_messages(record["input_field"], spec.MULTIPLE_CHOICE), text_constraint_for(route))
    body = chat_body("m", request, 11, ALL_FORMS)
    assert body["messages"] == prompts.chat_messages(record["input_field"], spec.MULTIPLE_CHOICE)
    assert (body["model"], body["temperature"], body["seed"], body["max_tokens"]) == ("m", 0.0, 11, 1)
    assert body["structured_outputs"] == {"choice": list(map(str, route.choices))}
    assert "repetition_penalty" not in body  # an extension, sent only when it is not 1.0
    unconstrained = chat_body("m", request, 11, {"choice": None, "regex": None})
    assert set(unconstrained) == {"model", "messages", "max_tokens", "temperature", "seed"}
    as_regex = chat_body("m", request, 11, {"choice": None, "regex": "sglang"})
    assert re.fullmatch(as_regex["regex"], "1") and not re.fullmatch(as_regex["regex"], "12")
    raw = prompts.server_messages("Q?", spec.GENERATION, chat_template=False)
    assert raw == ({"role": "user", "content": prompts.render("Q?", spec.GENERATION, None, chat_template=False)},)


@pytest.mark.parametrize("forms, refuse, found", [
    (("structured_outputs",), (), ALL_FORMS),
    (("guided",), (), {"choice": "guided", "regex": "guided"}),
    (("sglang",), (), {"choice": None, "regex": "sglang"}),
    (("structured_outputs", "guided"), ("structured_outputs",), {"choice": "guided", "regex": "guided"}),
    ((), (), {"choice": None, "regex": None}),  # a server that ignores every form (a hosted API)
    ((), ("structured_outputs", "guided_choice", "guided_regex", "regex"), {"choice": None, "regex": None}),
])
def test_the_probes_find_the_constraint_forms_the_server_applies(forms, refuse, found):
    with FakeServer(Script(chat_forms=forms, refuse=refuse)) as url:
        engine = chat_engine(url)
    assert engine.constraints == found and engine.model == "fake-model" and engine.max_model_len == 2048


def test_the_user_model_over_a_chat_server_answers_every_question_validly(dev_records, capsys):
    script = Script()
    with FakeServer(script) as url:
        model = chat_model(chat_engine(url))
        probes = len(script.bodies)
        answers = []
        for flag in (True, False):
            records = [r for r in dev_records if r["is_multiple_choice"] == flag]
            answers += zip(records, model.batch_answer({"prompt": [r["input_field"] for r in records]}, flag))
    assert len(answers) == len(dev_records)
    assert all(is_valid(r["task_type"], a.text) for r, a in answers), [a.text for r, a in answers if not is_valid(r["task_type"], a.text)]
    sent = script.bodies[probes:]
    multiple_choice = [b for b in sent if "choice" in b.get("structured_outputs", {})]
    lists = [b for b in sent if "regex" in b.get("structured_outputs", {})]
    counts = {t: sum(r["task_type"] == t for r in dev_records) for t in spec.TASK_TYPES}
    assert len(multiple_choice) == counts[spec.MULTIPLE_CHOICE]
    assert len(lists) == counts[spec.RANKING] + counts[spec.RETRIEVAL]
    # answers constrained by the server are its answers, not repairs
    for record, answer in answers:
        if record["task_type"] == spec.MULTIPLE_CHOICE:
            assert not answer.repaired
    usage = [a.usage for _, a in answers]
    assert all(u is not None for u in usage)
    assert sum(u.prompt_tokens for u in usage) == sum(sum(len(m["content"]) for m in b["messages"]) for b in sent)
    assert model.run_settings["server_constraints"] == ALL_FORMS


def test_without_constraints_answers_rely_on_repair(dev_records):
    with FakeServer(Script(chat_forms=())) as url:
        model = chat_model(chat_engine(url))
        answers = []
        for task_type in (spec.MULTIPLE_CHOICE, spec.RANKING):
            records = [r for r in dev_records if r["task_type"] == task_type][:3]
            answers += zip(records, model.batch_answer({"prompt": [r["input_field"] for r in records]},
                                                       task_type == spec.MULTIPLE_CHOICE))
    assert model.run_settings["server_constraints"] == {"choice": None, "regex": None}
    assert all(a.repaired and is_valid(r["task_type"], a.text) for r, a in answers)


@pytest.mark.parametrize("actions", [["429", "ok"], ["503", "drop", "ok"]])
def test_transient_failures_are_retried_and_answered(actions, dev_records):
    script = Script(retry_after="0")
    with FakeServer(script) as url:
        engine = chat_engine(url, retries=3)
        request = ChatRequest(({"role": "user", "content": "Q"},), TextConstraint(5))
        script.actions = list(actions)
        generated = engine.generate([request])
    assert generated[0].text == "I thi" and generated[0].usage.completion_tokens == 5


@pytest.mark.parametrize("action, field", [("empty", "'choices' is empty"), ("strings", "'choices\\[0\\]' is a string"),
                                           ("list", "body is a list"), ("not-json", "not valid JSON"), ("deep", "nested more than")])
def test_an_answer_of_the_wrong_shape_is_an_engine_failure_naming_the_field(action, field, dev_records, caplog):
    script = Script()
    with FakeServer(script) as url:
        engine = chat_engine(url)
        script.actions = [action]
        with pytest.raises(ServerError, match=f"^{url}/chat/completions: .*{field}"):
            engine.generate([ChatRequest(({"role": "user", "content": "Q"},), TextConstraint(5))])
        script.otherwise = action
        answers = chat_model(engine).batch_answer({"prompt": [dev_records[0]["input_field"]]}, True)
    assert answers[0].failed and answers[0].repaired and answers[0].usage is None and "engine failed" in caplog.text


def test_a_chat_answer_of_the_wrong_inner_shape_is_named(dev_records):
    with FakeServer(Script()) as url:
        engine = chat_engine(url)
    for answer, field in (({"choices": [{"message": "7"}]}, "'choices\\[0\\].message' is a string"),
                          ({"choices": [{"message": {"content": ["7"]}}]}, "'choices\\[0\\].message.content' is a list"),
                          ({"choices": [{"message": {"content": "7"}}], "usage": {"prompt_tokens": "3"}},
                           "'usage.prompt_tokens' is a string")):
        from models.engines.chat_engine import read_answer

        with pytest.raises(ServerError, match=field):
            read_answer(answer, url)
    assert engine.constraints == ALL_FORMS


def test_a_refusal_and_an_echoed_key_are_one_line_without_the_key():
    script = Script()
    with FakeServer(script) as url:
        engine = chat_engine(url)
        script.actions = ["echo"]
        with pytest.raises(ServerError) as raised:
            engine.generate([ChatRequest(({"role": "user", "content": "Q"},), TextConstraint(5))])
    assert "HTTP 401" in str(raised.value) and KEY.lower() not in str(raised.value).lower()
    assert script.headers[-1]["Authorization"] == f"Bearer {KEY}"


def test_the_kit_baseline_sends_its_prompt_text_as_the_user_turn(dev_records):
    script = Script(chat_forms=())
    with FakeServer(script) as url:
        engine = chat_engine(url)
        probes = len(script.bodies)
        baseline = KitBaseline(ModelSettings(None, "chat", "test"), engine=engine)
        answers = baseline.batch_answer({"prompt": [dev_records[0]["input_field"]]}, True)
    body = script.bodies[probes]
    assert body["messages"] == [{"role": "user", "content": baseline.recipe.system_text + dev_records[0]["input_field"]}]
    assert body["max_tokens"] == 1 and "structured_outputs" not in body and "server_constraints" not in baseline.run_settings
    assert answers[0].text == "I" and answers[0].usage.completion_tokens == 1


def test_local_evaluation_records_the_engine_its_constraints_and_the_token_usage(monkeypatch, tmp_path, capsys):
    import local_evaluation

    for name in ("SHOPBENCH_MODEL_DIR", "SHOPBENCH_SERVED_MODEL", "SHOPBENCH_DECODING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHOPBENCH_ENGINE", "chat")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    output = tmp_path / "r.json"
    with FakeServer(Script()) as url:
        monkeypatch.setenv("SHOPBENCH_SERVER_URL", url)
        assert local_evaluation.main(["--limit", "12", "--output", str(output), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    results = json.loads(output.read_text())
    generation = results["generation"]
    assert generation["settings"]["model"] == f"fake-model at {url} with the chat engine"
    assert generation["settings"]["server_constraints"] == ALL_FORMS
    usage = generation["token_usage"]
    assert usage["answers"] == 12 and usage["prompt_tokens"] > 1000 and usage["completion_tokens"] > 0
    assert "Server constraints applied: choice (structured_outputs), regex (structured_outputs)" in out
    assert f"Token usage: {usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion tokens" in out
    assert "answer constraints the server applies: choice (structured_outputs)" in err and KEY not in out + err


def test_the_fake_servers_regex_follower(dev_records):
    """The fake's answers under a regex are matches of it (else the tests above prove nothing)."""
    for record, route in routed(dev_records):
        pattern = text_constraint_for(route).pattern
        if pattern:
            assert re.fullmatch(pattern, first_match(pattern))


@pytest.mark.engine
def test_vllm_server_applies_the_constraints_and_every_answer_is_valid(vllm_server, dev_records):
    engine = registry.build("chat", ServerSettings(vllm_server))
    assert engine.constraints == ALL_FORMS  # vLLM 0.32 applies structured_outputs choice and regex
    model = chat_model(engine)
    answers = []
    for flag in (True, False):
        records = [r for r in dev_records if r["is_multiple_choice"] == flag]
        answers += zip(records, model.batch_answer({"prompt": [r["input_field"] for r in records]}, flag))
    invalid = [(r["task_type"], a.text) for r, a in answers if not is_valid(r["task_type"], a.text)]
    assert len(answers) == len(dev_records) and not invalid, invalid
    assert all(a.usage and a.usage.prompt_tokens > 0 for _, a in answers)
    # the server's own answers obey the constraints: multiple choice needs no repair, and every
    # ranking and retrieval answer matches its pattern (repair may still drop a repeated number)
    assert not [a.text for r, a in answers if r["task_type"] == spec.MULTIPLE_CHOICE and a.repaired]
    lists = [(r["input_field"], route) for r, route in routed(dev_records) if route.profile in (spec.RANKING, spec.RETRIEVAL)]
    requests = [model.build_request(question, route) for question, route in lists]
    generated = engine.generate(requests)
    assert len(lists) > 10 and all(re.fullmatch(q.constraint.pattern, g.text) for q, g in zip(requests, generated)), \
        [(q.constraint.pattern, g.text) for q, g in zip(requests, generated)]


def test_a_question_the_server_refuses_costs_only_itself(dev_records, caplog):
    """Without a tokenizer, a prompt too long for the server is found there: its question is
    marked failed and repaired, the rest of the batch is answered."""
    script = Script()
    with FakeServer(script) as url:
        engine = chat_engine(url, concurrency=1)
        requests = [ChatRequest(({"role": "user", "content": f"Q{i}"},), TextConstraint(3)) for i in range(3)]
        script.actions = ["ok", "400", "ok"]
        generated = engine.generate(requests)
        assert [g and g.text for g in generated] == ["I t", None, "I t"]
        script.actions = ["400"]
        records = [r for r in dev_records if r["task_type"] == spec.MULTIPLE_CHOICE][:3]
        answers = chat_model(engine).batch_answer({"prompt": [r["input_field"] for r in records]}, True)
    assert [a.failed for a in answers].count(True) == 1 and all(is_valid(spec.MULTIPLE_CHOICE, a.text) for a in answers)
    assert "maximum context length is 2048 tokens" in caplog.text and "engine failed" not in caplog.text


def test_predict_timing_and_the_ablation_run_over_a_chat_server(monkeypatch, tmp_path, capsys):
    import run
    from benchmarks import ablation

    for name in ("SHOPBENCH_MODEL_DIR", "SHOPBENCH_SERVED_MODEL", "SHOPBENCH_DECODING", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHOPBENCH_ENGINE", "chat")
    script = Script()
    with FakeServer(script) as url:
        monkeypatch.setenv("SHOPBENCH_SERVER_URL", url)
        predicted = tmp_path / "p.jsonl"
        assert run.main(["predict", "--limit", "6", "--output", str(predicted), "--no-progress"]) == 0
        assert run.main(["timing", "--track", "3", "--limit", "6", "--no-progress"]) == 0
        sent = len(script.bodies)
        assert ablation.main(["--limit", "6", "--replicates", "100", "--no-progress"]) == 0
    lines = [json.loads(line) for line in predicted.read_text().splitlines()]
    assert len(lines) == 6 and all(line["failed"] is False for line in lines)
    printed = capsys.readouterr().out
    assert "Token usage:" in printed and "projected total" in printed
    assert all(variant in printed for variant in [*ablation.VARIANTS, ablation.KIT])
    ablation_bodies = script.bodies[sent:]
    # "masks off" sends no constraint; the full pipeline does
    assert any("structured_outputs" in b for b in ablation_bodies)
    assert any("structured_outputs" not in b and b["max_tokens"] == 1 for b in ablation_bodies)
