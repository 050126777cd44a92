"""The system prompt that names the task type, as the winning solution trained and served it."""
from __future__ import annotations

from shopbench import spec

SYSTEM_PROMPT = "You are a helpful online shopping assistant. Your task is {task}."

TASK_DESCRIPTIONS = {
    spec.MULTIPLE_CHOICE: "multiple-choice question answering",
    spec.RETRIEVAL: "retrieval",
    spec.RANKING: "ranking",
    spec.NER: "named entity recognition",
    spec.GENERATION: "generation",
}


def system_prompt(task_type: str) -> str:
    return SYSTEM_PROMPT.format(task=TASK_DESCRIPTIONS[task_type])
