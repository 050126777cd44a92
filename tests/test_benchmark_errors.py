"""Every script in benchmarks/ refuses bad input as the commands do: one line, `error:` or a
usage error, exit 2, no traceback, before any model loads. Each runs its main through
`cli.main_guard`, which also turns a DataError the script did not catch into that line."""
from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT

BENCHMARKS = sorted(path.name for path in (ROOT / "benchmarks").glob("*.py"))
# The scripts that read questions with --data (the others read no data file), and the extra
# options each needs to get that far.
DATA_READERS = {"ablation.py": [], "routing_speed.py": [], "recipe.py": ["--work", "{tmp}/work"]}
# For the others: an input of their own that is bad (an output folder that is a file, given with
# the trailing slash that once passed the check; an output that is a folder; an out-of-range count).
OTHER_BAD = {"engine_speed.py": ["--output", "{tmp}"], "scoring_speed.py": ["--questions", "0"],
             "training_speed.py": ["--workdir", "{tmp}/file/"], "weights_speed.py": ["--workdir", "{tmp}/file/"]}
BAD_DATA = ["deep", "not UTF-8", "/dev/zero"]


def _bad_data(kind: str, tmp_path) -> str:
    if kind == "/dev/zero":
        return kind
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"[" * 10000 + b"\n" if kind == "deep" else b'{"input_field": "\xff\xfe"}\n')
    return str(path)


def _refused_in_one_line(script: str, argv: list[str], tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *argv], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0], done.stderr
    assert not (tmp_path / "work").exists()  # refused before any step made its folder


def test_every_benchmark_is_checked():
    assert set(BENCHMARKS) == set(DATA_READERS) | set(OTHER_BAD)


@pytest.mark.parametrize("script", BENCHMARKS)
def test_main_runs_through_the_guard(script):
    """`if __name__ == "__main__": sys.exit(cli.main_guard(main)())`, as every command."""
    tree = ast.parse((ROOT / "benchmarks" / script).read_text())
    entry = [node for node in tree.body if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)]
    assert len(entry) == 1
    assert ast.unparse(entry[0].body[0]) == "sys.exit(cli.main_guard(main)())"


@pytest.mark.parametrize("kind", BAD_DATA)
@pytest.mark.parametrize("script", sorted(DATA_READERS))
def test_bad_data_is_refused_in_one_line(script, kind, tmp_path):
    _refused_in_one_line(script, [*DATA_READERS[script], "--data", _bad_data(kind, tmp_path)], tmp_path)


@pytest.mark.parametrize("script", sorted(OTHER_BAD))
def test_bad_input_is_refused_in_one_line(script, tmp_path):
    _refused_in_one_line(script, OTHER_BAD[script], tmp_path)


def test_an_uncaught_data_error_is_one_line(capsys):
    from shopbench import cli
    from shopbench.errors import DataError

    def main():
        raise DataError("questions.jsonl:3: field input_field: not a string")

    assert cli.main_guard(main)() == 2
    assert capsys.readouterr().err == "error: questions.jsonl:3: field input_field: not a string\n"
