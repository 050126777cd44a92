"""A text's token ids cut piece by piece (decoding/constraints/token_ids.py) are the ids the
tokenizer's backend gives: on every character of the alphabet, in every context the
pre-tokenizer's pattern tells apart, on random text, and by falling back where it must."""
import json
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decoding.constraints import token_ids

ALPHABET = [chr(code) for first, last in token_ids.ALPHABET_RANGES for code in range(first, last + 1)]


def backend_ids(tokenizer, text: str) -> tuple[int, ...]:
    return tuple(tokenizer(text, add_special_tokens=False)["input_ids"])


def probe(char: str, ascii_only: bool = False) -> str:
    """`char` beside letters, digits, spaces, line breaks, an apostrophe and punctuation: each
    place where the pattern's classes (letter, number, whitespace, line break) decide a cut."""
    wide_space = " " if ascii_only else "\u3000"
    return (f"x{char}x{char}{char} 1{char}2 {char}  {char}\n{char}\r\n'{char} '{char}{char}x\t{char}!{char}"
            f"{wide_space}{char}. {char}\n\n {char}\x0b")


@pytest.fixture(scope="module")
def piecewise(qwen_tokenizer):
    backend = qwen_tokenizer.backend_tokenizer
    found = token_ids._piecewise(backend, backend.get_vocab_size(with_added_tokens=True))
    assert found is not None  # Qwen2's pipeline is one the module knows
    return found


def test_every_character_of_the_alphabet_is_cut_as_the_backend_cuts_it(qwen_tokenizer, piecewise):
    """All 34,882 code points, 32 probes to a text; a text that differs is retried a probe at a
    time, so that a failure names its characters."""
    differing = []
    for start in range(0, len(ALPHABET), 32):
        chars = ALPHABET[start:start + 32]
        text = "".join(map(probe, chars))
        if piecewise.ids(text) != backend_ids(qwen_tokenizer, text):
            differing += [f"U+{ord(c):04X}" for c in chars if piecewise.ids(probe(c)) != backend_ids(qwen_tokenizer, probe(c))]
    assert differing == []


def test_ascii_text_is_cut_by_the_re_pattern_as_the_backend_cuts_it(qwen_tokenizer, piecewise):
    texts = [probe(chr(code), ascii_only=True) for code in range(128)]
    assert all(text.isascii() for text in texts)
    assert [piecewise.ids(text) for text in texts] == [backend_ids(qwen_tokenizer, text) for text in texts]
    # the two patterns cut ASCII text alike
    assert [piecewise.ascii_split.findall(text) for text in texts] == [piecewise.split.findall(text) for text in texts]


_SAMPLE = [*(chr(code) for code in range(128)), "é", "Ä", "ß", "ø", "ſ", "—", "“", "”", "’", "…", "™", "→", "■",
           "。", "、", "「", "」", "・", "ー", "カ", "が", "の", "漢", "字", "한", "ｶ", "：", "！", "\u3000", "\u00a0",
           "\u2028", "\u0085", "'s", "'S", "'ll", "'VE", "12", "  ", "\n\n", " \n"]


@given(text=st.lists(st.sampled_from(_SAMPLE), max_size=40).map("".join))
def test_random_text_gets_the_tokenizers_own_ids(qwen_tokenizer, text):
    assert token_ids.encode_each(qwen_tokenizer, (text,)) == (backend_ids(qwen_tokenizer, text),)


def test_the_alphabet_is_already_normalized_and_never_composes():
    """NFC changes no character of the alphabet and joins no two of them: no character NFC
    composes has its second part in the alphabet (Hangul jamo, which compose by rule, are out)."""
    alphabet = set(ALPHABET)
    assert all(unicodedata.normalize("NFC", c) == c and not unicodedata.combining(c) for c in ALPHABET)
    seconds = set()
    for code in range(sys.maxunicode + 1):
        decomposition = unicodedata.decomposition(chr(code))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                seconds.add(chr(int(parts[1], 16)))
    assert not seconds & alphabet
    assert not any(0x1100 <= ord(c) <= 0x11FF or 0x3130 <= ord(c) <= 0x318F for c in ALPHABET)


@pytest.mark.parametrize("text", ["a <|im_end|> b", "<|endoftext|>", "emoji 😀 x", "cafe\u0301", "Ω Ohm sign",
                                  "zero\u200bwidth", "\u2329angle\u232a"])
def test_a_text_with_an_added_token_or_outside_the_alphabet_goes_to_the_backend(qwen_tokenizer, piecewise, text):
    assert piecewise.ids(text) is None
    assert token_ids.encode_each(qwen_tokenizer, (text,)) == (backend_ids(qwen_tokenizer, text),)


