"""ShopBench JSON Lines: reading questions and saved responses, with one-line errors.

Every problem is reported as `FILE:LINE: field 'NAME': what is wrong`, and raised before
anything is generated or scored.
"""
from __future__ import annotations

import json
import lzma
import os
import random
import re
import stat
import sys
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Iterator, TextIO

from shopbench import files, jsonsafe, metric_registry, spec
from shopbench.errors import DataError

# What reading a damaged compressed file or zip member raises: gzip's BadGzipFile (an
# OSError) and EOFError for a cut stream, zlib.error for damaged deflate data, zipfile's
# BadZipFile for a bad CRC or header.
READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)


def read_error(exc: BaseException) -> str:
    """What went wrong reading, in words: the system's, else the library's, else the kind."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


@dataclass(frozen=True)
class Question:
    index: int  # position among the file's questions, from 0
    input_field: str
    output_field: Any
    task_name: str
    task_type: str
    metric: str
    track: str | None
    is_multiple_choice: bool


def _error(path, line: int, field: str | None, message: str) -> DataError:
    where = f"{path}:{line}"
    return DataError(f"{where}: field '{field}': {message}" if field else f"{where}: {message}")


def read_json_lines(path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line; blank lines are skipped.
    A name ending in .gz is read through gzip; a device or socket is refused (files.open_input)."""
    yield from json_lines(files.open_input(path), path)


