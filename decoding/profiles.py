"""Every decoding profile, in one registry: what the system prompt names, the token budget,
the constraint (as token ids for an engine with our tokenizer, as text for a chat server)
and the repair of the answers.

A route names its profile (`Route.profile`: a task type's, or TITLE); every step of the
UserModel looks it up here, so a new kind of answer is one `Profile` given to `register`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from prompts import TASK_DESCRIPTIONS, clean_question
from routing.classifier import TITLE, Route
from decoding import repair as repairs
from shopbench.decoding_config import DEFAULT, DecodingConfig
from decoding.constraints import Constraint, TextConstraint, Vocabulary, digits, prompt_tokens
from decoding.repair import Repaired
from shopbench import parsers, spec


@dataclass(frozen=True)
class Profile:
    name: str  # as routes and results name it
    task_type: str  # the official type whose answers it decodes (whose parser reads them)
    system_prompt: str  # the task the system prompt names (a key of prompts.TASK_DESCRIPTIONS)
    # (route, prompt, response cut as the parser cuts it, config) -> the answer to return
    repair: Callable[[Route, str, str, DecodingConfig], Repaired]
    # New tokens (a list profile's own count when its prompt has no list)
    max_new_tokens: Callable[[DecodingConfig], int]
    # (route, question, tokenizer, vocabulary, config, token_list_cap) -> the engine's constraint,
    # token_list_cap being the most entries the engine takes in a token list (None: no limit).
    # None: any text within max_new_tokens.
    constraint: Callable[..., Constraint] | None = None
    # (route, config) -> the same as text, for a chat server. None: any text within max_new_tokens.
    text_constraint: Callable[[Route, DecodingConfig], TextConstraint] | None = None
    # A DecodingConfig switch (an ablation) which, when off, decodes and repairs the profile's
    # routes as the `otherwise` profile's.
    switch: str | None = None
    otherwise: str | None = None


def _configured(name: str) -> Callable[[DecodingConfig], int]:
    return lambda config: config.max_new_tokens[name]


def _title_budget(config: DecodingConfig) -> int:
    return config.title_max_new_tokens


def _multiple_choice(route, question, tokenizer, vocabulary, config, token_list_cap) -> Constraint:
    return digits.multiple_choice(route, vocabulary, config)


def _number_list(shape: digits.NumberList) -> tuple[Callable[..., Constraint], Callable[..., TextConstraint]]:
    """A list profile's constraint, with token ids and as text."""
    return (lambda route, question, tokenizer, vocabulary, config, cap: digits.number_list(route, vocabulary, config, shape),
            lambda route, config: digits.number_list_text(route, config, shape))


def _copy_from_question(route, question, tokenizer, vocabulary, config, token_list_cap) -> Constraint:
    return prompt_tokens.copy_from_question(clean_question(question), tokenizer, vocabulary, config, token_list_cap)


PROFILES: dict[str, Profile] = {}


def register(profile: Profile) -> Profile:
    """Adds a profile to the registry; a name is registered once, after its `otherwise`."""
    if profile.name in PROFILES:
        raise ValueError(f"decoding profile {profile.name!r} is already registered")
    if profile.system_prompt not in TASK_DESCRIPTIONS:
        raise ValueError(f"decoding profile {profile.name!r}: no system prompt names the task {profile.system_prompt!r} "
                         f"(known: {', '.join(TASK_DESCRIPTIONS)})")
    if (profile.switch is None) != (profile.otherwise is None) or profile.otherwise not in (None, *PROFILES):
        raise ValueError(f"decoding profile {profile.name!r}: a switch comes with a registered otherwise profile")
    PROFILES[profile.name] = profile
    return profile


for _profile in (
    Profile(spec.MULTIPLE_CHOICE, spec.MULTIPLE_CHOICE, spec.MULTIPLE_CHOICE, repairs.repair_multiple_choice,
            _configured(spec.MULTIPLE_CHOICE), _multiple_choice, digits.multiple_choice_text),
    Profile(spec.RANKING, spec.RANKING, spec.RANKING, repairs.repair_ranking,
            _configured(spec.RANKING), *_number_list(digits.RANKED)),
    Profile(spec.RETRIEVAL, spec.RETRIEVAL, spec.RETRIEVAL, repairs.repair_retrieval,
            _configured(spec.RETRIEVAL), *_number_list(digits.RETRIEVED)),
    # Copied from the question: its bias needs token ids, so a chat server gets free text.
    Profile(spec.NER, spec.NER, spec.NER, repairs.repair_entities, _configured(spec.NER), _copy_from_question),
    Profile(spec.GENERATION, spec.GENERATION, spec.GENERATION, repairs.repair_prose, _configured(spec.GENERATION)),
    # Titles and translations: room for a whole product title in another language or script,
    # kept whole; decoded as any generation when the `titles` switch is off.
    Profile(TITLE, spec.GENERATION, spec.GENERATION, repairs.repair_title, _title_budget,
            switch="titles", otherwise=spec.GENERATION),
):
    register(_profile)


def _resolved(name: str, config: DecodingConfig) -> Profile:
    profile = PROFILES[name]
    while profile.switch is not None and not getattr(config, profile.switch):
        profile = PROFILES[profile.otherwise]
    return profile


def profile_of(route: Route, config: DecodingConfig = DEFAULT) -> Profile:
    """The profile a route decodes under with this configuration."""
    return _resolved(route.profile, config)


def constraint_for(
    route: Route, question: str, tokenizer, vocabulary: Vocabulary, config: DecodingConfig = DEFAULT,
    token_list_cap: int | None = None,
) -> Constraint:
    """`token_list_cap`: the most entries the engine takes in a token list (None: no limit)."""
    profile = profile_of(route, config)
    if profile.constraint is None:
        constraint = Constraint(profile.max_new_tokens(config))
    else:
        constraint = profile.constraint(route, question, tokenizer, vocabulary, config, token_list_cap)
    if not config.masks and constraint.allowed_token_ids is not None:  # the lengths stay: only what may be said is freed
        constraint = replace(constraint, allowed_token_ids=None)
    return _with_penalty(constraint, config)


def _with_penalty(constraint: Constraint | TextConstraint, config: DecodingConfig) -> Constraint | TextConstraint:
    """`constraint` with the configured repetition penalty; the same object when it has it
    already (`replace` costs more than building most constraints)."""
    if constraint.repetition_penalty == config.repetition_penalty:
        return constraint
    return replace(constraint, repetition_penalty=config.repetition_penalty)


def text_constraint_for(route: Route, config: DecodingConfig = DEFAULT) -> TextConstraint:
    """The constraint as text, for an engine without our tokenizer (a chat server): the same
    token budgets; multiple choice one of its options, ranking and retrieval numbers from the
    candidate list, comma-separated. NER and generation are free text."""
    profile = profile_of(route, config)
    if profile.text_constraint is None:
        constraint = TextConstraint(profile.max_new_tokens(config))
    else:
        constraint = profile.text_constraint(route, config)
    if not config.masks:
        constraint = replace(constraint, choices=None, pattern=None)
    return _with_penalty(constraint, config)


def repair(route: Route, prompt: str, response: str, config: DecodingConfig = DEFAULT) -> Repaired:
    """The answer to return for what the model said: repaired as the answers of the route's
    task type are, since its parser reads them. A route decoded under another type's profile
    (extractive generation decodes as NER) is repaired by its own type's profile."""
    profile = profile_of(route, config)
    if profile.task_type != route.task_type:
        profile = _resolved(route.task_type, config)
    return profile.repair(route, prompt, parsers.cut(response), config)
