"""Generate answers with a ShopBench model and score them exactly as the official evaluator.

    python local_evaluation.py                      # dev set, models.user_config.UserModel
    python local_evaluation.py --responses R.jsonl  # score saved responses, no model loaded
    python local_evaluation.py --output scores.json # also write the full results as JSON
    python local_evaluation.py --data data.zip --rules shopping-mmlu   # Shopping MMLU, as its leaderboard
"""
from __future__ import annotations

import argparse
import sys

from shopbench import cli, data, embeddings, metric_registry, options, resources, spec
from shopbench.data import DataError
from shopbench.runner import ModelError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Run a ShopBench model on questions and score its answers offline, "
        "with the official parsers and metrics: per task, per track, T5 all-around and overall. "
        "With --rules shopping-mmlu, with the Shopping MMLU release's own parsing and metrics, per "
        "task, per skill and overall x100, beside the release's published leaderboard.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    cli.add_question_options(parser, release_layout=True)
    parser.add_argument("--rules", choices=metric_registry.RULE_NAMES, default=spec.KDD_RULES,
                        help="how responses are parsed and scored: the KDD Cup starter kit's, or the Shopping "
                        "MMLU release's evaluation code (its leaderboard's)")
    parser.add_argument("--responses", metavar="FILE",
                        help="score these saved responses (JSON Lines with key 'response' or the release's "
                        "'model_output', one per question) "
                        "instead of running a model")
    parser.add_argument("--output", metavar="FILE", help="write the results as JSON to FILE")
    parser.add_argument("--html", metavar="FILE",
                        help="write the results as one self-contained HTML page to FILE: scores, a chart of the "
                        "task scores and every question, filterable and sorted worst first")
    cli.add_model_options(parser)
    cli.add_failure_option(parser)
    embeddings.add_model_options(parser)
    options.declare_files(parser, inputs=("data", "responses"), outputs=("output", "html"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = options.parse_args(build_parser(), argv)
    try:
        every_question, questions = cli.load_selected_questions(args)
        paths = resources.scorable_paths(questions, embeddings.given_model_paths(args))
        generation = None
        if args.responses:
            responses = data.load_responses(args.responses, questions, len(every_question))
        else:
            cli.seed_process(args.seed)
            generation = cli.run_model(args, questions)
            responses = generation.responses
    except (DataError, ModelError) as exc:
        return cli.fail(str(exc))

    from shopbench.report import format_report
    from shopbench.scoring import Scorer

    scorer = Scorer(resources.load_embedding_models(paths), rules=args.rules)
    report = scorer.score(questions, responses, progress=not args.no_progress)
    summary = cli.attach_generation(report, generation)
    results = cli.results_json(report, generation)
    # Files first, then the report: a reader that leaves early (piped into head) loses no file.
    written = []
    if args.output:
        data.write_atomically(args.output, data.json_text(results, indent=1))
        written.append(f"Results written to {args.output}")
    if args.html:
        from shopbench import html_report

        page = html_report.page_results(args.output or f"a run on {args.data}", results)
        data.write_atomically(args.html, html_report.run_page(page))
        written.append(f"Page written to {args.html}")
    print(format_report(report, summary))
    for line in written:
        print(line)
    return cli.failures_exit(args, generation)


if __name__ == "__main__":
    sys.exit(cli.main_guard(main)())
