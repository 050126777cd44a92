"""How a question becomes model input: the system prompt naming the task, the cleaned
question as the user turn, rendered with the tokenizer's chat template.

Inference, AWQ calibration and training data all go through `chat_messages`/`render`, so
the model is served exactly the text it was calibrated and trained on.
"""
from __future__ import annotations

import re

from prompts import qwen2_tokenizer
from shopbench import spec

SYSTEM_PROMPT = "You are a helpful online shopping assistant. Your task is {task}."
GENERIC_SYSTEM_PROMPT = "You are a helpful online shopping assistant."  # for ablations: the task unnamed

TASK_DESCRIPTIONS = {
    spec.MULTIPLE_CHOICE: "multiple-choice question answering",
    spec.RETRIEVAL: "retrieval",
    spec.RANKING: "ranking",
    spec.NER: "named entity recognition",
    spec.GENERATION: "generation",
}


_SYSTEM_PROMPTS = {task: SYSTEM_PROMPT.format(task=description) for task, description in TASK_DESCRIPTIONS.items()}


def system_prompt(task: str, task_named: bool = True) -> str:
    """The system prompt naming the task the model is to do: the one its route's decoding
    profile names (decoding/profiles.py: extractive generation is named as NER, since it
    decodes as NER; a title as generation)."""
    return _SYSTEM_PROMPTS[task] if task_named else GENERIC_SYSTEM_PROMPT


# Code points no tokenizer takes: lone surrogates (legal in JSON), NUL and the other C0
# controls but tab and newlines, and the noncharacters U+FFFE and U+FFFF.
_UNTOKENIZABLE = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def tokenizable(text: str) -> str:
    """The text with every code point a tokenizer would refuse replaced by a space."""
    return _UNTOKENIZABLE.sub(" ", text)


def clean_question(question: str) -> str:
    """ShopBench questions carry trailing spaces on many lines; they are dropped, and the
    question stripped, as the winning solution did in training and inference."""
    return (_TRAILING_SPACES.sub("\n", question) if " \n" in question else question).strip()


_TRAILING_SPACES = re.compile(r" +\n")


def chat_messages(question: str, task: str, answer: str | None = None, task_named: bool = True) -> list[dict]:
    """System and user turns, plus the assistant's answer when one is given (training)."""
    messages = [
        {"role": "system", "content": system_prompt(task, task_named)},
        {"role": "user", "content": clean_question(question)},
    ]
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return messages


def render(question: str, task: str, tokenizer, answer: str | None = None, *, task_named: bool = True,
           chat_template: bool = True) -> str:
    """The chat-template text. Without an answer it ends in the generation prompt
    (inference, calibration); with one it is the whole exchange (training). Without the
    template (an ablation): the system text, a blank line and the question, as raw text."""
    messages = chat_messages(question, task, answer, task_named)
    if not chat_template:
        return "\n\n".join(m["content"] for m in messages)
    return render_messages(messages, tokenizer, add_generation_prompt=answer is None)


def server_messages(question: str, task: str, *, task_named: bool = True, chat_template: bool = True) -> tuple[dict, ...]:
    """What a chat server is sent for `render`'s prompt: the same system and user turns, which
    the server puts through its own chat template. Without the template (an ablation) the
    raw text `render` gives goes as the one user turn: a chat server templates whatever it
    gets."""
    if not chat_template:
        return ({"role": "user", "content": render(question, task, None, task_named=task_named, chat_template=False)},)
    return tuple(chat_messages(question, task, task_named=task_named))


def render_messages(messages: list[dict], tokenizer, add_generation_prompt: bool) -> str:
    """Chat messages as the tokenizer's template writes them (fine-tuning renders export's
    records through this too, so it trains on the text inference sends). The ChatML template
    of `qwen2_tokenizer` is written directly: the same text, without a Jinja render per
    question (tests/test_prompts.py compares the two on every dev and corpus prompt)."""
    if getattr(tokenizer, "chat_template", None) == qwen2_tokenizer.QWEN2_CHAT_TEMPLATE:
        return chatml(messages, add_generation_prompt)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def chatml(messages: list[dict], add_generation_prompt: bool) -> str:
    """`qwen2_tokenizer.QWEN2_CHAT_TEMPLATE`'s text, written in Python."""
    head = "" if messages and messages[0]["role"] == "system" else _CHATML_DEFAULT_SYSTEM
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return head + turns + ("<|im_start|>assistant\n" if add_generation_prompt else "")


_CHATML_DEFAULT_SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"


def token_ids(rendered: str, tokenizer) -> list[int]:
    """The token ids of rendered text: the template already wrote every special token."""
    return tokenizer(rendered, add_special_tokens=False)["input_ids"]
