"""The recipe end to end on this machine: build -> export -> fine-tune -> sweep the wise-ft weight.

Every training source is built (from the real release folders given with --input SOURCE=DIR,
else from `training/synthetic.py`'s generated files in the release's schema), the questions
are exported as chat records, the base model (default: the embedded SmolLM2-135M-Instruct) is
LoRA fine-tuned with training/qlora.yml's recipe for at most --max-steps steps and
--train-minutes minutes, and `weights sweep` scores alpha 0, 0.25, ..., 1 on the dev set.
Each step is the command a user would type, run as its own process and timed.

    python benchmarks/recipe.py --work /tmp/recipe [--input esci=DIR ...] [--per-source 100]
                                [--max-steps 7] [--train-minutes 30] [--alphas 0,0.25,0.5,0.75,1]

Rerun with the same --work to continue: a step whose output is there is not run again (a
stopped fine-tune resumes from its last checkpoint; the sweep keeps the alphas it scored).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __spec__ is None:  # run as a script (python benchmarks/NAME.py): its packages are one folder up
    sys.path.insert(0, str(ROOT))

from shopbench import cli, data, jsonsafe, options, spec  # noqa: E402
from training.__main__ import FINETUNE_LIMITS  # noqa: E402
from training.sources import SOURCES  # noqa: E402


def source_inputs(pairs: list[str]) -> dict[str, str]:
    given = {}
    for pair in pairs:
        name, _, folder = pair.partition("=")
        if name not in SOURCES or not folder:
            raise SystemExit(f"error: --input {pair}: expected SOURCE=PATH with SOURCE one of {', '.join(SOURCES)}")
        if not Path(folder).exists():
            raise SystemExit(f"error: --input {pair}: {folder} does not exist")
        given[name] = folder
    return given


def _limited(name: str):
    """The argparse type of `python -m training finetune`'s option `name`, with its range."""
    kind, low, high = FINETUNE_LIMITS[name]
    return (options.int_in if kind is int else options.float_in)(low, high)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--work", required=True, metavar="DIR", help="every intermediate file and the results")
    parser.add_argument("--input", action="append", default=[], metavar="SOURCE=PATH",
                        help="a real release for a source (repeat); the others use generated files")
    parser.add_argument("--per-source", type=options.int_in(1, spec.MAX_QUESTIONS), default=100, metavar="N",
                        help=f"questions built per source (1 to {spec.MAX_QUESTIONS})")
    parser.add_argument("--synthetic-records", type=options.int_in(1, spec.MAX_QUESTIONS), default=2000, metavar="N",
                        help=f"records generated per source without --input (1 to {spec.MAX_QUESTIONS})")
    parser.add_argument("--model", metavar="DIR", help="base model (default: the embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--max-steps", type=_limited("max_steps"), default=7, metavar="N",
                        help="fine-tuning steps (the cosine schedule ends there); about 4 minutes each on this "
                        "machine when its two cores are shared")
    parser.add_argument("--lr", type=_limited("lr"), default=1e-3, metavar="LR",
                        help="peak learning rate: the recipe's 2e-4 barely moves the model in a few steps")
    parser.add_argument("--warmup-steps", type=_limited("warmup_steps"), default=1, metavar="N",
                        help="warm-up steps (the recipe's 10 would outlast a short run)")
    parser.add_argument("--train-minutes", type=_limited("max_minutes"), default=30.0, metavar="M",
                        help="fine-tuning time at most")
    parser.add_argument("--batch-size", type=_limited("batch_size"), default=4, metavar="N",
                        help="micro batch: the recipe's 4 records per step in one batch instead of 4 accumulated "
                        "batches of 1 (the same step; fewer, larger matrix products, faster on a CPU)")
    parser.add_argument("--grad-accum", type=_limited("grad_accum"), default=1, metavar="N",
                        help="gradient accumulation steps")
    parser.add_argument("--seq-len", type=_limited("seq_len"), default=512, metavar="N",
                        help="longest training record in tokens")
    parser.add_argument("--alphas", default="0,0.25,0.5,0.75,1", metavar="A,B,...")
    parser.add_argument("--data", default=spec.DEV_DATA_NAME, metavar="FILE", help="the questions the sweep scores")
    parser.add_argument("--limit", type=options.int_in(1, spec.MAX_QUESTIONS), metavar="N",
                        help=f"a seeded sample of --data (1 to {spec.MAX_QUESTIONS})")
    options.add_seed(parser, "seed of every step")
    options.declare_files(parser, inputs=("data", "model"), outputs=("work",), folders=("work",))
    return parser


