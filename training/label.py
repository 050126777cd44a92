"""`python -m training label`: the rows of Table 7 whose answers a language model made (rows
1, 2, 4 and 20), labelled by any model behind an OpenAI-compatible server, as `rewrite` asks it.

A labelled source (`training.sources.LABELLED`) names its labellings, in order: each asks the
model about one unit of the data at a time (a product, a review, a product type), and keeps
the label only when the reply passes the labelling's checks (a category from the list
offered, a snippet that occurs in the review, ...); a later labelling sees the labels kept
before it. Every unit asked goes to the journal (OUT.partial, `training.served`) with its
label or the reason it was dropped; a run that stops resumes from it. When every labelling
is done, the source's tasks build questions from the kept labels, as `build` does, and the
questions are written to OUT.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass

from shopbench import jsonsafe
from training import served
from training.build import BuildReport, format_build, write_questions
from training.records import Ask, Dropped, Labelled, Source
from training.served import BATCH, TOO_LONG, Chat, Journal, Tally, tally_table

REPLY_KEPT = 300  # characters of a dropped reply kept in the journal, to see why it was dropped


@dataclass
class LabelReport:
    tallies: dict[str, Tally]  # labelling name -> units asked, kept and dropped by reason
    not_asked: dict[str, dict[str, int]]  # labelling name -> reason -> units passed over before asking
    resumed: int  # units already in the journal when the run began
    build: BuildReport


def _journal_problem(entry) -> str | None:
    """What a journal line lacks, or None: {"key", "status"}, and the label when kept."""
    if not isinstance(entry, dict):
        return f"expected a JSON object, got {jsonsafe.kind(entry)}"
    for name in ("key", "status"):
        if not isinstance(entry.get(name), str) or not entry[name]:
            return f"field '{name}': " + ("missing" if name not in entry else "expected text")
    if entry["status"] == "kept" and "label" not in entry:
        return "field 'label': missing"
    return None


def read_journal(path) -> tuple[dict | None, dict[str, dict]]:
    """(the run key, the entries by unit) of a label journal; checked before any server is
    asked (`served.read_journal`)."""
    return served.read_journal(path, "key", _journal_problem)


def judge(ask: Ask, reply: str | None, read) -> dict:
    """The journal entry of one unit: kept with its label, or the reason it was dropped."""
    if reply is None:
        return {"status": TOO_LONG}
    try:
        return {"status": "kept", "label": read(reply, ask.context)}
    except Dropped as dropped:
        return {"status": str(dropped), "reply": reply[:REPLY_KEPT]}


def label(source: Source, input_path, out, chat: Chat, key: dict, limit: int | None = None, seed: int = 0,
          progress: bool = False, load_options: dict | None = None) -> LabelReport:
    """Label `input_path` with the source's labellings (at most `limit` units asked in each),
    then write the questions its tasks build from the kept labels to `out`. `key` names the
    run; a journal of another run is refused."""
    from tqdm.auto import tqdm

    started = time.perf_counter()
    loaded = source.load(input_path, **(load_options or {}))
    load_seconds = time.perf_counter() - started
    labels: dict[str, dict] = {}
    tallies: dict[str, Tally] = {}
    not_asked: dict[str, dict[str, int]] = {}
    with Journal(out, key, "key", _journal_problem) as journal:
        resumed = len(journal.done)
        for labelling in source.labellings:
            kept = labels[labelling.name] = {}
            tally = tallies[labelling.name] = Tally()
            passed = not_asked[labelling.name] = {}

            def settle(batch: list[Ask]) -> None:
                ids = [f"{labelling.name}:{ask.key}" for ask in batch]
                todo = [(i, ask) for i, ask in zip(ids, batch) if i not in journal.done]
                replies = chat.replies([(list(ask.messages), ask.max_new_tokens) for _, ask in todo]) if todo else []
                journal.write([{"key": i, **judge(ask, reply, labelling.read)} for (i, ask), reply in zip(todo, replies)])
                for i, ask in zip(ids, batch):
                    entry = journal.done[i]
                    tally.count(entry["status"])
                    if entry["status"] == "kept":
                        kept[ask.key] = entry["label"]
                bar.update(len(batch))

            batch: list[Ask] = []
            with tqdm(total=limit, desc=f"Labelling: {labelling.name}", unit="unit", disable=not progress) as bar:
                for item in labelling.asks(loaded, labels, random.Random(f"{seed}:{labelling.name}")):
                    if isinstance(item, str):
                        passed[item] = passed.get(item, 0) + 1
                        continue
                    batch.append(item)
                    if len(batch) == BATCH:
                        settle(batch)
                        batch = []
                    if limit is not None and tally.tried + len(batch) == limit:
                        break
                settle(batch)
        report = write_questions(source, Labelled(loaded, labels), loaded.unusable, input_path, out, None, seed,
                                 progress, load_seconds, allow_empty=True)
    journal.finish()
    return LabelReport(tallies, not_asked, resumed, report)


def format_label(report: LabelReport) -> str:
    lines = tally_table(report.tallies, "labelling", "asked", "dropped")
    for name, reasons in report.not_asked.items():
        for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
            lines.append(f"Not asked ({name}): {reason}: {count}")
    asked = sum(t.tried for t in report.tallies.values())
    kept = sum(t.kept for t in report.tallies.values())
    resumed = f" ({report.resumed} from an earlier run's journal)" if report.resumed else ""
    lines += [f"{kept} of {asked} labels kept{resumed}", "", format_build(report.build)]
    return "\n".join(lines)
