"""The constraint each profile decodes under."""
from __future__ import annotations

from prompts import clean_question
from routing.classifier import Route
from routing.config import DEFAULT, DecodingConfig
from routing.constraints import Constraint, Vocabulary, digits, prompt_tokens
from shopbench import spec


def constraint_for(
    route: Route, question: str, tokenizer, vocabulary: Vocabulary, config: DecodingConfig = DEFAULT
) -> Constraint:
    if route.profile == spec.MULTIPLE_CHOICE:
        return digits.multiple_choice(route, vocabulary, config)
    if route.profile in (spec.RANKING, spec.RETRIEVAL):
        return digits.number_list(route, vocabulary, config)
    if route.profile == spec.NER:
        return prompt_tokens.copy_from_question(clean_question(question), tokenizer, vocabulary, config)
    return Constraint(config.max_new_tokens[spec.GENERATION])
