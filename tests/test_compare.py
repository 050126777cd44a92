import json

import numpy as np
import pytest

import run
from shopbench import compare, metrics, spec
from shopbench.data import Question
from shopbench.scoring import SampleScore, aggregate

T1, T2, T3, T4, T5 = (t.challenge_id for t in spec.TRACKS)
TASK_TYPES = {spec.ACCURACY: spec.MULTIPLE_CHOICE, spec.NDCG: spec.RANKING, spec.MICRO_F1: spec.NER}


def results(rows) -> dict:
    """What local_evaluation.py --output writes, from (task, track, metric, score or micro F1's
    (tp, fp, fn), response) per question."""
    questions, samples = [], []
    for index, (task, track, metric, value, response) in enumerate(rows):
        task_type = TASK_TYPES[metric]
        counts = value if metric == spec.MICRO_F1 else None
        score = metrics.f1(*counts) if counts else value
        questions.append(Question(index, "prompt", None, task, task_type, metric, track, False))
        samples.append(SampleScore(index, task, task_type, metric, response, None, score, counts))
    return json.loads(json.dumps(aggregate(questions, samples).to_json()))


def mean_task(scores, task="mc", track=T1):
    return [(task, track, spec.ACCURACY, score, f"answer {score}") for score in scores]


def ner_task(counts, task="ner", track=T1):
    return [(task, track, spec.MICRO_F1, c, "x, y") for c in counts]


def rows_of(a_rows, b_rows, replicates=4000, seed=0):
    a, b = compare.results_from_json("A", results(a_rows)), compare.results_from_json("B", results(b_rows))
    return {(row.kind, row.name): row for row in compare.bootstrap(compare.pair(a, b), replicates, seed).rows}


def frequencies(differences) -> dict[float, float]:
    values, counts = np.unique(np.round(differences, 9), return_counts=True)
    return dict(zip(values.tolist(), (counts / len(differences)).tolist()))


def test_mean_task_replicates_take_the_hand_computed_values():
    # resampling 2 questions: {q1,q1} gives B-A 1, {q2,q2} 0, and the mixed draws (half) 0.5
    row = rows_of(mean_task([0.0, 1.0]), mean_task([1.0, 1.0]))[("task", "mc")]
    assert (row.a, row.b, row.difference) == (0.5, 1.0, 0.5)
    found = frequencies(row.differences)
    assert set(found) == {0.0, 0.5, 1.0}
    assert found == pytest.approx({0.0: 0.25, 0.5: 0.5, 1.0: 0.25}, abs=0.03)
    assert (row.low, row.high) == (0.0, 1.0) and not row.excludes_zero


def test_micro_f1_task_is_rescored_on_the_pooled_counts_of_the_resample():
    # A: q1 (1,0,0), q2 (0,2,1); B: both (1,0,0). {q1,q2} pools A to (1,2,1): F1 2/(2+2+1) = 0.4,
    # so B-A is 0.6 there, where the mean of per-question F1 would give 0.5
    row = rows_of(ner_task([(1, 0, 0), (0, 2, 1)]), ner_task([(1, 0, 0), (1, 0, 0)]))[("task", "ner")]
    assert (row.a, row.b) == pytest.approx((0.4, 1.0))
    found = frequencies(row.differences)
    assert set(found) == {0.0, 0.6, 1.0}
    assert found == pytest.approx({0.0: 0.25, 0.6: 0.5, 1.0: 0.25}, abs=0.03)
    assert not row.excludes_zero


def test_the_same_gain_on_every_question_gives_a_degenerate_interval_that_excludes_zero():
    a = mean_task([0.2, 0.5, 0.3]) + mean_task([0.0, 0.4], task="rank", track=T2)
    b = mean_task([0.3, 0.6, 0.4]) + mean_task([0.1, 0.5], task="rank", track=T2)
    for row in rows_of(a, b, replicates=500).values():
        assert row.low == pytest.approx(0.1) and row.high == pytest.approx(0.1) and row.excludes_zero


def test_the_seed_fixes_every_replicate():
    a = mean_task([0.0, 1.0, 1.0, 0.0]) + ner_task([(1, 0, 0), (0, 2, 1), (2, 1, 1)], track=T2)
    b = mean_task([1.0, 1.0, 0.0, 1.0]) + ner_task([(1, 0, 0), (1, 0, 0), (0, 0, 3)], track=T2)
    first, again, other = rows_of(a, b, 500, seed=7), rows_of(a, b, 500, seed=7), rows_of(a, b, 500, seed=8)
    assert all((row.low, row.high) == (again[key].low, again[key].high) for key, row in first.items())
    assert all(np.array_equal(row.differences, again[key].differences) for key, row in first.items())
    assert not np.array_equal(first["overall", "overall"].differences, other["overall", "overall"].differences)


