"""What the metrics of a data file need beyond Python packages, checked before any work.

A run that would fail at scoring time (a sentence-embedding model that is not there, no
MeCab for jp-bleu) stops before generating anything, naming the metric, the tasks that
need it and how to provide it.
"""
from __future__ import annotations

from shopbench import embeddings, metrics, spec
from shopbench.data import DataError, Question


def _tasks_by_metric(questions: list[Question]) -> dict[str, list[str]]:
    tasks: dict[str, list[str]] = {}
    for question in questions:
        names = tasks.setdefault(question.metric, [])
        if question.task_name not in names:
            names.append(question.task_name)
    return tasks


def model_paths(questions: list[Question], given: dict[str, str | None]) -> dict[str, str | None]:
    """The model folder of every embedding metric the questions use."""
    used = {q.metric for q in questions} & set(spec.EMBEDDING_METRICS)
    return {metric: embeddings.resolve_model_path(metric, given.get(metric)) for metric in sorted(used)}


def _japanese_tokenizer_problem() -> str | None:
    try:
        metrics.new_bleu(japanese=True)
    except Exception as exc:  # sacrebleu raises plain exceptions when MeCab or its dictionary is missing
        return f"needs sacrebleu's ja-mecab tokenizer ({str(exc).strip().splitlines()[0]}): pip install 'sacrebleu[ja]'"
    return None


def problems(questions: list[Question], paths: dict[str, str | None]) -> list[str]:
    tasks = _tasks_by_metric(questions)
    found = []
    for metric, path in paths.items():
        problem = embeddings.model_problem(metric, path)
        if problem:
            found.append(f"metric '{metric}' (tasks: {', '.join(tasks[metric])}) {problem}")
    if spec.JP_BLEU in tasks:
        problem = _japanese_tokenizer_problem()
        if problem:
            found.append(f"metric '{spec.JP_BLEU}' (tasks: {', '.join(tasks[spec.JP_BLEU])}) {problem}")
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
