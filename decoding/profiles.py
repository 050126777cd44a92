"""The constraint each profile decodes under."""
from __future__ import annotations

from dataclasses import replace

from prompts import clean_question
from routing.classifier import Route
from shopbench.decoding_config import DEFAULT, DecodingConfig
from decoding.constraints import Constraint, TextConstraint, Vocabulary, digits, prompt_tokens
from shopbench import spec


def constraint_for(
    route: Route, question: str, tokenizer, vocabulary: Vocabulary, config: DecodingConfig = DEFAULT,
    token_list_cap: int | None = None,
) -> Constraint:
    """`token_list_cap`: the most entries the engine takes in a token list (None: no limit)."""
    if route.profile == spec.MULTIPLE_CHOICE:
        constraint = digits.multiple_choice(route, vocabulary, config)
    elif route.profile in (spec.RANKING, spec.RETRIEVAL):
        constraint = digits.number_list(route, vocabulary, config)
    elif route.profile == spec.NER:
        constraint = prompt_tokens.copy_from_question(clean_question(question), tokenizer, vocabulary, config,
                                                      token_list_cap)
    else:
        constraint = Constraint(generation_length(route, config))
    if not config.masks:  # the lengths stay: only what may be said is freed
        constraint = replace(constraint, allowed_token_ids=None)
    return replace(constraint, repetition_penalty=config.repetition_penalty)


def generation_length(route: Route, config: DecodingConfig) -> int:
    return config.title_max_new_tokens if route.title and config.titles else config.max_new_tokens[spec.GENERATION]


def text_constraint_for(route: Route, config: DecodingConfig = DEFAULT) -> TextConstraint:
    """The constraint as text, for an engine without our tokenizer (a chat server): the same
    token budgets; multiple choice one of its options, ranking and retrieval numbers from the
    candidate list, comma-separated. NER and generation are free text (their copy bias needs
    token ids)."""
    if route.profile == spec.MULTIPLE_CHOICE:
        constraint = digits.multiple_choice_text(route, config)
    elif route.profile in (spec.RANKING, spec.RETRIEVAL):
        constraint = digits.number_list_text(route, config)
    elif route.profile == spec.NER:
        constraint = TextConstraint(config.max_new_tokens[spec.NER])
    else:
        constraint = TextConstraint(generation_length(route, config))
    if not config.masks:
        constraint = replace(constraint, choices=None, pattern=None)
    return replace(constraint, repetition_penalty=config.repetition_penalty)
