"""The repository's tools for working with a ShopBench model.

    python run.py classify --data FILE [--output FILE] [--show-misses N]  # task type and decoding profile
    python run.py predict --data FILE --output FILE     # answers as JSON Lines, for
                                                        # local_evaluation.py --responses
    python run.py check-submission --track N            # what would fail a push
    python run.py submit --track N --tag NAME [--push]  # aicrowd.json, checks, tag, push
    python run.py timing --track N [--throughput FILE]  # projected time against the limit
    python run.py compare A.json B.json [--show N]      # B - A per task, track and overall, with
                                                        # paired bootstrap intervals
    python run.py report RESULTS.json --html FILE       # a results file as a browsable page
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shopbench import cli, data, options, spec
from shopbench.data import DataError
from shopbench.runner import ModelError

ROOT = spec.ROOT


def predict(args) -> int:
    """Run the model and save one JSON line per question, in data order."""
    try:
        _, questions = cli.load_selected_questions(args)
        cli.seed_process(args.seed)
        generation = cli.run_model(args, questions)
    except (DataError, ModelError) as exc:
        return cli.fail(str(exc))
    lines = [
        data.json_text({"index": q.index, "input_field": q.input_field, "response": answer.text, **details})
        for q, answer, details in zip(questions, generation.answers, generation.sample_details())
    ]
    data.write_atomically(args.output, "\n".join(lines) + "\n")
    from shopbench.report import format_generation

    print(f"{len(lines)} responses written to {args.output}")
    print(format_generation(generation.summary()))
    return cli.failures_exit(args, generation)


def classify(args) -> int:
    """Route every question; with known task types, report accuracy, confusions and misses."""
    from routing.classifier import classify as route_prompt

    try:
        prompts = data.load_prompts(args.data)
    except DataError as exc:
        return cli.fail(str(exc))
    routes = [route_prompt(p.input_field, None if args.ignore_flag else p.is_multiple_choice) for p in prompts]
    lines = "".join(json.dumps({"task_type": r.task_type, "profile": r.profile}) + "\n" for r in routes)
    if args.output:
        data.write_atomically(args.output, lines)
        summary = sys.stdout
    else:
        sys.stdout.write(lines)
        summary = sys.stderr
    known = [(p, r.task_type) for p, r in zip(prompts, routes) if p.task_type is not None]
    if known:
        from shopbench.report import routing_report

        print(routing_report(known, args.show_misses), file=summary)
    return 0


def check_submission(args) -> int:
    from submission import checks

    track = spec.TRACK_BY_NUMBER[args.track]
    found = checks.problems(ROOT, track, Path(args.weights) if args.weights else None)
    for problem in found:
        print(f"problem: {problem}")
    print(f"track {track.number} ({track.challenge_id}): " + (f"{len(found)} problem(s)" if found else "ready to submit"))
    return 1 if found else 0


def submit(args) -> int:
    from submission.git import submit as run_submit

    weights = Path(args.weights) if args.weights else None
    return run_submit(ROOT, spec.TRACK_BY_NUMBER[args.track], args.tag, args.push, weights)


def timing(args) -> int:
    from submission import timing as projections

    track = spec.TRACK_BY_NUMBER[args.track]
    try:
        every_question = data.load_questions(args.data)
    except DataError as exc:
        return cli.fail(str(exc))
    in_track = [q for q in every_question if track is spec.ALL_AROUND or q.track == track.challenge_id]
    if not in_track:
        return cli.fail(f"{args.data}: no questions of track {track.number} ({track.challenge_id})")
    sample = data.select(in_track, args.limit, args.seed)
    if args.throughput:
        try:
            throughput = projections.Throughput.read(args.throughput)
        except ValueError as exc:
            return cli.fail(str(exc))
    else:
        try:
            cli.seed_process(args.seed)
            throughput = projections.measure(cli.load_model(args), sample, args.batch_size)
        except ModelError as exc:
            return cli.fail(str(exc))
        if args.save:
            data.write_atomically(args.save, throughput.to_json())
    print(projections.projection(track, throughput, projections.task_mix(sample)))
    return 0


def compare(args) -> int:
    """Score differences between two results files, with paired bootstrap intervals."""
    from shopbench import compare as comparing

    try:
        records = comparing.read_record(args.a), comparing.read_record(args.b)
        first, second = (comparing.results_from_json(name, record) for name, record in zip((args.a, args.b), records))
        tasks = comparing.pair(first, second)
    except DataError as exc:
        return cli.fail(str(exc))
    comparison = comparing.bootstrap(tasks, args.replicates, args.seed, first.rules)
    changes = comparing.changed_most(first, second, args.show)
    # Files first, then the report: a reader that leaves early (piped into head) loses no file.
    written = []
    if args.output:
        results = {"a": first.name, "b": second.name, **comparison.to_json(),
                   "changed_most": [change.to_json() for change in changes]}
        data.write_atomically(args.output, data.json_text(results, indent=1))
        written.append(f"Comparison written to {args.output}")
    if args.html:
        from shopbench import html_report

        pages = [html_report.page_results(name, record) for name, record in zip((args.a, args.b), records)]
        data.write_atomically(args.html, html_report.comparison_page(*pages, comparison))
        written.append(f"Page written to {args.html}")
    from shopbench.report import comparison_report

    print(comparison_report(comparison, changes, args.show, first.name, second.name))
    for line in written:
        print(line)
    return 0


def report(args) -> int:
    """A saved results file as a browsable page."""
    from shopbench import html_report

    try:
        page = html_report.read_page(args.results)
    except DataError as exc:
        return cli.fail(str(exc))
    data.write_atomically(args.html, html_report.run_page(page))
    failures = f", {page.failed} engine failures" if page.failures_known else ""
    print(f"Page written to {args.html} ({len(page.questions)} questions, overall {page.scale(page.overall)}{failures})")
    return 0


def add_command(commands, name: str, handler, summary: str, description: str) -> argparse.ArgumentParser:
    command = commands.add_parser(
        name, help=summary, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    command.set_defaults(handler=handler)
    return command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Tools for a ShopBench model.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command = add_command(
        commands, "classify", classify, "route questions: official task type and decoding profile",
        "Classify each question's task type (the parser that will read its answer) and decoding profile, "
        "writing one JSON line {task_type, profile} per question in order. When the data has task_type, "
        "print the accuracy and a confusion table.",
    )
    command.add_argument("--data", default=cli.DEFAULT_DATA, metavar="FILE",
                         help="JSON Lines with input_field (task_type and is_multiple_choice optional)")
    command.add_argument("--output", metavar="FILE", help="write the JSON lines here instead of standard output")
    command.add_argument("--show-misses", type=options.int_in(0, spec.MAX_QUESTIONS), default=0, metavar="N",
                         help=f"list the first N misrouted questions (first 80 characters each; 0 to {spec.MAX_QUESTIONS})")
    command.add_argument("--ignore-flag", action="store_true",
                         help="route without is_multiple_choice, from the prompt's structure alone")
    options.declare_files(command, inputs=("data",), outputs=("output",))
    command = add_command(
        commands, "predict", predict, "answer questions with the model and save the responses",
        "Answer every question with the model, in the official evaluator's batches, and write JSON Lines "
        "{index, input_field, response, task_type, profile, repaired, guard, failed, generated_tokens, seconds} "
        "in data order (task_type is the route; these details are null for models that do not report them). "
        f"Exits {spec.FAILED_QUESTIONS_EXIT}, after writing, when some question got no model answer.",
    )
    cli.add_question_options(command, release_layout=True)
    command.add_argument("--output", required=True, metavar="FILE", help="where to write the responses")
    cli.add_model_options(command)
    cli.add_failure_option(command)
    options.declare_files(command, inputs=("data",), outputs=("output",))

    def track_options(command, weights: bool) -> None:
        command.add_argument("--track", type=options.int_in(1, len(spec.TRACKS)), required=True, metavar="N",
                             help=f"the track, 1 to {len(spec.TRACKS)}")
        if weights:
            command.add_argument("--weights", metavar="DIR", help="check this weights folder instead of the track's")

    command = add_command(
        commands, "check-submission", check_submission, "list everything that would make a submission fail",
        "Check aicrowd.json, the track's weights (present, not git-lfs pointers, splitting for TP=4), the "
        "repository size, that models.user_config imports without loading weights, the vLLM pin and that "
        "no runtime code reaches the network. Exits non-zero listing every problem.",
    )
    track_options(command, weights=True)
    command = add_command(
        commands, "submit", submit, "set the track, check, tag submission-NAME (push only with --push)",
        "Set aicrowd.json's challenge_id for the track, run check-submission, commit aicrowd.json if it "
        "changed and create the submission-NAME tag. Without --push, print the push commands and leave the "
        "remote untouched. With problems, change nothing.",
    )
    track_options(command, weights=True)
    command.add_argument("--tag", required=True, metavar="NAME", help="the tag is submission-NAME")
    command.add_argument("--push", action="store_true", help="push HEAD and the tag to origin")
    command = add_command(
        commands, "timing", timing, "project the track's run time against its limit",
        "Measure seconds per question per task type on the track's questions (--limit N: a seeded sample of N of "
        "them), or read figures "
        "measured elsewhere with --throughput), project the track's full question count with the sample's "
        "task-type mix, and compare with the track's limit and the 10 s per question rule.",
    )
    track_options(command, weights=False)
    cli.add_question_options(command)
    command.add_argument("--throughput", metavar="FILE", help="project from figures measured elsewhere")
    command.add_argument("--save", metavar="FILE", help="save the measured figures for --throughput")
    cli.add_model_options(command)
    options.declare_files(command, inputs=("data", "throughput"), outputs=("save",))
    command = add_command(
        commands, "compare", compare, "compare two results files: B - A with paired bootstrap intervals",
        "Compare two results files of local_evaluation.py --output on the same questions: A's and B's score "
        "and B - A for every task, track, T5 and the overall score, with the percentile interval of B - A over "
        "a paired bootstrap that resamples questions within each task (micro F1 pooled over the resampled ones).",
    )
    command.add_argument("a", metavar="A", help="the results file compared against")
    command.add_argument("b", metavar="B", help="the results file whose difference from A is reported")
    command.add_argument("--replicates", type=options.int_in(spec.MIN_BOOTSTRAP_REPLICATES, spec.MAX_BOOTSTRAP_REPLICATES),
                         default=spec.BOOTSTRAP_REPLICATES, metavar="R",
                         help=f"bootstrap replicates ({spec.MIN_BOOTSTRAP_REPLICATES} to {spec.MAX_BOOTSTRAP_REPLICATES}; "
                         "memory grows with them)")
    options.add_seed(command, "seed of the resampling")
    command.add_argument("--show", type=options.int_in(0, spec.MAX_QUESTIONS), default=0, metavar="N",
                         help=f"list the N questions whose score changed most, with both responses (0 to {spec.MAX_QUESTIONS})")
    command.add_argument("--output", metavar="FILE", help="write the comparison as JSON")
    command.add_argument("--html", metavar="FILE",
                         help="write the comparison as one self-contained HTML page: both responses side by side, "
                         "the questions whose score changed most first")
    options.declare_files(command, inputs=("a", "b"), outputs=("output", "html"))
    command = add_command(
        commands, "report", report, "a saved results file as one self-contained HTML page",
        "Write a results file of local_evaluation.py --output as one HTML page that needs nothing else (no "
        "network): overall, track and task scores, a bar chart of the task scores, and every question with its "
        "prompt, response, parsed and gold answer and score, filterable by task, track and type, worst first.",
    )
    command.add_argument("results", metavar="RESULTS.json", help="a results file of local_evaluation.py --output")
    command.add_argument("--html", required=True, metavar="FILE", help="where to write the page")
    options.declare_files(command, inputs=("results",), outputs=("html",))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = options.parse_args(build_parser(), argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(cli.main_guard(main)())
