import json
import shutil
import subprocess
import time

import pytest

import run
from models.engines import Generated
from shopbench.protocol import GuardAction
from models import settings as settings_module
from models.time_guard import TimeGuard
from shopbench import spec
from submission import aicrowd, checks, timing
from submission.git import submit
from tests.conftest import ROOT, tiny_shop_model
from tests.tiny_models import make_tiny_qwen2
from tests.validity import is_valid

T1, T2, T3 = spec.TRACKS[:3]
# the code a submission serves, and the tools that check it
RUNTIME = [*checks.RUNTIME_CODE, "submission", "weights"]


def git(root, *argv):
    return subprocess.run(["git", *argv], cwd=root, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def repository(tmp_path):
    """A submission repository: the runtime code, aicrowd.json for T1, tiny real weights
    that split for TP=4, committed, with a bare 'origin'."""
    root = tmp_path / "repo"
    for part in RUNTIME:
        shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__", "build", "base"))
    for name in ("requirements.txt", "aicrowd.json", ".gitattributes"):
        shutil.copy2(ROOT / name, root / name)
    (root / "aicrowd.json").write_text(aicrowd.for_track(T1, root))
    make_tiny_qwen2(root / T1.weights_dir, intermediate_size=512)
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "fixture")
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "origin.git")], check=True)
    git(root, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(root, "config", "user.name", "t")
    git(root, "config", "user.email", "t@t")
    return root


def test_the_repository_as_it_stands_lacks_only_the_weights(capsys):
    assert run.main(["check-submission", "--track", "1"]) == 1
    problems = [line for line in capsys.readouterr().out.splitlines() if line.startswith("problem:")]
    assert len(problems) == 1 and "no production weights" in problems[0] and T1.recipe in problems[0]


@pytest.mark.slow
def test_a_complete_fixture_passes_and_planted_faults_are_each_reported(repository):
    assert checks.problems(repository, T1) == []
    weights = repository / T1.weights_dir
    shard = weights / "model.safetensors"
    whole = shard.read_bytes()
    shard.write_bytes(whole[:-1000])  # a copy cut short
    assert any("cut short" in problem for problem in checks.problems(repository, T1))
    shard.write_bytes(whole)
    (repository / "aicrowd.json").write_text(aicrowd.for_track(T2, repository))
    config = json.loads((weights / "config.json").read_text())
    (weights / "config.json").write_text(json.dumps({**config, "intermediate_size": 320}))
    (weights / "model.safetensors").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n")
    (repository / "requirements.txt").write_text("torch\nvllm\n")
    (repository / "models" / "fetch.py").write_text("URL = 'https://huggingface.co/Qwen/Qwen2-72B'\n"
                                                    "LOCAL = 'http://127.0.0.1:8000/v1'\nfrom urllib.parse import quote\n"
                                                    "import urllib.request\nrequests.append(1)\n"
                                                    "import requests\nfrom requests.adapters import HTTPAdapter\n"
                                                    "URL = 'http://localhost.example.com/v1'\n")
    found = "\n".join(checks.problems(repository, T1))
    assert "challenge_id is 'amazon-kdd-cup-24-shopping-knowledge-reasoning'" in found
    assert "a git-lfs pointer" in found
    assert "does not split across 4 GPUs" in found
    assert "vllm is not pinned" in found
    assert "models/fetch.py:1: may reach the network" in found and "models/fetch.py:4: may reach" in found
    assert "fetch.py:2:" not in found and "fetch.py:3:" not in found  # loopback and urllib.parse stay here
    assert "fetch.py:5:" not in found and "models/fetch.py:6: may reach" in found  # a list named requests is not
    assert "models/fetch.py:7: may reach" in found and "models/fetch.py:8: may reach" in found


@pytest.mark.slow
def test_importing_the_user_config_must_not_load_engines(repository):
    (repository / "models" / "user_config.py").write_text("import torch\nfrom models.shop_model import ShopModel as UserModel\n")
    assert any("already imports torch" in p for p in checks.problems(repository, T1))


@pytest.mark.slow
def test_submit_tags_locally_and_pushes_only_when_asked(repository):
    lines = []
    assert submit(repository, T3, "t3", push=False, weights_dir=repository / T1.weights_dir, out=lines.append) == 0
    assert json.loads((repository / "aicrowd.json").read_text())["challenge_id"] == T3.challenge_id
    assert "submission-t3" in git(repository, "tag") and "Submit track 3" in git(repository, "log", "-1", "--format=%s")
    assert "git push origin submission-t3" in "\n".join(lines)
    assert git(repository, "ls-remote", "--tags", "origin") == ""
    assert submit(repository, T3, "t3b", push=True, weights_dir=repository / T1.weights_dir, out=lines.append) == 0
    assert "refs/tags/submission-t3b" in git(repository, "ls-remote", "--tags", "origin")
    assert submit(repository, T3, "t3b", push=False, out=lines.append) == 2  # the tag exists


@pytest.mark.slow
def test_submit_with_problems_changes_nothing(repository):
    before = (repository / "aicrowd.json").read_text()
    head = git(repository, "rev-parse", "HEAD")
    lines = []
    assert submit(repository, T2, "t2", push=True, out=lines.append) == 1  # track 2 has no weights
    assert (repository / "aicrowd.json").read_text() == before and git(repository, "rev-parse", "HEAD") == head
    assert git(repository, "tag") == "" and git(repository, "ls-remote", "--tags", "origin") == ""
    printed = "\n".join(lines)
    assert "no production weights" in printed and "git tag submission-t2" in printed


def test_submit_command_on_this_repository_leaves_everything_untouched(capsys):
    before = (ROOT / "aicrowd.json").read_text()
    tags = git(ROOT, "tag")
    assert run.main(["submit", "--track", "3", "--tag", "test"]) == 1
    out = capsys.readouterr().out
    assert "git push origin submission-test" in out and "git tag submission-test" in out
    assert (ROOT / "aicrowd.json").read_text() == before and git(ROOT, "tag") == tags


def test_timing_projects_figures_from_a_throughput_file(tmp_path, capsys):
    figures = timing.Throughput("4x Tesla T4", "Qwen2-72B AWQ", {"multiple-choice": 0.4, "generation": 1.5}, 2.0, 96)
    path = tmp_path / "t4.json"
    path.write_text(figures.to_json())
    assert run.main(["timing", "--track", "1", "--throughput", str(path)]) == 0
    out = capsys.readouterr().out
    assert "figures from: Qwen2-72B AWQ on 4x Tesla T4" in out and "6102 questions in 70 min" in out
    assert "not measured: mean of the others" in out  # T1's dev mix has retrieval and NER too
    slow = timing.Throughput("CPU", "m", {"multiple-choice": 5.0}, 12.0, 16)
    report = timing.projection(T2, slow, {"multiple-choice": 1.0})
    assert "OVERRUNS" in report and "TOO SLOW" in report and "158.0 min of 20 min" in report
    (tmp_path / "bad.json").write_text("{}")
    assert run.main(["timing", "--track", "1", "--throughput", str(tmp_path / "bad.json")]) == 2
    # --limit samples the track's questions, whose task mix the projection uses
    assert run.main(["timing", "--track", "1", "--throughput", str(path), "--limit", "1", "--seed", "2"]) == 0
    assert capsys.readouterr().out != out
    with pytest.raises(SystemExit) as stop:
        run.main(["timing", "--track", "1", "--throughput", str(path), "--limit", "0"])
    assert stop.value.code == 2 and "--limit: must be an integer from 1 to" in capsys.readouterr().err


def test_recipes_build_the_folders_the_track_table_serves():
    from weights.build import read_recipe

    for track in spec.TRACKS:
        assert read_recipe(ROOT / track.recipe)["out"] == track.weights_dir


def test_aicrowd_json_follows_the_table():
    config = json.loads((ROOT / "aicrowd.json").read_text())
    assert set(config) == set(aicrowd.KEYS) and config["challenge_id"] in spec.TRACK_BY_ID and config["gpu"] is True


class SlowEngine:
    """The tiny model's tokenizer behind an engine that takes `step` seconds per new token."""

    def __init__(self, engine, step: float):
        self.name, self.tokenizer, self.max_model_len, self.step = "slow", engine.tokenizer, 2048, step
        self.token_list_cap = None
        self.calls = []

    def generate(self, requests):
        steps = max(r.constraint.max_new_tokens for r in requests)
        self.calls.append(steps)
        time.sleep(self.step * steps)
        return [Generated([], "") for _ in requests]


def test_a_time_guard_that_is_off_never_shortens_and_the_report_says_so():
    from shopbench.report import time_guard_line

    guard = TimeGuard(seconds_per_question=0.0, enabled=False)
    guard.record(10.0, 1)  # however slow the machine was
    assert guard.batch_budget(16) == float("inf") and guard.new_tokens_that_fit(-5.0, 50) == 50
    assert time_guard_line({"time_guard": False, "by_profile": {}}).startswith("Time guard: off")
    rows = {"ner": {"shortened": 2, "fallback": 0}, "generation": {"shortened": 1, "fallback": 3}}
    assert time_guard_line({"time_guard": True, "by_profile": rows}).startswith("Time guard: on (3 shortened, 3 fallback")


@pytest.mark.engine
def test_time_guard_keeps_each_batch_within_its_budget(transformers_engine, dev_records):
    # one batch as the evaluator sends it: no multiple choice in a batch flagged False
    records = [r for r in dev_records if not r["is_multiple_choice"]][::3]
    engine = SlowEngine(transformers_engine, step=0.01)
    model = tiny_shop_model(engine)
    model.guard = TimeGuard(seconds_per_question=0.03)  # 16 questions: 0.48 s
    model.guard.record(0.01, 1)
    began = time.time()
    answers = model.batch_answer({"prompt": [r["input_field"] for r in records]}, False)
    elapsed = time.time() - began
    assert elapsed <= 0.03 * len(records) + 0.2
    assert {a.guard for a in answers} >= {GuardAction.SHORTENED} and all(is_valid(r["task_type"], a.text) for r, a in zip(records, answers))
    model.guard = TimeGuard(seconds_per_question=0.0)  # no time at all: every answer is a fallback
    answers = model.batch_answer({"prompt": [r["input_field"] for r in records]}, False)
    assert {a.guard for a in answers} == {GuardAction.FALLBACK} and all(is_valid(r["task_type"], a.text) for r, a in zip(records, answers))
    assert not any(a.failed for a in answers)  # the guard's choice, not an engine failure


@pytest.mark.engine
def test_track_deadline_shortens_later_batches(transformers_engine, dev_records, monkeypatch):
    monkeypatch.setenv("SHOPBENCH_TRACK_DEADLINE", f"{time.time() - 100}:101:32")
    deadline = settings_module.from_environment().deadline
    assert deadline.questions == 32
    guard = TimeGuard(seconds_per_question=8.0, deadline=deadline)
    assert guard.batch_budget(16) <= 1.0  # one second left for 32 questions, not 128 s
    model = tiny_shop_model(SlowEngine(transformers_engine, step=0.01))
    model.guard = guard
    records = dev_records[::6]
    time.sleep(1.0)
    answers = model.batch_answer({"prompt": [r["input_field"] for r in records]}, False)
    assert {a.guard for a in answers} == {GuardAction.FALLBACK}
    monkeypatch.setenv("SHOPBENCH_TRACK_DEADLINE", "soon")
    with pytest.raises(ValueError, match="SHOPBENCH_TRACK_DEADLINE: expected START:SECONDS"):
        settings_module.from_environment()


@pytest.mark.engine
def test_timing_command_measures_the_embedded_model(capsys):
    assert run.main(["timing", "--track", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "SmolLM2-135M-Instruct (embedded default) with the transformers engine on CPU" in out
    assert "1896 questions in 20 min" in out and "worst batch" in out
