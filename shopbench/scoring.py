"""Scoring a run: parse each response, apply its metric, aggregate by task and track.

Responses are read by one of two sets of rules: the KDD Cup starter kit's (the
competition's) or the Shopping MMLU release's (its leaderboard's). How each metric is
parsed, scored and aggregated under each is its record in `metric_registry`.

Two paths give the same numbers. `Scorer.score` is the fast one: scorer objects built
once, every distinct text embedded once, in batches. `score_one_at_a_time` is the starter
kit's way (new scorer objects per call, one text per encode) and is the reference the
fast path is tested and benchmarked against.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopbench import metric_registry, metrics, spec
from shopbench.data import Question
from shopbench.metric_registry import RULE_SETS, RuleSet


@dataclass
class SampleScore:
    index: int
    task_name: str
    task_type: str
    metric: str
    response: str
    parsed: Any
    score: float
    counts: tuple[int, int, int] | None = None  # micro F1's tp, fp, fn
    prompt: str | None = None  # the question's input_field, so a results file can be read alone
    gold: Any = None  # its output_field

    def to_json(self) -> dict:
        record = {
            "index": self.index,
            "task_name": self.task_name,
            "task_type": self.task_type,
            "metric": self.metric,
            "prompt": self.prompt,
            "response": self.response,
            "parsed": self.parsed,
            "gold": self.gold,
            "score": self.score,
        }
        if self.counts is not None:
            record.update(zip(("tp", "fp", "fn"), self.counts))
        return record


@dataclass
class TaskScore:
    task_type: str
    metric: str
    track: str | None
    num_samples: int
    score: float

    def to_json(self) -> dict:
        return {"task_type": self.task_type, "metric": self.metric, "track": self.track,
                "num_samples": self.num_samples, "score": self.score}


@dataclass
class Report:
    overall: float
    tracks: dict[str, float]
    tasks: dict[str, TaskScore]
    samples: list[SampleScore]
    non_string_responses: int = 0
    rules: str = spec.KDD_RULES
    extra: dict = field(default_factory=dict)  # timings and counters of the run that made the responses

    def to_json(self) -> dict:
        return {
            "rules": self.rules,
            "overall": self.overall,
            "tracks": self.tracks,
            "tasks": {name: task.to_json() for name, task in self.tasks.items()},
            "samples": [sample.to_json() for sample in self.samples],
            "non_string_responses": self.non_string_responses,
            **self.extra,
        }


def response_text(response, rules: RuleSet = RULE_SETS[spec.KDD_RULES]) -> str | None:
    """The response as the parser sees it; None for a non-string (scored as empty)."""
    return rules.read(response) if isinstance(response, str) else None


def parse(question: Question, text: str, rules: RuleSet):
    """The answer `rules` read in `text` for `question`'s metric."""
    return metric_registry.get(question.metric).readings[rules.name].parsed(question.task_type, text)


def score_sample(question: Question, text: str, parsed, rules: RuleSet, tool) -> SampleScore:
    """Score one parsed response with its metric's scorer under `rules`; `tool` is what the
    scorer shares (a scorer object, an embedding function), None for a new one per call."""
    metric = metric_registry.get(question.metric)
    result = metric.readings[rules.name].score(parsed, question.output_field, tool)
    score, counts = metric.aggregation.sample(result)
    return SampleScore(question.index, question.task_name, question.task_type, metric.name, text, parsed, score,
                       counts, question.input_field, question.output_field)


def _embedding_texts(question: Question, parsed) -> list[str]:
    return [parsed, *metrics.references(question.output_field)]


def task_score(metric: str, scores, counts):
    """A task's score by its metric's aggregation: micro F1 on the summed counts (tp, fp, fn
    on the last axis), else the mean score. Questions are the last axis of `scores` and the
    one before it of `counts`; leading axes (bootstrap replicates) give one score each."""
    return metric_registry.get(metric).aggregation.task(scores, counts)


def aggregate_tasks(task_scores: list[tuple[str | None, Any]]) -> tuple[dict[str, Any], Any]:
    """(track scores in the official order, the kit's overall) from (track, score) per task.

    A track is the mean of its tasks and the overall the mean of every task. Scores are
    numbers, or arrays of bootstrap replicates reduced element by element.
    """
    scores_by_track: dict[str, list] = {}
    for track, score in task_scores:
        if track is not None:
            scores_by_track.setdefault(track, []).append(score)
    tracks = {track: np.mean(scores, axis=0) for track, scores in scores_by_track.items()}
    # The leaderboard's T5 is the mean of the four track scores. Data that labels its own
    # questions with the T5 id keeps that track as it is.
    components = [t.challenge_id for t in spec.COMPONENT_TRACKS]
    if spec.ALL_AROUND.challenge_id not in tracks and all(c in tracks for c in components):
        tracks[spec.ALL_AROUND.challenge_id] = np.mean([tracks[c] for c in components], axis=0)
    official_order = [t.challenge_id for t in spec.TRACKS]
    ordered = sorted(tracks, key=lambda t: official_order.index(t) if t in official_order else len(official_order))
    return {track: tracks[track] for track in ordered}, np.mean([score for _, score in task_scores], axis=0)


