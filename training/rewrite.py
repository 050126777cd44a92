"""`python -m training rewrite`: new wordings of the questions' instructions, written by a
language model behind an OpenAI-compatible server (the openai engine, SHOPBENCH_SERVER_URL).

The winners rephrased instructions for diversity (paper Table 7, rows 1, 2, 4, 20, 24-26):
every builder here has one wording per task. A rewrite changes the instruction alone, the
leading lines before the data, the candidate list or the answer slot; the data, options and
answer stay as they are. A rewrite is kept only when it:
  - keeps every quotation and number of the instruction (the data some instructions carry:
    an entity type, a title, a count), is not the original, is of a sane length, stays a
    question when it was one and keeps a third of its longer words;
  - still routes to the question's task type with an answer its route allows, and its gold
    answer still scores full marks (`training check`'s two tests).
Each question gets one wording, the styles taking turns within each task, so a task gets
several. Progress goes to a journal beside the output (OUT.partial), one line per question
tried; a run that stops resumes from it, and the output is written when the run completes.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from decoding.repair import quotations
from routing import anatomy, lexicon
from shopbench import jsonsafe
from shopbench.data import DataError, Question, is_count, write_atomically

STYLES = (
    "in other words",
    "more briefly",
    "more formally",
    "in plain, simple words, as a shopper would ask it",
    "with its sentences in a different order",
)
SYSTEM_TEXT = "You rewrite the instructions of questions for an online shopping assistant."
REQUEST = (
    "Rewrite the instruction below {style}. Keep every quoted text, name and number exactly as it is, and "
    "ask for the same thing in the same answer format. Reply with the rewritten instruction only.\n\n"
    "Instruction:\n{instruction}"
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CONTENT_WORD = re.compile(r"[^\W\d_]{4,}")
_LEAD_IN = re.compile(r"^\s*(?:rewritten instruction|instruction|rewrite|here is[^:\n]*)\s*:\s*", re.IGNORECASE)
BATCH = 16  # questions sent together (the engine keeps SHOPBENCH_SERVER_CONCURRENCY in flight)


@dataclass(frozen=True)
class Split:
    before: str  # kept as it is: leading blank lines, an "Instructions:" label
    instruction: str  # what a rewrite may change
    after: str  # kept as it is: the data, candidates and answer slot (from its newline on)

    def with_instruction(self, instruction: str) -> str:
        return self.before + instruction + self.after


def split_instruction(question: str) -> Split:
    """The instruction: the leading lines up to the first blank line, labelled data field,
    candidate line or answer slot; or, when the question opens with an instruction label
    ("Instructions: ..."), that line's text."""
    lines = question.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    before = "\n".join(lines[:first]) + ("\n" if first else "")
    opening = anatomy.field_of(lines[first]) if first < len(lines) else None
    if opening is not None and opening[0] in lexicon.INSTRUCTION_LABELS and opening[1]:
        label = lines[first][: lines[first].index(opening[1])]
        after = "\n" + "\n".join(lines[first + 1:]) if first + 1 < len(lines) else ""
        return Split(before + label, lines[first][len(label):], after)
    candidates = anatomy.candidate_list(question)
    stop = candidates.first_line if candidates is not None else len(lines)
    end = next((i for i in range(first, stop) if not lines[i].strip() or anatomy.field_of(lines[i])), stop)
    after = "\n".join(lines[end:])
    return Split(before, "\n".join(lines[first:end]), "\n" + after if first < end < len(lines) else after)


def cleaned_rewrite(text: str) -> str:
    """The model's reply as an instruction: its first paragraph, without a lead-in label or
    the quotation marks around the whole of it."""
    paragraph = text.strip().split("\n\n")[0].strip()
    paragraph = _LEAD_IN.sub("", paragraph).strip()
    if len(paragraph) > 1 and paragraph[0] == paragraph[-1] and paragraph[0] in "\"'":
        paragraph = paragraph[1:-1].strip()
    return paragraph


def _plain(text: str) -> str:
    return " ".join(text.casefold().split())


