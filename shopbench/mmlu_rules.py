"""The Shopping MMLU release's own reading of responses: the rules its leaderboard's numbers
come from (KL4805/ShoppingMMLU, skill_wise_eval/metrics.py and skill_evaluation.py, commit
ea12a45), written from reading that code.

Unlike the KDD kit, the release reads the whole response (no 5000-character cut) and picks
the reading by the question's metric, not its task type. Its quirks are kept, because they
decide leaderboard numbers (docs/shopping-mmlu.md lists them all): multiple choice compares one
character with the answer's text, hit rate splits the whole response on commas even when it
has several lines, nDCG and NER read one line, NER takes no list literal.

Where the release's code raises or returns NaN, these functions return a defined value
instead, each noted where it happens. The text metrics (ROUGE-L, BLEU, the embedding
cosine) are the kit's functions in `metrics`, which the release computes the same way.
`metric_registry` pairs each metric with its parser here.
"""
from __future__ import annotations

from shopbench import metrics, parsers, spec


def first_character(response: str) -> str:
    """What multiple choice compares: the first character once spaces (only spaces: a
    newline or tab counts) are stripped from both ends; "" for nothing."""
    return response.strip(" ")[:1]


def accuracy(parsed: str, truth: int) -> float:
    """The character against the answer as text: "12" is 1, and an answer of 10 or more
    never matches."""
    return float(parsed == str(truth))


def retrieved(response: str) -> list[int]:
    """hit rate@3 reads the first three numbers of the stripped response split on commas.
    The release takes the first line when there are several and then splits the whole
    response anyway, so "1, 2\\n3, 4" gives 1 and 4 ("2\\n3" is no number)."""
    return parsers.integers(response.strip().split(","))[: spec.RETRIEVAL_READS]


def first_line(response: str) -> str:
    """The first line once newlines (only newlines) are stripped from both ends."""
    return response.strip("\n").split("\n")[0]


def ranked(response: str) -> list[int]:
    """nDCG reads the first line, stripped and split on commas; brackets are not removed, so
    "[1, 2, 3]" gives [2]. The metric keeps as many as there are candidates."""
    return parsers.integers(first_line(response).strip().split(","))


def ndcg(parsed: list[int], weights: list[float]) -> float:
    """The kit's nDCG, which is the release's: candidate 0 takes the last weight, -1 the one
    before, and so on. Differences where the release fails: a number before the list's start
    (-5 with five candidates), where its indexing raises, counts as an unknown candidate
    (relevance 0); weights that are all 0, where it returns NaN, give 0."""
    inside = [item if item - 1 >= -len(weights) else len(weights) + 1 for item in parsed]
    return metrics.ndcg(inside, weights)


def entities(response: str) -> list[str]:
    """NER reads the first line (after leading newlines), with spaces (only spaces) stripped,
    split on commas; only empty pieces are dropped, so "a, ,b" has a blank entity."""
    line = response.lstrip("\n").split("\n")[0].strip(" ")
    return [piece for piece in line.split(",") if piece != ""]


def tp_fp_fn(parsed: list[str], truth: list[str]) -> tuple[int, int, int]:
    """Entities lowered and stripped of spaces, the truth only lowered; duplicates count as
    false positives and negatives, as in the kit."""
    predicted = [entity.lower().strip(" ") for entity in parsed]
    expected = [entity.lower() for entity in truth]
    true_positive = len(set(predicted) & set(expected))
    return true_positive, len(predicted) - true_positive, len(expected) - true_positive


def as_is(response: str) -> str:
    """The whole response: what the release reads (no 5000-character cut), and what ROUGE-L
    and the embeddings take; BLEU's first line is cut by `metrics.bleu`."""
    return response
