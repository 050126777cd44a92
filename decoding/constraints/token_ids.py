"""A text's token ids, the same as the tokenizer's own call gives them, for less CPU.

The copy bias tokenizes each NER question, its subject and the spaced subject. A fast
tokenizer's backend spends most of that time in its pre-tokenizer, the regular expression
that cuts the text into pieces, each then split into BPE tokens on its own. Where the
tokenizer's pipeline is one this module knows to be equivalent, the text is cut in Python
with the same expression and each piece's ids are kept: pieces repeat within a question
(the subject is part of it) and across questions. Equivalent means NFC (or no normalizer),
one split by a pattern of `VERIFIED_SPLITS`, byte-level characters, and BPE without dropout.
Any other tokenizer (or one whose settings cannot be read), and any text with an added token
or a character outside `ALPHABET_RANGES`, is encoded by the backend. The pipeline is read once
per backend and number of added tokens: a token added later starts a new reading.

Equal ids are a claim about two regular-expression engines (the backend's and the `regex`
module's) and their Unicode tables. tests/test_token_ids.py backs it: it compares the two on
every character of the alphabet beside letters, digits, spaces, line breaks, an apostrophe and
punctuation (where the pattern's classes decide a cut), and on random text. The alphabet has
no character that NFC changes or composes, so a text in it is already normalized.
"""
from __future__ import annotations

import functools
import itertools
import re
import unicodedata

from shopbench import jsonsafe

# Pre-tokenizer patterns known here, each with the same pattern for ASCII text in Python's
# `re` (letters [a-zA-Z], numbers [0-9], whitespace the ASCII part of Unicode's White_Space),
# which splits an ASCII text in half the time the `regex` module takes.
VERIFIED_SPLITS = {
    # Qwen2's (Qwen2.5 and Qwen3 use it too)
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+":
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\na-zA-Z0-9]?[a-zA-Z]+|[0-9]| ?[^\t\n\x0b\x0c\r a-zA-Z0-9]+[\r\n]*"
        r"|[\t\n\x0b\x0c\r ]*[\r\n]+|[\t\n\x0b\x0c\r ]+(?![^\t\n\x0b\x0c\r ])|[\t\n\x0b\x0c\r ]+",
}

# Characters whose pieces the tests compare, as (first, last) code points: Latin, general
# punctuation, arrows to dingbats, CJK punctuation, kana, the original CJK ideographs, Hangul
# syllables and fullwidth forms. Left out: combining marks, characters NFC would change
# (the Ohm, Kelvin and Angstrom signs, the angle brackets U+2329 and U+232A), the zero-width
# and direction marks (U+200B to U+200F, U+2028 to U+202F, U+2060 on), and blocks whose letters
# changed between Unicode versions. The soft hyphen and the ranges' few unassigned code points
# are in, compared like the rest.
ALPHABET_RANGES = (
    (0x0000, 0x024F), (0x2010, 0x2027), (0x2030, 0x205E), (0x2100, 0x2125), (0x2127, 0x2129), (0x212C, 0x214F),
    (0x2190, 0x2328), (0x232B, 0x27BF), (0x3000, 0x3029), (0x3030, 0x3098), (0x309B, 0x30FF), (0x4E00, 0x9FA5), (0xAC00, 0xD7A3),
    (0xFF01, 0xFFEE),
)
_OUTSIDE_ALPHABET = re.compile("[^" + "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in ALPHABET_RANGES) + "]")


def _byte_characters() -> dict[int, str]:
    """The byte-level pre-tokenizer's character for each byte: printable Latin-1 bytes stand
    for themselves, the others for the characters from U+0100 on, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [byte for byte in range(256) if byte not in printable]
    return {**{byte: chr(byte) for byte in printable}, **{byte: chr(256 + n) for n, byte in enumerate(others)}}


_AS_BYTE_CHARACTERS = str.maketrans(_byte_characters())  # applied to a text decoded as Latin-1, byte by byte


_PIECES_KEPT = 1 << 16  # pieces whose ids a pipeline keeps before it starts afresh


class _PieceIds(dict):
    """Each piece's ids, from the BPE model the first time a piece is asked for, then kept:
    pieces recur within a question (the subject is part of it) and across questions. A dict
    rather than an lru_cache: a piece found costs one lookup."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def __missing__(self, piece: str) -> tuple[int, ...]:
        if len(self) >= _PIECES_KEPT:
            self.clear()
        as_bytes = piece if piece.isascii() else piece.encode("utf-8").decode("latin-1")
        self[piece] = ids = tuple([token.id for token in self.model.tokenize(as_bytes.translate(_AS_BYTE_CHARACTERS))])
        return ids