def wording_problem(original: str, rewrite: str) -> str | None:
    """Why a rewrite of an instruction cannot stand in for it, or None."""
    if not rewrite:
        return "empty"
    if _plain(rewrite) == _plain(original):
        return "unchanged"
    lost = [f"'{q}'" for q in quotations(original) if q not in rewrite]
    lost += [n for n in _NUMBER.findall(original) if n not in _NUMBER.findall(rewrite)]
    if lost:
        return "lost " + ", ".join(dict.fromkeys(lost))
    if not 0.4 * len(original) <= len(rewrite) <= 3 * len(original) + 40:
        return "length"
    # A rewording keeps what it is about and how it asks: a question stays a question, and a
    # third of its longer words stay (a model that answers or rambles instead drifts).
    if "?" in original and "?" not in rewrite:
        return "drifted: no longer a question"
    words = set(_CONTENT_WORD.findall(original.casefold()))
    kept = words & set(_CONTENT_WORD.findall(rewrite.casefold()))
    if words and len(kept) * 3 < len(words):
        return "drifted: other words"
    return None


@dataclass
class TaskTally:
    questions: int = 0
    kept: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # reason kind -> count


@dataclass
class RewriteReport:
    tasks: dict[str, TaskTally]
    resumed: int  # questions already in the journal when the run began

    @property
    def kept(self) -> int:
        return sum(t.kept for t in self.tasks.values())


def _reason_kind(reason: str) -> str:
    return reason.split(" ", 1)[0].rstrip(":") if reason.startswith(("lost", "drifted")) else reason.split(":", 1)[0]


def journal_path(out) -> Path:
    return Path(f"{out}.partial")


def run_key(data_path, wordings: int, model: str, limit: int | None, seed: int) -> dict:
    """What a journal must match to be resumed: the same data (by content), options and model."""
    digest = hashlib.sha256(Path(data_path).read_bytes()).hexdigest()[:16]
    return {"data": str(Path(data_path).resolve()), "sha256": digest, "wordings": wordings, "limit": limit, "seed": seed,
            "model": model}


def _journal_problem(entry) -> str | None:
    """What a journal line lacks, or None: {"index", "status"}, and the record when kept."""
    if not isinstance(entry, dict):
        return f"expected a JSON object, got {jsonsafe.kind(entry)}"
    if not is_count(entry.get("index")):
        return "field 'index': " + ("missing" if "index" not in entry else "expected a whole number from 0")
    if not isinstance(entry.get("status"), str) or not entry["status"]:
        return "field 'status': " + ("missing" if "status" not in entry else "expected text")
    if entry["status"] == "kept" and not isinstance(entry.get("record"), dict):
        return "field 'record': " + ("missing" if "record" not in entry else "expected a JSON object")
    return None


