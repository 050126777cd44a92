"""Text from data files shown on a terminal: never as instructions to the terminal.

A question, a task name or a response can hold ESC sequences (colours, cursor moves, a
rewritten title bar), C1 controls (0x9b starts a sequence in some terminals), bidi overrides
(text shown in another order than it reads) and line breaks (one line becomes several).
`printable` writes each such character as its Python escape, so what is shown is what the
file holds and every message stays on one line.
"""
from __future__ import annotations

import re

# C0 and C1 controls (tab and newline among them), DEL, the bidi marks, embeddings, overrides
# and isolates, and the line and paragraph separators.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text) -> str:
    """`text` with every control character written as its escape (ESC as \\x1b)."""
    return _UNPRINTABLE.sub(_escape, str(text))