class _Piecewise:
    """A verified tokenizer's pipeline, run piece by piece."""

    def __init__(self, split, ascii_split: re.Pattern, model, added: re.Pattern | None):
        self.split, self.ascii_split, self.added = split, ascii_split, added
        self._piece_ids = _PieceIds(model).__getitem__

    def ids(self, text: str) -> tuple[int, ...] | None:
        """`text`'s token ids, None when the backend must encode it."""
        ascii = text.isascii()
        if not ascii and _OUTSIDE_ALPHABET.search(text):
            return None
        if self.added is not None and self.added.search(text):
            return None
        pieces = (self.ascii_split if ascii else self.split).findall(text)
        if sum(map(len, pieces)) != len(text):  # a gap between matches: the split keeps it, findall does not
            return None
        return tuple(itertools.chain.from_iterable(map(self._piece_ids, pieces)))


@functools.lru_cache(maxsize=8)  # one per backend tokenizer and number of added tokens
def _piecewise(backend, tokens: int) -> _Piecewise | None:
    """The piecewise pipeline of `backend` (a `tokenizers.Tokenizer` of `tokens` tokens with
    the added ones), None when its pipeline is not one this module knows or cannot be read: a
    shortcut, so that any backend it cannot inspect (a custom component refuses to be saved)
    is simply asked itself."""
    try:
        return _read_pipeline(backend)
    except Exception:  # noqa: BLE001 (whatever a component raises, the backend still encodes)
        return None


def _read_pipeline(backend) -> _Piecewise | None:
    def state(component):
        """A component's settings as the tokenizer saves them; {} when they are not text
        (another library's object), which no check below accepts."""
        if component is None:
            return None
        saved = component.__getstate__()
        return jsonsafe.loads(saved, "a tokenizer component's settings") if isinstance(saved, (bytes, str)) else {}

    normalizer, pre_tokenizer, post_processor = state(backend.normalizer), state(backend.pre_tokenizer), state(backend.post_processor)
    if normalizer not in (None, {"type": "NFC"}) or (post_processor or {}).get("type", "ByteLevel") != "ByteLevel":
        return None
    steps = (pre_tokenizer or {}).get("pretokenizers", [])
    if [step.get("type") for step in steps] != ["Split", "ByteLevel"]:
        return None
    split, byte_level = steps
    pattern = split.get("pattern", {}).get("Regex")
    if (pattern not in VERIFIED_SPLITS or split.get("behavior") != "Isolated" or split.get("invert")
            or byte_level.get("add_prefix_space") or byte_level.get("use_regex")):
        return None
    model = backend.model
    if type(model).__name__ != "BPE" or model.dropout:  # dropout: ids would differ from call to call
        return None
    import regex  # a dependency of transformers, whose tokenizers are the ones that get here

    added = backend.get_added_tokens_decoder().values()
    # An added token the backend finds in normalized text must read the same in the text as given.
    if any(token.normalized and unicodedata.normalize("NFC", token.content) != token.content for token in added):
        return None
    contents = sorted({token.content for token in added if token.content})
    found = re.compile("|".join(map(re.escape, contents))) if contents else None
    return _Piecewise(regex.compile(pattern), re.compile(VERIFIED_SPLITS[pattern]), model, found)


def encode_each(tokenizer, texts) -> tuple[tuple[int, ...], ...]:
    """Each text's token ids without special tokens, as `tokenizer(text, add_special_tokens=False)`
    gives them, the tokenizer's pipeline looked up once. A fast tokenizer's backend is asked
    directly, without character offsets, and one text per call: a batch of several goes to the
    backend's thread pool, whose hand-off costs more CPU time than the texts themselves."""
    backend = getattr(tokenizer, "backend_tokenizer", None) if getattr(tokenizer, "is_fast", False) else None
    if backend is None or not hasattr(backend, "encode_batch_fast"):
        return tuple(tuple(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts)
    piecewise = _piecewise(backend, backend.get_vocab_size(with_added_tokens=True))
    found = [piecewise.ids(text) if piecewise is not None else None for text in texts]
    return tuple(ids if ids is not None else tuple(backend.encode_batch_fast([text], add_special_tokens=False)[0].ids)
                 for ids, text in zip(found, texts))
