"""The repository's tools for working with a ShopBench model.

    python run.py classify --data FILE [--output FILE]  # task type and decoding profile
    python run.py predict --data FILE --output FILE     # answers as JSON Lines, for
                                                        # local_evaluation.py --responses
"""
from __future__ import annotations

import argparse
import json
import sys

from shopbench import cli, data, spec
from shopbench.data import DataError
from shopbench.generation import ModelError


def predict(args) -> int:
    """Run the model and save one JSON line per question, in data order."""
    try:
        _, questions = cli.load_selected_questions(args)
        generation = cli.run_model(args, questions)
    except (DataError, ModelError) as exc:
        return cli.fail(str(exc))
    lines = [
        json.dumps({"index": q.index, "input_field": q.input_field, "response": answer.text, "task_type": answer.task_type,
                    "profile": answer.profile, "repaired": answer.repaired, "seconds": seconds}, ensure_ascii=False)
        for q, answer, seconds in zip(questions, generation.answers, generation.seconds)
    ]
    data.write_atomically(args.output, "\n".join(lines) + "\n")
    from shopbench.report import format_generation

    print(f"{len(lines)} responses written to {args.output}")
    print(format_generation(generation.summary()))
    return 0


def classify(args) -> int:
    """Route every question; with known task types, report accuracy and confusions."""
    from routing.classifier import classify as route_prompt

    try:
        prompts = data.load_prompts(args.data)
    except DataError as exc:
        return cli.fail(str(exc))
    routes = [route_prompt(p.input_field, p.is_multiple_choice) for p in prompts]
    lines = "".join(json.dumps({"task_type": r.task_type, "profile": r.profile}) + "\n" for r in routes)
    if args.output:
        data.write_atomically(args.output, lines)
        summary = sys.stdout
    else:
        sys.stdout.write(lines)
        summary = sys.stderr
    known = [(p.task_type, r.task_type) for p, r in zip(prompts, routes) if p.task_type is not None]
    if known:
        print(confusion_table(known), file=summary)
    return 0


def confusion_table(pairs: list[tuple[str, str]]) -> str:
    """Accuracy, then a table of true task type (rows) by predicted task type (columns)."""
    right = sum(truth == guess for truth, guess in pairs)
    types = [t for t in spec.TASK_TYPES if any(t in pair for pair in pairs)]
    short = {t: "NER" if t == spec.NER else t for t in types}
    width = max(len(s) for s in short.values())
    rows = [f"task_type accuracy: {right}/{len(pairs)} ({right / len(pairs):.1%})", "",
            "true \\ predicted".ljust(width) + "".join(short[t].rjust(width + 2) for t in types)]
    for truth in types:
        counts = [sum(1 for pair in pairs if pair == (truth, guess)) for guess in types]
        rows.append(short[truth].ljust(width) + "".join(str(c).rjust(width + 2) for c in counts))
    return "\n".join(rows)


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
    command = add_command(
        commands, "predict", predict, "answer questions with the model and save the responses",
        "Answer every question with the model, in the official evaluator's batches, and write JSON Lines "
        "{index, input_field, response, task_type, profile, repaired, seconds} in data order (task_type, "
        "profile and repaired are null for models that do not report them).",
    )
    cli.add_question_options(command)
    command.add_argument("--output", required=True, metavar="FILE", help="where to write the responses")
    cli.add_model_options(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = cli.parse_args(build_parser(), argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
