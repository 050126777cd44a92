"""Scoring a run: parse each response, apply its metric, aggregate by task and track.

Responses are read by one of two sets of rules (`RULES`): the KDD Cup starter kit's (the
competition's) or the Shopping MMLU release's (its leaderboard's); both share the text
metrics and the aggregation.

Two paths give the same numbers. `Scorer.score` is the fast one: scorer objects built
once, every distinct text embedded once, in batches. `score_one_at_a_time` is the starter
kit's way (new scorer objects per call, one text per encode) and is the reference the
fast path is tested and benchmarked against.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from shopbench import metrics, mmlu_rules, parsers, spec
from shopbench.data import Question


@dataclass(frozen=True)
class Rules:
    """How a response is read and the metrics that read it differently under each rules set;
    ROUGE-L, BLEU, the embedding cosine and hit rate are computed the same way by both."""

    name: str
    read: Callable[[str], str]  # the part of a response the parsers see
    parse: Callable[[Question, str], Any]
    accuracy: Callable[[Any, int], float]
    ndcg: Callable[[list[int], list[float]], float]
    tp_fp_fn: Callable[[list[str], list[str]], tuple[int, int, int]]


RULES = {
    spec.KDD_RULES: Rules(spec.KDD_RULES, parsers.cut, lambda question, text: parsers.PARSERS[question.task_type](text),
                          metrics.accuracy, metrics.ndcg, metrics.tp_fp_fn),
    # The release reads the whole response, by the question's metric.
    spec.MMLU_RULES: Rules(spec.MMLU_RULES, lambda response: response,
                           lambda question, text: mmlu_rules.PARSERS[question.metric](text),
                           mmlu_rules.accuracy, mmlu_rules.ndcg, mmlu_rules.tp_fp_fn),
}


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


def response_text(response, rules: Rules = RULES[spec.KDD_RULES]) -> str | None:
    """The response as the parser sees it; None for a non-string (scored as empty)."""
    return rules.read(response) if isinstance(response, str) else None


def _sample(question: Question, text: str, parsed, *, rules: Rules, rouge, bleus: dict,
            embed: Callable[[str], np.ndarray]) -> SampleScore:
    """Score one parsed response. rouge None or a missing bleus entry: a new scorer per call."""
    metric, truth = question.metric, question.output_field
    counts = None
    if metric == spec.ACCURACY:
        score = rules.accuracy(parsed, truth)
    elif metric == spec.HIT_RATE_3:
        score = metrics.hit_rate_3(parsed, truth)
    elif metric == spec.NDCG:
        score = rules.ndcg(parsed, truth)
    elif metric == spec.MICRO_F1:
        counts = rules.tp_fp_fn(parsed, truth)
        score = metrics.f1(*counts)
    elif metric == spec.ROUGE_L:
        score = metrics.rouge_l(parsed, truth, scorer=rouge)
    elif metric in (spec.BLEU, spec.JP_BLEU):
        japanese = metric == spec.JP_BLEU
        score = metrics.bleu(parsed, truth, japanese=japanese, scorer=bleus.get(japanese))
    else:
        truths = [truth] if isinstance(truth, str) else truth
        score = metrics.cosine_score(embed(parsed), [embed(t) for t in truths])
    return SampleScore(question.index, question.task_name, question.task_type, metric, text, parsed, float(score),
                       counts, question.input_field, truth)


def _embedding_texts(question: Question, parsed) -> list[str]:
    truth = question.output_field
    return [parsed, *([truth] if isinstance(truth, str) else truth)]


def task_score(metric: str, scores, counts):
    """A task's score: micro F1 on the summed counts (tp, fp, fn on the last axis) for
    micro F1 tasks, else the mean score. Questions are the last axis of `scores` and the
    one before it of `counts`; leading axes (bootstrap replicates) give one score each."""
    if metric == spec.MICRO_F1:
        tp, fp, fn = np.moveaxis(np.sum(counts, axis=-2), -1, 0)
        return np.vectorize(metrics.f1, otypes=[float])(tp, fp, fn)
    return np.mean(scores, axis=-1)


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
    return np.mean(skills, axis=0) if rules == spec.MMLU_RULES and skills else mean_of_tasks


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

    `embedding_models` maps an embedding metric to a model with a sentence-transformers
    `encode`; only the metrics present in the data need one. `rules` names an entry of `RULES`.
    """

    def __init__(self, embedding_models: dict | None = None, rules: str = spec.KDD_RULES):
        from shopbench.embeddings import TextEncoder

        self.rules = RULES[rules]
        self.encoders = {metric: TextEncoder(model) for metric, model in (embedding_models or {}).items()}
        self._rouge = None
        self._bleus: dict[bool, object] = {}  # keyed by "Japanese tokenizer"

    def _build_text_scorers(self, needed: set[str]) -> None:
        if spec.ROUGE_L in needed and self._rouge is None:
            self._rouge = metrics.new_rouge_scorer(cache_stems=True)
        for japanese, metric in ((False, spec.BLEU), (True, spec.JP_BLEU)):
            if metric in needed and japanese not in self._bleus:
                self._bleus[japanese] = metrics.new_bleu(japanese)

    def score(self, questions: list[Question], responses: list, progress: bool = False) -> Report:
        from tqdm.auto import tqdm

        texts = [response_text(r, self.rules) for r in responses]
        non_string = sum(t is None for t in texts)
        texts = ["" if t is None else t for t in texts]
        parsed = [self.rules.parse(q, t) for q, t in zip(questions, texts)]

        self._build_text_scorers({q.metric for q in questions})
        for metric, encoder in self.encoders.items():
            encoder.encode(
                text for q, p in zip(questions, parsed) if q.metric == metric for text in _embedding_texts(q, p)
            )

        rows = tqdm(zip(questions, texts, parsed), total=len(questions), desc="Scoring", disable=not progress)
        samples = []
        for question, text, answer in rows:
            encoder = self.encoders.get(question.metric)
            embed = encoder and encoder.__getitem__
            samples.append(_sample(question, text, answer, rules=self.rules, rouge=self._rouge, bleus=self._bleus,
                                   embed=embed))
        return aggregate(questions, samples, non_string, self.rules.name)


def score_one_at_a_time(questions: list[Question], responses: list, embedding_models: dict | None = None,
                        rules: str = spec.KDD_RULES) -> Report:
    """The starter kit's way: each question alone, new scorer objects, one text per encode."""
    models = embedding_models or {}
    chosen = RULES[rules]
    texts = [response_text(r, chosen) for r in responses]
    samples = []
    for question, text in zip(questions, texts):
        text = "" if text is None else text
        model = models.get(question.metric)
        embed = model and (lambda t, m=model: m.encode([t])[0])
        samples.append(_sample(question, text, chosen.parse(question, text), rules=chosen, rouge=None, bleus={},
                               embed=embed))
    return aggregate(questions, samples, sum(t is None for t in texts), rules)
