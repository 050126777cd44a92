import pytest

from prompts import system_prompt
from shopbench import spec


def test_system_prompt_names_each_task_type():
    assert system_prompt(spec.MULTIPLE_CHOICE) == (
        "You are a helpful online shopping assistant. Your task is multiple-choice question answering."
    )
    assert system_prompt(spec.NER).endswith("Your task is named entity recognition.")
    assert len({system_prompt(t) for t in spec.TASK_TYPES}) == len(spec.TASK_TYPES)


def test_unknown_task_type_is_an_error():
    with pytest.raises(KeyError):
        system_prompt("translation")
