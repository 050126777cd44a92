"""Running a source's builders into one ShopBench JSON Lines file.

Each task draws from its own generator, seeded with the build seed and the task name, so
a task's questions do not depend on the other tasks or on --limit: a limited build is the
first questions of the full one. --limit is shared evenly among the tasks; what a task
cannot fill passes to the tasks after it.
"""
from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from shopbench import data
from shopbench.data import DataError
from shopbench.report import table
from shopbench.terminal import printable
from training.records import Source, Task, question_record


@dataclass
class TaskTally:
    task: Task
    written: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> units of the source passed over


@dataclass
class BuildReport:
    source: str
    out: str
    tallies: list[TaskTally]
    unusable: dict[str, int]  # input records no task could use, by reason
    load_seconds: float
    build_seconds: float

    @property
    def questions(self) -> int:
        return sum(tally.written for tally in self.tallies)


def task_seed(seed: int, task: Task) -> random.Random:
    return random.Random(f"{seed}:{task.name}")


def build(source: Source, input_path, out, limit: int | None = None, seed: int = 0, progress: bool = False) -> BuildReport:
    started = time.perf_counter()
    loaded = source.load(input_path)
    return write_questions(source, loaded, loaded.unusable, input_path, out, limit, seed, progress,
                           time.perf_counter() - started)


def write_questions(source: Source, loaded, unusable: dict[str, int], input_path, out, limit: int | None, seed: int,
                    progress: bool, load_seconds: float, allow_empty: bool = False) -> BuildReport:
    """The source's tasks over `loaded` into `out` (`unusable`: the input records the loader
    left out, by reason); a DataError naming `input_path` when no question could be built,
    unless `allow_empty`."""
    from tqdm.auto import tqdm

    loaded_at = time.perf_counter()
    tallies = []
    remaining = limit
    with data.atomic_writer(out) as handle, tqdm(total=limit, desc=f"Building {source.name}", unit="q",
                                                 disable=not progress) as bar:
        for position, task in enumerate(source.tasks):
            tally = TaskTally(task)
            tallies.append(tally)
            quota = None if remaining is None else math.ceil(remaining / (len(source.tasks) - position))
            if quota == 0:
                continue
            for item in task.build(loaded, task_seed(seed, task)):
                if isinstance(item, str):
                    tally.skipped[item] += 1
                    continue
                handle.write(json.dumps(question_record(task, item), ensure_ascii=False) + "\n")
                tally.written += 1
                bar.update()
                if tally.written == quota:
                    break
            if remaining is not None:
                remaining -= tally.written
        if not allow_empty and not any(tally.written for tally in tallies):
            # Records no task could use (an unknown task name) say why as well as skipped units.
            reasons = Counter(unusable)
            for tally in tallies:
                reasons.update(tally.skipped)
            why = "; ".join(f"{reason} ({count})" for reason, count in reasons.most_common(3)) or "no records"
            raise DataError(f"{input_path}: no question could be built: {why}")
    return BuildReport(source.name, str(out), tallies, dict(unusable), load_seconds, time.perf_counter() - loaded_at)


def format_build(report: BuildReport) -> str:
    rows = []
    for tally in report.tallies:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in tally.skipped.most_common())
        rows.append([tally.task.name, tally.task.task_type, tally.task.metric, str(tally.written),
                     str(sum(tally.skipped.values())), reasons or "-"])
    lines = table(["task", "task type", "metric", "written", "skipped", "why skipped"], rows, right={3, 4})
    for reason, count in report.unusable.items():
        lines.append(printable(f"Input records left out: {reason}: {count}"))  # reasons quote the data
    rate = report.questions / report.build_seconds if report.build_seconds else float("inf")
    lines.append(
        f"{report.questions} questions written to {report.out} "
        f"(load {report.load_seconds:.1f} s, build {report.build_seconds:.1f} s, {rate:,.0f} questions/s)"
    )
    return "\n".join(lines)
