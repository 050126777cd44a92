"""What a command reads must be a file (or a pipe) of a size it can hold: a device, a socket,
a folder where a file belongs, a document over 1 GiB or a line over 64 MiB is refused in one
line naming the file, before anything loads; never a MemoryError or a read without end."""
from __future__ import annotations

import os
import socket
import threading

import pytest

from shopbench import files, jsonsafe
from shopbench.errors import DataError
from tests.conftest import DEV_DATA
from tests.test_no_output_replaces_input import COMMANDS, _argv, _roles
from training.sources import SOURCES

# Inputs that are files (the weights commands read folders, checked in tests/test_weights.py);
# training build once per source, whose --input is a file or a folder.
FILE_INPUTS = [(name, source.dest) for name in COMMANDS
               if not name.startswith(("weights", "training build", "training label", "training finetune",
                                       "benchmarks/recipe.py"))
               for source in _roles(name).inputs] + [(f"training build {source}", "input") for source in SOURCES]
FOLDER_SOURCES = {"esci", "reviews", "m2"}  # their --input must be a folder, and they say so
# Inputs read whole as one JSON document (the others are read line by line).
DOCUMENTS = {("run compare", "a"), ("run compare", "b"), ("run timing", "throughput"), ("run report", "results")}


def _bad_input(kind: str, tmp_path):
    if kind in ("/dev/zero", "/dev/urandom"):
        return kind, "is a character device, not a file"
    if kind == "socket":
        path = tmp_path / "input.sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        return str(path), "is a socket, not a file"
    if kind == "folder":
        (tmp_path / "folder").mkdir()
        return str(tmp_path / "folder"), None  # each command says it its way (a folder may be the release)
    if kind == "huge line":
        path = tmp_path / "one-line.jsonl"
        with open(path, "wb") as handle:  # sparse: no disk used
            handle.truncate(files.MAX_LINE_BYTES + 10)
        return str(path), "a line longer than 64 MiB"
    path = tmp_path / "huge.json"
    with open(path, "wb") as handle:
        handle.truncate(files.MAX_DOCUMENT_BYTES + 1)
    return str(path), "larger than 1 GiB"


def _run(main, argv):
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


