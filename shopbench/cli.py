"""Command-line options shared by local_evaluation.py and run.py, so they read the same (their
types and file checks are shopbench/options.py's)."""
from __future__ import annotations

import argparse
import functools
import os
import random
import sys

from shopbench import data, environment, options, release, spec
from shopbench.protocol import ModelUnavailable
from shopbench.errors import DataError
from shopbench.runner import ModelError, ModelRun, load_model_class, run
from shopbench.terminal import printable

DEFAULT_DATA = spec.DEV_DATA_NAME
DEFAULT_MODEL = "models.user_config:UserModel"


def add_question_options(parser: argparse.ArgumentParser, release_layout: bool = False) -> None:
    """--data, --limit, --seed; with `release_layout`, --data also takes the Shopping MMLU
    release and --skill / --task pick from it."""
    if release_layout:
        parser.add_argument("--data", default=DEFAULT_DATA, metavar="FILE|DIR|ZIP",
                            help="ShopBench JSON Lines (input_field, output_field, task_name, task_type, metric), "
                            "or the Shopping MMLU release: its data/ folder or data.zip (read in place)")
        choice = parser.add_mutually_exclusive_group()
        choice.add_argument("--skill", metavar="NAME",
                            help="with the release: read only skills/NAME.json, not every skill file")
        choice.add_argument("--task", metavar="NAME",
                            help="with the release: only the per-task file of task NAME, prompted as the "
                            "release's task-wise scripts prompt it")
    else:
        parser.add_argument("--data", default=DEFAULT_DATA, metavar="FILE",
                            help="ShopBench JSON Lines (input_field, output_field, task_name, task_type, metric)")
    parser.add_argument("--limit", type=options.int_in(1, spec.MAX_QUESTIONS), metavar="N",
                        help=f"a random sample of N questions (1 to {spec.MAX_QUESTIONS}; chosen by --seed, kept "
                        "in file order)")
    options.add_seed(parser, f"seed for --limit and for the model (exported as {spec.SEED_ENV})")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=DEFAULT_MODEL, metavar="MODULE:CLASS", help="the model class to run")
    parser.add_argument("--batch-size", type=options.int_in(1, spec.MAX_BATCH_SIZE), metavar="N",
                        help=f"batch size instead of the model's get_batch_size() (1 to {spec.MAX_BATCH_SIZE})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_failure_option(parser: argparse.ArgumentParser) -> None:
    """--allow-failures, for the commands whose outputs are a model's answers."""
    parser.add_argument("--allow-failures", action="store_true", default=None,
                        help=f"exit 0 even when some question got no model answer (its engine failed and it was "
                        f"given the repaired fallback); without it such a run writes its outputs, then exits "
                        f"{spec.FAILED_QUESTIONS_EXIT} (default: {spec.ALLOW_FAILURES_ENV}=on|off, else off)")


def failures_exit(args, generation: ModelRun | None) -> int:
    """The exit status once outputs are written: FAILED_QUESTIONS_EXIT, with one line, when
    a question got no model answer and failures are not allowed; else 0."""
    failed = generation.failed_questions if generation else None
    if not failed or args.allow_failures:
        return 0
    print(f"error: {failed} of {len(generation.answers)} questions got no model answer (engine failures; outputs "
          f"written, with each such answer marked failed); --allow-failures or {spec.ALLOW_FAILURES_ENV}=on "
          "exits 0", file=sys.stderr)
    return spec.FAILED_QUESTIONS_EXIT


def load_selected_questions(args) -> tuple[list[data.Question], list[data.Question]]:
    """(every question of --data, the ones --limit selects). --data may be the Shopping MMLU
    release (a folder or a .zip), from which --skill or --task picks."""
    skill, task = getattr(args, "skill", None), getattr(args, "task", None)
    if release.is_release(args.data):
        every_question = release.load_questions(args.data, skill=skill, task=task)
    elif skill is not None or task is not None:
        option = "--skill" if skill is not None else "--task"
        raise data.DataError(f"{option} picks from the Shopping MMLU release, but --data {args.data} is a "
                             "JSON Lines file (give the release's data/ folder or data.zip)")
    else:
        every_question = data.load_questions(args.data)
    return every_question, data.select(every_question, args.limit, args.seed)


def seed_process(seed: int) -> None:
    """The run's seed for the model a command is about to build: exported as AICROWD_RUN_SEED
    (how the official evaluator passes its run seed to a model built with no arguments; the
    engines' seed comes from it) and given to Python's and numpy's global generators, for a
    model that draws from them. Process-wide, so commands call it, before each model they
    run; `load_model` and `run_model` leave the process alone."""
    environment.export(environment.SEED_ENV, seed)
    random.seed(seed)
    import numpy

    numpy.random.seed(seed % 2**32)


def load_model(args):
    """Build the --model class (a command calls `seed_process` first)."""
    try:
        return load_model_class(args.model)()
    except (ValueError, ModelUnavailable) as exc:  # a setting, or what it points at, named in the message
        raise ModelError(f"{args.model}: {exc}") from None


def run_model(args, questions: list[data.Question]) -> ModelRun:
    return run(load_model(args), questions, args.batch_size, progress=not args.no_progress)


def attach_generation(report, generation: ModelRun | None) -> dict | None:
    """The run's timings and settings, recorded in the report; None without a model run."""
    summary = generation.summary() if generation else None
    if summary:
        report.extra["generation"] = summary
    return summary


def results_json(report, generation: ModelRun | None) -> dict:
    """What `--output` writes: the report, each sample with its batch's seconds and the model's
    details of its answer when a model ran."""
    results = report.to_json()
    if generation:
        for sample, details in zip(results["samples"], generation.sample_details()):
            sample["seconds"] = details.pop("seconds")
            sample["model"] = details
    return results


def fail(message: str) -> int:
    """The one-line error of a command; text from the input in it is shown escaped."""
    print(f"error: {printable(message)}", file=sys.stderr)
    return 2


INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command Ctrl-C stopped
BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a writer whose reader left


def start_process() -> None:
    """The process-wide settings every command makes once, at its start (main_guard), and
    library code never makes: csv's field limit lifted to data.CSV_FIELD_LIMIT."""
    import csv

    csv.field_size_limit(data.CSV_FIELD_LIMIT)


def main_guard(main):
    """Every command's entry: the process-wide settings (`start_process`), then `main` with Ctrl-C turned into the line "interrupted" and exit status 130, without a
    traceback, and bad input (a DataError a command did not catch itself) into its one-line
    `error:` and exit status 2. Nothing half-made is left: every output is written last, to a
    temporary name that is renamed only when complete. A reader that leaves early (stdout piped into `head`)
    ends it quietly, status 141: commands write their files before they print, so nothing is
    lost. Python's documentation's recipe: stdout pointed at devnull, so the flush at exit
    cannot raise again."""

    @functools.wraps(main)
    def guarded(*args, **kwargs) -> int:
        start_process()
        try:
            code = main(*args, **kwargs)
            sys.stdout.flush()  # a broken pipe shows here, inside the guard, not at interpreter exit
            return code
        except DataError as exc:
            return fail(str(exc))
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return INTERRUPTED
        except BrokenPipeError:
            if not stdout_closed():
                raise  # a socket's, not our reader's: not ours to hide
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return BROKEN_PIPE

    return guarded


def stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (poll reports an error on it)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no file descriptor behind stdout, no poll
        return False
