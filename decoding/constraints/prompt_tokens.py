"""Copy from the question: a positive bias on the question's own tokens, EOS and comma.

Entities and extracted keyphrases are spans of the question, so nudging its tokens keeps
the answer inside it. Only the question's tokens are biased, never the chat template's
markers or the system prompt. An engine may take only so many bias entries (vLLM: 1024);
past its cap, tokens are kept by priority: stops and comma, the penalties, the subject text (the query, aspect or
title the question is about, as a word inside a sentence and on its own), then the rest of
the question in order of first appearance.
"""
from __future__ import annotations

import functools
import itertools

from routing import anatomy
from shopbench.decoding_config import DecodingConfig
from decoding.constraints import Constraint, Vocabulary, token_ids
from decoding.constraints.none_penalty import none_penalty
from shopbench import spec


@functools.lru_cache(maxsize=4096)  # a question's texts, tokenized once per tokenizer
def _token_ids(tokenizer, texts: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    return token_ids.encode_each(tokenizer, texts)


def copy_from_question(
    question: str, tokenizer, vocabulary: Vocabulary, config: DecodingConfig, cap: int | None = None
) -> Constraint:
    bias: dict[int, float] = {}
    for token_id in (*vocabulary.stops, *vocabulary.commas):
        bias[token_id] = config.prompt_token_bias
    penalties = none_penalty(vocabulary, config.none_penalty)
    bias.update(list(penalties.items())[: None if cap is None else max(0, cap - len(bias))])
    subject = anatomy.read(question).subject_text
    # The subject's ids, then the spaced subject's, then the question's: each id at its first
    # appearance, while the cap leaves room.
    ids = dict.fromkeys(itertools.chain.from_iterable(_token_ids(tokenizer, (subject, " " + subject, question))))
    fresh = [token_id for token_id in ids if token_id not in bias and token_id not in vocabulary.specials]
    bias.update(dict.fromkeys(fresh if cap is None else fresh[:max(0, cap - len(bias))], config.prompt_token_bias))
    # a bias of 0 (the copy bias switched off) is no entry at all; a penalty of 0 adds none
    kept = bias if config.prompt_token_bias else {token_id: value for token_id, value in bias.items() if value}
    return Constraint(config.max_new_tokens[spec.NER], None, kept)
