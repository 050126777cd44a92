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
several. Progress goes to a journal beside the output (OUT.partial, `training.served`), one
line per question tried; a run that stops resumes from it, and the output is written when
the run completes.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

from routing import anatomy, lexicon
from shopbench import jsonsafe
from shopbench.data import Question, write_atomically
from shopbench.text import quotations, single_spaced
from training import served
from training.served import BATCH, TOO_LONG, Chat, Journal, Tally, tally_table

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
    candidates = anatomy.read(question).candidates
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
    return single_spaced(text.casefold())


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
class RewriteReport:
    tasks: dict[str, Tally]  # task name -> its questions tried, kept and rejected by kind of reason
    resumed: int  # questions already in the journal when the run began

    @property
    def kept(self) -> int:
        return sum(t.kept for t in self.tasks.values())


def _reason_kind(reason: str) -> str:
    return reason.split(" ", 1)[0].rstrip(":") if reason.startswith(("lost", "drifted")) else reason.split(":", 1)[0]


def _journal_problem(entry) -> str | None:
    """What a journal line lacks, or None: {"index", "status"}, and the record when kept."""
    if not isinstance(entry, dict):
        return f"expected a JSON object, got {jsonsafe.kind(entry)}"
    if not jsonsafe.is_count(entry.get("index")):
        return "field 'index': " + ("missing" if "index" not in entry else "expected a whole number from 0")
    if not isinstance(entry.get("status"), str) or not entry["status"]:
        return "field 'status': " + ("missing" if "status" not in entry else "expected text")
    if entry["status"] == "kept" and not isinstance(entry.get("record"), dict):
        return "field 'record': " + ("missing" if "record" not in entry else "expected a JSON object")
    return None


def read_journal(path) -> tuple[dict | None, dict[int, dict]]:
    """(the run key, the entries by question index) of a rewrite journal; checked before any
    server is asked (`served.read_journal`)."""
    return served.read_journal(path, "index", _journal_problem)


class Rewriter:
    """Builds the model's requests and reads its replies; the engine is any `Engine`."""

    def __init__(self, engine):
        self.chat = Chat(engine)

    def rewrite(self, instructions: list[tuple[str, str]]) -> list[str | None]:
        """(instruction, style) pairs -> the cleaned replies (None: the request did not fit)."""
        asks = []
        for instruction, style in instructions:
            messages = [{"role": "system", "content": SYSTEM_TEXT},
                        {"role": "user", "content": REQUEST.format(style=style, instruction=instruction)}]
            tokens = len(self.chat.engine.tokenizer(instruction, add_special_tokens=False)["input_ids"])
            asks.append((messages, min(512, 2 * tokens + 16)))
        return [None if reply is None else cleaned_rewrite(reply) for reply in self.chat.replies(asks)]


def rewrite_file(questions: list[Question], records: list[dict], out, rewriter: Rewriter, scorer, key: dict,
                 wordings: int, progress: bool = False) -> RewriteReport:
    """Rewrite every question (`records`: the file's rows, by question index), journal each
    result, and write the kept rewrites to `out` once every question has been tried. `key`
    names the run; a journal of another run is refused."""
    from tqdm.auto import tqdm

    from training.check import check

    position_in_task: dict[str, int] = {}
    styles = {}
    for question in questions:
        position = position_in_task.get(question.task_name, 0)
        position_in_task[question.task_name] = position + 1
        styles[question.index] = STYLES[position % wordings]
    with Journal(out, key, "index", _journal_problem) as journal, tqdm(total=len(questions), desc="Rewriting", unit="q",
                                                       disable=not progress) as bar:
        done = journal.done
        todo = [q for q in questions if q.index not in done]
        bar.update(len(questions) - len(todo))
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
                problem = TOO_LONG if reply is None else wording_problem(split.instruction, reply)
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
            journal.write([entries[question.index] for question in chunk])
            bar.update(len(chunk))
    kept = [done[q.index]["record"] for q in questions if done[q.index]["status"] == "kept"]
    write_atomically(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
    journal.finish()
    tasks: dict[str, Tally] = {}
    for question in questions:
        status = done[question.index]["status"]
        tasks.setdefault(question.task_name, Tally()).count(status, _reason_kind(status))
    return RewriteReport(tasks, len(questions) - len(todo))


def format_rewrite(report: RewriteReport, out) -> str:
    lines = tally_table(report.tasks, "task", "questions", "rejected")
    total = sum(t.tried for t in report.tasks.values())
    resumed = f" ({report.resumed} from an earlier run's journal)" if report.resumed else ""
    lines += ["", f"{report.kept} of {total} questions rewritten and checked{resumed}; written to {out}"]
    return "\n".join(lines)


def read_records(path) -> list[dict]:
    """The file's rows as they are, to copy every field of a kept question."""
    from shopbench.data import read_json_lines

    return [record for _, record in read_json_lines(path)]

