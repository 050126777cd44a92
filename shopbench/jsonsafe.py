"""The one JSON reader for documents and lines from files and the environment.

`json.loads` alone lets three kinds of input through as tracebacks or as wrong numbers:
nesting thousands deep (RecursionError, in the parser or in whatever walks the value
later), a number of more than 4300 digits (ValueError from int()), and values that are not
finite (JSON has no NaN or Infinity, but Python reads `NaN`, `Infinity` and `1e999`). Here
every one of them is a one-line `DataError` naming the source (`file:line`, or the variable)
and what is wrong, before any value reaches the code that uses it.

Depth is measured on the text, before parsing: brackets outside strings, counted with C-level
loops, so a deep document is refused without recursing and a flat one costs one pass.
"""
from __future__ import annotations

import json
import math
import re
import sys
from itertools import accumulate
from typing import Any

from shopbench import files
from shopbench.errors import DataError

MAX_DEPTH = 100  # brackets open at once: far above any real record, far below Python's recursion limit

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}.__getitem__


class NotJSON(DataError):
    """The text is not JSON at all (syntax or encoding); callers that accept another
    notation (a Python literal) fall back on this one only."""


def depth(text: str) -> int:
    """How many brackets are open at once at the deepest point of `text`, strings left out.
    After an unterminated string everything is string (the parser refuses it there)."""
    code = _STRING.sub("", text).split('"', 1)[0]
    brackets = _NOT_BRACKET.sub("", code)
    return max(accumulate(map(_STEP, brackets)), default=0)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is not a finite number")
    return value


def loads(text: str | bytes, source: str, *, finite: bool = True, line_numbers: bool = False) -> Any:
    """The value of one JSON document or line. `source` names it in messages (`file:line`,
    `file: field 'input'`, a variable). `finite`: NaN, Infinity and numbers too large for a
    float are refused (leave it off only where a later check names the field). With
    `line_numbers`, a syntax error says on which line of the text it is (whole files)."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            where, at = source, exc.start
            if line_numbers:  # the line, and the byte within it, as the JSON Lines readers say it
                raw = bytes(text)
                line = raw.count(b"\n", 0, exc.start) + 1
                where = f"{source}:{line}"
                at = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1)
            raise NotJSON(f"{where}: not UTF-8 ({exc.reason} at byte {at})") from None
    # Text with few opening brackets cannot be deep: most lines are never scanned.
    if text.count("[") + text.count("{") > MAX_DEPTH and depth(text) > MAX_DEPTH:
        raise DataError(f"{source}: nested more than {MAX_DEPTH} levels deep")
    hooks = {"parse_constant": _refuse_constant, "parse_float": _finite_float} if finite else {}
    try:
        return json.loads(text, **hooks)
    except json.JSONDecodeError as exc:
        where = f"{source}:{exc.lineno}" if line_numbers else source
        raise NotJSON(f"{where}: not valid JSON ({exc.msg})") from None
    except (ValueError, RecursionError) as exc:  # a hook's refusal, or int()'s digit limit
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "integer string conversion" in reason:
            reason = f"a number of more than {sys.get_int_max_str_digits()} digits"
        raise DataError(f"{source}: not valid JSON ({reason})") from None


def load_file(path, *, finite: bool = True) -> Any:
    """The JSON document in the file at `path` (UTF-8); a syntax error is named by line. A
    device, a socket or a file over files.MAX_DOCUMENT_BYTES is refused before it is read."""
    raw = files.read_document(path)
    if not raw.strip():
        raise NotJSON(f"{path}: empty, not a JSON document")
    return loads(raw, str(path), finite=finite, line_numbers=True)


def kind(value) -> str:
    """What a JSON value is, in JSON's words, for messages ("a list", "null")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number"}
    return next((name for type_, name in names.items() if isinstance(value, type_)), type(value).__name__)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    """A finite number: JSON's NaN and Infinity, which Python reads, make no gold value."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_count(value) -> bool:
    """A whole number from 0 (a count, an index)."""
    return is_int(value) and value >= 0
