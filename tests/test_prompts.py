import pytest

from prompts import chat_messages, clean_question, render, system_prompt
from shopbench import spec


def test_system_prompt_names_each_task_type():
    assert system_prompt(spec.MULTIPLE_CHOICE) == (
        "You are a helpful online shopping assistant. Your task is multiple-choice question answering."
    )
    assert system_prompt(spec.NER).endswith("Your task is named entity recognition.")
    assert len({system_prompt(t) for t in spec.TASK_TYPES}) == len(spec.TASK_TYPES)
    with pytest.raises(KeyError):
        system_prompt("translation")


def test_question_is_cleaned():
    assert clean_question("  Which one? \n0. a  \n1. b\nAnswer: ") == "Which one?\n0. a\n1. b\nAnswer:"


def test_qwen2_chatml_rendering(qwen_tokenizer):
    question = "Which one? \n0. a\n1. b\nAnswer: "
    expected = (
        "<|im_start|>system\nYou are a helpful online shopping assistant. Your task is multiple-choice question answering.<|im_end|>\n"
        "<|im_start|>user\nWhich one?\n0. a\n1. b\nAnswer:<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert render(question, spec.MULTIPLE_CHOICE, qwen_tokenizer) == expected


def test_training_rendering_is_the_inference_prompt_plus_the_answer(qwen_tokenizer, dev_records):
    for record in dev_records[::10]:
        question, task_type = record["input_field"], record["task_type"]
        inference = render(question, task_type, qwen_tokenizer)
        training = render(question, task_type, qwen_tokenizer, answer="2")
        assert training.startswith(inference) and training[len(inference):].startswith("2<|im_end|>")
        assert [m["role"] for m in chat_messages(question, task_type, "2")] == ["system", "user", "assistant"]