def read_journal(path: Path) -> tuple[dict | None, dict[int, dict]]:
    """(the run key of its first line, the entries by question index) of the journal at
    `path`; (None, {}) when there is none. Checked before any server is asked: a line that
    is not a journal entry, or a folder where the journal goes, is one line naming it. The
    last line may be cut short by a stop (then it is left out)."""
    if not path.exists():
        return None, {}
    if not path.is_file():
        raise DataError(f"{path}: not a file, where the journal of --out goes (move it away, or choose another --out)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
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
        problem = _journal_problem(entry)
        if problem:
            raise DataError(f"{path}:{number}: not a journal line ({problem}); delete the journal to start over")
        done[entry["index"]] = entry
    return header, done


def _read_journal(path: Path, key: dict) -> dict[int, dict]:
    header, done = read_journal(path)
    if header is not None and header != key or header is None and done:
        raise DataError(f"{path}: the journal of another run (other data, wordings or model); delete it to start over")
    return done


class Rewriter:
    """Builds the model's requests and reads its replies; the engine is any `Engine`."""

    def __init__(self, engine):
        from decoding.constraints import Vocabulary

        self.engine = engine
        self.stops = Vocabulary.scan(engine.tokenizer).stops

    def request(self, instruction: str, style: str):
        from decoding.constraints import Constraint
        from models.engines import Request

        tokenizer = self.engine.tokenizer
        messages = [{"role": "system", "content": SYSTEM_TEXT},
                    {"role": "user", "content": REQUEST.format(style=style, instruction=instruction)}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        longest = min(512, 2 * len(tokenizer(instruction, add_special_tokens=False)["input_ids"]) + 16)
        return Request(ids[-(self.engine.max_model_len - longest):], Constraint(longest), self.stops)

    def rewrite(self, instructions: list[tuple[str, str]]) -> list[str]:
        """(instruction, style) pairs -> the cleaned replies."""
        generated = self.engine.generate([self.request(text, style) for text, style in instructions])
        return [cleaned_rewrite(g.text) for g in generated]


def rewrite_file(questions: list[Question], records: list[dict], out, rewriter: Rewriter, scorer, key: dict,
                 wordings: int, progress: bool = False) -> RewriteReport:
    """Rewrite every question (`records`: the file's rows, by question index), journal each
    result, and write the kept rewrites to `out` once every question has been tried. `key`
    names the run; a journal of another run is refused."""
    from tqdm.auto import tqdm

    from training.check import check

    journal = journal_path(out)
    done = _read_journal(journal, key)
    # Written afresh (atomically) from what was read, so a line cut short by a stop is gone
    # before anything is appended.
    write_atomically(journal, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in [key, *done.values()]))
    position_in_task: dict[str, int] = {}
    styles = {}
    for question in questions:
        position = position_in_task.get(question.task_name, 0)
        position_in_task[question.task_name] = position + 1
        styles[question.index] = STYLES[position % wordings]
    todo = [q for q in questions if q.index not in done]
    with open(journal, "a", encoding="utf-8") as handle, tqdm(total=len(questions), initial=len(questions) - len(todo),
                                                               desc="Rewriting", unit="q", disable=not progress) as bar:
        for start in range(0, len(todo), BATCH):
            chunk = todo[start:start + BATCH]
            splits = {q.index: split_instruction(q.input_field) for q in chunk}
            entries = {i: {"index": i, "status": "no instruction"} for i, split in splits.items()
                       if not split.instruction.strip()}
            asked = [q for q in chunk if q.index not in entries]
            replies = rewriter.rewrite([(splits[q.index].instruction, styles[q.index]) for q in asked]) if asked else []
            candidates = []
            for question, reply in zip(asked, replies):
                split = splits[question.index]
                problem = wording_problem(split.instruction, reply)
                if problem:
                    entries[question.index] = {"index": question.index, "status": problem}
                else:
                    candidates.append(replace(question, input_field=split.with_instruction(reply)))
            if candidates:
                report = check(candidates, scorer)
                failed = {f.index: f.detail for f in report.failed}
                for rewritten in candidates:
                    i = rewritten.index
                    if i in failed:
                        entries[i] = {"index": i, "status": f"check: {failed[i]}"}
                    else:
                        record = {**records[i], "input_field": rewritten.input_field, "rewritten_from": i,
                                  "wording": styles[i]}
                        entries[i] = {"index": i, "status": "kept", "record": record}
            for question in chunk:
                handle.write(json.dumps(entries[question.index], ensure_ascii=False) + "\n")
                done[question.index] = entries[question.index]
            handle.flush()
            os.fsync(handle.fileno())
            bar.update(len(chunk))
    kept = [done[q.index]["record"] for q in questions if done[q.index]["status"] == "kept"]
    write_atomically(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
    journal.unlink()
    tasks: dict[str, TaskTally] = {}
    for question in questions:
        tally = tasks.setdefault(question.task_name, TaskTally())
        tally.questions += 1
        status = done[question.index]["status"]
        if status == "kept":
            tally.kept += 1
        else:
            kind = _reason_kind(status)
            tally.rejected[kind] = tally.rejected.get(kind, 0) + 1
    return RewriteReport(tasks, len(questions) - len(todo))


def format_rewrite(report: RewriteReport, out) -> str:
    from shopbench.report import table

    kinds = sorted({kind for t in report.tasks.values() for kind in t.rejected})
    rows = [[name, str(t.questions), str(t.kept), *(str(t.rejected.get(k, 0)) for k in kinds)]
            for name, t in report.tasks.items()]
    lines = table(["task", "questions", "kept", *(f"rejected: {k}" for k in kinds)], rows,
                  right=set(range(1, 3 + len(kinds))))
    total = sum(t.questions for t in report.tasks.values())
    resumed = f" ({report.resumed} from an earlier run's journal)" if report.resumed else ""
    lines += ["", f"{report.kept} of {total} questions rewritten and checked{resumed}; written to {out}"]
    return "\n".join(lines)


def read_records(path) -> list[dict]:
    """The file's rows as they are, to copy every field of a kept question."""
    from shopbench.data import read_json_lines

    return [record for _, record in read_json_lines(path)]

