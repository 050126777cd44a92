import math

import numpy as np
import pytest

from shopbench import metrics

TASK12_WEIGHTS = [1, 0.01, 0.1, 1, 0]
# IDCG of TASK12_WEIGHTS, by hand: gains 1, 1, 2^0.1-1, 2^0.01-1, 0 at positions 1..5.
TASK12_IDCG = 1 + 1 / math.log2(3) + (2**0.1 - 1) / 2 + (2**0.01 - 1) / math.log2(5)


def test_accuracy():
    assert metrics.accuracy(2, 2) == 1.0
    assert metrics.accuracy(-1, 2) == 0.0


def test_hit_rate_counts_truth_found_in_the_first_three():
    assert metrics.hit_rate_3([6, 1, 15, 9], [6, 9, 15]) == pytest.approx(2 / 3)
    assert metrics.hit_rate_3([4, 4, 4], [4]) == 1.0
    assert metrics.hit_rate_3([], [1, 2]) == 0.0


def test_ndcg_perfect_and_partial_rankings():
    assert metrics.ndcg([1, 4, 3, 2, 5], list(TASK12_WEIGHTS)) == pytest.approx(1.0)
    # candidate 5 (weight 0) first, candidate 3 (weight 0.1) second.
    expected = ((2**0.1 - 1) / math.log2(3)) / TASK12_IDCG
    assert metrics.ndcg([5, 3], list(TASK12_WEIGHTS)) == pytest.approx(expected)


def test_ndcg_quirks():
    assert metrics.ndcg([0], [0, 0, 1]) == pytest.approx(1.0)  # item 0 takes the last weight
    assert metrics.ndcg([2, 1, 3], [1, 0]) == pytest.approx(1 / math.log2(3))  # cut to len(weights)
    assert metrics.ndcg([5], [1, 0, 0]) == 0.0  # beyond the candidates: relevance 0
    assert metrics.ndcg([1, 2], [0, 0]) == 0.0  # IDCG 0
    weights = [0, 1]
    metrics.ndcg([2, 1], weights)
    assert weights == [0, 1]  # the truth is not sorted in place


def test_micro_f1_counts_strip_predictions_not_truth():
    assert metrics.tp_fp_fn(["Tablette ", "asus"], ["tablette"]) == (1, 1, 0)
    assert metrics.tp_fp_fn(["tablette"], [" tablette"]) == (0, 1, 1)
    assert metrics.tp_fp_fn(["a", "a"], ["a"]) == (1, 1, 0)  # duplicates count as false positives
    assert metrics.tp_fp_fn(["\ta\n"], ["A"]) == (1, 0, 0)


def test_f1():
    assert metrics.f1(1, 1, 2) == pytest.approx(0.4)  # P 1/2, R 1/3
    assert metrics.f1(0, 0, 0) == 0.0
    assert metrics.f1(0, 3, 0) == 0.0


def test_rouge_l_is_lcs_f_measure_with_stemming():
    # tokens: the cat are sit / cat sat -> LCS 1, F = 2 * 1 / (4 + 2)
    assert metrics.rouge_l("the cats are sitting", "cat sat") == pytest.approx(1 / 3)
    assert metrics.rouge_l("Comfortable", "comfortable") == pytest.approx(1.0)
    assert metrics.rouge_l("日本語", "日本語") == 0.0  # the ASCII tokenizer sees no tokens


def test_rouge_l_reused_stem_caching_scorer_gives_the_same_scores():
    scorer = metrics.new_rouge_scorer(cache_stems=True)
    pairs = [("the cats are sitting", "cat sat"), ("red running shoes", "running shoe red"),
             ("Generously sized, runs large", "generous sizing"), ("", "x"), ("running runs ran", "runner running")]
    assert [metrics.rouge_l(g, t, scorer) for g, t in pairs * 2] == [metrics.rouge_l(g, t) for g, t in pairs * 2]


def test_bleu_by_hand():
    # n-gram precisions 5/6, 3/5, 2/4, 1/3, brevity penalty 1.
    expected = (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    assert metrics.bleu("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(expected, abs=1e-9)


def test_bleu_reads_the_first_line_lowercased_and_divides_by_100():
    assert metrics.bleu("\n\nA B C D E\nsomething else entirely", "a b c d e") == pytest.approx(1.0)
    assert metrics.bleu("something else entirely\nA B C D E", "a b c d e") == 0.0


def test_jp_bleu_tokenizes_with_mecab():
    hypothesis, reference = "今日は良い天気です", "今日はいい天気です"
    assert metrics.bleu(hypothesis, reference, japanese=False) == 0.0  # one 13a token each, different
    assert metrics.bleu(hypothesis, reference, japanese=True) > 0.2
    assert metrics.bleu(reference, reference, japanese=True) == pytest.approx(1.0)
    scorer = metrics.new_bleu(japanese=True)
    assert metrics.bleu(hypothesis, reference, True, scorer) == metrics.bleu(hypothesis, reference, True)


def test_cosine_is_clipped_after_averaging():
    v = np.array
    assert metrics.cosine_score(v([1.0, 0.0]), [v([2.0, 0.0])]) == pytest.approx(1.0)
    assert metrics.cosine_score(v([1.0, 0.0]), [v([-1.0, 0.0])]) == 0.0
    assert metrics.cosine_score(v([1.0, 0.0]), [v([1.0, 0.0]), v([0.0, 1.0])]) == pytest.approx(0.5)
    # per-reference clipping would give 0.3; the kit clips the mean (-0.2) to 0.
    assert metrics.cosine_score(v([1.0, 0.0]), [v([-1.0, 0.0]), v([0.6, 0.8])]) == 0.0