def four_tracks(scores, ner_counts):
    return (mean_task(scores[:2], "mc", T1) + ner_task(ner_counts, "ner", T1) + mean_task(scores[2:4], "rank", T2)
            + mean_task(scores[4:6], "retr", T3) + mean_task(scores[6:], "title", T4))


def test_full_data_scores_are_the_scorers_own():
    a = four_tracks([0, 1, 0.5, 0.25, 1, 1, 0.3, 0.9], [(1, 1, 0), (0, 0, 2)])
    b = four_tracks([1, 1, 0.5, 0.75, 0, 1, 0.2, 0.9], [(1, 0, 0), (0, 1, 2)])
    rows = rows_of(a, b, replicates=200)
    for side, file in (("a", results(a)), ("b", results(b))):
        expected = {("task", name): task["score"] for name, task in file["tasks"].items()}
        expected.update({("track", track): score for track, score in file["tracks"].items()})
        expected["overall", "overall"] = file["overall"]
        assert {key: getattr(row, side) for key, row in rows.items()} == pytest.approx(expected, abs=1e-12)
    assert rows["track", T5].questions == len(a) == 10 and rows["track", T1].questions == 4


def write(path, record):
    path.write_text(json.dumps(record))
    return str(path)


def compare_files(tmp_path, capsys, a_record, b_record, *options):
    a, b = write(tmp_path / "a.json", a_record), write(tmp_path / "b.json", b_record)
    code = run.main(["compare", a, b, *options])
    out, err = capsys.readouterr()
    return code, out, err


