import json
import subprocess
import sys

import pytest

import local_evaluation
import run
from tests.conftest import DEV_DATA, ROOT


DUMMY = ["--model", "models.dummy_model:DummyModel"]


@pytest.mark.engine
def test_predict_then_score_equals_the_direct_run_on_the_embedded_model(tmp_path, capsys, monkeypatch):
    # the embedded model's time guard is off by default: the two runs cannot differ by machine load
    responses, direct, rescored = tmp_path / "r.jsonl", tmp_path / "direct.json", tmp_path / "rescored.json"
    assert run.main(["predict", "--output", str(responses), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "decoding profile" in printed and "Generation: 96" in printed and "Time guard: off" in printed
    lines = [json.loads(line) for line in responses.read_text().splitlines()]
    assert len(lines) == 96 and [line["index"] for line in lines] == list(range(96))
    assert set(lines[0]) == {"index", "input_field", "response", "task_type", "profile", "repaired", "guard", "failed",
                             "generated_tokens", "seconds"}
    assert not any(line["failed"] for line in lines) and "Engine failures: 0 of 96 questions" in printed
    assert [line["task_type"] for line in lines] == [json.loads(r)["task_type"] for r in DEV_DATA.read_text().splitlines()]
    assert local_evaluation.main(["--responses", str(responses), "--output", str(rescored), "--no-progress"]) == 0
    assert local_evaluation.main(["--output", str(direct), "--no-progress"]) == 0
    capsys.readouterr()
    first, second = json.loads(rescored.read_text()), json.loads(direct.read_text())
    assert (first["overall"], first["tracks"]) == (second["overall"], second["tracks"])


def test_predict_writes_null_details_for_models_without_them(tmp_path, capsys):
    responses = tmp_path / "r.jsonl"
    assert run.main(["predict", "--output", str(responses), "--no-progress", *DUMMY]) == 0
    line = json.loads(responses.read_text().splitlines()[0])
    assert (line["task_type"], line["profile"], line["repaired"], line["failed"]) == (None, None, None, None)


def test_predict_with_limit_pairs_with_evaluation_limit(tmp_path, capsys):
    responses = tmp_path / "r.jsonl"
    assert run.main(["predict", "--output", str(responses), "--limit", "7", "--seed", "3", "--no-progress", *DUMMY]) == 0
    assert len(responses.read_text().splitlines()) == 7
    assert local_evaluation.main(["--responses", str(responses), "--limit", "7", "--seed", "3", "--no-progress"]) == 0
    # another seed selects other questions: their input_field no longer matches
    assert local_evaluation.main(["--responses", str(responses), "--limit", "7", "--seed", "4", "--no-progress"]) == 2
    assert "does not match question" in capsys.readouterr().err


def test_help_and_missing_command():
    done = subprocess.run([sys.executable, "run.py", "predict", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and "--output" in done.stdout
    done = subprocess.run([sys.executable, "run.py"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and "COMMAND" in done.stderr


def test_bad_settings_in_the_environment_are_one_line_before_any_model_loads(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("SHOPBENCH_BATCH_SIZE", "abc")
    assert local_evaluation.main(["--limit", "2", "--output", str(tmp_path / "r.json"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "SHOPBENCH_BATCH_SIZE must be an integer" in err and "Traceback" not in err
    assert not (tmp_path / "r.json").exists()
    monkeypatch.delenv("SHOPBENCH_BATCH_SIZE")
    monkeypatch.setenv("AICROWD_RUN_SEED", "abc")
    with pytest.raises(SystemExit) as stop:
        run.main(["predict", "--output", str(tmp_path / "p.jsonl")])
    assert stop.value.code == 2 and "AICROWD_RUN_SEED must be an integer from 0 to" in (err := capsys.readouterr().err) and "'abc'" in err


@pytest.mark.parametrize("output", ["/proc/shopbench/r.json", "FOLDER"])
def test_an_unwritable_output_is_refused_before_anything_runs(output, tmp_path, capsys):
    import training.__main__ as training_cli

    output = str(tmp_path) if output == "FOLDER" else output
    commands = [
        (local_evaluation.main, ["--output", output]),
        (run.main, ["predict", "--output", output]),
        (run.main, ["classify", "--output", output]),
        (training_cli.main, ["export", "--data", str(DEV_DATA), "--out", output]),
    ]
    for main, argv in commands:
        with pytest.raises(SystemExit) as stop:  # argparse's usage error: nothing loaded, nothing written
            main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and f"{output}: " in err and ("cannot be written" in err or "is a folder" in err)