def overall_score(rules: str, tracks: dict[str, Any], mean_of_tasks):
    """The kit's overall (the mean of every task) under the KDD rules; the leaderboard's (the
    mean of the skills present) under the release's, falling back on the kit's without skills.
    Numbers or arrays of bootstrap replicates alike."""
    skills = [tracks[skill.track] for skill in spec.SKILLS if skill.track in tracks]
    return np.mean(skills, axis=0) if RULE_SETS[rules].overall_by_skill and skills else mean_of_tasks


def aggregate(questions: list[Question], samples: list[SampleScore], non_string: int = 0,
              rules: str = spec.KDD_RULES) -> Report:
    """Task scores (micro F1 pooled, else the mean), track means and T5. The overall is the
    kit's (the mean of every task) under the KDD rules, the leaderboard's (the mean of the
    skills present) under the release's; a run with no skill falls back on the kit's."""
    by_task: dict[str, list[tuple[Question, SampleScore]]] = {}
    for question, sample in zip(questions, samples):
        by_task.setdefault(question.task_name, []).append((question, sample))
    tasks = {}
    for name, rows in by_task.items():
        first = rows[0][0]
        score = float(task_score(first.metric, [s.score for _, s in rows], [s.counts for _, s in rows]))
        tasks[name] = TaskScore(first.task_type, first.metric, first.track, len(rows), score)
    tracks, overall = aggregate_tasks([(task.track, task.score) for task in tasks.values()])
    return Report(
        overall=float(overall_score(rules, tracks, overall)),
        tracks={track: float(score) for track, score in tracks.items()},
        tasks=tasks,
        samples=samples,
        non_string_responses=non_string,
        rules=rules,
    )


class Scorer:
    """Scores whole runs with scorer objects and embeddings shared across questions.

    `embedding_models` maps a metric that needs a sentence-embedding model to a model with a
    sentence-transformers `encode`; only the metrics present in the data need one. `rules`
    names an entry of `metric_registry.RULE_SETS`.
    """

    def __init__(self, embedding_models: dict | None = None, rules: str = spec.KDD_RULES):
        from shopbench.embeddings import TextEncoder

        self.rules = RULE_SETS[rules]
        self.encoders = {metric: TextEncoder(model) for metric, model in (embedding_models or {}).items()}
        self._tools: dict[str, Any] = {}  # each metric's shared scorer object, built on first need

    def _tool(self, metric: str):
        encoder = self.encoders.get(metric)
        return encoder.__getitem__ if encoder else self._tools.get(metric)

    def score(self, questions: list[Question], responses: list, progress: bool = False) -> Report:
        from tqdm.auto import tqdm

        texts = [response_text(r, self.rules) for r in responses]
        non_string = sum(t is None for t in texts)
        texts = ["" if t is None else t for t in texts]
        parsed = [parse(q, t, self.rules) for q, t in zip(questions, texts)]

        for name in dict.fromkeys(q.metric for q in questions):
            build = metric_registry.get(name).tool
            if build and name not in self._tools:
                self._tools[name] = build()
        for metric, encoder in self.encoders.items():
            encoder.encode(
                text for q, p in zip(questions, parsed) if q.metric == metric for text in _embedding_texts(q, p)
            )

        rows = tqdm(zip(questions, texts, parsed), total=len(questions), desc="Scoring", disable=not progress)
        samples = [score_sample(q, text, answer, self.rules, self._tool(q.metric)) for q, text, answer in rows]
        return aggregate(questions, samples, non_string, self.rules.name)


def score_one_at_a_time(questions: list[Question], responses: list, embedding_models: dict | None = None,
                        rules: str = spec.KDD_RULES) -> Report:
    """The starter kit's way: each question alone, new scorer objects, one text per encode."""
    models = embedding_models or {}
    chosen = RULE_SETS[rules]
    texts = [response_text(r, chosen) for r in responses]
    samples = []
    for question, text in zip(questions, texts):
        text = "" if text is None else text
        model = models.get(question.metric)
        embed = model and (lambda t, m=model: m.encode([t])[0])
        samples.append(score_sample(question, text, parse(question, text, chosen), chosen, embed))
    return aggregate(questions, samples, sum(t is None for t in texts), rules)
