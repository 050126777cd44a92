"""Decoding settings per profile, as plain data: the one place these numbers live.

Decoding is greedy in every engine, by design: the same model on the same data gives the
same answers on any machine, so there is no temperature to set. Engine limits (vLLM's
1024-entry token lists) belong to the engines (`Engine.token_list_cap`), not here.

Every field can be set without code through SHOPBENCH_DECODING, a JSON object read by
`with_overrides` (unknown names and wrong types refused), and each run records the whole
configuration in its results. The switches at the end turn a piece of the pipeline off, so
each piece's worth can be measured (`benchmarks/ablation.py`).

It lives in shopbench/, the bottom layer, beside the other plain data (spec.py): the decoding
layer reads it, and so do the model's settings and the report, which says which settings a
run changed from these defaults."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from shopbench import jsonsafe, spec
from shopbench.environment import DECODING_ENV

_TOKEN_COUNTS = ("title_max_new_tokens",)  # integer settings that are new-token counts (0 would decode nothing)


@dataclass(frozen=True)
class DecodingConfig:
    # New tokens per profile. Ranking and retrieval use these only when the prompt has no
    # candidate list; with one, the longest answer it allows (one token per digit and comma,
    # then EOS). Without a list: "1,2,3,4,5" then EOS for a ranking, three two-digit numbers
    # ("13,14,15") then EOS for retrieval.
    max_new_tokens: dict = field(
        default_factory=lambda: {
            spec.MULTIPLE_CHOICE: 1,
            spec.RANKING: 2 * spec.RANKING_LIMIT,
            spec.RETRIEVAL: 3 * spec.RETRIEVAL_READS,
            spec.NER: 16,
            spec.GENERATION: 50,
        }
    )
    # Generation asking for a title or a translation: room for a whole product title in
    # another language or script (Japanese takes about twice the tokens of English).
    title_max_new_tokens: int = 100
    # NER profile: added to the logits of the question's own tokens, EOS and comma.
    prompt_token_bias: float = 1.0
    # NER profile: added to tokens spelling "None"/"none" (0 turns it off).
    none_penalty: float = -100.0
    # Multiple choice: allow only the digits of the listed options (else any digit).
    limit_choices_to_options: bool = True
    # Generation: once an answer passes this many words, cut it to whole sentences (0: off).
    generation_word_limit: int = 15
    # Both engines apply it to every request (1.0: off). Qwen2's generation_config carries
    # 1.05, which newer vLLM would otherwise apply by default. Away from 1.0 the engines stop
    # agreeing token for token: transformers counts a batch's left padding as seen tokens.
    repetition_penalty: float = 1.0
    # The pipeline's pieces, each on by default.
    task_system_prompt: bool = True  # the system prompt names the task (else a generic one)
    chat_template: bool = True  # the tokenizer's chat template (else system text and question as raw text)
    masks: bool = True  # digit masks for multiple choice, ranking and retrieval
    repair: bool = True  # rebuild answers the official parser would not read
    cut_repetition: bool = True  # generation: cut a phrase repeated over and over to one copy
    spans_from_sentences: bool = True  # NER: a sentence is reduced to the spans it takes from the question
    titles: bool = True  # titles and translations: room, kept whole, the given title when one fails

    def to_json(self) -> dict:
        return asdict(self)

    def longest_answer(self) -> int:
        """The most new tokens any request may get: it must leave room for a prompt."""
        return max(*self.max_new_tokens.values(), self.title_max_new_tokens)

    def with_overrides(self, overrides: dict, source: str = DECODING_ENV) -> "DecodingConfig":
        """This configuration with `overrides` (field name -> value) over it; `max_new_tokens`
        may name only some profiles. One-line errors name the source and the field."""
        if not isinstance(overrides, dict):
            raise ValueError(f"{source} must be a JSON object of decoding settings, got {jsonsafe.kind(overrides)}")
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ValueError(f"{source}: unknown setting {', '.join(map(repr, unknown))} "
                             f"(known: {', '.join(known)})")
        changes = {}
        for name, value in overrides.items():
            current = getattr(self, name)
            if name == "max_new_tokens":
                value = _max_new_tokens(current, value, source)
            elif isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{source}: {name} must be true or false, got {value!r}")
            elif isinstance(current, int):
                least = 1 if name in _TOKEN_COUNTS else 0
                if isinstance(value, bool) or not isinstance(value, int) or value < least:
                    raise ValueError(f"{source}: {name} must be a whole number >= {least}, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{source}: {name} must be a finite number, got {value!r}")
            elif name == "repetition_penalty" and value <= 0:
                raise ValueError(f"{source}: repetition_penalty must be above 0 (1.0: off), got {value!r}")
            else:
                value = float(value)
            changes[name] = value
        return replace(self, **changes)


def _max_new_tokens(current: dict, value, source: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{source}: max_new_tokens must be an object of profile -> tokens, got {value!r}")
    for profile, tokens in value.items():
        if profile not in current:
            raise ValueError(f"{source}: max_new_tokens has unknown profile {profile!r} (known: {', '.join(current)})")
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
            raise ValueError(f"{source}: max_new_tokens[{profile!r}] must be a whole number >= 1, got {tokens!r}")
    return {**current, **value}


def from_text(text: str | None, source: str = DECODING_ENV) -> "DecodingConfig":
    """The default configuration with a JSON object of overrides (None or empty: none)."""
    if not text:
        return DEFAULT
    try:
        overrides = jsonsafe.loads(text, source, finite=False)  # with_overrides names a setting that is not finite
    except jsonsafe.NotJSON:
        raise ValueError(f"{source} must be a JSON object of decoding settings, got {text[:60]!r}") from None
    return DEFAULT.with_overrides(overrides, source)


DEFAULT = DecodingConfig()
