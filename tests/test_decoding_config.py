"""SHOPBENCH_DECODING: every decoding setting without code, refused by name when wrong,
and the pipeline switches reaching the prompt and the constraint."""
import json

import pytest

from shopbench import decoding_config
from shopbench.decoding_config import DEFAULT, DecodingConfig
from decoding.profiles import constraint_for
from prompts import render
from routing.classifier import TITLE, Route, classify
from shopbench import spec


def test_overrides_change_only_what_they_name():
    chosen = decoding_config.from_text(json.dumps(
        {"max_new_tokens": {"generation": 80}, "prompt_token_bias": 2, "repair": False, "generation_word_limit": 0}))
    assert chosen.max_new_tokens == {**DEFAULT.max_new_tokens, spec.GENERATION: 80}
    assert (chosen.prompt_token_bias, chosen.repair, chosen.generation_word_limit) == (2.0, False, 0)
    assert chosen.with_overrides({}) == chosen and decoding_config.from_text("") is DEFAULT
    assert DecodingConfig(**json.loads(json.dumps(chosen.to_json()))) == chosen  # the recorded form repeats the run


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"temperature": 0.7}', "unknown setting 'temperature'"),
        ("[1, 2]", "must be a JSON object"),
        ("max_new_tokens=5", "must be a JSON object"),
        ('{"repair": "no"}', "repair must be true or false"),
        ('{"generation_word_limit": 1.5}', "generation_word_limit must be a whole number"),
        ('{"max_new_tokens": {"summary": 5}}', "unknown profile 'summary'"),
        ('{"max_new_tokens": {"generation": 0}}', "max_new_tokens\\['generation'\\] must be a whole number >= 1"),
        ('{"none_penalty": NaN}', "none_penalty must be a finite number"),
        ('{"repetition_penalty": 0}', "repetition_penalty must be above 0"),
    ],
)
def test_bad_overrides_are_one_line_naming_the_setting(text, message):
    with pytest.raises(ValueError, match=f"SHOPBENCH_DECODING.*{message}"):
        decoding_config.from_text(text)


def test_the_environment_sets_the_models_decoding(monkeypatch):
    from models import settings

    monkeypatch.delenv("SHOPBENCH_MODEL_DIR", raising=False)
    monkeypatch.delenv("SHOPBENCH_ENGINE", raising=False)
    monkeypatch.setenv("SHOPBENCH_DECODING", '{"masks": false}')
    assert settings.from_environment().decoding == DecodingConfig(masks=False)
    monkeypatch.setenv("SHOPBENCH_DECODING", '{"mask": false}')
    with pytest.raises(ValueError, match="SHOPBENCH_DECODING: unknown setting 'mask'"):
        settings.from_environment()


def test_switches_reach_the_prompt_and_the_constraint(qwen_tokenizer, qwen_vocabulary):
    question = "Which one?\n0. a\n1. b\nAnswer:"
    generic = render(question, spec.MULTIPLE_CHOICE, qwen_tokenizer, task_named=False)
    assert "Your task is" not in generic and "<|im_start|>system\nYou are a helpful online shopping assistant." in generic
    raw = render(question, spec.MULTIPLE_CHOICE, qwen_tokenizer, chat_template=False)
    assert raw == "You are a helpful online shopping assistant. Your task is multiple-choice question answering.\n\n" + question
    route = classify(question, True)
    masked = constraint_for(route, question, qwen_tokenizer, qwen_vocabulary)
    free = constraint_for(route, question, qwen_tokenizer, qwen_vocabulary, DecodingConfig(masks=False))
    assert masked.allowed_token_ids and free.allowed_token_ids is None
    assert free.max_new_tokens == masked.max_new_tokens  # only what may be said is freed
    ner = Route(spec.NER, spec.NER)
    no_copy = constraint_for(ner, "Query: red shoes\nOutput:", qwen_tokenizer, qwen_vocabulary,
                             DecodingConfig(prompt_token_bias=0.0))
    assert set(no_copy.logit_bias.values()) == {DEFAULT.none_penalty}  # the None penalty alone stays


def test_titles_get_their_own_room(qwen_tokenizer, qwen_vocabulary):
    prose = constraint_for(Route(spec.GENERATION, spec.GENERATION), "q", qwen_tokenizer, qwen_vocabulary)
    title = constraint_for(Route(spec.GENERATION, TITLE), "q", qwen_tokenizer, qwen_vocabulary,
                           DecodingConfig(title_max_new_tokens=120))
    assert (prose.max_new_tokens, title.max_new_tokens) == (DEFAULT.max_new_tokens[spec.GENERATION], 120)
