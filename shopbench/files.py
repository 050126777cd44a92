"""Opening an input file safely: every reader of a file a user names goes through here.

An input is a regular file or a FIFO (a pipe: `--data <(zcat dev.jsonl.gz)`); a character
device, a block device or a socket is refused in one line, so `--data /dev/zero` or
`--throughput /dev/urandom` never reads without end. What is held in memory is bounded: a
document read whole (a results or throughput file, a JSON array of records, a recipe) at
MAX_DOCUMENT_BYTES, a line of JSON Lines or CSV at MAX_LINE_BYTES, compressed input included
(a small .gz may inflate to any size). Every refusal is a DataError naming the file.
"""
from __future__ import annotations

import gzip
import os
import stat
from typing import BinaryIO, Iterator

from shopbench.errors import DataError

MAX_DOCUMENT_BYTES = 1 << 30  # 1 GiB: results files of the whole hidden set are a few MB
MAX_LINE_BYTES = 64 << 20  # 64 MiB: a question, a record or a journal entry is a few KB


def _size(count: int) -> str:
    return f"{count >> 30} GiB" if count >= 1 << 30 and count % (1 << 30) == 0 else f"{count >> 20} MiB"


def input_problem(path) -> str | None:
    """Why `path` may not be read as an input file (None when it may, or when it is missing,
    which opening it reports): a folder, a device or a socket."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    kind = ("a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a special file")
    return f"is {kind}, not a file; give a regular file (or a pipe)"


def reread_problem(path) -> str | None:
    """Why `path` may not be an input that a command reads more than once: a pipe, whose
    second read would wait for a writer for ever (None for anything else)."""
    try:
        return ("is a pipe, which can be read once, and this command reads its input more than once; "
                "give a regular file") if stat.S_ISFIFO(os.stat(path).st_mode) else None
    except OSError:
        return None


def check_input(path) -> None:
    """A one-line DataError when `path` is there but is no file to read (see input_problem)."""
    problem = input_problem(path)
    if problem:
        raise DataError(f"{path}: {problem}")


def open_input(path) -> BinaryIO:
    """A binary handle on the input file at `path`, through gzip when its name ends in .gz;
    a one-line DataError when it is not a file or cannot be opened."""
    check_input(path)
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        return opener(path, "rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None


def read_document(path, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The whole content of the input file at `path` (decompressed for .gz), refused in one
    line beyond `limit` bytes, before more than that is read."""
    too_large = DataError(f"{path}: larger than {_size(limit)}; not read (is it the right file?)")
    with open_input(path) as handle:
        if not str(path).endswith(".gz") and os.fstat(handle.fileno()).st_size > limit:
            raise too_large  # a regular file says its size: nothing is read
        try:
            raw = handle.read(limit + 1)
        except (OSError, EOFError) as exc:  # a damaged .gz, an I/O error
            raise DataError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if len(raw) > limit:  # a pipe or a .gz, whose size shows only in reading
        raise too_large
    return raw


def bounded_lines(handle, path, limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """The lines of an open binary handle, each refused in one line (naming `path` and the
    line) when longer than `limit` bytes, before more than that is read."""
    number = 0
    while True:
        raw = handle.readline(limit + 1)
        if not raw:
            return
        number += 1
        if len(raw) > limit:
            raise DataError(f"{path}:{number}: a line longer than {_size(limit)}; not read (is it the right file?)")
        yield raw
