"""Training data throughput: build, export and check on generated 100k-record inputs.

For each source, `training.synthetic` writes an input of --records records in the
release's own schema (ESCI: judged query-product pairs; reviews: reviews; M2: sessions;
ECInstruct: release records, its ten tasks in turn; MMLU and Alpaca: questions); then
build (load and build timed apart), export and the routing half of check run in this
process, and peak memory (VmHWM) is read after each source. The gold-scoring half of check
is the evaluator's scorer, timed in benchmarks/scoring_speed.py.

    python benchmarks/training_speed.py [--records 100000] [--sources esci,reviews,m2,ecinstruct,mmlu,alpaca]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __spec__ is None:  # run as a script (python benchmarks/NAME.py): its packages are one folder up
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shopbench import cli, data, options, spec  # noqa: E402
from training import synthetic  # noqa: E402
from training.build import build  # noqa: E402
from training.check import routing_problem  # noqa: E402
from training.export import export, route_of  # noqa: E402
from training.sources import SOURCES  # noqa: E402


def peak_rss_gib() -> float:
    with open("/proc/self/status") as status:
        kilobytes = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    return kilobytes / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=options.int_in(1, spec.MAX_QUESTIONS), default=100_000,
                        help=f"input records per source (1 to {spec.MAX_QUESTIONS})")
    parser.add_argument("--sources", default=",".join(SOURCES), help="comma-separated source names")
    parser.add_argument("--workdir", help="keep the inputs and outputs here (default: a temporary folder)")
    options.declare_files(parser, outputs=("workdir",), folders=("workdir",))
    args = options.parse_args(parser, argv)

    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(args.workdir or temporary)
        for name in args.sources.split(","):
            started = time.perf_counter()
            source_input = synthetic.write_source(name, workdir, args.records)
            written = time.perf_counter() - started
            questions_path = workdir / f"{name}-questions.jsonl"
            report = build(SOURCES[name], source_input, questions_path)
            questions = data.load_questions(questions_path)
            exported = export(questions, workdir / f"{name}-sft.jsonl")
            started = time.perf_counter()
            misrouted = sum(routing_problem(q, route_of(q)) is not None for q in questions)
            routed = time.perf_counter() - started
            rows.append((name, report.questions, written, report.load_seconds, report.build_seconds,
                         exported.seconds, routed, misrouted, peak_rss_gib()))
            print(f"{name}: done", file=sys.stderr)

    print(f"{args.records:,} input records per source; build = load + build; questions/s over the build step")
    header = ("source", "questions", "input written s", "load s", "build s", "build q/s", "export q/s",
              "route check q/s", "misrouted", "peak RSS so far GiB")
    print(" | ".join(header))
    for name, count, written, load, built, exported, routed, misrouted, peak in rows:
        print(" | ".join((name, f"{count:,}", f"{written:.1f}", f"{load:.1f}", f"{built:.1f}", f"{count / built:,.0f}",
                          f"{count / exported:,.0f}", f"{count / routed:,.0f}", str(misrouted), f"{peak:.2f}")))
    return 0


if __name__ == "__main__":
    sys.exit(cli.main_guard(main)())
