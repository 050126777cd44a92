"""Asking a model behind an OpenAI-compatible server, for `python -m training rewrite` and
`python -m training label`: the engine named by the environment, chat requests and their
replies, the journal that lets a stopped run resume, and the table of what was kept.

The model is any model served at SHOPBENCH_SERVER_URL (the openai engine), its tokenizer read
from SHOPBENCH_MODEL_DIR, else the embedded default's. Replies are greedy and end at the chat
template's end-of-turn tokens.

The journal (OUT.partial) holds a header line naming the run (its data, by content, its
options and its model), then one JSON line per unit done, flushed and synced batch by batch;
a run that stops resumes from it, and a journal of another run is refused.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from shopbench import environment, files, jsonsafe
from shopbench.data import DataError, write_atomically


def served_engine(server):
    """The openai engine for `server` (models.settings.server_settings()), its tokenizer from
    SHOPBENCH_MODEL_DIR or the embedded model's folder."""
    from models.engines import registry
    from models.settings import MODEL_DIR_ENV, model_config

    model_dir = environment.get(MODEL_DIR_ENV)
    if model_dir is not None:
        # Its config.json, when it has one, in one line before the engine's libraries read it; the
        # openai engine needs only the tokenizer (the context comes from the server).
        if (Path(model_dir) / "config.json").exists():
            model_config(Path(model_dir))
    else:
        from models import embedded

        model_dir = str(embedded.safetensors_copy())
    return registry.build("openai", model_dir, server)


class Chat:
    """Chat requests to an `Engine`: messages rendered with the tokenizer's chat template."""

    def __init__(self, engine):
        from decoding.constraints import Vocabulary

        self.engine = engine
        self.stops = Vocabulary.scan(engine.tokenizer).stops

    def request(self, messages: list[dict], max_new_tokens: int):
        """The engine's request, or None when the prompt and the reply do not fit the served
        context (cutting a chat prompt would cut its instructions)."""
        from decoding.constraints import Constraint
        from models.engines import Request

        tokenizer = self.engine.tokenizer
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) + max_new_tokens > self.engine.max_model_len:
            return None
        return Request(ids, Constraint(max_new_tokens), self.stops)

    def replies(self, asks: list[tuple[list[dict], int]]) -> list[str | None]:
        """(messages, most new tokens) pairs -> the replies' text; None where it did not fit."""
        requests = [self.request(messages, most) for messages, most in asks]
        sent = [r for r in requests if r is not None]
        generated = iter(self.engine.generate(sent) if sent else [])
        return [None if r is None else next(generated).text for r in requests]


TOO_LONG = "too long for the served context"
BATCH = 16  # units asked together (the engine keeps SHOPBENCH_SERVER_CONCURRENCY in flight), journaled together


def fingerprint(path) -> str:
    """The content of a file, or of every file under a folder (with their names), hashed."""
    from training.readers import existing

    path = existing(path)
    digest = hashlib.sha256()
    inputs = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in inputs:
        digest.update(str(file.relative_to(path) if path.is_dir() else "").encode() + b"\0")
        files.check_input(file)
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def run_key(data_path, model: str, **options) -> dict:
    """What a journal must match to be resumed: the same data (by content), options and model."""
    return {"data": str(Path(data_path).resolve()), "sha256": fingerprint(data_path), **options, "model": model}


def journal_path(out) -> Path:
    return Path(f"{out}.partial")


def read_journal(path, id_field: str, entry_problem) -> tuple[dict | None, dict]:
    """(the run key of its first line, the entries by their `id_field`) of the journal at
    `path`; (None, {}) when there is none. Checked before any server is asked: a line that
    is not a journal entry (`entry_problem(entry)`: what it lacks, or None), or a folder where
    the journal goes, is one line naming it. The last line may be cut short by a stop (then
    it is left out)."""
    path = Path(path)
    if not path.exists():
        return None, {}
    if not path.is_file():
        raise DataError(f"{path}: not a file, where the journal of --out goes (move it away, or choose another --out)")
    raw = files.read_document(path)
    lines = raw.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    header = jsonsafe.loads(lines[0], f"{path}:1") if lines else None
    done = {}
    for number, line in enumerate(lines[1:], start=2):
        try:
            entry = jsonsafe.loads(line, f"{path}:{number}")
        except jsonsafe.NotJSON:
            if number == len(lines):  # the line being written when the run stopped
                break
            raise DataError(f"{path}:{number}: not a journal line (not JSON); delete the journal to start over") from None
        problem = entry_problem(entry)
        if problem:
            raise DataError(f"{path}:{number}: not a journal line ({problem}); delete the journal to start over")
        done[entry[id_field]] = entry
    return header, done


class Journal:
    """`with Journal(out, key, "index", entry_problem) as journal:` reads what an earlier run
    of the same `key` did (`journal.done`, by each entry's `id_field`), then
    `journal.write(entries)` appends; `journal.finish()` removes it once the output is written."""

    def __init__(self, out, key: dict, id_field: str, entry_problem):
        self.path = journal_path(out)
        self.key, self.id_field, self.entry_problem = key, id_field, entry_problem
        self.done: dict = {}
        self._handle = None

    def __enter__(self) -> Journal:
        header, self.done = read_journal(self.path, self.id_field, self.entry_problem)
        if header is not None and header != self.key or header is None and self.done:
            raise DataError(f"{self.path}: the journal of another run (other data, options or model); "
                            "delete it to start over")
        # Written afresh (atomically) from what was read, so a line cut short by a stop is gone
        # before anything is appended.
        write_atomically(self.path, "".join(json.dumps(line, ensure_ascii=False) + "\n"
                                            for line in [self.key, *self.done.values()]))
        self._handle = open(self.path, "a", encoding="utf-8")
        return self

    def __exit__(self, *exc) -> None:
        self._handle.close()

    def write(self, entries: list[dict]) -> None:
        for entry in entries:
            self._handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.done[entry[self.id_field]] = entry
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def finish(self) -> None:
        self.path.unlink()


@dataclass
class Tally:
    tried: int = 0
    kept: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count

    def count(self, status: str, kind: str | None = None) -> None:
        """One unit tried: "kept", or the reason it was not (counted under `kind`, its kind of reason)."""
        self.tried += 1
        if status == "kept":
            self.kept += 1
        else:
            kind = kind or status
            self.rejected[kind] = self.rejected.get(kind, 0) + 1


def tally_table(tallies: dict[str, Tally], unit: str, tried: str, rejected: str) -> list[str]:
    """One row per `unit` (a task, a labelling): how many tried, kept and `rejected` by each reason."""
    from shopbench.report import table

    kinds = sorted({kind for t in tallies.values() for kind in t.rejected})
    rows = [[name, str(t.tried), str(t.kept), *(str(t.rejected.get(k, 0)) for k in kinds)]
            for name, t in tallies.items()]
    return table([unit, tried, "kept", *(f"{rejected}: {k}" for k in kinds)], rows, right=set(range(1, 3 + len(kinds))))
