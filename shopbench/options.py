"""One set of option types and file checks for every command.

    parser.add_argument("--limit", type=int_in(1, spec.MAX_QUESTIONS), ...)
    declare_files(parser, inputs=("data", "responses"), outputs=("output",))
    args = parse_args(parser, argv)

Numbers are read from ASCII digits only (`int()` and `str.isdigit` take '²' or other
scripts' digits) and must lie in a stated range: every option that sizes memory or time has
an upper bound. `parse_args` then refuses, before anything loads, an output that is empty,
cannot be written, or would replace an input, each as argparse's one-line usage error (exit 2).
The same number readers serve the environment variables (shopbench/environment.py), so a
bad variable is refused the same way.
"""
from __future__ import annotations

import argparse
import math
import os
import re
from dataclasses import dataclass

from shopbench import paths, spec

_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
# More digits than any bound here has; int() of a few thousand digits is refused by Python itself.
_MOST_DIGITS = 40
# Seeds: numpy's generators take any non-negative integer below 2**64; Python's take any.
SEED_RANGE = (0, 2**63 - 1)


def _shown(bound) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def _span(lo, hi) -> str:
    return f"from {_shown(lo)} to {_shown(hi)}"


def integer(text: str, lo: int, hi: int) -> int:
    """`text` as an integer from `lo` to `hi`, else ValueError saying the range (pure)."""
    stripped = text.strip() if isinstance(text, str) else ""
    if not _INTEGER.fullmatch(stripped):
        raise ValueError(f"must be an integer {_span(lo, hi)} (ASCII digits), got {text!r}")
    value = int(stripped) if len(stripped.lstrip("+-")) <= _MOST_DIGITS else None
    if value is None or not lo <= value <= hi:
        raise ValueError(f"must be an integer {_span(lo, hi)}, got {text if len(text) < 60 else text[:57] + '...'}")
    return value


def number(text: str, lo: float, hi: float) -> float:
    """`text` as a finite number from `lo` to `hi`, else ValueError saying the range (pure)."""
    stripped = text.strip() if isinstance(text, str) else ""
    value = float(stripped) if _NUMBER.fullmatch(stripped) else math.nan
    if not math.isfinite(value) or not lo <= value <= hi:
        shown = text if len(text) < 60 else text[:57] + "..."
        raise ValueError(f"must be a number {_span(float(lo), float(hi))}, got {shown!r}")
    return value


def _argparse_type(reader, lo, hi, what: str):
    """An argparse `type=` reading with `reader(text, lo, hi)`; its ValueError becomes a usage
    error naming the range."""

    def parse(text: str):
        try:
            return reader(text, lo, hi)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = f"{what} from {lo} to {hi}"
    return parse


def int_in(lo: int, hi: int):
    """An argparse `type=`: an integer from `lo` to `hi` (a usage error naming the range)."""
    return _argparse_type(integer, lo, hi, "integer")


def float_in(lo: float, hi: float):
    """An argparse `type=`: a finite number from `lo` to `hi`."""
    return _argparse_type(number, lo, hi, "number")


def add_seed(parser: argparse.ArgumentParser, what: str) -> None:
    """--seed, defaulting like every other command's seed (filled in by `parse_args`)."""
    parser.add_argument("--seed", type=int_in(*SEED_RANGE), metavar="N",
                        help=f"{what} (0 to 2**63-1; default: ${spec.SEED_ENV}, else {spec.DEFAULT_SEED})")


@dataclass(frozen=True)
class _File:
    dest: str
    label: str  # how the user wrote it: --data, or a positional's name
    paths: object = None  # value -> the paths it names, where the value is not itself the path(s)


@dataclass(frozen=True)
class FileRoles:
    """The options of one (sub)command that name files it reads and files or folders it writes."""

    inputs: tuple[_File, ...]
    outputs: tuple[_File, ...]
    folders: frozenset[str]  # output dests (and derived labels) that name a folder, not a file
    derived: tuple[tuple[str, object], ...] = ()  # (label, args -> path): written beside an output
    prog: str = ""  # the (sub)command, as its usage errors name it
    reread: frozenset[str] = frozenset()  # input dests read more than once: a pipe cannot be


_ROLES = "_shopbench_file_roles"


def _label(parser: argparse.ArgumentParser, dest: str) -> str:
    for action in parser._actions:  # argparse keeps no public index of its actions
        if action.dest == dest:
            if action.option_strings:
                return max(action.option_strings, key=len)
            return action.metavar if isinstance(action.metavar, str) else dest.upper()
    raise ValueError(f"declare_files: the parser has no option with dest {dest!r}")


