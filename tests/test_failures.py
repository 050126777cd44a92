"""Engine failures leave a trace (counted, reported, exit 3), and every command ends cleanly
on Ctrl-C and on a reader that leaves early."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import local_evaluation
import run as run_command
from shopbench.protocol import Answer
from shopbench import spec
from shopbench.report import format_generation
from shopbench.runner import Batch, ModelRun
from tests.conftest import ROOT, write_jsonl

HALF_FAILING = ("--model", "tests.models_for_tests:HalfFailingModel")


def evaluate(capsys, *argv):
    code = local_evaluation.main([*argv, "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def test_failed_answers_are_counted_in_the_run_record_and_the_report():
    answers = [Answer("1", "ranking", "ranking", True, 0, None, True), Answer("2", "ranking", "ranking", False, 1, None, False),
               Answer("1", None, None, True, 0, None, True)]  # a whole batch lost: no route at all
    generation = ModelRun(answers, [0.1, 0.1, 0.1], [Batch("ranking", 3, 0.3)], time_guard=False).summary()
    assert generation["failed_questions"] == 2
    assert generation["by_profile"]["ranking"]["failed"] == 1
    text = format_generation(generation)
    assert "Engine failures: 2 of 3 questions got no model answer" in text
    header, _, row = text.splitlines()[-3:]
    cells = dict(zip(re.split(r"\s{2,}", header.strip()), row.split()))
    assert cells["engine failed"] == "1" and cells["guard fallback"] == "0"
    # a model that does not say (batch_predict only) is not reported as failure-free
    unknown = ModelRun([Answer("1")], [0.1], [Batch("ranking", 1, 0.1)]).summary()
    assert unknown["failed_questions"] is None and "Engine failures" not in format_generation(unknown)


def test_local_evaluation_writes_its_outputs_then_exits_3_when_questions_failed(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(spec.ALLOW_FAILURES_ENV, raising=False)
    output, page = tmp_path / "r.json", tmp_path / "r.html"
    code, out, err = evaluate(capsys, *HALF_FAILING, "--output", str(output), "--html", str(page))
    assert code == spec.FAILED_QUESTIONS_EXIT == 3
    results = json.loads(output.read_text())
    failed = [s["index"] for s in results["samples"] if s["model"]["failed"]]
    assert 0 < len(failed) < 96 and results["generation"]["failed_questions"] == len(failed)
    assert results["generation"]["by_profile"]["generation"]["failed"] == len(failed)
    assert f"Engine failures: {len(failed)} of 96 questions got no model answer" in out
    assert err.strip().splitlines()[-1].startswith(f"error: {len(failed)} of 96 questions got no model answer")
    assert "Engine failures: " in page.read_text() and 'data-failed="1"' in page.read_text()
    # the old behaviour, by option or by variable
    assert evaluate(capsys, *HALF_FAILING, "--allow-failures")[0] == 0
    monkeypatch.setenv(spec.ALLOW_FAILURES_ENV, "on")
    assert evaluate(capsys, *HALF_FAILING)[0] == 0
    monkeypatch.setenv(spec.ALLOW_FAILURES_ENV, "off")
    assert evaluate(capsys, *HALF_FAILING)[0] == 3
    monkeypatch.setenv(spec.ALLOW_FAILURES_ENV, "yes please")
    with pytest.raises(SystemExit) as stopped:
        evaluate(capsys, *HALF_FAILING)
    assert stopped.value.code == 2 and f"{spec.ALLOW_FAILURES_ENV} must be on or off" in capsys.readouterr().err


def test_runs_without_failures_exit_0(capsys):
    code, out, _ = evaluate(capsys, "--model", "models.dummy_model:DummyModel", "--limit", "5")
    assert code == 0 and "Engine failures" not in out  # DummyModel does not say


def test_predict_marks_failed_answers_and_exits_3(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(spec.ALLOW_FAILURES_ENV, raising=False)
    output = tmp_path / "p.jsonl"
    code = run_command.main(["predict", "--output", str(output), *HALF_FAILING, "--no-progress"])
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    failed = sum(line["failed"] for line in lines)
    assert code == 3 and 0 < failed < len(lines) == 96
    assert all(line["response"] == "1" and line["repaired"] for line in lines if line["failed"])
    assert f"Engine failures: {failed} of 96" in out and "got no model answer" in err
    assert run_command.main(["predict", "--output", str(output), *HALF_FAILING, "--no-progress",
                             "--allow-failures"]) == 0


@pytest.mark.engine
def test_a_refused_batch_marks_the_user_models_answers_failed(transformers_engine, tmp_path, capsys, monkeypatch, caplog):
    from tests.models_for_tests import RefusedShopModel

    monkeypatch.delenv(spec.ALLOW_FAILURES_ENV, raising=False)
    monkeypatch.setattr(RefusedShopModel, "engine", transformers_engine)
    output = tmp_path / "r.json"
    code, out, err = evaluate(capsys, "--model", "tests.models_for_tests:RefusedShopModel", "--limit", "16",
                              "--output", str(output))
    assert code == 3 and "HTTP 400: the server refused the batch" in caplog.text
    samples = json.loads(output.read_text())["samples"]
    failed = [s for s in samples if s["model"]["failed"]]
    answered = [s for s in samples if s["model"]["failed"] is False]
    assert failed and answered and len(failed) + len(answered) == 16
    assert all(s["model"]["repaired"] and s["model"]["generated_tokens"] == 0 for s in failed)
    assert f"Engine failures: {len(failed)} of 16 questions" in out


def quiet_command(argv, **kwargs):
    """Run a command whose stdout is a pipe nobody reads (the reader left before it wrote)."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run([sys.executable, *argv], cwd=ROOT, stdout=writer, stderr=subprocess.PIPE, text=True,
                              timeout=300, **kwargs)
    finally:
        os.close(writer)


