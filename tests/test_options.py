"""shopbench/options.py and shopbench/paths.py: one set of option types and file checks."""
import argparse
import os

import pytest

from shopbench import environment, options, paths, spec
from shopbench.paths import Overlap

# Text that int() or str.isdigit() takes (or that looks like a number) but is not ASCII digits.
NOT_ASCII_INTEGERS = ["²", "٣", "１２", "1_000", "0x10", "1e3", "1.0", "", " ", "+", "-", "1 2", "5\n6", "٣\n"]
NOT_FINITE_NUMBERS = ["nan", "NaN", "inf", "-Infinity", "1e999", "½", "1_0", "٣", "0x1p3", "", "."]


@pytest.mark.parametrize("text", NOT_ASCII_INTEGERS)
def test_integers_are_ascii_digits_only(text):
    with pytest.raises(ValueError, match="from 1 to 16"):
        options.integer(text, 1, 16)


@pytest.mark.parametrize("text, value", [("7", 7), ("+7", 7), (" 7 ", 7), ("16", 16), ("1", 1), ("007", 7)])
def test_integers_in_range_are_read(text, value):
    assert options.integer(text, 1, 16) == value


@pytest.mark.parametrize("text", ["0", "17", "-1", "9" * 5000, "-" + "9" * 50])
def test_integers_out_of_range_are_refused_with_the_range(text):
    with pytest.raises(ValueError, match="must be an integer from 1 to 16"):
        options.integer(text, 1, 16)


@pytest.mark.parametrize("text", NOT_FINITE_NUMBERS + ["-0.5", "10.01"])
def test_numbers_are_finite_ascii_and_in_range(text):
    with pytest.raises(ValueError, match="from 0 to 10"):
        options.number(text, 0.0, 10.0)


@pytest.mark.parametrize("text, value", [("2.5", 2.5), ("1e1", 10.0), (".5", 0.5), ("3", 3.0), ("0", 0.0)])
def test_numbers_in_range_are_read(text, value):
    assert options.number(text, 0.0, 10.0) == value


def _parser(**kinds) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tool")
    for name, kind in kinds.items():
        parser.add_argument(f"--{name}", type=kind)
    return parser


@pytest.mark.parametrize("kind, text", [(options.int_in(1, 5), "²"), (options.int_in(1, 5), "6"),
                                        (options.float_in(0.5, 2.0), "nan"), (options.float_in(0.5, 2.0), "3")])
def test_a_bad_value_is_a_one_line_usage_error_naming_option_and_range(kind, text, capsys):
    with pytest.raises(SystemExit) as stop:
        options.parse_args(_parser(count=kind), ["--count", text])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "--count" in err and ("from 1 to 5" in err or "from 0.5 to 2" in err)


def test_subcommand_errors_are_one_line_too(capsys):
    parser = argparse.ArgumentParser(prog="tool")
    sub = parser.add_subparsers(dest="command", required=True).add_parser("go")
    sub.add_argument("--" + "very-long-option-name-" * 4, dest="x", help="x" * 300)
    sub.add_argument("--n", type=options.int_in(0, 3))
    with pytest.raises(SystemExit) as stop:
        options.parse_args(parser, ["go", "--n", "4"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and "--n" in err and "from 0 to 3" in err


def test_env_integers_name_the_variable(monkeypatch):
    monkeypatch.setenv("SHOPBENCH_BATCH_SIZE", "²")
    with pytest.raises(ValueError, match="^SHOPBENCH_BATCH_SIZE must be an integer from 1 to 16"):
        environment.get("SHOPBENCH_BATCH_SIZE")
    monkeypatch.setenv("SHOPBENCH_BATCH_SIZE", "12")
    assert environment.get("SHOPBENCH_BATCH_SIZE") == 12
    monkeypatch.setenv("SHOPBENCH_BATCH_SIZE", "")
    assert environment.get("SHOPBENCH_BATCH_SIZE") == 16
    monkeypatch.setenv("SHOPBENCH_SERVER_TIMEOUT", "inf")
    with pytest.raises(ValueError, match="^SHOPBENCH_SERVER_TIMEOUT must be a number"):
        environment.get("SHOPBENCH_SERVER_TIMEOUT")


@pytest.mark.parametrize("env, expected", [(None, spec.DEFAULT_SEED), ("77", 77)])
def test_seeds_default_alike(env, expected, monkeypatch):
    if env is None:
        monkeypatch.delenv(spec.SEED_ENV, raising=False)
    else:
        monkeypatch.setenv(spec.SEED_ENV, env)
    parser = argparse.ArgumentParser()
    options.add_seed(parser, "a seed")
    assert options.parse_args(parser, []).seed == expected
    assert options.parse_args(parser, ["--seed", "5"]).seed == 5


@pytest.mark.parametrize("env", ["²", "-3", "x", "1e3"])
def test_a_bad_seed_variable_is_a_usage_error_naming_it(env, monkeypatch, capsys):
    monkeypatch.setenv(spec.SEED_ENV, env)
    parser = argparse.ArgumentParser()
    options.add_seed(parser, "a seed")
    with pytest.raises(SystemExit) as stop:
        options.parse_args(parser, [])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and spec.SEED_ENV in err and len(err.strip().splitlines()) == 1


# --- paths.overlap over the ways one file can be named twice -----------------------------------


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "data.jsonl").write_text("x\n")
    (tmp_path / "in2").mkdir()
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "in" / "data.jsonl")
    (tmp_path / "linkdir").symlink_to(tmp_path / "in")
    os.link(tmp_path / "in" / "data.jsonl", tmp_path / "hard.jsonl")
    return tmp_path