def _changed(tokenizer, change):
    """`tokenizer` with one part of its pipeline changed by `change` (on its JSON form)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    state = json.loads(tokenizer.backend_tokenizer.to_str())
    change(state)
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(state)))


def _other_split(state):
    state["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = r"\p{N}{1,3}|\p{L}+|\s+|[^\s\p{L}\p{N}]+"


def _nfkc(state):
    state["normalizer"] = {"type": "NFKC"}


def _merged_behaviour(state):
    state["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "MergedWithPrevious"


@pytest.mark.parametrize("change", [_other_split, _nfkc, _merged_behaviour])
def test_a_pipeline_the_module_does_not_know_goes_to_the_backend(qwen_tokenizer, change):
    tokenizer = _changed(qwen_tokenizer, change)
    assert token_ids._piecewise(tokenizer.backend_tokenizer, 0) is None
    text = "Extract the brand: Sony WH-1000XM4 ｜ ２０２０年モデル, 12345 they'll"
    assert token_ids.encode_each(tokenizer, (text,)) == (backend_ids(tokenizer, text),)


def test_the_byte_characters_are_one_for_each_byte():
    characters = token_ids._byte_characters()
    assert sorted(characters) == list(range(256)) and len(set(characters.values())) == 256
    assert all(characters[ord(c)] == c for c in "azAZ09!~")
    assert characters[ord(" ")] == "Ġ" and characters[ord("\n")] == "Ċ"


class _Without:
    """A backend that lacks one attribute (as an older `tokenizers` release would)."""

    def __init__(self, backend, missing: str):
        self._backend, self._missing = backend, missing

    def __getattr__(self, name):
        if name == self._missing:
            raise AttributeError(name)
        return getattr(self._backend, name)


class _Unreadable:
    """A backend whose components save no settings the module can read."""

    normalizer = pre_tokenizer = post_processor = object()


def test_a_backend_the_module_cannot_read_goes_to_the_backend(qwen_tokenizer):
    backend = qwen_tokenizer.backend_tokenizer
    assert token_ids._piecewise(_Without(backend, "get_added_tokens_decoder"), 0) is None
    assert token_ids._piecewise(_Without(backend, "nothing"), 0) is not None  # the wrapper alone changes nothing
    assert token_ids._piecewise(_Unreadable(), 0) is None


class _Spaces:
    def pre_tokenize(self, pretok):
        pretok.split(lambda i, normalized: normalized.split(" ", "isolated"))


def test_a_custom_component_is_not_read_and_the_backend_encodes(qwen_tokenizer):
    """A custom pre-tokenizer refuses to be saved: the backend encodes the text itself."""
    from tokenizers.pre_tokenizers import PreTokenizer

    tokenizer = _changed(qwen_tokenizer, lambda state: None)
    tokenizer.backend_tokenizer.pre_tokenizer = PreTokenizer.custom(_Spaces())
    text = "Extract the brand: Sony headphones"
    assert token_ids.encode_each(tokenizer, (text,)) == (tuple(tokenizer.backend_tokenizer.encode_batch_fast([text], add_special_tokens=False)[0].ids),)


def test_a_token_added_after_the_first_reading_is_found(qwen_tokenizer):
    from tokenizers import AddedToken

    tokenizer = _changed(qwen_tokenizer, lambda state: None)
    text = "Extract the brand: Sony shopbrand headphones"
    assert token_ids.encode_each(tokenizer, (text,)) == (backend_ids(tokenizer, text),)
    tokenizer.add_tokens(["shopbrand"])
    assert token_ids.encode_each(tokenizer, (text,)) == (backend_ids(tokenizer, text),)
    # an added token matched in normalized text, whose content NFC changes: the backend encodes
    tokenizer.add_tokens([AddedToken("e\u0301", normalized=True)])
    assert token_ids._piecewise(tokenizer.backend_tokenizer, len(tokenizer)) is None
    assert token_ids.encode_each(tokenizer, ("café",)) == (backend_ids(tokenizer, "café"),)


def test_each_text_of_a_batch_is_encoded_as_on_its_own(qwen_tokenizer):
    """`encode_each` looks the pipeline up once; a text the backend must encode (an added
    token, a character outside the alphabet) keeps its place among the others."""
    texts = ("Nike running shoes", " Nike", "a <|im_end|> b", "", "emoji \U0001F600 here", "Größe 42")
    assert token_ids.encode_each(qwen_tokenizer, texts) == tuple(backend_ids(qwen_tokenizer, text) for text in texts)


def test_the_pieces_kept_are_bounded_and_still_right(qwen_tokenizer, monkeypatch):
    monkeypatch.setattr(token_ids, "_PIECES_KEPT", 4)
    pieces = token_ids._PieceIds(qwen_tokenizer.backend_tokenizer.model)
    words = [" wireless", " mouse", " for", " gaming", " laptop", " with", " RGB", " lights", " wireless"]
    for word in words:
        assert pieces[word] == backend_ids(qwen_tokenizer, word)
        assert len(pieces) <= 4
