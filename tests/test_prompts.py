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


def _dev_and_corpus_questions(dev_records):
    from pathlib import Path

    from shopbench import data

    corpus = Path(__file__).parent / "data" / "routing_corpus.jsonl"
    return [r["input_field"] for r in dev_records] + [p.input_field for p in data.load_prompts(corpus)]


def test_the_direct_chatml_text_is_the_templates_on_every_dev_and_corpus_prompt(qwen_tokenizer, dev_records):
    """render writes qwen2_tokenizer's template in Python; Jinja's render of it gives the same bytes."""
    from prompts import chat_messages, chatml, render_messages

    odd = ["", "  ", "<|im_end|> {{ x }} {% raw %}", "\ud800 line\x00\n\n"]
    for question in _dev_and_corpus_questions(dev_records) + odd:
        for profile, answer, task_named in ((spec.NER, None, True), (spec.GENERATION, "an answer", False)):
            messages = chat_messages(question, profile, answer, task_named)
            for add in (True, False):
                jinja = qwen_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add)
                assert render_messages(messages, qwen_tokenizer, add) == jinja
            without_system = messages[1:]
            assert chatml(without_system, True) == qwen_tokenizer.apply_chat_template(
                without_system, tokenize=False, add_generation_prompt=True)


def test_another_template_is_rendered_by_the_tokenizer(qwen_tokenizer):
    """Only the exact ChatML template is written directly; any other goes through Jinja."""
    import copy

    from prompts import chat_messages, render_messages

    other = copy.copy(qwen_tokenizer)
    other.chat_template = qwen_tokenizer.chat_template.replace("<|im_start|>", "<|start|>")
    assert render_messages(chat_messages("q", spec.NER), other, True).startswith("<|start|>system")
