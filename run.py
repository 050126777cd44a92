"""The repository's tools for working with a ShopBench model.

    python run.py predict --data FILE --output FILE   # answers as JSON Lines, for
                                                      # local_evaluation.py --responses
"""
from __future__ import annotations

import argparse
import json
import sys

from shopbench import cli, data
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
        json.dumps({"index": q.index, "input_field": q.input_field, "response": response, "seconds": seconds},
                   ensure_ascii=False)
        for q, response, seconds in zip(questions, generation.responses, generation.seconds)
    ]
    data.write_atomically(args.output, "\n".join(lines) + "\n")
    summary = generation.summary()
    print(f"{summary['questions']} responses written to {args.output} in {summary['seconds']:.1f} s "
          f"({summary['seconds_per_question']:.3f} s/question, worst batch "
          f"{summary['worst_batch_seconds_per_question']:.3f} s/question)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Tools for a ShopBench model.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command = commands.add_parser(
        "predict", help="answer questions with the model and save the responses",
        description="Answer every question with the model, in the official evaluator's batches, and write "
        "JSON Lines {index, input_field, response, seconds} in data order.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    cli.add_question_options(command)
    command.add_argument("--output", required=True, metavar="FILE", help="where to write the responses")
    cli.add_model_options(command)
    command.set_defaults(handler=predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = cli.parse_args(build_parser(), argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
