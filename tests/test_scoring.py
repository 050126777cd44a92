import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopbench import data, metric_registry, spec
from shopbench.data import Question
from shopbench.scoring import Scorer, aggregate, score_one_at_a_time
from tests.conftest import DEV_DATA

T1, T2, T3, T4, T5 = (t.challenge_id for t in spec.TRACKS)


def question(index, task_name, task_type, metric, truth, track):
    return Question(index, "prompt", truth, task_name, task_type, metric, track, task_type == spec.MULTIPLE_CHOICE)


def toy_run():
    questions = [
        question(0, "mc", spec.MULTIPLE_CHOICE, spec.ACCURACY, 2, T1),
        question(1, "mc", spec.MULTIPLE_CHOICE, spec.ACCURACY, 3, T1),
        question(2, "ner", spec.NER, spec.MICRO_F1, ["tablette"], T1),
        question(3, "ner", spec.NER, spec.MICRO_F1, ["x", "y"], T1),
        question(4, "retr", spec.RETRIEVAL, spec.HIT_RATE_3, [6, 9, 15], T2),
        question(5, "retr", spec.RETRIEVAL, spec.HIT_RATE_3, [4], T2),
        question(6, "rank", spec.RANKING, spec.NDCG, [1, 0.01, 0.1, 1, 0], T3),
        question(7, "title", spec.GENERATION, spec.BLEU, "a b c d e", T4),
    ]
    responses = ["2", "1", "Tablette , asus", "", "6, 1, 15, 9", "4", "1, 4, 3, 2, 5", "A B C D E\nmore"]
    return questions, responses


def test_tasks_tracks_t5_and_overall():
    questions, responses = toy_run()
    report = Scorer().score(questions, responses)
    scores = {name: task.score for name, task in report.tasks.items()}
    assert scores == pytest.approx({"mc": 0.5, "ner": 0.4, "retr": (2 / 3 + 1) / 2, "rank": 1.0, "title": 1.0})
    # micro F1 is pooled over the task (tp 1, fp 1, fn 2), not the mean of per-sample F1 (1/3)
    assert [s.counts for s in report.samples[2:4]] == [(1, 1, 0), (0, 0, 2)]
    assert report.samples[2].score == pytest.approx(2 / 3)
    t1 = (0.5 + 0.4) / 2
    assert report.tracks == pytest.approx({T1: t1, T2: 5 / 6, T3: 1.0, T4: 1.0, T5: (t1 + 5 / 6 + 1 + 1) / 4})
    assert list(report.tracks) == [T1, T2, T3, T4, T5]
    assert report.overall == pytest.approx((0.5 + 0.4 + 5 / 6 + 1 + 1) / 5)


def test_t5_needs_all_four_tracks_and_untracked_tasks_count_only_overall():
    questions, responses = toy_run()
    questions[7] = question(7, "title", spec.GENERATION, spec.BLEU, "a b c d e", None)
    report = Scorer().score(questions, responses)
    assert set(report.tracks) == {T1, T2, T3}
    assert len(report.tasks) == 5


def test_first_row_labels_a_task_but_each_row_uses_its_own_metric():
    questions = [
        question(0, "task17", spec.GENERATION, spec.BLEU, "a b c d e", T4),
        question(1, "task17", spec.GENERATION, spec.JP_BLEU, "今日はいい天気です", T4),
    ]
    report = Scorer().score(questions, ["a b c d e", "今日はいい天気です"])
    assert report.tasks["task17"].metric == spec.BLEU
    assert report.tasks["task17"].score == pytest.approx(1.0)


def test_non_string_responses_score_as_empty_and_are_counted():
    questions, responses = toy_run()
    responses[0] = None
    responses[4] = 6
    report = Scorer().score(questions, responses)
    assert report.non_string_responses == 2
    assert report.samples[0].response == "" and report.samples[0].parsed == -1
    assert report.samples[4].parsed == [] and report.samples[4].score == 0.0


def test_results_json_schema():
    questions, responses = toy_run()
    results = json.loads(json.dumps(Scorer().score(questions, responses).to_json()))
    assert set(results) >= {"overall", "tracks", "tasks", "samples"}
    assert set(results["tasks"]["ner"]) == {"task_type", "metric", "track", "num_samples", "score"}
    assert [s["index"] for s in results["samples"]] == list(range(8))
    assert set(results["samples"][0]) == {"index", "task_name", "task_type", "metric", "prompt", "response", "parsed", "gold", "score"}
    assert {"tp", "fp", "fn"} <= set(results["samples"][2])


def dev_responses(questions):
    """A spread of answers per dev question: right, wrong, malformed and off-format."""
    variants = []
    for q in questions:
        truth = q.output_field
        right = ", ".join(map(str, truth)) if isinstance(truth, list) else str(truth)
        variants.append([right, "", "  the answer is 3, 1, 2\n" + right, "1, 1", "not sure", right.upper()[::-1]])
    return variants


@pytest.mark.slow
def test_batched_scores_equal_one_at_a_time(minilm):
    questions = data.load_questions(DEV_DATA)
    models = {spec.SENT_TRANSFORMER: minilm}
    scorer = Scorer(models)
    for responses in zip(*dev_responses(questions)):
        fast = scorer.score(questions, list(responses))
        reference = score_one_at_a_time(questions, list(responses), models)
        for a, b in zip(fast.samples, reference.samples):
            if metric_registry.get(a.metric).model:
                assert a.score == pytest.approx(b.score, abs=1e-5)
            else:
                assert (a.parsed, a.score, a.counts) == (b.parsed, b.score, b.counts)
        assert fast.overall == pytest.approx(reference.overall, abs=1e-5)


def test_sentence_transformer_metric_on_dev(minilm):
    questions = [q for q in data.load_questions(DEV_DATA) if q.metric == spec.SENT_TRANSFORMER]
    report = Scorer({spec.SENT_TRANSFORMER: minilm}).score(questions, [q.output_field for q in questions])
    assert all(s.score == pytest.approx(1.0, abs=1e-5) for s in report.samples)
    # a list of references: the mean cosine over the list
    both = [question(0, "t", spec.GENERATION, spec.SENT_TRANSFORMER, [questions[0].output_field, "zzz"], T1)]
    one = Scorer({spec.SENT_TRANSFORMER: minilm}).score(both, [questions[0].output_field]).samples[0].score
    other = score_one_at_a_time(
        [question(0, "t", spec.GENERATION, spec.SENT_TRANSFORMER, "zzz", T1)],
        [questions[0].output_field],
        {spec.SENT_TRANSFORMER: minilm},
    ).samples[0].score
    assert one == pytest.approx((1.0 + other) / 2, abs=1e-5)


@pytest.mark.slow
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # examples: the profile's (conftest)
@given(st.lists(st.one_of(st.text(max_size=200), st.none(), st.integers()), min_size=96, max_size=96))
def test_no_response_crashes_the_scorer_and_scores_stay_in_range(minilm, responses):
    questions = data.load_questions(DEV_DATA)
    report = Scorer({spec.SENT_TRANSFORMER: minilm}).score(questions, responses)
    assert all(0.0 <= s.score <= 1.0 for s in report.samples)
    assert all(0.0 <= t.score <= 1.0 for t in report.tasks.values())
    assert 0.0 <= report.overall <= 1.0


def test_aggregate_of_nothing_scored_is_zero_not_nan():
    questions, _ = toy_run()
    report = Scorer().score(questions, [""] * len(questions))
    assert report.tasks["ner"].score == 0.0
    assert aggregate(questions, report.samples).overall == report.overall
