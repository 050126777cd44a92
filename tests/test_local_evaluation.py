import json
import subprocess
import sys

import pytest

import local_evaluation
from shopbench import spec
from tests.conftest import DEV_DATA, ROOT, write_jsonl
from tests.models_for_tests import RecordingModel
from tests.validity import is_valid


DUMMY = ("--model", "models.dummy_model:DummyModel")


def run(capsys, *argv):
    if "--model" not in argv and "--responses" not in argv:
        argv = (*argv, *DUMMY)  # fast runs: the weightless model; the embedded default is tested below
    code = local_evaluation.main([*argv, "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.engine
def test_default_command_runs_the_embedded_model_with_every_answer_valid(tmp_path, dev_records):
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "local_evaluation.py", "--output", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr
    assert "SmolLM2-135M-Instruct (embedded default) with the transformers engine" in done.stderr
    for expected in ["task17", "T1 Shopping concept understanding", "T5 All-around", "Overall score",
                     "Generation: 96", "decoding profile", "repaired"]:
        assert expected in done.stdout
    results = json.loads(output.read_text())
    assert len(results["samples"]) == 96 and len(results["tasks"]) == 18
    assert set(results["tracks"]) == {t.challenge_id for t in spec.TRACKS}
    assert all("seconds" in s for s in results["samples"])
    for record, sample in zip(dev_records, results["samples"]):
        assert is_valid(record["task_type"], sample["response"]), (record["task_name"], sample["response"])
    profiles = results["generation"]["by_profile"]
    assert sum(row["questions"] for row in profiles.values()) == 96


@pytest.mark.slow
def test_saved_responses_score_the_same_as_the_direct_run(tmp_path, capsys):
    direct = tmp_path / "direct.json"
    assert run(capsys, "--output", str(direct))[0] == 0
    samples = json.loads(direct.read_text())["samples"]
    responses = write_jsonl(tmp_path / "r.jsonl", [{"response": s["response"]} for s in samples])
    rescored = tmp_path / "rescored.json"
    code, out, _ = run(capsys, "--responses", str(responses), "--output", str(rescored))
    assert code == 0 and "Generation:" not in out
    first, second = json.loads(direct.read_text()), json.loads(rescored.read_text())
    assert second["overall"] == first["overall"] and second["tracks"] == first["tracks"]


@pytest.mark.slow
def test_batches_follow_the_kit(capsys, dev_records):
    multiple_choice = sum(r["task_type"] == "multiple-choice" for r in dev_records)
    RecordingModel.calls.clear()
    assert run(capsys, "--model", "tests.models_for_tests:RecordingModel")[0] == 0
    assert all(size <= 3 for size, _ in RecordingModel.calls)
    assert sum(size for size, _ in RecordingModel.calls) == 96
    # grouped by task type: every multiple-choice batch flagged, no other batch
    assert sum(size for size, mc in RecordingModel.calls if mc) == multiple_choice == 52
    RecordingModel.calls.clear()
    assert run(capsys, "--model", "tests.models_for_tests:RecordingModel", "--batch-size", "16")[0] == 0
    assert max(size for size, _ in RecordingModel.calls) == 16


def test_limit_scores_a_sample(tmp_path, capsys):
    output = tmp_path / "o.json"
    assert run(capsys, "--limit", "10", "--seed", "5", "--output", str(output))[0] == 0
    assert len(json.loads(output.read_text())["samples"]) == 10


@pytest.mark.slow
def test_non_string_responses_are_reported_once(capsys):
    code, out, _ = run(capsys, "--model", "tests.models_for_tests:NonStringModel")
    assert code == 0
    assert out.count("Non-string responses scored as empty: 96") == 1


def test_wrong_number_of_responses_is_an_error(capsys):
    code, _, err = run(capsys, "--model", "tests.models_for_tests:ShortModel")
    assert code == 2 and "responses for a batch of" in err


def test_missing_multilingual_model_stops_before_generating(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SHOPBENCH_MULTILINGUAL_MODEL", raising=False)
    rows = [json.loads(line) for line in DEV_DATA.read_text().splitlines()][:4]
    rows[0] = {**rows[0], "task_name": "task40", "metric": "multilingual-sent-transformer"}
    path = write_jsonl(tmp_path / "d.json", rows)
    output = tmp_path / "o.json"
    code, _, err = run(capsys, "--data", str(path), "--model", "tests.models_for_tests:RefusingModel",
                       "--output", str(output))
    assert code == 2
    assert "metric 'multilingual-sent-transformer' (tasks: task40)" in err
    assert "--multilingual-model DIR" in err and "SHOPBENCH_MULTILINGUAL_MODEL" in err
    assert not output.exists()
    code, _, err = run(capsys, "--data", str(path), "--multilingual-model", str(tmp_path), "--model",
                       "tests.models_for_tests:RefusingModel")
    assert code == 2 and "is not a sentence-transformers folder" in err
    # a folder with a config but no weights or tokenizer (an LLM's config, a half copy) is refused too
    (tmp_path / "config.json").write_text("{}")
    code, _, err = run(capsys, "--data", str(path), "--multilingual-model", str(tmp_path), "--model",
                       "tests.models_for_tests:RefusingModel")
    assert code == 2 and "is not a sentence-transformers folder" in err


def test_multilingual_metric_scores_with_a_given_local_model(tmp_path, capsys):
    from shopbench.embeddings import packaged_minilm_path

    rows = [json.loads(line) for line in DEV_DATA.read_text().splitlines()][:4]
    rows = [{**r, "metric": "multilingual-sent-transformer"} for r in rows]
    path = write_jsonl(tmp_path / "d.json", rows)
    responses = write_jsonl(tmp_path / "r.jsonl", [{"response": r["output_field"]} for r in rows])
    # any sentence-transformers folder serves the plumbing; the real model is the user's copy
    code, out, _ = run(capsys, "--data", str(path), "--responses", str(responses),
                       "--multilingual-model", packaged_minilm_path())
    assert code == 0 and "1.0000" in out


def test_bad_data_stops_with_one_line_and_writes_nothing(tmp_path, capsys):
    lines = DEV_DATA.read_text().splitlines()
    lines[4] = lines[4].replace('"task_name"', '"name"')
    path = tmp_path / "d.json"
    path.write_text("\n".join(lines) + "\n")
    output = tmp_path / "o.json"
    code, out, err = run(capsys, "--data", str(path), "--output", str(output))
    assert code == 2
    assert err.strip() == f"error: {path}:5: field 'task_name': missing"
    assert not output.exists() and "Overall" not in out


def test_bad_responses_file_is_an_error(tmp_path, capsys):
    responses = write_jsonl(tmp_path / "r.jsonl", [{"response": "1"}] * 3)
    code, _, err = run(capsys, "--responses", str(responses))
    assert code == 2 and "3 responses for 96 questions" in err


@pytest.mark.parametrize("argv, message", [(["--limit", "0"], "--limit: must be an integer from 1 to"),
                                           (["--limit", "²"], "--limit: must be an integer from 1 to"),
                                           (["--batch-size", "17"], "--batch-size: must be an integer from 1 to 16"),
                                           (["--output", ""], "--output: an empty path")])
def test_bad_option_values_are_usage_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exit:
        run(capsys, *argv)
    assert exit.value.code == 2 and message in capsys.readouterr().err


def test_bad_model_reference(capsys):
    code, _, err = run(capsys, "--model", "nowhere")
    assert code == 2 and err.startswith("error: --model nowhere: expected MODULE:CLASS")


def test_help():
    done = subprocess.run([sys.executable, "local_evaluation.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and "--responses" in done.stdout
