"""`python run.py timing --track N`: will the model answer the whole track in time?

Seconds per question per task type, measured here on a sample of the track's questions
(or read from a file measured elsewhere, such as a 4x T4 run), projected onto the track's
full question count with the sample's task-type mix, against the track's limit; and the
slowest batch against the 10 s per question rule.
"""
from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass

from shopbench import jsonsafe, spec
from shopbench.data import DataError
from shopbench.jsonsafe import is_int, is_number
from shopbench.terminal import printable

# Bounds on figures read from a file: an hour per question is far past any model that could
# be submitted (the rule is 10 s), so a larger figure is a unit mistake, and keeping the
# figures bounded keeps the projection a readable number.
MAX_SECONDS_PER_QUESTION = 3600.0
MAX_QUESTIONS = 10**7


@dataclass
class Throughput:
    hardware: str
    model: str
    seconds_per_question: dict  # task type -> seconds
    worst_batch_seconds_per_question: float
    questions: int

    @classmethod
    def read(cls, path) -> "Throughput":
        """Figures saved by `run.py timing --save`, each checked: text where text is due,
        seconds positive and at most `MAX_SECONDS_PER_QUESTION`, a question count from 1."""
        record = jsonsafe.load_file(path)
        if not isinstance(record, dict):
            raise DataError(f"{path}: not a throughput file (expected a JSON object, got {jsonsafe.kind(record)}); "
                            "`run.py timing --save FILE` writes one")

        def field(key: str, check, expected: str):
            if key not in record:
                raise DataError(f"{path}: field '{key}': missing; `run.py timing --save FILE` writes a throughput file")
            if not check(record[key]):
                raise DataError(f"{path}: field '{key}': expected {expected}, got {json.dumps(record[key])[:60]}")
            return record[key]

        seconds = (lambda v: is_number(v) and 0 < v <= MAX_SECONDS_PER_QUESTION,
                   f"seconds from above 0 to {MAX_SECONDS_PER_QUESTION:g}")
        by_type = field("seconds_per_question", lambda v: isinstance(v, dict) and v != {},
                        "an object of task type: seconds, for at least one task type")
        for task_type, value in by_type.items():
            if task_type not in spec.TASK_TYPES:
                raise DataError(f"{path}: field 'seconds_per_question': {json.dumps(task_type)[:60]} is not a task type "
                                f"({', '.join(spec.TASK_TYPES)})")
            if not seconds[0](value):
                raise DataError(f"{path}: field 'seconds_per_question': {task_type}: expected {seconds[1]}, "
                                f"got {json.dumps(value)[:60]}")
        return cls(
            hardware=field("hardware", lambda v: isinstance(v, str), "text"),
            model=field("model", lambda v: isinstance(v, str), "text"),
            seconds_per_question=by_type,
            worst_batch_seconds_per_question=field("worst_batch_seconds_per_question", *seconds),
            questions=field("questions", lambda v: is_int(v) and 1 <= v <= MAX_QUESTIONS,
                            f"a whole number from 1 to {MAX_QUESTIONS}"),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def hardware() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            return f"{len(names)}x {names[0]}"
    except ImportError:
        pass
    model_name = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor() or platform.machine(),
    ) if os.path.exists("/proc/cpuinfo") else platform.machine()
    return f"CPU: {model_name}, {os.cpu_count()} cores, no GPU"


def measure(model, questions, batch_size=None) -> Throughput:
    from shopbench.runner import run

    summary = run(model, questions, batch_size).summary()
    return Throughput(
        hardware(), getattr(model, "description", type(model).__name__),
        summary["seconds_per_question_by_task_type"], summary["worst_batch_seconds_per_question"], len(questions),
    )


def task_mix(questions) -> dict[str, float]:
    counts: dict[str, int] = {}
    for question in questions:
        counts[question.task_type] = counts.get(question.task_type, 0) + 1
    return {task_type: count / len(questions) for task_type, count in counts.items()}


def projection(track: spec.Track, throughput: Throughput, mix: dict[str, float]) -> str:
    measured = throughput.seconds_per_question
    fallback = sum(measured.values()) / len(measured)
    rows, total = [], 0.0
    for task_type, share in sorted(mix.items(), key=lambda item: -item[1]):
        seconds = measured.get(task_type, fallback)
        projected = track.questions * share * seconds
        total += projected
        note = "" if task_type in measured else "  (not measured: mean of the others)"
        rows.append(f"{task_type:<26}{share:>7.1%}{seconds:>12.3f}{projected / 60:>15.1f}{note}")
    limit = track.minutes * 60
    margin = limit - total
    verdict = "fits" if margin >= 0 else "OVERRUNS"
    worst = throughput.worst_batch_seconds_per_question
    return "\n".join([
        f"Track {track.number} ({track.challenge_id}): {track.questions} questions in {track.minutes} min",
        f"figures from: {printable(throughput.model)} on {printable(throughput.hardware)} "
        f"({throughput.questions} questions measured)",
        "",
        f"{'task type':<26}{'share':>7}{'s/question':>12}{'projected min':>15}",
        *rows,
        "",
        f"projected total: {total / 60:.1f} min of {track.minutes} min: {verdict}, margin {margin / 60:+.1f} min "
        f"({margin / limit:+.0%})",
        f"worst batch: {worst:.2f} s/question against the {spec.SECONDS_PER_QUESTION:.0f} s rule: "
        f"{'ok' if worst <= spec.SECONDS_PER_QUESTION else 'TOO SLOW'}",
    ])
