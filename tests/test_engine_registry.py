"""The engine registry (models/engines/registry.py) and the one never-raise wrapper
(models/engine_model.py): pure, no model loaded."""
import logging
import subprocess
import sys

import pytest

from models import settings as settings_module
from models.engine_model import EngineModel
from models.engines import registry
from shopbench.protocol import Answer
from models.settings import ModelSettings, ServerSettings
from shopbench import environment
from tests.conftest import ROOT


def test_importing_the_registry_and_the_settings_imports_no_engine_library():
    code = ("import sys, models.engines.registry, models.settings, models.engine_model; "
            "print(sorted(m for m in ('torch', 'vllm', 'transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("name", list(registry.ENGINES))
def test_every_engine_name_is_a_class_of_that_name(name):
    assert registry.engine_class(name).name == name
    assert registry.engine_class(name).__name__ == registry.ENGINES[name].class_name


def test_shopbench_engine_accepts_exactly_the_registered_engines():
    # the variable's values are declared below models/ (shopbench/ imports nothing from it)
    assert environment.ENGINES == tuple(registry.ENGINES)
    assert settings_module.SERVER_ENGINES == ("openai", "chat")


def test_an_unknown_engine_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown engine 'tgi' \(known: vllm, transformers, openai, chat\)"):
        registry.engine_class("tgi")


class Recorded:
    """Stands for an engine class: records what it was built with."""

    model = "served-model"

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


@pytest.mark.parametrize("name, expected", [
    ("transformers", lambda s: ((s.model_dir, s.max_model_len), {"dtype": s.transformers_dtype})),
    ("vllm", lambda s: ((s.model_dir, s.vllm, s.vllm_args), {})),
    ("openai", lambda s: ((s.model_dir, s.server), {})),
    ("chat", lambda s: ((s.server,), {})),
])
def test_the_settings_build_their_engine_with_its_own_arguments(monkeypatch, name, expected):
    monkeypatch.setattr(registry, "engine_class", lambda asked: Recorded if asked == name else None)
    settings = ModelSettings("/models/m", name, "test", max_model_len=1234, transformers_dtype="bfloat16",
                             vllm_args={"enforce_eager": True}, server=ServerSettings("http://127.0.0.1:9"))
    engine, model = registry.from_settings(settings)
    assert (engine.args, engine.kwargs) == expected(settings)
    assert model == ("served-model at http://127.0.0.1:9" if name in ("openai", "chat") else "/models/m")


class FakeEngine:
    name, tokenizer, max_model_len, token_list_cap = "fake", None, None, None


class Failing(EngineModel):
    FALLBACK = Answer("1", repaired=True, generated_tokens=0, failed=True)

    def answers(self, questions, is_multiple_choice):
        if questions == ["boom"] * len(questions):
            raise RuntimeError("CUDA out of memory")
        return [Answer(q.upper()) for q in questions]


@pytest.fixture
def failing():
    return Failing(ModelSettings(None, "chat", "test", batch_size=7), FakeEngine())


def test_a_batch_that_raises_gets_the_fallback_for_each_prompt(failing, caplog):
    with caplog.at_level(logging.ERROR, logger="shopbench.model"):
        answers = failing.batch_answer({"prompt": ["boom", "boom"]}, False)
    assert [a.text for a in answers] == ["1", "1"] and all(a.failed for a in answers)
    assert answers[0] is not answers[1] and answers[0] is not Failing.FALLBACK  # each its own record
    assert "Failing: batch of 2 prompts failed, answering each with '1'" in caplog.text
    assert "CUDA out of memory" in caplog.text
    assert failing.batch_predict({"prompt": ["boom"]}, True) == ["1"]


@pytest.mark.parametrize("batch", [None, [], {"prompts": ["a"]}, {"prompt": None}])
def test_a_batch_of_no_readable_prompts_gets_no_answers(failing, batch):
    assert failing.batch_answer(batch, False) == []


def test_the_wrapper_passes_answers_and_settings_through(failing):
    assert failing.batch_predict({"prompt": ["a", "b"]}, False) == ["A", "B"]
    assert failing.get_batch_size() == 7 and failing.description == "None with the fake engine"


def test_the_user_model_and_the_baselines_share_the_wrapper():
    from models.baselines import ZeroShotBaseline
    from models.shop_model import ShopModel

    for model in (ShopModel, ZeroShotBaseline):
        assert issubclass(model, EngineModel) and model.batch_answer is EngineModel.batch_answer
    assert (ShopModel.FALLBACK.text, ZeroShotBaseline.FALLBACK.text) == ("1", "")