def declare_files(parser: argparse.ArgumentParser, inputs=(), outputs=(), folders=(), derived=None,
                  input_paths=None, reread=()) -> None:
    """Record which of `parser`'s option dests are files read (`inputs`) and written
    (`outputs`; those also in `folders` are output folders; `derived` maps a label to a
    function of the parsed args giving a file, or with the label in `folders` a folder, also
    written, such as a journal beside the output). Call after adding the options;
    `parse_args` then checks them. A value may be a path, a path-like object or a list of
    them; `input_paths` maps an input dest whose value is not (such as DIR:WEIGHT) to a
    function of one value giving its path. Inputs in `reread` are read more than once, so a
    pipe there is refused."""
    if not set(folders) <= set(outputs) | set(derived or {}):
        raise ValueError("declare_files: folders must be among the outputs")
    if not set(reread) <= set(inputs):
        raise ValueError("declare_files: reread must be among the inputs")
    input_paths = input_paths or {}
    roles = FileRoles(tuple(_File(d, _label(parser, d), input_paths.get(d)) for d in inputs),
                      tuple(_File(d, _label(parser, d)) for d in outputs), frozenset(folders),
                      tuple((derived or {}).items()), parser.prog, frozenset(reread))
    parser.set_defaults(**{_ROLES: roles})


def file_roles(parser: argparse.ArgumentParser) -> FileRoles | None:
    """What `declare_files` recorded for `parser` (None when nothing)."""
    return parser.get_default(_ROLES)


def _paths(value, path_of=None) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, (list, tuple)) else [value]
    return [os.fspath(path_of(v) if path_of else v) for v in values if v is not None]


def file_problems(roles: FileRoles, args) -> list[str]:
    """Every reason the declared outputs cannot be written as given, or an input read more
    than once cannot be read so, each one line naming the options (empty when none)."""
    from shopbench import data, files

    outputs = [(output, path) for output in roles.outputs for path in _paths(getattr(args, output.dest, None))]
    if any(path == "" for _, path in outputs):  # also no derived path: it would be derived from ""
        label = next(output.label for output, path in outputs if path == "")
        return [f"{label}: an empty path (an unset variable in quotes?); give a path"]
    outputs += [(_File(label, label), os.fspath(path_of(args))) for label, path_of in roles.derived]
    inputs = [(source.label, path) for source in roles.inputs
              for path in _paths(getattr(args, source.dest, None), source.paths)]
    problems = []
    for number, (output, path) in enumerate(outputs):
        for label, source in inputs:  # first: the refusal that names both options says the most
            how = paths.overlap(path, source) if source else None
            if how:
                problems.append(f"{output.label} {path} {how.value} {label} ({source}); "
                                "an output never replaces an input: write elsewhere")
        for other, other_path in outputs[:number]:
            if paths.overlap(path, other_path):
                problems.append(f"{output.label} {path} and {other.label} {other_path} overlap; give two separate paths")
        problem = data.writable_problem(path, folder=output.dest in roles.folders)
        if problem:
            problems.append(f"{output.label} {path}: {problem}")
    for source in roles.inputs:  # after the overlaps: the refusal that names two options says more
        if source.dest in roles.reread:
            problems += [f"{source.label} {path}: {problem}" for path in _paths(getattr(args, source.dest, None))
                         for problem in [files.reread_problem(path)] if problem]
    return problems


def _usage_error(parser: argparse.ArgumentParser, prog: str, message: str) -> None:
    parser.exit(2, f"{prog}: error: {' '.join(str(message).split())} (see {prog} --help)\n")


def _one_line_errors(parser: argparse.ArgumentParser) -> None:
    """Make `parser` and its subcommands' parsers report a usage error in one line (argparse
    prints the usage first, which wraps over several): "PROG: error: MESSAGE (see PROG --help)"."""

    def error(message: str, parser=parser):
        _usage_error(parser, parser.prog, message)

    parser.error = error  # an instance attribute: argparse calls self.error(...)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in set(action.choices.values()):
                _one_line_errors(subparser)


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None):
    """Parse `argv`, fill an unset --seed with `environment.run_seed()` (and --allow-failures
    from its variable), and refuse declared outputs that cannot be written or would replace an input: argparse's usage error (exit 2), one line,
    before anything loads."""
    _one_line_errors(parser)
    args = parser.parse_args(argv)
    roles = getattr(args, _ROLES, None)
    if roles is not None:
        delattr(args, _ROLES)
        problems = file_problems(roles, args)
        if problems:  # named as the subcommand whose options they are
            _usage_error(parser, roles.prog or parser.prog, problems[0])
    # environment.py reads its numbers with this module's readers, so it is imported here
    from shopbench import environment

    if hasattr(args, "seed") and args.seed is None:
        try:
            args.seed = environment.run_seed()
        except ValueError as exc:
            parser.error(str(exc))
    if hasattr(args, "allow_failures") and args.allow_failures is None:  # cli.add_failure_option's
        try:
            args.allow_failures = environment.get(environment.ALLOW_FAILURES_ENV)
        except ValueError as exc:
            parser.error(str(exc))
    return args
