import json
import logging
from dataclasses import replace

import pytest

import prompts
from models import settings as settings_module
from routing.classifier import classify
from shopbench import parsers, spec
from tests.conftest import tiny_shop_model
from tests.paraphrases import PARAPHRASES
from tests.validity import is_valid

ODD_PROMPTS = ["", "   \n\t ", "日本語だけの質問です。答えてください。", "Ünïcödé ✓ 🚀 " * 40]


def mixed_batch(dev_records):
    by_type = {}
    for record in dev_records:
        by_type.setdefault(record["task_type"], []).append(record["input_field"])
    batch = [(t, prompts[i]) for t, prompts in by_type.items() for i in range(2)]
    batch += [(t, p) for p, flag, t, _ in PARAPHRASES if not flag][:2]
    batch += [(None, p) for p in ODD_PROMPTS]
    assert len(batch) == 16
    return batch


@pytest.mark.engine
def test_mixed_batch_of_every_type_gets_one_valid_answer_each(transformers_engine, dev_records):
    model = tiny_shop_model(transformers_engine)
    batch = mixed_batch(dev_records)
    answers = model.batch_answer({"prompt": [p for _, p in batch]}, False)
    assert len(answers) == 16
    for (task_type, prompt), answer in zip(batch, answers):
        if task_type in (None, spec.MULTIPLE_CHOICE):
            # odd prompts, and multiple-choice ones flagged False (the flag rules), are answered
            # in the shape of their route, which its parser reads as an answer
            assert answer.task_type == classify(prompt, False).task_type
            assert parsers.parse(answer.task_type, answer.text) not in (-1, [], ""), answer
        else:
            assert is_valid(task_type, answer.text), (task_type, answer)
    # the evaluator's flag: every answer of a multiple-choice batch is a digit
    texts = model.batch_predict({"prompt": [p for _, p in batch]}, True)
    assert all(is_valid(spec.MULTIPLE_CHOICE, t) for t in texts)


@pytest.mark.engine
def test_non_string_prompts_are_answered_as_empty_ones(transformers_engine):
    model = tiny_shop_model(transformers_engine)
    answers = model.batch_predict({"prompt": [None, 3]}, False)
    assert answers == model.batch_predict({"prompt": ["", ""]}, False)
    assert all(is_valid(classify("", False).task_type, t) for t in answers)


class ShortContext:
    """The tiny model behind a small context window."""

    def __init__(self, engine, max_model_len):
        self.engine, self.max_model_len = engine, max_model_len
        self.name, self.tokenizer, self.seen = engine.name, engine.tokenizer, []
        self.token_list_cap = engine.token_list_cap

    def generate(self, requests):
        self.seen.extend(requests)
        return self.engine.generate(requests)


@pytest.mark.engine
def test_long_prompts_are_shortened_to_fit_and_keep_their_options(transformers_engine, dev_records):
    engine = ShortContext(transformers_engine, 400)
    model = tiny_shop_model(engine)
    records = [r for r in dev_records if r["task_name"] in ("task13", "task14", "task16", "task6")]
    answers = model.batch_answer({"prompt": [r["input_field"] for r in records]}, False)
    assert all(len(r.prompt_token_ids) + r.constraint.max_new_tokens <= 400 for r in engine.seen)
    for record, answer, request in zip(records, answers, engine.seen):
        assert is_valid(record["task_type"], answer.text)
    decoded = [transformers_engine.tokenizer.decode(r.prompt_token_ids) for r in engine.seen]
    assert any(" … " in text for text in decoded)
    assert all("<|im_start|>assistant" in text for text in decoded)


class BrokenEngine(ShortContext):
    def generate(self, requests):
        raise RuntimeError("CUDA out of memory")


@pytest.mark.engine
def test_an_engine_failure_still_returns_valid_answers(transformers_engine, dev_records, caplog):
    model = tiny_shop_model(BrokenEngine(transformers_engine, 2048))
    records = dev_records[::8]
    with caplog.at_level(logging.ERROR, logger="shopbench.model"):
        answers = model.batch_answer({"prompt": [r["input_field"] for r in records]}, False)
    assert "CUDA out of memory" in caplog.text
    assert all(a.repaired and a.generated_tokens == 0 and a.failed for a in answers)
    assert all(is_valid(r["task_type"], a.text) for r, a in zip(records, answers) if r["task_type"] != spec.MULTIPLE_CHOICE)


