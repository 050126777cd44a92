"""Decoding settings per profile, as plain data: the one place these numbers live.

Decoding is greedy in every engine, by design: the same model on the same data gives the
same answers on any machine, so there is no temperature to set. Engine limits (vLLM's
1024-entry token lists) belong to the engines (`Engine.token_list_cap`), not here."""
from __future__ import annotations

from dataclasses import dataclass, field

from shopbench import spec


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


DEFAULT = DecodingConfig()
