"""What the metrics of a data file need beyond Python packages, checked before any work.

A run that would fail at scoring time (a sentence-embedding model that is not there, no
MeCab for jp-bleu) stops before generating anything, naming the metric, the tasks that
need it and how to provide it.
"""
from __future__ import annotations

from shopbench import embeddings, metric_registry
from shopbench.data import DataError, Question


def _tasks_by_metric(questions: list[Question]) -> dict[str, list[str]]:
    tasks: dict[str, list[str]] = {}
    for question in questions:
        names = tasks.setdefault(question.metric, [])
        if question.task_name not in names:
            names.append(question.task_name)
    return tasks


def model_paths(questions: list[Question], given: dict[str, str | None]) -> dict[str, str | None]:
    """The model folder of every metric the questions use that needs an embedding model."""
    used = {q.metric for q in questions if metric_registry.get(q.metric).model}
    return {metric: embeddings.resolve_model_path(metric, given.get(metric)) for metric in sorted(used)}


def problems(questions: list[Question], paths: dict[str, str | None]) -> list[str]:
    tasks = _tasks_by_metric(questions)
    found = []
    for metric, path in paths.items():
        problem = embeddings.model_problem(metric, path)
        if problem:
            found.append(f"metric '{metric}' (tasks: {', '.join(tasks[metric])}) {problem}")
    for metric in metric_registry.METRICS.values():
        problem = metric.problem() if metric.problem and metric.name in tasks else None
        if problem:
            found.append(f"metric '{metric.name}' (tasks: {', '.join(tasks[metric.name])}) {problem}")
    return found


def scorable_paths(questions: list[Question], given: dict[str, str | None]) -> dict[str, str | None]:
    """`model_paths`, refused with every problem listed when the questions cannot be scored
    here (a missing embedding model, no Japanese tokenizer), before any work starts."""
    paths = model_paths(questions, given)
    found = problems(questions, paths)
    if found:
        raise DataError("cannot score this data:\n  " + "\n  ".join(found))
    return paths


def load_embedding_models(paths: dict[str, str | None]) -> dict:
    loaded: dict[str, object] = {}
    by_path: dict[str, object] = {}
    for metric, path in paths.items():
        if path not in by_path:
            by_path[path] = embeddings.load_model(path)
        loaded[metric] = by_path[path]
    return loaded