def step(name: str, command: list[str], times: dict, done: bool = False) -> None:
    """Run one command (its output shown), timed; a step already done is skipped."""
    if done:
        print(f"== {name}: done before, skipped", file=sys.stderr)
        return
    print(f"== {name}: {' '.join(command)}", file=sys.stderr)
    began = time.perf_counter()
    finished = subprocess.run([sys.executable, *command], cwd=ROOT)
    times[name] = round(time.perf_counter() - began, 1)
    if finished.returncode != 0:
        raise SystemExit(f"error: {name} failed (exit {finished.returncode})")


def main(argv: list[str] | None = None) -> int:
    args = options.parse_args(build_parser(), argv)
    given = source_inputs(args.input)
    data.load_questions(args.data)  # bad questions refused now, not after the fine-tune (the sweep reads them)
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    began = time.perf_counter()

    from training import synthetic

    built = []
    for name in SOURCES:
        source_input = given.get(name)
        if source_input is None:
            generated = work / "synthetic"
            source_input = str(synthetic.write_source(name, generated, args.synthetic_records, seed=args.seed))
        out = work / f"{name}.jsonl"
        step(f"build {name}", ["-m", "training", "build", name, "--input", source_input, "--out", str(out),
                               "--limit", str(args.per_source), "--seed", str(args.seed), "--no-progress"],
             times, done=out.is_file())
        built.append(out)
    questions = work / "questions.jsonl"
    if not questions.is_file():
        data.write_atomically(questions, "".join(path.read_text(encoding="utf-8") for path in built))
    sft = work / "sft.jsonl"
    step("export", ["-m", "training", "export", "--data", str(questions), "--out", str(sft), "--no-progress"],
         times, done=sft.is_file())
    adapter = work / "adapter"
    finetune = ["-m", "training", "finetune", "--data", str(sft), "--out", str(adapter),
                "--max-steps", str(args.max_steps), "--lr", str(args.lr), "--warmup-steps",
                str(args.warmup_steps), "--max-minutes", str(args.train_minutes),
                "--seq-len", str(args.seq_len), "--batch-size", str(args.batch_size), "--grad-accum",
                str(args.grad_accum), "--seed", str(args.seed), "--save-steps", "1"]
    if args.model:
        finetune += ["--model", args.model]
    if (work / "adapter.partial" / "run.json").is_file() and not adapter.exists():
        finetune.append("--resume")
    step("finetune", finetune, times, done=(adapter / "adapter_config.json").is_file())
    if args.model:
        base = args.model
    else:
        from models import embedded

        base = str(embedded.safetensors_copy())
    sweep = work / "sweep"
    command = ["-m", "weights", "sweep", "--base", base, "--adapter", str(adapter), "--alphas", args.alphas,
               "--data", args.data, "--seed", str(args.seed), "--out", str(sweep), "--no-progress"]
    if args.limit:
        command += ["--limit", str(args.limit)]
    step("sweep", command, times)
    times["total"] = round(time.perf_counter() - began, 1)

    summary = jsonsafe.load_file(sweep / "sweep.json")
    run_info = jsonsafe.load_file(adapter / "finetune.json")
    record = {"times": times, "finetune": run_info, "sweep": summary,
              "built": {path.stem: sum(1 for _ in path.open(encoding="utf-8")) for path in built},
              "inputs": {name: given.get(name, "synthetic") for name in SOURCES}}
    data.write_atomically(work / "recipe.json", json.dumps(record, indent=1) + "\n")
    result = run_info["result"]
    print(f"\nTraining: {result['steps']} steps on {result['records']} records ({result['skipped_long']} longer than "
          f"--seq-len left out), {result['precision']}, loss {result['first_loss']:.3f} -> {result['last_loss']:.3f}")
    print("Seconds: " + ", ".join(f"{name} {seconds:g}" for name, seconds in times.items()))
    print(f"Sweep: {sweep / 'sweep.json'}, {sweep / 'sweep.png'}; record: {work / 'recipe.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.main_guard(main)())