def few_questions(folder):
    records = [{"input_field": f"Question {i}?\n0. yes\n1. no\nAnswer:", "output_field": 0, "task_name": f"t{i}",
                "task_type": spec.MULTIPLE_CHOICE, "metric": spec.ACCURACY} for i in range(3)]
    return write_jsonl(folder / "d.jsonl", records), write_jsonl(folder / "r.jsonl", [{"response": "0"}] * 3)


@pytest.mark.parametrize("command", [["local_evaluation.py", "--responses", "{responses}", "--data", "{data}", "--no-progress"],
                                     ["run.py", "classify", "--data", "{data}"],
                                     ["-m", "training", "check", "--data", "{data}", "--no-progress"],
                                     ["-m", "weights", "check", "{folder}"]])
def test_every_command_ends_quietly_when_its_reader_has_left(command, tmp_path):
    data, responses = few_questions(tmp_path)
    names = {"data": data, "responses": responses, "folder": tmp_path}
    done = quiet_command([part.format(**names) for part in command])
    assert done.returncode == 141 and done.stderr == ""


def test_a_report_piped_into_head_loses_no_file(tmp_path):
    # Enough tasks that the report outgrows the pipe: head leaves while it is being printed.
    records = [{"input_field": f"Question {i}?\n0. yes\n1. no\nAnswer:", "output_field": 0, "task_name": f"t{i}",
                "task_type": spec.MULTIPLE_CHOICE, "metric": spec.ACCURACY} for i in range(3000)]
    data = write_jsonl(tmp_path / "many.jsonl", records)
    output, page = tmp_path / "r.json", tmp_path / "r.html"
    script = (f"{sys.executable} local_evaluation.py --data {data} --model models.dummy_model:DummyModel --no-progress "
              f"--output {output} --html {page} | head -1; echo \"exit ${{PIPESTATUS[0]}}\" >&2")
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.stdout.startswith("task") and len(done.stdout.splitlines()) == 1
    assert done.stderr.splitlines() == ["exit 141"]
    assert len(json.loads(output.read_text())["samples"]) == 3000
    assert page.read_text().count('<tr class="question') == 3000


@pytest.mark.slow
def test_ctrl_c_ends_a_run_with_one_word_and_no_output(tmp_path):
    started, output = tmp_path / "started", tmp_path / "r.json"
    process = subprocess.Popen(
        [sys.executable, "local_evaluation.py", "--model", "tests.models_for_tests:SlowModel", "--no-progress",
         "--output", str(output)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "SHOPBENCH_TEST_STARTED": str(started)},
    )
    try:
        for _ in range(600):  # until the model is answering; the test asserts no time
            if started.exists() or process.poll() is not None:
                break
            time.sleep(0.5)
        assert started.exists(), process.communicate()[1]
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130 and err.splitlines()[-1] == "interrupted" and "Traceback" not in err
    assert list(tmp_path.iterdir()) == [started]