def test_settings_from_the_environment(monkeypatch, tmp_path):
    for name in ("SHOPBENCH_MODEL_DIR", "SHOPBENCH_ENGINE", "SHOPBENCH_BATCH_SIZE"):
        monkeypatch.delenv(name, raising=False)
    served = replace(spec.TRACKS[0], weights_dir=str(tmp_path / "prod"))
    monkeypatch.setattr(settings_module, "served_track", lambda: served)
    monkeypatch.setattr(settings_module, "read_cpu_flags", lambda: frozenset())  # float32: the CPU settings as declared
    default = settings_module.from_environment()
    assert (default.model_dir, default.engine, default.batch_size, default.track) == (None, "transformers", 16, served)
    assert "no production weights" in default.reason
    (tmp_path / "prod").mkdir()
    (tmp_path / "prod" / "config.json").write_text("{}")
    production = settings_module.from_environment()
    # the production weights get the production settings, split over the competition's GPUs
    assert (production.engine, production.vllm) == ("vllm", settings_module.VllmSettings())
    assert production.vllm.tensor_parallel_size == spec.SUBMISSION_GPUS and production.vllm.quantization == "awq"
    assert default.vllm == settings_module.VLLM_ON_CPU
    # the time guard binds only where a time limit does: the production submission
    assert (default.time_guard, production.time_guard) == (False, True)
    monkeypatch.setenv("SHOPBENCH_TIME_GUARD", "off")
    assert not settings_module.from_environment().time_guard
    monkeypatch.setenv("SHOPBENCH_TIME_GUARD", "maybe")
    with pytest.raises(ValueError, match="SHOPBENCH_TIME_GUARD must be on or off"):
        settings_module.from_environment()
    monkeypatch.delenv("SHOPBENCH_TIME_GUARD")
    monkeypatch.setenv("SHOPBENCH_MODEL_DIR", str(tmp_path))  # no config.json: refused before any load
    with pytest.raises(ValueError, match="SHOPBENCH_MODEL_DIR .*: not a model folder"):
        settings_module.from_environment()
    monkeypatch.setenv("SHOPBENCH_MODEL_DIR", str(tmp_path / "prod"))
    monkeypatch.setenv("SHOPBENCH_ENGINE", "vllm")
    monkeypatch.setenv("SHOPBENCH_BATCH_SIZE", "4")
    chosen = settings_module.from_environment()
    assert (chosen.model_dir, chosen.engine, chosen.batch_size) == (str(tmp_path / "prod"), "vllm", 4)
    monkeypatch.setenv("SHOPBENCH_ENGINE", "onnx")
    with pytest.raises(ValueError, match="SHOPBENCH_ENGINE"):
        settings_module.from_environment()
    monkeypatch.setenv("SHOPBENCH_ENGINE", "vllm")
    monkeypatch.setenv("SHOPBENCH_BATCH_SIZE", "32")
    with pytest.raises(ValueError, match="SHOPBENCH_BATCH_SIZE"):
        settings_module.from_environment()
    monkeypatch.setenv("SHOPBENCH_BATCH_SIZE", "4")
    for bad in ("nan", "inf", "-1", "0", "soon"):  # a guard that would raise later or answer nothing
        monkeypatch.setenv("SHOPBENCH_SECONDS_PER_QUESTION", bad)
        with pytest.raises(ValueError, match="SHOPBENCH_SECONDS_PER_QUESTION must be a number from 0.001 to 600"):
            settings_module.from_environment()