def text_lines(handle, path, bom: bool = False) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line of an open binary handle (a file, a .gz, a zip
    member), closed at the end. Lines are decoded one by one, so a byte that is not UTF-8 is
    reported on its own line, and a damaged compressed stream at the line it breaks; a line
    too long to hold is refused (files.bounded_lines). `bom`: a UTF-8 byte-order mark at the
    start is dropped (CSV files from spreadsheets)."""
    line_number = 0
    with handle:
        try:
            for line_number, raw in enumerate(files.bounded_lines(handle, path), start=1):
                if bom and line_number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                try:
                    yield line_number, raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise _error(path, line_number, None, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
        except READ_ERRORS as exc:  # a damaged .gz or zip member
            raise _error(path, line_number + 1, None, f"cannot read: {read_error(exc)}") from None


_LONE_CR = re.compile(r"(?<=\r)(?!\n)")
# csv's limit on one field, set for the whole process by each command at its start
# (cli.main_guard): release questions and product descriptions run past csv's 128 KiB
# default (pandas, which the release's own scripts use, has none).
CSV_FIELD_LIMIT = 2**31 - 1


def csv_text(handle, path) -> Iterator[str]:
    """The lines of a CSV file (an open binary handle) for the csv module, decoded one by one
    as `text_lines` does (BOM dropped), and ending where open(newline="") ends them: at
    "\n", "\r\n" or a lone "\r" (spreadsheets' old Mac CSV)."""
    for _, line in text_lines(handle, path, bom=True):
        yield from (piece for piece in _LONE_CR.split(line) if piece)


def json_lines(handle, path) -> Iterator[tuple[int, dict]]:
    """`read_json_lines` of an open binary handle (a file, a zip member), closed at the end;
    `path` names it in messages."""
    for line_number, line in text_lines(handle, path):
        if not line.strip():
            continue
        # NaN stays readable here: the field checks name the field whose value is not finite.
        record = jsonsafe.loads(line, f"{path}:{line_number}", finite=False)
        if not isinstance(record, dict):
            raise _error(path, line_number, None, "expected a JSON object")
        yield line_number, record


def question_from_record(path, line: int, index: int, record: dict, answer_field: str = "output_field") -> Question:
    """The question of one data record, checked; `answer_field` is the key that holds the
    gold answer (the release's per-task files call it otherwise)."""

    def field(name: str, check, expected: str, default=None, required=True):
        if name not in record:
            if required:
                raise _error(path, line, name, "missing")
            return default
        value = record[name]
        if not check(value):
            raise _error(path, line, name, f"expected {expected}, got {json.dumps(value)[:60]}")
        return value

    input_field = field("input_field", lambda v: isinstance(v, str), "a string")
    task_name = field("task_name", lambda v: isinstance(v, str) and v, "a non-empty string")
    task_type = field("task_type", lambda v: v in spec.TASK_TYPES, f"one of {', '.join(spec.TASK_TYPES)}")
    known = metric_registry.names()
    metric = field("metric", lambda v: v in known, f"one of {', '.join(known)}")
    record_of_metric = metric_registry.get(metric)
    if task_type not in record_of_metric.task_types:
        raise _error(path, line, "metric", f"'{metric}' cannot score a '{task_type}' answer")
    gold = record_of_metric.gold
    output_field = field(answer_field, gold.check, f"{gold.words} for metric '{metric}'")
    track = field("track", lambda v: isinstance(v, str) and v, "a non-empty string", required=False)
    is_multiple_choice = field(
        "is_multiple_choice",
        lambda v: isinstance(v, bool),
        "true or false",
        default=task_type == spec.MULTIPLE_CHOICE,
        required=False,
    )
    return Question(index, input_field, output_field, task_name, task_type, metric, track, is_multiple_choice)


def check_task_kind(aggregation_by_task: dict, question: Question, path, line: int) -> None:
    """A task's score is one aggregation of its questions' (pooled micro F1, or a mean); two
    cannot mix. `aggregation_by_task` remembers the tasks seen so far."""
    aggregation = metric_registry.get(question.metric).aggregation
    first = aggregation_by_task.setdefault(question.task_name, aggregation)
    if first != aggregation:
        pooled = first if first.pooled else aggregation
        raise _error(path, line, "metric", f"task '{question.task_name}' mixes '{pooled.name}' with other metrics")


def load_questions(path) -> list[Question]:
    questions: list[Question] = []
    aggregation_by_task: dict = {}
    for line, record in read_json_lines(path):
        question = question_from_record(path, line, len(questions), record)
        check_task_kind(aggregation_by_task, question, path, line)
        questions.append(question)
    if not questions:
        raise DataError(f"{path}: no questions")
    return questions


@dataclass(frozen=True)
class Prompt:
    """A question to route: the text, and what the data says of it when it says anything."""

    input_field: str
    task_type: str | None
    is_multiple_choice: bool | None
    task_name: str | None = None


def load_prompts(path) -> list[Prompt]:
    """Questions for routing: only `input_field` is required. `is_multiple_choice` comes
    from the row, else from `task_type`, else is unknown (None)."""
    prompts = []
    for line, record in read_json_lines(path):
        if not isinstance(record.get("input_field"), str):
            raise _error(path, line, "input_field", "missing" if "input_field" not in record else "expected a string")
        task_type = record.get("task_type")
        if task_type is not None and task_type not in spec.TASK_TYPES:
            raise _error(path, line, "task_type", f"expected one of {', '.join(spec.TASK_TYPES)}")
        flag = record.get("is_multiple_choice")
        if flag is not None and not isinstance(flag, bool):
            raise _error(path, line, "is_multiple_choice", "expected true or false")
        if flag is None and task_type is not None:
            flag = task_type == spec.MULTIPLE_CHOICE
        task_name = record.get("task_name")
        prompts.append(Prompt(record["input_field"], task_type, flag, task_name if isinstance(task_name, str) else None))
    if not prompts:
        raise DataError(f"{path}: no questions")
    return prompts


def select(questions: list[Question], limit: int | None, seed: int) -> list[Question]:
    """A seeded random sample of `limit` questions, kept in file order (all when no limit)."""
    if limit is None or limit >= len(questions):
        return list(questions)
    chosen = sorted(random.Random(seed).sample(range(len(questions)), limit))
    return [questions[i] for i in chosen]


# The keys a saved response may have: ours, then the release's skill-wise inference output's.
RESPONSE_KEYS = ("response", "model_output")


def load_responses(path, questions: list[Question], total: int) -> list[Any]:
    """Saved responses for `questions`, one JSON object with key `response` per line (or
    `model_output`, as the Shopping MMLU release's inference writes them).

    The file holds one line per question of the data file (`total` lines) or one per
    selected question; a line's `input_field`, when present, must match its question.
    """
    records = list(read_json_lines(path))
    if len(records) == total:
        records = [records[q.index] for q in questions]
    elif len(records) != len(questions):
        expected = f"{len(questions)}" if total == len(questions) else f"{total} (or {len(questions)} selected)"
        raise DataError(f"{path}: {len(records)} responses for {expected} questions")
    responses = []
    for (line, record), question in zip(records, questions):
        key = next((key for key in RESPONSE_KEYS if key in record), None)
        if key is None:
            raise _error(path, line, "response", "missing")
        if "input_field" in record and record["input_field"] != question.input_field:
            raise _error(path, line, "input_field", f"does not match question {question.index + 1} of the data file")
        responses.append(record[key])
    return responses


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(value, indent: int | None = None) -> str:
    """`value` as JSON text that UTF-8 can always encode: non-ASCII kept as it is, except a
    lone surrogate (legal in JSON input, so in prompts and responses, but not encodable),
    which is written as its JSON escape and so reads back unchanged. Multi-line output
    (indent) ends with a newline."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    # Only inside strings can a surrogate be, where a \uXXXX escape means the same.
    text = _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    return text + "\n" if indent is not None else text


class OutputKind(Enum):
    """What stands at an output path, which decides how it is written."""

    NEW = "new"  # nothing yet (or a link to nothing): written through a temporary file
    REGULAR = "regular"  # a file: replaced atomically by a temporary file renamed over it
    FOLDER = "folder"
    STREAM = "stream"  # a FIFO or character device (/dev/null, /dev/stdout): written to directly
    REFUSED = "refused"  # a socket or block device: never written


def output_kind(path) -> OutputKind:
    """What stands at `path`, links followed."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return OutputKind.NEW
    except OSError:  # e.g. a path through a file; writing will say why
        return OutputKind.NEW
    if stat.S_ISDIR(mode):
        return OutputKind.FOLDER
    if stat.S_ISREG(mode):
        return OutputKind.REGULAR
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return OutputKind.STREAM
    return OutputKind.REFUSED


def _special_name(path) -> str:
    mode = os.stat(path).st_mode
    return "a socket" if stat.S_ISSOCK(mode) else "a block device" if stat.S_ISBLK(mode) else "a special file"


def replace_target(path) -> Path:
    """The file a write to `path` replaces: a symbolic link's target (the link itself stays), else
    `path`."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


# How this process's own descriptors are named as paths: /dev/stdout -> /proc/self/fd/1.
_DESCRIPTOR_PATH = re.compile(r"/(?:proc/(self|thread-self|[0-9]+)/fd|dev/fd)/([0-9]+)")


def own_descriptor(path) -> int | None:
    """The descriptor of this process that `path` names (/dev/stdout, /dev/fd/2, /proc/self/fd/N),
    else None. Such a path is written through the descriptor itself: opening it anew would
    truncate a redirected file and write from its start, over what is already there."""
    name = os.path.abspath(os.fspath(path))
    for _ in range(40):  # the kernel's own limit on links followed
        match = _DESCRIPTOR_PATH.fullmatch(name)
        if match:
            process = match.group(1)
            return int(match.group(2)) if process in (None, "self", "thread-self", str(os.getpid())) else None
        if not os.path.islink(name):
            return None
        name = os.path.normpath(os.path.join(os.path.dirname(name), os.readlink(name)))
    return None


def _streams(path) -> bool:
    """True when `path` is written to directly rather than replaced: a FIFO, a character device,
    or one of this process's descriptors (which may be a redirected file)."""
    return output_kind(path) is OutputKind.STREAM or own_descriptor(path) is not None


def writable_problem(path, folder: bool = False) -> str | None:
    """Why `path` cannot be written as an output (a file, or with `folder` a folder), found
    before any work; None when it can. A FIFO or character device is written to as it is, so
    it only has to be writable; a socket or block device is refused. Nothing is left behind:
    a regular output's folder is probed with a file that is removed at once, and no folder is
    made; no probe is ever made beside a special file."""
    kind = output_kind(path)
    if kind is OutputKind.REFUSED:
        return f"is {_special_name(path)}; give a file name"
    if kind is OutputKind.FOLDER and not folder:
        return "is a folder; give a file name"
    if kind in (OutputKind.REGULAR, OutputKind.STREAM) and folder:
        return "is a file, not a folder"
    if _streams(path):
        return None if os.access(path, os.W_OK) else "cannot be written (permission denied)"
    target = replace_target(path)
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot be written ({parent} is not a folder)"
    try:
        os.stat(path)
    except NotADirectoryError:  # "FILE/": the path (normalised away by Path) goes through a file
        return "cannot be written (a file stands where the path needs a folder)"
    except OSError:
        pass
    try:
        descriptor, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=parent)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as exc:
        return f"cannot be written ({exc.strerror or exc})"
    return None


