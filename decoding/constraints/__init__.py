"""Engine-independent decoding constraints: what each engine adapter must apply.

A `Constraint` is plain data: a hard mask of allowed token ids and/or an additive logit
bias, and a cap on new tokens. Token ids always come from scanning the tokenizer
(`Vocabulary.scan`), never from literals, so any tokenizer works. Each kind of constraint
lives in its own module, in the manner of NVIDIA's logits-processor-zoo:
`digits` (answers made of digits and commas), `prompt_tokens` (copy from the question),
`none_penalty` (no "None" answers).
"""
from __future__ import annotations

from dataclasses import dataclass, field

# End-of-turn and end-of-text markers of common chat templates; those the tokenizer has
# count as stops besides its eos token.
_TERMINATORS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "<end_of_turn>", "<|end|>", "</s>")
_LONGEST_INTERESTING_TOKEN = 8  # characters of a token string; digits, comma and "ĠNone" fit


@dataclass(frozen=True)
class Constraint:
    max_new_tokens: int
    allowed_token_ids: tuple[int, ...] | None = None  # None: every token allowed
    logit_bias: dict[int, float] = field(default_factory=dict)
    repetition_penalty: float = 1.0


@dataclass(frozen=True)
class TextConstraint:
    """The same constraint on the answer's text, for an engine that sees no tokens (a chat
    server): one of `choices`, or a full match of `pattern` (a regular expression), when the
    server applies them; the token budget and the repetition penalty as in `Constraint`."""

    max_new_tokens: int
    choices: tuple[str, ...] | None = None  # None: any text
    pattern: str | None = None  # None: any text
    repetition_penalty: float = 1.0


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """The token ids constraints are built from, found once per tokenizer. Compared and
    hashed as itself (constraints built from it are kept by it)."""

    digits: dict[str, tuple[int, ...]]  # "0".."9" -> ids whose text is exactly that digit
    commas: tuple[int, ...]  # ids whose text is exactly "," (",," and " ," are not)
    stops: tuple[int, ...]  # eos and end-of-turn ids
    nones: tuple[int, ...]  # ids whose text is "None" or "none", with any leading space
    specials: frozenset[int]  # special and added control tokens (chat template markers)

    @classmethod
    def scan(cls, tokenizer) -> "Vocabulary":
        digits: dict[str, list[int]] = {str(d): [] for d in range(10)}
        commas, nones = [], []
        specials = set(tokenizer.all_special_ids) | {
            i for i, token in tokenizer.added_tokens_decoder.items() if token.special
        }
        for token, token_id in tokenizer.get_vocab().items():
            if len(token) > _LONGEST_INTERESTING_TOKEN or token_id in specials:
                continue
            text = tokenizer.convert_tokens_to_string([token])
            if text in digits:
                digits[text].append(token_id)
            elif text == ",":
                commas.append(token_id)
            elif text.strip() in ("None", "none"):
                nones.append(token_id)
        vocab = tokenizer.get_vocab()
        stops = {tokenizer.eos_token_id} | {vocab[t] for t in _TERMINATORS if t in vocab and vocab[t] in specials}
        stops.discard(None)
        return cls(
            {d: tuple(sorted(ids)) for d, ids in digits.items()},
            tuple(sorted(commas)),
            tuple(sorted(stops)),
            tuple(sorted(nones)),
            frozenset(specials),
        )