def test_the_run_seed_reaches_the_engines(monkeypatch, tmp_path):
    for name in ("SHOPBENCH_MODEL_DIR", "SHOPBENCH_ENGINE", spec.SEED_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(settings_module, "read_cpu_flags", lambda: frozenset())
    monkeypatch.setattr(settings_module, "gpu_capabilities", lambda: ())
    assert settings_module.from_environment().vllm == settings_module.VLLM_ON_CPU  # default unchanged
    assert settings_module.VLLM_ON_CPU.seed == spec.DEFAULT_SEED
    monkeypatch.setenv(spec.SEED_ENV, "7")
    assert settings_module.from_environment().vllm.seed == 7
    monkeypatch.setenv("SHOPBENCH_ENGINE", "openai")
    monkeypatch.setenv("SHOPBENCH_SERVER_URL", "http://127.0.0.1:9/v1")
    assert settings_module.from_environment().server.seed == 7
    # from the command's --seed to the engine's settings
    import local_evaluation

    monkeypatch.delenv("SHOPBENCH_ENGINE")
    monkeypatch.delenv(spec.SEED_ENV)
    output = tmp_path / "results.json"
    argv = ["--seed", "11", "--limit", "2", "--model", "tests.models_for_tests:EngineSeedModel", "--no-progress",
            "--output", str(output)]
    assert local_evaluation.main(argv) == 0
    assert [s["response"] for s in json.loads(output.read_text())["samples"]] == ["11", "11"]


class Garbling(ShortContext):
    """An engine whose every answer ends inside a multi-byte character."""

    def generate(self, requests):
        return [replace(g, text=g.text + "\ufffd") for g in self.engine.generate(requests)]


@pytest.mark.engine
def test_prompts_no_tokenizer_takes_still_get_valid_answers(transformers_engine):
    odd = ["Query: red shoe \ud800\nBrand:", "nul\x00byte in a title", "\ufffe\uffff", "\ud83d" * 3, "😀" * 50]
    with pytest.raises(TypeError):  # a lone surrogate, legal in JSON, breaks the tokenizer
        transformers_engine.tokenizer(odd[0])
    model = tiny_shop_model(transformers_engine)
    answers = model.batch_answer({"prompt": odd}, False)
    # cleaned first, each one is decoded for real rather than given a fallback
    assert [a.guard for a in answers] == [None] * len(odd) and all(a.generated_tokens for a in answers)
    texts = model.batch_predict({"prompt": odd}, False)
    routes = [classify(prompts.tokenizable(p), False).task_type for p in odd]
    assert all(is_valid(r, t) and not t.endswith("\ufffd") for r, t in zip(routes, texts)), (routes, texts)


@pytest.mark.engine
def test_answers_never_end_in_a_broken_character(transformers_engine, dev_records):
    model = tiny_shop_model(Garbling(transformers_engine, 2048))
    free_text = [r["input_field"] for r in dev_records if r["task_type"] in (spec.GENERATION, spec.NER)][:6]
    assert not any(t.endswith("\ufffd") for t in model.batch_predict({"prompt": free_text}, False))


@pytest.mark.engine
def test_batch_predict_never_raises(transformers_engine, dev_records, monkeypatch):
    model = tiny_shop_model(transformers_engine)
    records = [r for r in dev_records if not r["is_multiple_choice"]][::6]
    batch = {"prompt": [r["input_field"] for r in records]}

    def broken(*args):
        raise RuntimeError("tokenizer exploded")

    assert not any(a.failed for a in model.batch_answer(batch, False))
    monkeypatch.setattr(model, "build_request", broken)  # one question's request: a repaired fallback
    answers = model.batch_answer(batch, False)
    assert all(a.repaired and a.failed and is_valid(r["task_type"], a.text) for r, a in zip(records, answers))
    monkeypatch.setattr(model, "answers", broken)  # anything else: "1", which every parser reads
    assert model.batch_predict(batch, False) == ["1"] * len(records)
    lost = model.batch_answer(batch, False)  # our tools' path too
    assert [a.text for a in lost] == ["1"] * len(records) and all(a.failed for a in lost)
    assert model.batch_predict({"prompt": "not a list"}, False) == []
    assert all(parsers.parse(task_type, "1") not in (-1, [], "") for task_type in spec.TASK_TYPES)


def test_gpu_defaults_follow_what_the_machine_reports(monkeypatch, tmp_path):
    two, t4s = ((8, 0), (8, 6)), ((7, 5),) * 4
    vllm, dtype, why = settings_module.engine_settings(two)
    assert (vllm.tensor_parallel_size, vllm.dtype, dtype, vllm.quantization) == (2, "bfloat16", "bfloat16", None)
    assert vllm.gpu_memory_utilization == settings_module.GPU_MEMORY_SHARE and "2 GPU(s)" in why
    vllm, dtype, _ = settings_module.engine_settings(t4s)  # no bfloat16 before compute capability 8
    assert (vllm.tensor_parallel_size, vllm.dtype, dtype) == (4, "float16", "float16")
    assert settings_module.engine_settings(t4s, attention_heads=14)[0].tensor_parallel_size == 2  # heads split evenly
    assert settings_module.engine_settings(t4s, attention_heads=9)[0].tensor_parallel_size == 3
    assert settings_module.engine_settings(t4s, attention_heads=7)[0].tensor_parallel_size == 1
    assert settings_module.engine_settings(()) == (settings_module.VLLM_ON_CPU, "float32", "no GPU visible: CPU settings")
    # from the environment: a model of one's own on a machine that reports two GPUs
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setattr(settings_module, "gpu_capabilities", lambda: two)
    monkeypatch.setenv("SHOPBENCH_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("SHOPBENCH_VLLM_ARGS", '{"gpu_memory_utilization": 0.5}')
    chosen = settings_module.from_environment()
    assert (chosen.vllm.tensor_parallel_size, chosen.transformers_dtype) == (2, "bfloat16")
    assert chosen.vllm_args == {"gpu_memory_utilization": 0.5} and "2 GPU(s)" in chosen.reason
    monkeypatch.setenv("SHOPBENCH_VLLM_ARGS", "[2]")
    with pytest.raises(ValueError, match="SHOPBENCH_VLLM_ARGS must be a JSON object"):
        settings_module.from_environment()


@pytest.mark.slow
def test_an_unknown_vllm_argument_is_refused_by_name_before_loading(tmp_path):
    from models.engines import registry

    with pytest.raises(ValueError, match="'tensor_paralel_size' is not a vllm.LLM argument"):
        registry.build("vllm", str(tmp_path / "no-model"), settings_module.VLLM_ON_CPU, {"tensor_paralel_size": 2})
