"""What each piece of the answering pipeline is worth, on one model and one set of questions.

The full pipeline, then each piece switched off alone (shopbench/decoding_config.py's switches), then
the starter kit's zero-shot baseline (models/baselines.py), all on one engine loaded once and
scored by the official parsers and metrics. One table: the overall score (mean of task
scores, as the kit prints), the paired difference from the full pipeline with its 95%
bootstrap interval (`run.py compare`'s method; * when it excludes 0), the share of answers the
official parser reads, and the mean task score per task type.

    python benchmarks/ablation.py [--data FILE] [--model MODULE:CLASS] [--limit N] [--output FILE]

The model and engine come from the environment as for the UserModel (SHOPBENCH_MODEL_DIR,
SHOPBENCH_ENGINE, SHOPBENCH_DECODING under every variant's own switch, ...), with the time guard
off so that no variant's answers depend on the machine's load.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __spec__ is None:  # run as a script (python benchmarks/NAME.py): its packages are one folder up
    sys.path.insert(0, str(ROOT))

from shopbench import cli, data, options, resources, spec  # noqa: E402
from shopbench.data import DataError  # noqa: E402
from shopbench.protocol import ModelUnavailable  # noqa: E402
from shopbench.runner import ModelError, load_model_class  # noqa: E402

FULL = "full pipeline"
KIT = "kit zero-shot baseline"
# One piece off at a time, as DecodingConfig overrides.
VARIANTS = {
    FULL: {},
    "generic system prompt": {"task_system_prompt": False},
    "no chat template": {"chat_template": False},
    "masks off": {"masks": False},
    "copy bias off": {"prompt_token_bias": 0.0},
    "repair off": {"repair": False},
    "length control off": {"generation_word_limit": 0},
    "repetition cut off": {"cut_repetition": False},
    "NER sentence spans off": {"spans_from_sentences": False},
    "title handling off": {"titles": False},
}
TYPE_COLUMNS = {spec.MULTIPLE_CHOICE: "MC", spec.RANKING: "rank", spec.RETRIEVAL: "retr", spec.NER: "NER",
                spec.GENERATION: "gen"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    cli.add_question_options(parser, release_layout=True)
    parser.add_argument("--model", default="models.shop_model:ShopModel", metavar="MODULE:CLASS",
                        help="the pipeline to take apart: ShopModel or a subclass")
    parser.add_argument("--replicates", type=options.int_in(spec.MIN_BOOTSTRAP_REPLICATES, spec.MAX_BOOTSTRAP_REPLICATES),
                        default=spec.BOOTSTRAP_REPLICATES, metavar="R",
                        help=f"bootstrap replicates per interval ({spec.MIN_BOOTSTRAP_REPLICATES} to "
                        f"{spec.MAX_BOOTSTRAP_REPLICATES})")
    parser.add_argument("--output", metavar="FILE", help="write every variant's results and the table as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    options.declare_files(parser, inputs=("data",), outputs=("output",))
    return parser


def parse_valid(report) -> float:
    """The share of answers the official parser read as an answer (not its failure value)."""
    read = [s.parsed != -1 if s.task_type == spec.MULTIPLE_CHOICE else bool(s.parsed) for s in report.samples]
    return sum(read) / len(read)


def by_task_type(report) -> dict[str, float]:
    scores: dict[str, list[float]] = {}
    for task in report.tasks.values():
        scores.setdefault(task.task_type, []).append(task.score)
    return {task_type: sum(s) / len(s) for task_type, s in scores.items()}


def table_lines(rows: list[dict]) -> list[str]:
    from shopbench.report import table

    types = [t for t in TYPE_COLUMNS if any(t in row["by_task_type"] for row in rows)]
    cells = []
    for row in rows:
        interval = row.get("interval")
        against = "" if interval is None else (
            f"{row['difference']:+.4f} [{interval[0]:+.4f}, {interval[1]:+.4f}]{' *' if row['excludes_zero'] else ''}")
        cells.append([row["variant"], f"{row['overall']:.4f}", against, f"{row['parse_valid']:.1%}",
                      *(f"{row['by_task_type'].get(t, float('nan')):.4f}" for t in types)])
    header = ["variant", "overall", "vs full pipeline [95% interval]", "parse-valid", *(TYPE_COLUMNS[t] for t in types)]
    return table(header, cells, right=set(range(1, len(header))))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = options.parse_args(parser, argv)
    try:
        from models.baselines import KitBaseline
        from models.settings import from_environment
        from models.engines import registry
        from models.shop_model import ShopModel

        pipeline = load_model_class(args.model)
        if not (isinstance(pipeline, type) and issubclass(pipeline, ShopModel)):
            raise ModelError(f"--model {args.model}: not ShopModel or a subclass (its pieces are what is switched off)")
        _, questions = cli.load_selected_questions(args)
        paths = resources.scorable_paths(questions, {})
        # Answers must not depend on the machine's load, whatever the weights.
        settings = replace(from_environment(), time_guard=False)
        variants = {name: settings.decoding.with_overrides(changes, f"variant {name!r}")
                    for name, changes in VARIANTS.items()}
        engine, name = registry.from_settings(settings)
    except (DataError, ModelError, ValueError, ModelUnavailable) as exc:
        return cli.fail(str(exc))

    from shopbench import compare
    from shopbench.runner import run
    from shopbench.scoring import Scorer

    print(f"ablation: {name} with the {engine.name} engine, {len(questions)} questions", file=sys.stderr)
    scorer = Scorer(resources.load_embedding_models(paths))
    models = {variant: pipeline(replace(settings, decoding=decoding), engine=engine)
              for variant, decoding in variants.items()}
    models[KIT] = KitBaseline(settings, engine=engine)
    rows, results = [], {}
    for variant, model in models.items():
        began = time.perf_counter()
        generation = run(model, questions, progress=not args.no_progress)
        report = scorer.score(questions, generation.responses)
        report.extra["generation"] = generation.summary()
        results[variant] = report.to_json()
        row = {"variant": variant, "overall": report.overall, "parse_valid": parse_valid(report),
               "by_task_type": by_task_type(report), "seconds": time.perf_counter() - began}
        if variant != FULL:
            paired = compare.pair(compare.results_from_json(FULL, results[FULL]),
                                  compare.results_from_json(variant, results[variant]))
            overall = next(r for r in compare.bootstrap(paired, args.replicates, args.seed).rows if r.kind == "overall")
            row.update(difference=overall.difference, interval=[overall.low, overall.high],
                       excludes_zero=overall.excludes_zero)
        rows.append(row)
        print(f"  {variant}: {report.overall:.4f} in {row['seconds']:.0f} s", file=sys.stderr)
    print("\n".join(table_lines(rows)))
    if args.output:
        data.write_atomically(args.output, json.dumps({"questions": len(questions), "data": args.data,
                                                        "rows": rows, "results": results}, indent=1) + "\n")
        print(f"Results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.main_guard(main)())
