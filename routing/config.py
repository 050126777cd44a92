"""Decoding settings per profile, as plain data: the one place these numbers live."""
from __future__ import annotations

from dataclasses import dataclass, field

from shopbench import spec

# vLLM's GPU runner refuses more entries than this in allowed_token_ids or logit_bias.
TOKEN_LIST_CAP = 1024


@dataclass(frozen=True)
class DecodingConfig:
    # Upper bounds. Ranking and retrieval are tightened per question to the longest answer
    # the candidate list allows ("1,2,3,4,5" is 9 single-digit or comma tokens, then EOS).
    max_new_tokens: dict = field(
        default_factory=lambda: {
            spec.MULTIPLE_CHOICE: 1,
            spec.RANKING: 10,
            spec.RETRIEVAL: 9,
            spec.NER: 16,
            spec.GENERATION: 50,
        }
    )
    # NER profile: added to the logits of the question's own tokens, EOS and comma.
    prompt_token_bias: float = 1.0
    # NER profile: added to tokens spelling "None"/"none" (0 turns it off).
    none_penalty: float = -100.0
    # Multiple choice: allow only the digits of the listed options (else any digit).
    limit_choices_to_options: bool = True
    # Generation: once an answer passes this many words, cut it to whole sentences (0: off).
    generation_word_limit: int = 15
    repetition_penalty: float = 1.0
    temperature: float = 0.0  # greedy


DEFAULT = DecodingConfig()