def give_umask_mode(path, directory: bool = False) -> None:
    """Temporary files and folders are made private (0600/0700); what they become gets the
    mode a plain open() or mkdir() would have given under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if directory else 0o666) & ~umask)


@contextmanager
def atomic_writer(path) -> Iterator[TextIO]:
    """A text handle whose content appears at `path` only when the block completes; on
    any error the temporary file is removed and `path` is left as it was.

    What stands at `path` is never replaced by anything but a regular file: a symbolic link
    stays and its target is rewritten (atomically, in the target's folder); a FIFO or a
    character device (/dev/null) is written to directly, as a stream, and so is one of this
    process's descriptors (/dev/stdout, through the descriptor itself); a socket or block device
    is refused (OSError)."""
    descriptor = own_descriptor(path)
    if descriptor is not None:
        for stream in (sys.stdout, sys.stderr):  # what was printed before comes first
            stream.flush()
        with open(os.dup(descriptor), "w", encoding="utf-8") as handle:
            yield handle
        return
    if _streams(path):
        with open(path, "w", encoding="utf-8") as handle:
            yield handle
        return
    if output_kind(path) is OutputKind.REFUSED:
        raise OSError(f"{path}: is {_special_name(path)}; not written")
    target = replace_target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            yield handle
        give_umask_mode(temporary)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def write_atomically(path, text: str) -> None:
    """Write `text` to `path` through a temporary file, so no half-written file is left."""
    with atomic_writer(path) as handle:
        handle.write(text)
