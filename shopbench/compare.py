"""Two results files on the same questions: is B's score different from A's, or noise?

A paired bootstrap: each replicate resamples the questions of every task with replacement
(each task keeps its size, so the task mix stays the data's), scores A and B on the same
resampled questions, and rebuilds task, track, T5 and overall scores with the scorer's own
rules (`scoring.task_score`, `scoring.aggregate_tasks`): micro F1 is pooled over the counts
of the resampled questions. The 95% interval is the 2.5th to 97.5th percentile of the
replicates' B - A.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from shopbench import jsonsafe, metric_registry, scoring, spec
from shopbench.data import DataError
from shopbench.jsonsafe import is_count, is_number

CONFIDENCE = 95
# A task's replicates are drawn in blocks of at most this many resampled questions, so a
# task of tens of thousands of questions does not hold every replicate's indices at once.
MAX_DRAWN = 2**22


@dataclass(frozen=True)
class Answer:
    """One question of a results file."""

    index: int
    task_name: str
    metric: str
    score: float
    counts: tuple[int, int, int] | None  # micro F1's tp, fp, fn
    response: str


@dataclass(frozen=True)
class Results:
    name: str  # the file, for messages
    metrics: dict[str, str]  # task name: the metric its score follows
    tracks: dict[str, str | None]  # task name: track, for the tasks the file records one for
    answers: dict[int, Answer]  # by question index
    rules: str = spec.KDD_RULES  # which rules scored it (files from before rules were recorded: KDD)


def _text(value) -> str:
    """A value from the file as a message shows it: JSON, cut short, control characters escaped."""
    return json.dumps(value, ensure_ascii=False)[:60]


# Scores are sums and quotients of floats, so the scorer itself writes a hair past the ends:
# BLEU's 100.00000000000004 / 100 is the kit's own 1.0000000000000004 for a perfect answer.
ROUNDING = 1e-6


def _is_score(value) -> bool:
    return is_number(value) and -ROUNDING <= value <= 1 + ROUNDING


def _score_check(metrics) -> tuple:
    """(check, words) for scores of these metrics: a finite number in [0, 1] (give or take
    `ROUNDING`), the range every bounded metric gives; nDCG is not bounded, as its gold weights
    may be negative (the release's data may hold such weights; a ranking that leaves a negative
    candidate out then scores above 1)."""
    if not all(metric_registry.get(metric).bounded for metric in metrics):
        return is_number, "a finite number"
    return _is_score, "a finite number from 0 to 1"


def _answer(name: str, position: int, sample, metrics: dict[str, str]) -> Answer:
    def fail(message: str) -> DataError:
        return DataError(f"{name}: samples[{position}]: {message}")

    if not isinstance(sample, dict):
        raise fail(f"expected a JSON object, got {jsonsafe.kind(sample)}")
    task_name = sample.get("task_name")
    if not isinstance(task_name, str) or task_name not in metrics:
        raise fail(f"task_name {_text(task_name)} is not one of the file's tasks")
    score_ok, score_words = _score_check([metrics[task_name]])
    for key, check, expected in (("index", is_count, "a whole number from 0"), ("score", score_ok, score_words),
                                 ("response", lambda v: isinstance(v, str), "a string")):
        if not check(sample.get(key)):
            raise fail(f"'{key}' " + ("missing" if key not in sample else f"is not {expected}: {_text(sample[key])}"))
    counts = None
    if metric_registry.get(metrics[task_name]).aggregation.pooled:
        for key in ("tp", "fp", "fn"):
            if not is_count(sample.get(key)):
                raise fail(f"a '{metrics[task_name]}' sample needs '{key}', a whole number from 0, got "
                           f"{_text(sample.get(key)) if key in sample else 'none'}")
        counts = (sample["tp"], sample["fp"], sample["fn"])
    return Answer(sample["index"], task_name, metrics[task_name], float(sample["score"]), counts, sample["response"])


def _task(name: str, task_name: str, task) -> tuple[str, str | None, bool]:
    """(metric, track, whether the file records a track) of one entry of 'tasks', checked."""
    def fail(message: str) -> DataError:
        return DataError(f"{name}: tasks[{_text(task_name)}]: {message}")

    if not isinstance(task, dict):
        raise fail(f"expected a JSON object, got {jsonsafe.kind(task)}")
    if task.get("metric") not in metric_registry.names():
        raise fail(f"'metric' missing or not one of {', '.join(metric_registry.names())}")
    score_ok, score_words = _score_check([task["metric"]])
    for key, check, expected in (
        ("task_type", lambda v: v in spec.TASK_TYPES, f"one of {', '.join(spec.TASK_TYPES)}"),
        ("track", lambda v: v is None or (isinstance(v, str) and v != ""), "a track id or null"),
        ("num_samples", is_count, "a whole number from 0"),
        ("score", score_ok, score_words),
    ):
        # Files written before a key was recorded lack it; what is there must have its shape.
        if key in task and not check(task[key]):
            raise fail(f"'{key}' is not {expected}: {_text(task[key])}")
    return task["metric"], task.get("track"), "track" in task


def results_from_json(name: str, record) -> Results:
    """Check a results dict (what `local_evaluation.py --output` writes) against the shape
    and ranges the scorer writes, and keep what comparing needs. `name` names the file in
    messages."""
    if not isinstance(record, dict):
        raise DataError(f"{name}: not a results file (expected a JSON object from local_evaluation.py --output, "
                        f"got {jsonsafe.kind(record)})")
    for key, kind in (("tasks", dict), ("samples", list)):
        if not isinstance(record.get(key), kind):
            problem = "no" if key not in record else "a malformed"
            raise DataError(f"{name}: not a results file ({problem} '{key}'; write one with local_evaluation.py --output)")
    rules = record.get("rules", spec.KDD_RULES)
    if not isinstance(rules, str) or rules not in metric_registry.RULE_SETS:
        raise DataError(f"{name}: 'rules' is {_text(rules)}, not one of {', '.join(metric_registry.RULE_NAMES)}")
    metrics, tracks = {}, {}
    for task_name, task in record["tasks"].items():
        metrics[task_name], track, recorded = _task(name, task_name, task)
        # Files written before tasks recorded their track have no key: the other file may say it.
        if recorded:
            tracks[task_name] = track
    score_ok, score_words = _score_check(metrics.values())
    if "overall" in record and not score_ok(record["overall"]):
        raise DataError(f"{name}: 'overall' is not {score_words}: {_text(record['overall'])}")
    if "tracks" in record:
        if not isinstance(record["tracks"], dict):
            raise DataError(f"{name}: 'tracks' is not an object of track: score, got {jsonsafe.kind(record['tracks'])}")
        for track, score in record["tracks"].items():
            if not score_ok(score):
                raise DataError(f"{name}: tracks[{_text(track)}] is not {score_words}: {_text(score)}")
    if "non_string_responses" in record and not is_count(record["non_string_responses"]):
        raise DataError(f"{name}: 'non_string_responses' is not a whole number from 0: "
                        f"{_text(record['non_string_responses'])}")
    answers = {}
    for position, sample in enumerate(record["samples"]):
        answer = _answer(name, position, sample, metrics)
        if answer.index in answers:
            raise DataError(f"{name}: samples[{position}]: question {answer.index} appears twice")
        answers[answer.index] = answer
    if not answers:
        raise DataError(f"{name}: no samples")
    return Results(name, metrics, tracks, answers, rules)


def read_record(path):
    """A results file's JSON, not yet checked (`results_from_json` checks it); DataError when
    it cannot be read or is not JSON. NaN is read as a number here so that the check names
    the field that holds it."""
    return jsonsafe.load_file(path, finite=False)


def read(path) -> Results:
    return results_from_json(str(path), read_record(path))


@dataclass(frozen=True)
class PairedTask:
    """One task's questions in A and B, in index order."""

    name: str
    metric: str
    track: str | None
    scores: np.ndarray  # (2, questions): each question's score in A, then in B
    counts: np.ndarray | None  # (2, questions, 3): tp, fp, fn; micro F1 tasks only

    @property
    def size(self) -> int:
        return self.scores.shape[1]

    def score(self, picks=slice(None)) -> np.ndarray:
        """A's and B's task score (the first axis) on the questions `picks` selects: all of
        them, or an index array whose leading axes are replicates."""
        counts = None if self.counts is None else self.counts[:, picks]
        return scoring.task_score(self.metric, self.scores[:, picks], counts)