@pytest.mark.parametrize("output, source, expected", [
    ("in/data.jsonl", "in/data.jsonl", Overlap.SAME),
    ("in/../in/./data.jsonl", "in/data.jsonl", Overlap.SAME),
    ("link.jsonl", "in/data.jsonl", Overlap.SAME),
    ("in/data.jsonl", "link.jsonl", Overlap.SAME),
    ("hard.jsonl", "in/data.jsonl", Overlap.SAME),
    ("linkdir/data.jsonl", "in/data.jsonl", Overlap.SAME),
    ("linkdir/new.jsonl", "in", Overlap.INSIDE),
    ("in/new.jsonl", "in", Overlap.INSIDE),
    ("in/sub/new.jsonl", "linkdir", Overlap.INSIDE),
    ("in", "in/data.jsonl", Overlap.CONTAINS),
    (".", "in/data.jsonl", Overlap.CONTAINS),
    ("in2/data.jsonl", "in/data.jsonl", None),
    ("in2", "in", None),
    ("in.jsonl", "in", None),  # a shared prefix is not a shared folder
    ("new.jsonl", "missing.jsonl", None),
    ("missing/new.jsonl", "missing/new.jsonl", Overlap.SAME),
])
def test_overlap_sees_through_spellings_and_links(tree, output, source, expected, monkeypatch):
    monkeypatch.chdir(tree)
    assert paths.overlap(output, source) is expected
    assert paths.overlap(tree / output, source) is expected  # absolute and relative alike


# --- declare_files / parse_args: refusals before anything loads ---------------------------------


def _files_parser(folders=()):
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--data")
    parser.add_argument("extra", nargs="*", metavar="EXTRA")
    parser.add_argument("--output")
    parser.add_argument("--save")
    options.declare_files(parser, inputs=("data", "extra"), outputs=("output", "save"), folders=folders)
    return parser


def _refusal(parser, argv, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        options.parse_args(parser, argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1, err
    return err


def test_an_output_equal_to_an_input_is_refused_naming_both(tree, capsys):
    data = str(tree / "in" / "data.jsonl")
    before = (tree / "in" / "data.jsonl").read_bytes()
    for output in (data, str(tree / "link.jsonl"), str(tree / "hard.jsonl")):
        err = _refusal(_files_parser(), ["--data", data, "--output", output], capsys)
        assert "--output" in err and "--data" in err and "is the same file as" in err
        err = _refusal(_files_parser(), ["--data", str(tree / "in2" / "x"), "--save", output, data], capsys)
        assert "--save" in err and "EXTRA" in err
    assert (tree / "in" / "data.jsonl").read_bytes() == before
    assert sorted(p.name for p in (tree / "in").iterdir()) == ["data.jsonl"]  # no probe left


def test_an_output_inside_an_input_folder_or_holding_an_input_is_refused(tree, capsys):
    err = _refusal(_files_parser(), ["--data", str(tree / "in"), "--output", str(tree / "in" / "out.json")], capsys)
    assert "is inside --data" in err
    err = _refusal(_files_parser(folders=("output",)),
                   ["--data", str(tree / "in" / "data.jsonl"), "--output", str(tree / "in")], capsys)
    assert "contains --data" in err


@pytest.mark.parametrize("argv, words", [(["--output", ""], "--output: an empty path"),
                                         (["--save", "", "--output", "x"], "--save: an empty path")])
def test_an_empty_output_is_a_usage_error(argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert words in _refusal(_files_parser(), argv, capsys)


def test_two_outputs_at_one_path_are_refused(tmp_path, capsys):
    err = _refusal(_files_parser(), ["--output", str(tmp_path / "a"), "--save", str(tmp_path / "a")], capsys)
    assert "--save" in err and "--output" in err


def test_a_derived_output_is_checked_like_the_others(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--data")
    parser.add_argument("--out")
    options.declare_files(parser, inputs=("data",), outputs=("out",),
                          derived={"the journal of --out": lambda args: f"{args.out}.partial"})
    source = tmp_path / "x.partial"
    source.write_text("keep")
    err = _refusal(parser, ["--data", str(source), "--out", str(tmp_path / "x")], capsys)
    assert "the journal of --out" in err and "--data" in err and source.read_text() == "keep"
    assert options.parse_args(parser, ["--data", str(source), "--out", str(tmp_path / "y")]).out.endswith("y")


def test_an_output_folder_where_a_file_is_wanted_is_refused(tmp_path, capsys):
    assert "is a folder" in _refusal(_files_parser(), ["--output", str(tmp_path)], capsys)


def test_unrelated_paths_pass(tree):
    args = options.parse_args(_files_parser(), ["--data", str(tree / "in" / "data.jsonl"),
                                                "--output", str(tree / "in2" / "out.json"), str(tree / "link.jsonl")])
    assert args.output.endswith("out.json") and not hasattr(args, "_shopbench_file_roles")


def test_declare_files_names_only_existing_options():
    with pytest.raises(ValueError, match="no option"):
        options.declare_files(argparse.ArgumentParser(), inputs=("nothing",))
