"""Every command that writes, run with its output equal to each of its inputs (as given, through
a link, and inside or around an input folder): a one-line usage error naming both options,
exit 2, before anything loads, and the input unchanged. The cases are drawn from the commands'
own declarations (options.declare_files), and every parser with an output option must have one."""
from __future__ import annotations

import argparse
import importlib.util
import os
from pathlib import Path

import pytest

import local_evaluation
import run
import training.__main__ as training_cli
import weights.__main__ as weights_cli
from shopbench import options
from tests.conftest import ROOT


def _benchmark(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ablation = _benchmark("ablation")
recipe = _benchmark("recipe")
training_speed = _benchmark("training_speed")
weights_speed = _benchmark("weights_speed")

# The arguments each command needs besides its files; "{dest}" stands for a positional file.
COMMANDS = {
    "local_evaluation": (local_evaluation.main, local_evaluation.build_parser, []),
    "run predict": (run.main, run.build_parser, ["predict"]),
    "run classify": (run.main, run.build_parser, ["classify"]),
    "run timing": (run.main, run.build_parser, ["timing", "--track", "1"]),
    "run compare": (run.main, run.build_parser, ["compare", "{a}", "{b}"]),
    "run report": (run.main, run.build_parser, ["report", "{results}"]),
    "training build": (training_cli.main, training_cli.build_parser, ["build", "esci"]),
    "training export": (training_cli.main, training_cli.build_parser, ["export"]),
    "training rewrite": (training_cli.main, training_cli.build_parser, ["rewrite"]),
    "training label": (training_cli.main, training_cli.build_parser, ["label", "m2"]),
    "training finetune": (training_cli.main, training_cli.build_parser, ["finetune"]),
    "weights merge": (weights_cli.main, weights_cli.build_parser, ["merge"]),
    "weights pad": (weights_cli.main, weights_cli.build_parser, ["pad"]),
    "weights quantize": (weights_cli.main, weights_cli.build_parser, ["quantize"]),
    "weights sweep": (weights_cli.main, weights_cli.build_parser, ["sweep"]),
    "benchmarks/ablation.py": (ablation.main, ablation.build_parser, []),
    "benchmarks/recipe.py": (recipe.main, recipe.build_parser, []),
}
# Commands whose only files are outputs (no input to protect): the empty path still counts.
OUTPUT_ONLY = {
    "benchmarks/training_speed.py": (training_speed.main, ["--workdir"]),
    "benchmarks/weights_speed.py": (weights_speed.main, ["--workdir"]),
}
# How a file is given to options whose value is more than a path.
SPELLING = {"adapter": "{}:1"}
# Option names that write (a parser with one of these and no declaration fails the audit).
WRITING = {"--output", "--out", "--save", "--workdir", "--work", "--html"}


def _subparser(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and words and words[0] in action.choices:
            return action.choices[words[0]]
    return parser


def _roles(name: str):
    _, build, words = COMMANDS[name]
    return options.file_roles(_subparser(build(), words))


def _every_parser(parser, name=""):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, sub in action.choices.items():
                yield from _every_parser(sub, f"{name} {word}".strip())


def test_every_parser_that_writes_declares_its_files():
    parsers = [(name, build) for name, (_, build, _) in COMMANDS.items()]
    for label, build in parsers + [("training_speed", None), ("weights_speed", None)]:
        if build is None:
            continue
        for sub_name, parser in _every_parser(build()):
            writes = {o for a in parser._actions for o in a.option_strings} & WRITING
            if writes:
                roles = options.file_roles(parser)
                assert roles is not None, f"{label} {sub_name}: writes {writes} but declares no files"
                assert {f.label for f in roles.outputs} >= writes, f"{label} {sub_name}"
    declared = {name for name in COMMANDS if _roles(name) and _roles(name).outputs}
    assert declared == set(COMMANDS)
    # and every subcommand that declares files is in the table above
    for prefix, build in (("run", run.build_parser), ("training", training_cli.build_parser),
                          ("weights", weights_cli.build_parser)):
        for sub_name, parser in _every_parser(build()):
            if sub_name and options.file_roles(parser) and options.file_roles(parser).outputs:
                assert f"{prefix} {sub_name}" in COMMANDS, f"{prefix} {sub_name} is missing from COMMANDS"


def _cases():
    for name in COMMANDS:
        roles = _roles(name)
        for output in roles.outputs:
            for source in roles.inputs:
                for how in ("same", "link", "inside" if output.dest in roles.folders else "in-folder"):
                    yield pytest.param(name, output.dest, source.dest, how, id=f"{name}:{output.label}={how}:{source.label}")


def _argv(name: str, files: dict[str, str]) -> list[str]:
    """The command's words with `files` (dest -> path) filled in: positionals in place, the rest as options."""
    _, _, words = COMMANDS[name]
    roles = _roles(name)
    labels = {f.dest: f.label for f in roles.inputs + roles.outputs}
    argv = [w.format(**files) for w in words]
    for dest, path in files.items():
        if "{" + dest + "}" not in words:
            argv += [labels[dest], SPELLING.get(dest, "{}").format(path)]
    return argv


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): (p.read_bytes() if p.is_file() and not p.is_symlink() else os.readlink(p)
                                    if p.is_symlink() else None) for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("name, output_dest, input_dest, how", list(_cases()))
def test_an_output_never_replaces_an_input(name, output_dest, input_dest, how, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main = COMMANDS[name][0]
    roles = _roles(name)
    labels = {f.dest: f.label for f in roles.inputs + roles.outputs}
    folder_output = output_dest in roles.folders
    # every input exists; the one under test is a folder holding a file when the output is a folder
    files = {}
    for source in roles.inputs:
        path = tmp_path / f"input-{source.dest}"
        if source.dest == input_dest and (folder_output or how == "in-folder"):
            path.mkdir()
            (path / "inside.jsonl").write_text('{"keep": 1}\n')
        else:
            path.write_text(f'{{"input": "{source.dest}"}}\n')
        files[source.dest] = str(path)
    given = Path(files[input_dest])
    if how == "same":
        target = given
    elif how == "link":
        target = tmp_path / "link-to-input"
        target.symlink_to(given)
    elif how == "inside":  # an output folder inside the input folder
        target = given / "out"
    else:  # an output file inside the input folder
        target = given / "out.json"
    files[output_dest] = str(target)
    before = _snapshot(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(_argv(name, files))
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert labels[output_dest] in err and labels[input_dest] in err, err
    words = COMMANDS[name][2]
    if words:  # named as the subcommand, whose --help lists the options
        assert f" {words[0]}: error:" in err, err
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_output_folder_around_an_input_is_refused(name, tmp_path, capsys, monkeypatch):
    """The output contains an input: writing it would replace the input with it."""
    monkeypatch.chdir(tmp_path)
    roles = _roles(name)
    (tmp_path / "around").mkdir()
    files = {}
    for source in roles.inputs:
        (tmp_path / "around" / source.dest).write_text("{}\n")
        files[source.dest] = str(tmp_path / "around" / source.dest)
    output = roles.outputs[0]
    files[output.dest] = str(tmp_path / "around")
    before = _snapshot(tmp_path)
    with pytest.raises(SystemExit) as stop:
        COMMANDS[name][0](_argv(name, files))
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and output.label in err, err
    assert _snapshot(tmp_path) == before


def _outputs():
    for name in COMMANDS:
        for output in _roles(name).outputs:
            yield pytest.param(name, output.dest, id=f"{name}:{output.label}")


@pytest.mark.parametrize("name, output_dest", list(_outputs()))
def test_an_empty_output_path_is_a_usage_error(name, output_dest, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    roles = _roles(name)
    files = {}
    for source in roles.inputs:
        (tmp_path / source.dest).write_text("{}\n")
        files[source.dest] = str(tmp_path / source.dest)
    files[output_dest] = ""
    with pytest.raises(SystemExit) as stop:
        COMMANDS[name][0](_argv(name, files))
    err = capsys.readouterr().err
    label = next(f.label for f in roles.outputs if f.dest == output_dest)
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and f"{label}: an empty path" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files.keys() - {output_dest})


@pytest.mark.parametrize("name", sorted(OUTPUT_ONLY))
def test_output_only_commands_refuse_an_empty_path(name, capsys):
    main, words = OUTPUT_ONLY[name]
    with pytest.raises(SystemExit) as stop:
        main([*words, ""])
    assert stop.value.code == 2 and "an empty path" in capsys.readouterr().err


def test_the_rewrite_journal_may_not_be_the_data(tmp_path, capsys):
    data = tmp_path / "rewrites.jsonl.partial"
    data.write_text("{}\n")
    with pytest.raises(SystemExit) as stop:
        training_cli.main(["rewrite", "--data", str(data), "--out", str(tmp_path / "rewrites.jsonl")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "the journal of --out" in err and "--data" in err
    assert data.read_text() == "{}\n"


@pytest.mark.parametrize("out", ["base", "base/served", "adapter", ".", "recipe.toml"])
def test_a_recipe_whose_model_would_replace_an_input_is_refused_before_any_step(out, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for folder in ("base", "adapter"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.json").write_text("{}")
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f'base = "base"\nout = "{out}"\n[[adapters]]\npath = "adapter"\nweight = 1.0\n')
    before = _snapshot(tmp_path)
    assert weights_cli.main(["build", str(recipe), "--force"]) == 2
    captured = capsys.readouterr()
    assert "an output never replaces an input" in captured.err and len(captured.err.strip().splitlines()) == 1
    assert "build" not in captured.err.split("error:")[0]  # no progress bar was drawn first
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("how", ["same", "inside"])
@pytest.mark.parametrize("spelling", ["{}", "{}:0.5"])
def test_a_sweep_output_in_an_adapter_given_with_or_without_a_weight_is_refused(spelling, how, tmp_path, capsys):
    """--adapter PATH[:WEIGHT]: the folder is the input, whichever way it is spelled."""
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    out = adapter if how == "same" else adapter / "sweep"
    before = _snapshot(tmp_path)
    with pytest.raises(SystemExit) as stop:
        weights_cli.main(["sweep", "--base", str(tmp_path / "base"), "--adapter", str(tmp_path / "first"),
                          "--adapter", spelling.format(adapter), "--out", str(out)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert "--out" in err and "--adapter" in err and "an output never replaces an input" in err, err
    assert _snapshot(tmp_path) == before


FINETUNE_WORK = "the work folder of --out (OUT.partial/)"


@pytest.mark.parametrize("how", ["same", "in-folder"])
@pytest.mark.parametrize("dest", [f.dest for f in _roles("training finetune").inputs])
def test_the_finetune_work_folder_never_replaces_an_input(dest, how, tmp_path, capsys, monkeypatch):
    """finetune writes OUT.partial/ (checkpoints) beside --out: checked against the inputs too."""
    monkeypatch.chdir(tmp_path)
    roles = _roles("training finetune")
    files = {}
    for source in roles.inputs:
        files[source.dest] = str(tmp_path / f"input-{source.dest}")
        Path(files[source.dest]).write_text("{}\n")
    work = tmp_path / "adapter.partial"
    if how == "same":
        files[dest] = str(work)
        work.mkdir()
    else:
        work.mkdir()
        files[dest] = str(work / "inside.jsonl")
        Path(files[dest]).write_text("{}\n")
    files["out"] = str(tmp_path / "adapter")
    before = _snapshot(tmp_path)
    with pytest.raises(SystemExit) as stop:
        training_cli.main(_argv("training finetune", files))
    err = capsys.readouterr().err
    label = next(f.label for f in roles.inputs if f.dest == dest)
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert FINETUNE_WORK in err and label in err and "an output never replaces an input" in err, err
    assert _snapshot(tmp_path) == before
