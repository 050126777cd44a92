"""Per-question metrics of the official scorer, each in [0, 1].

Each function takes the parsed response and the truth. The text metrics accept a scorer
object so that a run can build it once; left out, a new one is made per call, which is
what the starter kit did and what the one-at-a-time reference path does.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from shopbench import spec


def accuracy(parsed: int, truth: int) -> float:
    return float(parsed == truth)


def hit_rate_3(parsed: list[int], truth: list[int]) -> float:
    return len(set(truth) & set(parsed[: spec.RETRIEVAL_READS])) / len(truth)


def _gain(relevance: float, position: int) -> float:
    return (2.0**relevance - 1.0) / math.log2(position + 1)


def ndcg(parsed: list[int], weights: list[float]) -> float:
    """nDCG without cutoff; candidate k has relevance weights[k - 1].

    Python indexing is kept: candidate 0 takes the last weight, as in the kit.
    """
    ranked = parsed[: len(weights)]
    dcg = sum(
        _gain(weights[item - 1] if item - 1 < len(weights) else 0.0, position)
        for position, item in enumerate(ranked, start=1)
    )
    idcg = sum(_gain(w, position) for position, w in enumerate(sorted(weights, reverse=True), start=1))
    return dcg / idcg if idcg else 0.0


def tp_fp_fn(parsed: list[str], truth: list[str]) -> tuple[int, int, int]:
    """Counts for micro F1. Predictions are lowered and stripped, the truth only lowered;
    list lengths (duplicates included) give the false positives and negatives."""
    predicted = [entity.lower().strip() for entity in parsed]
    expected = [entity.lower() for entity in truth]
    true_positive = len(set(predicted) & set(expected))
    return true_positive, len(predicted) - true_positive, len(expected) - true_positive


def f1(tp: int, fp: int, fn: int) -> float:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def new_rouge_scorer(cache_stems: bool = False):
    """The kit's ROUGE-L scorer. With `cache_stems`, each word's Porter stem is computed
    once for the scorer's lifetime: same tokens, a fraction of the time on a long run."""
    from rouge_score import rouge_scorer, tokenize, tokenizers

    if not cache_stems:
        return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)

    class StemCachingTokenizer(tokenizers.Tokenizer):
        def __init__(self):
            from nltk.stem import porter

            self.stemmer = porter.PorterStemmer()
            self.stemmer.stem = functools.lru_cache(maxsize=1 << 16)(self.stemmer.stem)

        def tokenize(self, text):
            return tokenize.tokenize(text, self.stemmer)

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=StemCachingTokenizer())


def rouge_l(generation: str, truth: str, scorer=None) -> float:
    scorer = scorer or new_rouge_scorer()
    return scorer.score(generation, truth)["rougeL"].fmeasure


def new_bleu(japanese: bool):
    from sacrebleu.metrics import BLEU

    return BLEU(lowercase=True, tokenize="ja-mecab" if japanese else None)


def japanese_tokenizer_problem() -> str | None:
    """Why jp-bleu cannot be scored here (no MeCab or its dictionary), or None when it can."""
    try:
        new_bleu(japanese=True)
    except Exception as exc:  # sacrebleu raises plain exceptions when MeCab or its dictionary is missing
        return f"needs sacrebleu's ja-mecab tokenizer ({str(exc).strip().splitlines()[0]}): pip install 'sacrebleu[ja]'"
    return None


def bleu(generation: str, truth: str, japanese: bool = False, scorer=None) -> float:
    """Corpus BLEU of the response's first line against one reference, divided by 100."""
    first_line = generation.lstrip("\n").rstrip("\n").split("\n")[0]
    scorer = scorer or new_bleu(japanese)
    return scorer.corpus_score([first_line], [[truth]]).score / 100


def references(gold) -> list[str]:
    """An embedding metric's gold: one text or several."""
    return [gold] if isinstance(gold, str) else gold


def cosine_score(generation: np.ndarray, truths: list[np.ndarray]) -> float:
    """Mean cosine between the response and each reference embedding, clipped at 0."""
    cosines = [
        (generation * truth).sum() / (np.linalg.norm(generation, ord=2) * np.linalg.norm(truth, ord=2))
        for truth in truths
    ]
    mean = float(np.mean(cosines))
    # float32 rounding can put a self-similarity a hair above 1; scores stay in [0, 1].
    return min(mean, 1.0) if mean > 0 else 0.0
