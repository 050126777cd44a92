"""The registry of environment variables: the generated page is current, every variable the
code names is declared, and only the registry reads the environment."""
import re
import subprocess
import sys

import pytest

from shopbench import environment, spec

ROOT = spec.ROOT
PAGE = ROOT / "docs" / "environment.md"
NAMED = re.compile(r"\bSHOPBENCH_[A-Z0-9_]*[A-Z0-9]")
# Reading the environment: os.getenv(...), os.environ.get(...), os.environ[...] not assigned to,
# or the whole of it (a copy for a child process).
READS = re.compile(r"os\.getenv\(|environ\.get\(|environ\[[^\]]*\](?!\s*=[^=])|\*\*os\.environ|environ\.copy\(")


def tracked_files() -> list:
    names = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in names if (ROOT / name).is_file()]


def texts(suffixes=None):
    for path in tracked_files():
        if suffixes is not None and path.suffix not in suffixes:
            continue
        try:
            yield path, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # an image, a compressed data file


def test_the_page_is_generated_from_the_registry():
    assert PAGE.read_text(encoding="utf-8") == environment.markdown() + "\n", (
        "docs/environment.md is out of date: python -m shopbench.environment --markdown > docs/environment.md")


def test_the_command_prints_the_page():
    done = subprocess.run([sys.executable, "-m", "shopbench.environment", "--markdown"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    assert done.stdout == PAGE.read_text(encoding="utf-8")
    listing = subprocess.run([sys.executable, "-m", "shopbench.environment"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.splitlines()
    assert [line.split(" ", 1)[0] for line in listing] == [v.name for v in environment.VARIABLES]


def test_every_variable_the_code_names_is_declared():
    undeclared = {}
    for path, text in texts():
        for name in set(NAMED.findall(text)) - set(environment.BY_NAME):
            undeclared.setdefault(name, path.relative_to(ROOT).as_posix())
    assert not undeclared, f"named but not declared in shopbench/environment.py: {undeclared}"
    for variable in environment.VARIABLES:
        assert f"`{variable.name}`" in PAGE.read_text(encoding="utf-8")


def test_only_the_registry_reads_the_environment():
    readers = [f"{path.relative_to(ROOT).as_posix()}:{number}: {line.strip()}"
               for path, text in texts({".py"}) if path.relative_to(ROOT).parts[0] != "tests"
               and path != ROOT / "shopbench" / "environment.py"
               for number, line in enumerate(text.splitlines(), start=1) if READS.search(line)]
    assert not readers, readers


def test_the_rule_finds_a_read():
    assert READS.search('x = os.environ.get("SHOPBENCH_ENGINE")')
    assert READS.search('x = os.environ["SHOPBENCH_ENGINE"]')
    assert READS.search('env={**os.environ, "A": "1"}')
    assert not READS.search('os.environ["A"] = "1"')


def test_unset_or_empty_is_the_default(monkeypatch):
    for variable in environment.VARIABLES:
        monkeypatch.delenv(variable.name, raising=False)
        unset = environment.get(variable.name)
        monkeypatch.setenv(variable.name, "")
        assert environment.get(variable.name) == unset
        assert environment.text(variable.name) is None
    assert environment.get(environment.BATCH_SIZE_ENV) == spec.MAX_BATCH_SIZE
    assert environment.get(environment.TIME_GUARD_ENV) is None  # the model settings decide
    assert environment.get(environment.SEED_ENV) == spec.DEFAULT_SEED


@pytest.mark.parametrize("name, value, message", [
    ("SHOPBENCH_ENGINE", "gpu", "^SHOPBENCH_ENGINE must be one of vllm, transformers, openai, chat, got 'gpu'$"),
    ("SHOPBENCH_PRECISION", "fp8", "^SHOPBENCH_PRECISION must be one of auto, float32, bfloat16, got 'fp8'$"),
    ("SHOPBENCH_TIME_GUARD", "yes", "^SHOPBENCH_TIME_GUARD must be on or off, got 'yes'$"),
    ("SHOPBENCH_ALLOW_FAILURES", "1", "^SHOPBENCH_ALLOW_FAILURES must be on or off, got '1'$"),
    ("SHOPBENCH_SERVER_CONCURRENCY", "0", "^SHOPBENCH_SERVER_CONCURRENCY must be an integer from 1 to 1024, got 0$"),
    ("SHOPBENCH_SECONDS_PER_QUESTION", "nan", "^SHOPBENCH_SECONDS_PER_QUESTION must be a number from 0.001 to 600"),
    ("SHOPBENCH_VLLM_ARGS", "[1]", "^SHOPBENCH_VLLM_ARGS must be a JSON object of vllm.LLM arguments, got '\\[1\\]'$"),
    ("AICROWD_RUN_SEED", "-1", "^AICROWD_RUN_SEED must be an integer from 0 to"),
    ("OPENAI_API_KEY", "sk-1\n", "^OPENAI_API_KEY starts or ends with whitespace or a newline \\(the key is not shown\\)"),
])
def test_a_bad_value_is_one_line_naming_the_variable(name, value, message, monkeypatch):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message) as refused:
        environment.get(name)
    assert "\n" not in str(refused.value)


def test_an_api_key_is_never_shown(monkeypatch):
    for key in ("sk-secret ", "sk-se cret", "sk-sécret€"):
        monkeypatch.setenv("OPENAI_API_KEY", key)
        with pytest.raises(ValueError) as refused:
            environment.get("OPENAI_API_KEY")
        assert "secret" not in str(refused.value) and "cret" not in str(refused.value)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-good")
    assert environment.get("OPENAI_API_KEY") == "sk-good"


def test_values_are_read_as_declared(monkeypatch, tmp_path):
    monkeypatch.setenv("SHOPBENCH_VLLM_ARGS", '{"tensor_parallel_size": 2}')
    monkeypatch.setenv("SHOPBENCH_SERVER_TIMEOUT", "2.5")
    monkeypatch.setenv("SHOPBENCH_TIME_GUARD", "off")
    monkeypatch.setenv("SHOPBENCH_CACHE", str(tmp_path))
    assert environment.get("SHOPBENCH_VLLM_ARGS") == {"tensor_parallel_size": 2}
    assert environment.get("SHOPBENCH_SERVER_TIMEOUT") == 2.5
    assert environment.get("SHOPBENCH_TIME_GUARD") is False
    assert environment.get("SHOPBENCH_CACHE") == tmp_path


def test_an_undeclared_name_is_a_programming_error():
    with pytest.raises(KeyError, match="not declared"):
        environment.get("SHOPBENCH_" + "NOT_A_SETTING")
    with pytest.raises(KeyError, match="not declared"):
        environment.export("SHOPBENCH_" + "NOT_A_SETTING", 1)


def test_exported_restores_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("SHOPBENCH_MODEL_DIR", raising=False)
    with environment.exported("SHOPBENCH_MODEL_DIR", tmp_path):
        assert environment.get("SHOPBENCH_MODEL_DIR") == str(tmp_path)
    assert environment.get("SHOPBENCH_MODEL_DIR") is None
    monkeypatch.setenv("SHOPBENCH_MODEL_DIR", "before")
    with environment.exported("SHOPBENCH_MODEL_DIR", tmp_path):
        pass
    assert environment.get("SHOPBENCH_MODEL_DIR") == "before"
    assert environment.for_child({"SHOPBENCH_CACHE": tmp_path})["SHOPBENCH_CACHE"] == str(tmp_path)