@pytest.mark.parametrize("kind", ["/dev/zero", "/dev/urandom", "socket", "folder", "huge line", "huge document"])
@pytest.mark.parametrize("name, dest", FILE_INPUTS, ids=[f"{n}:{d}" for n, d in FILE_INPUTS])
def test_an_input_that_is_no_file_to_read_is_one_line(name, dest, kind, tmp_path, capsys, monkeypatch):
    if kind == "huge document" and (name, dest) not in DOCUMENTS:
        kind = "huge line"  # a line reader meets the same bytes as one long line
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOPBENCH_SERVER_URL", "http://127.0.0.1:9/v1")  # training rewrite checks it first
    given, words = _bad_input(kind, tmp_path)
    if name.startswith("training build"):
        source = name.split()[-1]
        code = _run(COMMANDS["training build"][0], ["build", source, "--input", given, "--out", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert given in err and (words is None or source in FOLDER_SOURCES or words in err), err
        assert not (tmp_path / "out").exists()
        return
    roles = _roles(name)
    if kind == "huge line" and (name, dest) in DOCUMENTS:
        words = "not valid JSON"  # 64 MiB of zeros is within a document's bound, and no JSON
    chosen = {}
    for source in roles.inputs:  # the other inputs valid: the development set, a results file of it
        chosen[source.dest] = given if source.dest == dest else str(DEV_DATA)
    if name == "run compare":
        other = tmp_path / "results.json"
        other.write_text("{}")
        chosen = {d: (given if d == dest else str(other)) for d in chosen}
    if name == "run timing" and dest == "data":
        chosen.pop("throughput")
    for output in roles.outputs:
        chosen[output.dest] = str(tmp_path / "out" / output.dest)
    code = _run(COMMANDS[name][0], _argv(name, chosen))
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert given in err and (words is None or words in err), err
    assert not (tmp_path / "out").exists()


def test_a_pipe_is_read_as_a_stream(tmp_path, capsys):
    import run

    fifo = tmp_path / "questions"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(DEV_DATA.read_bytes()))
    writer.start()
    try:
        assert run.main(["classify", "--data", str(fifo), "--output", str(tmp_path / "routes.jsonl")]) == 0
    finally:
        writer.join(timeout=60)
    routes = (tmp_path / "routes.jsonl").read_text().splitlines()
    assert len(routes) == len(DEV_DATA.read_text().splitlines()) and "task_type accuracy" in capsys.readouterr().out


REREAD = [(name, dest) for name in COMMANDS for dest in sorted(_roles(name).reread)]


def test_the_commands_that_read_an_input_twice_say_so():
    assert {("training rewrite", "data"), ("training label", "input"), ("training label", "categories")} <= set(REREAD)


@pytest.mark.parametrize("name, dest", REREAD, ids=[f"{n}:{d}" for n, d in REREAD])
def test_a_pipe_is_refused_where_the_input_is_read_more_than_once(name, dest, tmp_path, capsys, monkeypatch):
    """Its second read would wait for a writer for ever: refused in one line, nothing opened."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOPBENCH_SERVER_URL", "http://127.0.0.1:9/v1")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    roles = _roles(name)
    chosen = {source.dest: str(fifo) if source.dest == dest else str(DEV_DATA) for source in roles.inputs}
    chosen.update({output.dest: str(tmp_path / "out" / output.dest) for output in roles.outputs})
    result = []
    worker = threading.Thread(target=lambda: result.append(_run(COMMANDS[name][0], _argv(name, chosen))), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert result, "blocked on the pipe"
    err = capsys.readouterr().err
    assert result == [2] and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"{_labels(name)[dest]} {fifo}: is a pipe, which can be read once" in err, err
    assert not (tmp_path / "out").exists()


def _labels(name: str) -> dict[str, str]:
    return {f.dest: f.label for f in _roles(name).inputs}


def test_a_document_is_read_to_its_limit_and_no_further(tmp_path):
    path = tmp_path / "doc.json"
    path.write_bytes(b"[" + b"1," * 50 + b"1]")
    assert files.read_document(path, limit=200) == path.read_bytes()
    with pytest.raises(DataError, match="larger than"):
        files.read_document(path, limit=100)

    class Stream:  # a pipe: no size to ask, so what is read is bounded instead
        def __init__(self):
            self.asked = []

        def readline(self, size):
            self.asked.append(size)
            return b"x" * size

    stream = Stream()
    with pytest.raises(DataError, match=r"^s:1: a line longer than 1 MiB"):
        next(files.bounded_lines(stream, "s", limit=1 << 20))
    assert stream.asked == [(1 << 20) + 1]


def test_a_compressed_input_is_bounded_after_decompression(tmp_path):
    import gzip

    path = tmp_path / "bomb.json.gz"
    path.write_bytes(gzip.compress(b" " * (3 << 20)))  # 3 MiB of spaces in a few KB
    with pytest.raises(DataError, match="larger than 2 MiB"):
        files.read_document(path, limit=2 << 20)
    with pytest.raises(DataError, match="larger than 1 GiB"):
        with open(tmp_path / "big.json", "wb") as handle:
            handle.truncate(files.MAX_DOCUMENT_BYTES + 1)
        jsonsafe.load_file(tmp_path / "big.json")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_every_json_document_reader_refuses_devices(device):
    with pytest.raises(DataError, match="is a character device, not a file"):
        jsonsafe.load_file(device)


def test_a_recipe_that_is_no_file_is_one_line(tmp_path):
    from weights.build import read_recipe
    from weights.checkpoint import CheckpointError

    for path, words in (("/dev/zero", "not a file"), (tmp_path, "is a folder")):
        with pytest.raises(CheckpointError, match=words):
            read_recipe(path)
    (tmp_path / "deep.toml").write_text("a = " + "[" * 100_000)
    with pytest.raises(CheckpointError, match="nested too deep"):
        read_recipe(tmp_path / "deep.toml")
    (tmp_path / "latin1.toml").write_bytes(b'base = "caf\xe9"\n')
    with pytest.raises(CheckpointError, match="not UTF-8"):
        read_recipe(tmp_path / "latin1.toml")