def pair(a: Results, b: Results) -> list[PairedTask]:
    """A's and B's questions grouped by task; refused unless both hold the same questions."""
    if a.rules != b.rules:
        raise DataError(f"{b.name}: scored by the {b.rules} rules, {a.name} by the {a.rules} rules; "
                        "score both by the same (local_evaluation.py --responses --rules)")
    only_a, only_b = sorted(a.answers.keys() - b.answers.keys()), sorted(b.answers.keys() - a.answers.keys())
    if only_a or only_b:
        differs = ", ".join(f"{len(only)} only in {r.name} (first: question {only[0]})"
                            for only, r in ((only_a, a), (only_b, b)) if only)
        raise DataError(f"{b.name}: not the same questions as {a.name}: {differs}")
    by_task: dict[str, list[int]] = {}
    for index in sorted(a.answers):
        first, second = a.answers[index], b.answers[index]
        if (first.task_name, first.metric) != (second.task_name, second.metric):
            raise DataError(f"{b.name}: question {index} is task '{second.task_name}' ({second.metric}) here "
                            f"but '{first.task_name}' ({first.metric}) in {a.name}")
        by_task.setdefault(first.task_name, []).append(index)
    tasks = []
    for name, indices in by_task.items():
        if name in a.tracks and name in b.tracks and a.tracks[name] != b.tracks[name]:
            raise DataError(f"{b.name}: task '{name}' is in track {spec.track_label(b.tracks[name])} here "
                            f"but {spec.track_label(a.tracks[name])} in {a.name}")
        answers = [[r.answers[i] for i in indices] for r in (a, b)]
        scores = np.array([[answer.score for answer in side] for side in answers])
        pooled = metric_registry.get(a.metrics[name]).aggregation.pooled
        counts = np.array([[answer.counts for answer in side] for side in answers]) if pooled else None
        tasks.append(PairedTask(name, a.metrics[name], a.tracks.get(name, b.tracks.get(name)), scores, counts))
    return tasks