def table_names(out: str) -> list[str]:
    """The first cell of each row of the table (from its dashes to the next blank line)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("-")) + 1
    end = lines.index("", start)
    return [line.split()[0] for line in lines[start:end]]


def test_table_lists_tasks_tracks_and_overall_and_t5_only_with_four_tracks(tmp_path, capsys):
    a = mean_task([0, 1, 1]) + ner_task([(1, 1, 0), (0, 0, 2)]) + mean_task([0.5, 0.5], "rank", T2)
    b = mean_task([1, 1, 1]) + ner_task([(1, 0, 0), (0, 0, 2)]) + mean_task([0.5, 0.25], "rank", T2)
    code, out, err = compare_files(tmp_path, capsys, results(a), results(b), "--replicates", "200")
    assert code == 0 and err == ""
    assert table_names(out) == ["mc", "ner", "rank", "T1", "T2", "overall"]
    four_a = four_tracks([0, 1, 0.5, 0.25, 1, 1, 0.3, 0.9], [(1, 1, 0), (0, 0, 2)])
    four_b = four_tracks([1, 1, 0.5, 0.75, 0, 1, 0.2, 0.9], [(1, 0, 0), (0, 1, 2)])
    code, out, _ = compare_files(tmp_path, capsys, results(four_a), results(four_b), "--replicates", "200")
    assert code == 0
    assert table_names(out) == ["mc", "ner", "rank", "retr", "title", "T1", "T2", "T3", "T4", "T5", "overall"]


def test_show_lists_the_question_that_changed_most_and_output_writes_json(tmp_path, capsys):
    a = mean_task([0, 1, 0.5]) + mean_task([0.5, 0.5], "rank", T2)
    b = mean_task([0.25, 1, 0.5]) + mean_task([0.5, 0.25], "rank", T2)
    b[0] = ("mc", T1, spec.ACCURACY, 1.0, "the new answer\n\n" + "long " * 40)
    output = tmp_path / "comparison.json"
    code, out, _ = compare_files(tmp_path, capsys, results(a), results(b), "--show", "1", "--output", str(output))
    assert code == 0
    shown = out.split("changed most")[1].split("Comparison written to")[0]  # the path's length varies
    assert "question 0 (mc): 0.0000 -> 1.0000" in shown and "'answer 0'" in shown and "'the new answer long long" in shown
    assert "question 4" not in shown and max(map(len, shown.splitlines())) < 100
    written = json.loads(output.read_text())
    assert [change["index"] for change in written["changed_most"]] == [0]
    assert written["replicates"] == 2000 and written["rows"][-1]["name"] == "overall"
    assert {"a", "b", "difference", "interval", "excludes_zero"} <= set(written["rows"][0])


def one_line_refusal(tmp_path, capsys, a_record, b_record, *expected):
    output = tmp_path / "comparison.json"
    code, out, err = compare_files(tmp_path, capsys, a_record, b_record, "--output", str(output))
    assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1, err
    assert all(text in err for text in expected), err
    assert not output.exists()


def test_files_on_other_questions_are_refused_in_one_line(tmp_path, capsys):
    a = mean_task([0, 1, 1]) + mean_task([0.5], "rank", T2)
    one_line_refusal(tmp_path, capsys, results(a), results(a[:3]), "b.json", "not the same questions", "a.json",
                     "1 only in", "question 3")
    swapped = mean_task([0, 1]) + mean_task([1], "rank", T2) + mean_task([0.5])
    one_line_refusal(tmp_path, capsys, results(a), results(swapped), "b.json: question 2 is task 'rank'", "'mc'")
    moved = mean_task([0, 1, 1], track=T3) + mean_task([0.5], "rank", T2)
    one_line_refusal(tmp_path, capsys, results(a), results(moved), "b.json: task 'mc' is in track T3 here", "T1")


def test_what_is_not_a_results_file_is_refused_in_one_line(tmp_path, capsys):
    a = results(mean_task([0, 1]))
    one_line_refusal(tmp_path, capsys, a, {"overall": 0.5, "tasks": {}}, "b.json: not a results file", "'samples'")
    one_line_refusal(tmp_path, capsys, [1, 2], a, "a.json: not a results file")
    no_counts = results(ner_task([(1, 0, 0), (0, 1, 0)]))
    del no_counts["samples"][1]["fn"]
    one_line_refusal(tmp_path, capsys, results(ner_task([(1, 0, 0), (0, 1, 0)])), no_counts,
                     "b.json: samples[1]: a 'micro f1' sample needs 'fn', a whole number from 0")
    (tmp_path / "b.json").write_text("{not json")
    code = run.main(["compare", write(tmp_path / "a.json", a), str(tmp_path / "b.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "b.json:1: not valid JSON" in err and err.count("\n") == 1
    code = run.main(["compare", str(tmp_path / "a.json"), str(tmp_path / "missing.json")])
    err = capsys.readouterr().err
    assert code == 2 and "missing.json: cannot read: No such file or directory" in err and err.count("\n") == 1


def test_a_results_file_without_tracks_takes_them_from_the_other(tmp_path, capsys):
    rows = mean_task([0, 1]) + mean_task([0.5], "rank", T2)
    old = results(rows)
    for task in old["tasks"].values():
        del task["track"]
    code, out, _ = compare_files(tmp_path, capsys, old, results(rows), "--replicates", "100")
    assert code == 0 and table_names(out) == ["mc", "rank", "T1", "T2", "overall"]


@pytest.mark.parametrize("option, value", [("--replicates", "99"), ("--show", "-1"), ("--seed", "-1"), ("--replicates", "many")])
def test_bad_options_are_usage_errors_before_any_file_is_read(option, value, tmp_path, capsys):
    output = tmp_path / "comparison.json"
    with pytest.raises(SystemExit) as stop:
        run.main(["compare", str(tmp_path / "missing-a.json"), str(tmp_path / "missing-b.json"),
                  option, value, "--output", str(output)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"argument {option}: " in err and "missing" not in err
    assert not output.exists()


def test_help(capsys):
    with pytest.raises(SystemExit) as stop:
        run.main(["compare", "--help"])
    assert stop.value.code == 0 and "--replicates" in capsys.readouterr().out


def test_files_scored_by_different_rules_are_refused(tmp_path, capsys):
    a = results(mean_task([0, 1]))
    code, _, err = compare_files(tmp_path, capsys, a, {**a, "rules": spec.MMLU_RULES})
    assert code == 2 and f"scored by the {spec.MMLU_RULES} rules" in err


def test_the_release_rules_take_the_overall_as_the_mean_of_the_skills():
    # T1 has two tasks, T2 one: the mean of tasks and the mean of skills differ
    rows = mean_task([1, 1]) + mean_task([0, 0], "other") + mean_task([1, 1], "rank", T2)
    a = compare.results_from_json("A", {**results(rows), "rules": spec.MMLU_RULES})
    b = compare.results_from_json("B", {**results(rows), "rules": spec.MMLU_RULES})
    overall = next(r for r in compare.bootstrap(compare.pair(a, b), 200, 0, spec.MMLU_RULES).rows if r.kind == "overall")
    assert overall.a == pytest.approx((0.5 + 1.0) / 2) and overall.difference == 0
