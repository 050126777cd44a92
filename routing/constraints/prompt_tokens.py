"""Copy from the question: a positive bias on the question's own tokens, EOS and comma.

Entities and extracted keyphrases are spans of the question, so nudging its tokens keeps
the answer inside it. Only the question's tokens are biased, never the chat template's
markers or the system prompt. vLLM takes at most 1024 bias entries; past that, tokens are
kept by priority: stops and comma, the penalties, the subject text (the query, aspect or
title the question is about, as a word inside a sentence and on its own), then the rest of
the question in order of first appearance.
"""
from __future__ import annotations

from routing import anatomy
from routing.config import TOKEN_LIST_CAP, DecodingConfig
from routing.constraints import Constraint, Vocabulary
from routing.constraints.none_penalty import none_penalty
from shopbench import spec


def _token_ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []


def copy_from_question(question: str, tokenizer, vocabulary: Vocabulary, config: DecodingConfig) -> Constraint:
    bias: dict[int, float] = {}

    def add(ids, value: float) -> None:
        for token_id in ids:
            if len(bias) >= TOKEN_LIST_CAP:
                return
            if token_id not in bias and token_id not in vocabulary.specials:
                bias[token_id] = value

    for token_id in (*vocabulary.stops, *vocabulary.commas):
        bias[token_id] = config.prompt_token_bias
    penalties = none_penalty(vocabulary, config.none_penalty)
    bias.update(list(penalties.items())[: TOKEN_LIST_CAP - len(bias)])
    subject = anatomy.subject_text(question)
    add(_token_ids(tokenizer, subject), config.prompt_token_bias)
    add(_token_ids(tokenizer, " " + subject), config.prompt_token_bias)
    add(_token_ids(tokenizer, question), config.prompt_token_bias)
    return Constraint(config.max_new_tokens[spec.NER], None, bias)
