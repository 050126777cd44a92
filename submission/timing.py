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

from shopbench import spec


@dataclass
class Throughput:
    hardware: str
    model: str
    seconds_per_question: dict  # task type -> seconds
    worst_batch_seconds_per_question: float
    questions: int

    @classmethod
    def read(cls, path) -> "Throughput":
        try:
            record = json.loads(open(path, encoding="utf-8").read())
            return cls(**{key: record[key] for key in cls.__dataclass_fields__})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a throughput file ({exc}); `run.py timing --save FILE` writes one") from None

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
        f"figures from: {throughput.model} on {throughput.hardware} ({throughput.questions} questions measured)",
        "",
        f"{'task type':<26}{'share':>7}{'s/question':>12}{'projected min':>15}",
        *rows,
        "",
        f"projected total: {total / 60:.1f} min of {track.minutes} min: {verdict}, margin {margin / 60:+.1f} min "
        f"({margin / limit:+.0%})",
        f"worst batch: {worst:.2f} s/question against the {spec.SECONDS_PER_QUESTION:.0f} s rule: "
        f"{'ok' if worst <= spec.SECONDS_PER_QUESTION else 'TOO SLOW'}",
    ])