@dataclass(frozen=True)
class Row:
    """A task, track or the overall score in A and B, and the bootstrap of B - A."""

    kind: str  # "task", "track" or "overall"
    name: str  # the task name, the track id, or "overall"
    questions: int
    a: float
    b: float
    low: float  # the interval of the replicates' B - A
    high: float
    differences: np.ndarray = field(repr=False)  # B - A in each replicate

    @property
    def difference(self) -> float:
        return self.b - self.a

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "questions": self.questions, "a": self.a, "b": self.b,
                "difference": self.difference, "interval": [self.low, self.high], "excludes_zero": self.excludes_zero}


@dataclass(frozen=True)
class Comparison:
    replicates: int
    seed: int
    rows: list[Row]  # each task, each track (T5 among them), overall

    def to_json(self) -> dict:
        return {"replicates": self.replicates, "seed": self.seed, "confidence": CONFIDENCE,
                "rows": [row.to_json() for row in self.rows]}


def _replicate_scores(task: PairedTask, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """(2, replicates): A's and B's task score in each replicate, on the same resampled questions."""
    block = max(1, MAX_DRAWN // task.size)
    scores = []
    for start in range(0, replicates, block):
        scores.append(task.score(rng.integers(0, task.size, size=(min(block, replicates - start), task.size))))
    return np.concatenate(scores, axis=1)


def _row(kind: str, name: str, questions: int, full: np.ndarray, replicated: np.ndarray) -> Row:
    differences = replicated[1] - replicated[0]
    low, high = np.percentile(differences, [(100 - CONFIDENCE) / 2, (100 + CONFIDENCE) / 2])
    return Row(kind, name, questions, float(full[0]), float(full[1]), float(low), float(high), differences)


def bootstrap(tasks: list[PairedTask], replicates: int, seed: int, rules: str = spec.KDD_RULES) -> Comparison:
    """Scores of A and B on the full data, and the paired bootstrap of B - A, for every
    task, track (T5 included when the scorer makes it) and the overall score (by `rules`:
    the mean of tasks, or of the skills under the release's)."""
    rng = np.random.default_rng(seed)
    # A and B travel together on the first axis: (2,) on the full data, (2, replicates) resampled.
    full = [task.score() for task in tasks]
    replicated = [_replicate_scores(task, replicates, rng) for task in tasks]
    rows = [_row("task", task.name, task.size, f, r) for task, f, r in zip(tasks, full, replicated)]
    full_tracks, full_overall = scoring.aggregate_tasks([(task.track, f) for task, f in zip(tasks, full)])
    replicated_tracks, replicated_overall = scoring.aggregate_tasks(
        [(task.track, r) for task, r in zip(tasks, replicated)]
    )
    sizes: dict[str, int] = {}
    for task in tasks:
        if task.track is not None:
            sizes[task.track] = sizes.get(task.track, 0) + task.size
    for track, score in full_tracks.items():
        # The only track the scorer adds is T5, made of the four component tracks.
        questions = sizes[track] if track in sizes else sum(sizes[t.challenge_id] for t in spec.COMPONENT_TRACKS)
        rows.append(_row("track", track, questions, score, replicated_tracks[track]))
    full_overall = scoring.overall_score(rules, full_tracks, full_overall)
    replicated_overall = scoring.overall_score(rules, replicated_tracks, replicated_overall)
    rows.append(_row("overall", "overall", sum(task.size for task in tasks), full_overall, replicated_overall))
    return Comparison(replicates, seed, rows)


@dataclass(frozen=True)
class Change:
    index: int
    task_name: str
    score_a: float
    score_b: float
    response_a: str
    response_b: str

    def to_json(self) -> dict:
        return asdict(self)


def changed_most(a: Results, b: Results, n: int) -> list[Change]:
    """The n questions whose score changed most (largest |B - A|, then lowest index);
    questions whose score did not change are never listed."""
    changes = [Change(i, a.answers[i].task_name, a.answers[i].score, b.answers[i].score,
                      a.answers[i].response, b.answers[i].response) for i in sorted(a.answers)]
    changes = [c for c in changes if c.score_b != c.score_a]
    return sorted(changes, key=lambda c: -abs(c.score_b - c.score_a))[:n]
