"""Engine speed on the embedded default model (SmolLM2-135M-Instruct) against its floor.

For each engine and precision, the whole main job (`python local_evaluation.py` on the 96 dev
questions) runs in a fresh process, timed phase by phase: imports, the embedded model's
conversion (0 once cached), engine start, generation, scoring's embedding model, scoring,
writing the results. Configurations alternate (--repeats rounds), so a machine's changing load
falls on all of them alike; the load average is printed with every figure.

The floor of the generation is what the work costs at this machine's own speed, measured on
the spot with torch for each precision: the dev run's prompt tokens x 2 x parameters at the
GEMM rate of the model's own matrix shapes (512 tokens at a time), plus its decoding steps
(per engine call, the most new tokens of any request in it) x the time to read every weight
once at the memory bandwidth of a streaming read.

    python benchmarks/engine_speed.py [--engines transformers,vllm] [--precisions float32,bfloat16]
                                      [--repeats 1] [--output FILE]
    python benchmarks/engine_speed.py --constraints   # the constraints' own cost, batches of 16
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __spec__ is None:  # run as a script (python benchmarks/NAME.py): its packages are one folder up
    sys.path.insert(0, str(ROOT))

from shopbench import cli, environment, jsonsafe, options, spec  # noqa: E402
from shopbench.data import read_json_lines  # noqa: E402

PREFILL_TOKENS = 512  # rows of the GEMM that measures the prefill rate
ENGINE_NAMES = ("transformers", "vllm")  # the in-process engines
PRECISION_NAMES = ("float32", "bfloat16")


def names_of(allowed: tuple[str, ...]):
    """An argparse `type=`: a comma-separated list of some of `allowed` (a usage error otherwise)."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"expected some of {', '.join(allowed)}, got {text!r}")
        return list(dict.fromkeys(names))

    parse.__name__ = "list"
    return parse


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


# ---------------------------------------------------------------- the floor's two rates


@dataclass(frozen=True)
class Shapes:
    """The model's weight matrices as (out, in), and its parameter count (tied embeddings once)."""

    matrices: tuple[tuple[int, int], ...]
    parameters: int

    @classmethod
    def of(cls, config: dict) -> "Shapes":
        hidden, inner = config["hidden_size"], config["intermediate_size"]
        heads, kv = config["num_attention_heads"], config.get("num_key_value_heads", config["num_attention_heads"])
        head_dim = config.get("head_dim") or hidden // heads
        layer = ((heads * head_dim, hidden), (kv * head_dim, hidden), (kv * head_dim, hidden), (hidden, heads * head_dim),
                 (inner, hidden), (inner, hidden), (hidden, inner))
        matrices = layer * config["num_hidden_layers"] + ((config["vocab_size"], hidden),)
        embedding = 0 if config.get("tie_word_embeddings") else config["vocab_size"] * hidden
        return cls(matrices, sum(o * i for o, i in matrices) + embedding)

    def layer_and_head(self) -> tuple[tuple[int, int], ...]:
        return self.matrices[:7] + self.matrices[-1:]


def gemm_rate(shapes: Shapes, dtype: str, repeats: int = 5) -> float:
    """FLOP/s of torch matmul on one layer's matrices and the head, PREFILL_TOKENS rows (best of repeats)."""
    import torch

    kind = getattr(torch, dtype)
    weights = [torch.randn(o, i, dtype=kind) for o, i in shapes.layer_and_head()]
    x = {i: torch.randn(PREFILL_TOKENS, i, dtype=kind) for _, i in shapes.layer_and_head()}
    flops = sum(2 * PREFILL_TOKENS * o * i for o, i in shapes.layer_and_head())
    best = float("inf")
    with torch.inference_mode():
        for _ in range(repeats + 1):  # the first warms the kernels up
            began = time.perf_counter()
            for w in weights:
                torch.nn.functional.linear(x[w.shape[1]], w)
            best = min(best, time.perf_counter() - began)
    return flops / best


def weight_read_seconds(shapes: Shapes, dtype: str, repeats: int = 5) -> tuple[float, float]:
    """(seconds to read every weight once, bytes/s): the memory bandwidth of a streaming read
    (a sum over as many bytes as the weights take in `dtype`), best of repeats. A plain read,
    not a bfloat16 matrix-vector kernel, so the floor is the memory's, whatever the kernels."""
    import torch

    size = shapes.parameters * getattr(torch, dtype).itemsize
    buffer = torch.ones(size // 4, dtype=torch.float32)
    best = float("inf")
    for _ in range(repeats + 1):
        began = time.perf_counter()
        buffer.sum()
        best = min(best, time.perf_counter() - began)
    return best, size / best


def floor_seconds(prompt_tokens: int, steps: int, parameters: int, gemm: float, step_seconds: float) -> float:
    """Prefill at the GEMM rate plus one weight read per decoding step."""
    return prompt_tokens * 2 * parameters / gemm + steps * step_seconds


# ---------------------------------------------------------------- one main job, phase by phase


class CountingEngine:
    """The engine, counting what the floor needs: prompt tokens and decoding steps."""

    def __init__(self, engine):
        self.engine = engine
        self.prompt_tokens = 0
        self.steps = 0

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def generate(self, requests):
        outputs = self.engine.generate(requests)
        self.prompt_tokens += sum(len(r.prompt_token_ids) for r in requests)
        self.steps += max((len(o.token_ids) for o in outputs), default=0)
        return outputs


def conversion_seconds() -> float:
    """The first run's conversion of the embedded model (GGUF to safetensors), in a fresh
    process and a cache of its own."""
    with tempfile.TemporaryDirectory() as cache:
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from models import embedded; embedded.safetensors_copy()"],
                       check=True, capture_output=True, cwd=ROOT, env=environment.for_child({environment.CACHE_ENV: cache}))
        return time.perf_counter() - began


def main_job(engine_name: str, precision: str) -> dict:
    """local_evaluation.py's default run, in this process, each phase timed (run in a fresh
    process: the imports are part of the job)."""
    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[name] = phases.get(name, 0.0) + now - clock
        clock = now

    environment.export(environment.ENGINE_ENV, engine_name)  # the job is its process
    environment.export(environment.PRECISION_ENV, precision)
    if engine_name == "vllm":
        import vllm  # noqa: F401
    else:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    from models.settings import from_environment
    from models.engines import registry
    from models.shop_model import ShopModel
    from shopbench import data, resources
    from shopbench.report import format_report
    from shopbench.runner import run
    from shopbench.scoring import Scorer

    phase("imports")
    from models import embedded

    embedded.safetensors_copy()
    phase("embedded conversion")
    settings = from_environment()
    engine, _ = registry.from_settings(settings)
    counting = CountingEngine(engine)
    model = ShopModel(settings, engine=counting)
    phase("engine start")
    questions = data.load_questions(spec.DEV_DATA)
    paths = resources.scorable_paths(questions, {})
    generation = run(model, questions)
    phase("generation")
    if generation.failed_questions:  # a figure of fallback answers would time nothing
        raise SystemExit(f"{engine_name} {precision}: the engine failed on {generation.failed_questions} of "
                         f"{len(questions)} questions (its errors are above)")
    scorer = Scorer(resources.load_embedding_models(paths))
    phase("scoring model")
    report = scorer.score(questions, generation.responses)
    summary = generation.summary()
    report.extra["generation"] = summary
    text = format_report(report, summary)
    phase("scoring")
    with tempfile.TemporaryDirectory() as folder:
        data.write_atomically(Path(folder) / "results.json", json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    phase("writing")
    return {"engine": engine_name, "precision": engine.dtype, "phases": phases, "overall": report.overall,
            "responses": generation.responses, "prompt_tokens": counting.prompt_tokens, "steps": counting.steps,
            "report_lines": len(text.splitlines())}


JOB_RESULT = "engine_speed job result: "  # marks the job's one line of JSON among what else it prints


def job_result(stdout: str, job: str) -> dict:
    """The result line of a job's output. vLLM logs to stdout too, even after the job has
    printed its line, so the line is found by its mark."""
    lines = [line for line in stdout.splitlines() if line.startswith(JOB_RESULT)]
    if not lines:
        raise SystemExit(f"{job} printed no result line:\n{stdout[-3000:]}")
    return jsonsafe.loads(lines[-1][len(JOB_RESULT):], f"{job}'s output")


def run_main_job(engine_name: str, precision: str) -> dict:
    """main_job in a fresh process: its result, its wall time and its CPU time."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    command = [sys.executable, __file__, "--job", f"{engine_name}:{precision}"]
    finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if finished.returncode != 0:
        raise SystemExit(f"{engine_name} {precision}: the job failed:\n{finished.stderr[-3000:]}")
    result = job_result(finished.stdout, f"the {engine_name} {precision} job")
    result.update(wall=wall, cpu=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return result


# ---------------------------------------------------------------- the constraints' own cost


def build(engine_name: str):
    from models import embedded
    from models.engines import registry
    from models.settings import CPU_CONTEXT, VLLM_ON_CPU

    model_dir = str(embedded.safetensors_copy())
    if engine_name == "vllm":
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        return registry.build("vllm", model_dir, VLLM_ON_CPU)
    return registry.build("transformers", model_dir, CPU_CONTEXT, dtype=VLLM_ON_CPU.dtype)


def throughput(engine, model, questions, tokens: int, repeats: int) -> dict[str, float]:
    """Tokens per second per constraint setting (median over repeats, interleaved): every
    request decodes exactly `tokens` new tokens (no stop token), unconstrained, under the NER
    copy bias (1024 entries) and under the digit mask."""
    from models.engines import Request
    from routing.classifier import Route
    from decoding.constraints import Constraint
    from decoding.profiles import constraint_for

    ner = Route(spec.NER, spec.NER)
    digits = Route(spec.RETRIEVAL, spec.RETRIEVAL, tuple(range(1, 16)), spec.RETRIEVAL_READS)
    settings = {
        "none": lambda q: Constraint(tokens),
        "NER bias": lambda q: replace(
            constraint_for(ner, q, model.tokenizer, model.vocabulary, token_list_cap=engine.token_list_cap),
            max_new_tokens=tokens),
        "digit mask": lambda q: replace(
            constraint_for(digits, q, model.tokenizer, model.vocabulary, token_list_cap=engine.token_list_cap),
            max_new_tokens=tokens,
            allowed_token_ids=tuple(i for d in "0123456789" for i in model.vocabulary.digits[d]) + model.vocabulary.commas,
        ),
    }
    prompts = [model.build_request(q, ner).prompt_token_ids for q in questions]
    times: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(repeats):
        for name, make in settings.items():
            requests = [Request(p, make(q), ()) for p, q in zip(prompts, questions)]
            began = time.perf_counter()
            outputs = engine.generate(requests)
            elapsed = time.perf_counter() - began
            produced = sum(len(o.token_ids) for o in outputs)
            assert produced == tokens * len(requests), f"{name}: {produced} tokens"
            times[name].append(produced / elapsed)
    return {name: statistics.median(values) for name, values in times.items()}


def constraints_cost(engines: list[str], tokens: int, repeats: int, batch: int) -> None:
    from models.settings import ModelSettings
    from models.shop_model import ShopModel

    records = [record for _, record in read_json_lines(spec.DEV_DATA)]
    questions = [r["input_field"] for r in records if r["task_type"] == spec.NER]
    questions = (questions * batch)[:batch]
    for engine_name in engines:
        engine = build(engine_name)
        model = ShopModel(ModelSettings(None, engine_name, "benchmark"), engine=engine)
        rates = throughput(engine, model, questions, tokens, repeats)
        print(f"\n{engine_name} engine ({engine.dtype}), batch {batch}, {tokens} new tokens each, {load()}")
        print(f"{'constraint':<12}{'tokens/s':>10}{'cost':>9}")
        for name, rate in rates.items():
            cost = "" if name == "none" else f"{(rates['none'] / rate - 1) * 100:+.1f}%"
            print(f"{name:<12}{rate:>10.1f}{cost:>9}")


# ---------------------------------------------------------------- the report


def machine_line() -> str:
    from models.settings import CPU_BFLOAT16_FLAGS, read_cpu_flags

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    native = sorted(CPU_BFLOAT16_FLAGS & read_cpu_flags()) or ["no native bfloat16"]
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit or '?'}, {model}, "
            f"{os.cpu_count()} CPUs ({', '.join(native)}), {load()}")


def compare(engines: list[str], precisions: list[str], repeats: int, output: str | None) -> None:
    import torch

    from models import embedded

    config = jsonsafe.load_file(embedded.safetensors_copy() / "config.json")
    shapes = Shapes.of(config)
    print(machine_line())
    print(f"{embedded.MODEL_NAME}: {shapes.parameters / 1e6:.1f}M parameters, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    rates = {}
    for dtype in precisions:
        step, bandwidth = weight_read_seconds(shapes, dtype)
        rates[dtype] = {"gemm": gemm_rate(shapes, dtype), "step_seconds": step, "bandwidth": bandwidth}
        print(f"{dtype}: GEMM {rates[dtype]['gemm'] / 1e9:.0f} GFLOP/s (model shapes, {PREFILL_TOKENS} rows), "
              f"weights read in {step * 1e3:.1f} ms ({bandwidth / 1e9:.1f} GB/s), {load()}")
    converted = conversion_seconds()
    print(f"first run only: the embedded model's conversion, {converted:.1f} s in a process of its own, {load()}")
    embedded.safetensors_copy()  # the jobs below find it cached, as every run after the first does
    runs: dict[tuple[str, str], list[dict]] = {}
    for _ in range(repeats):
        for engine_name in engines:
            for dtype in precisions:
                result = run_main_job(engine_name, dtype)
                result["load"] = load()
                runs.setdefault((engine_name, dtype), []).append(result)
                print(f"  ran {engine_name} {dtype}: {result['wall']:.1f} s wall, {result['cpu']:.1f} s CPU, "
                      f"{result['load']}", flush=True)
    print("\nGeneration against its floor (median over rounds):")
    header = f"{'engine':<13}{'precision':<10}{'prompt tok':>11}{'steps':>7}{'generation s':>14}{'floor s':>9}{'ratio':>7}"
    print(header)
    table = []
    for (engine_name, dtype), results in runs.items():
        first = results[0]
        rate = rates[dtype]
        floor = floor_seconds(first["prompt_tokens"], first["steps"], shapes.parameters, rate["gemm"], rate["step_seconds"])
        generation = statistics.median(r["phases"]["generation"] for r in results)
        table.append({"engine": engine_name, "precision": dtype, "floor": floor, "generation": generation, "runs": results})
        print(f"{engine_name:<13}{dtype:<10}{first['prompt_tokens']:>11}{first['steps']:>7}{generation:>14.1f}"
              f"{floor:>9.1f}{generation / floor:>7.2f}")
    print("\nThe whole main job, seconds (median over rounds; wall and CPU of the whole process):")
    names = list(runs[next(iter(runs))][0]["phases"])
    print(f"{'engine':<13}{'precision':<10}" + "".join(f"{n:>{max(len(n) + 2, 9)}}" for n in names)
          + f"{'wall':>8}{'CPU':>8}{'overall':>9}")
    for row in table:
        results = row["runs"]
        cells = "".join(f"{statistics.median(r['phases'][n] for r in results):>{max(len(n) + 2, 9)}.1f}" for n in names)
        print(f"{row['engine']:<13}{row['precision']:<10}{cells}{statistics.median(r['wall'] for r in results):>8.1f}"
              f"{statistics.median(r['cpu'] for r in results):>8.1f}{results[0]['overall']:>9.4f}")
    answers = {(r["engine"], r["precision"]): r["runs"][0]["responses"] for r in table}
    for (engine_name, dtype), responses in answers.items():
        same = [other for other, theirs in answers.items() if other != (engine_name, dtype) and theirs == responses]
        if same:
            print(f"{engine_name} {dtype} gives the same 96 answers as " + ", ".join(f"{e} {d}" for e, d in same))
    if output:
        from shopbench.data import write_atomically

        write_atomically(output, json.dumps({"machine": machine_line(), "rates": rates, "table": table}, indent=1) + "\n")


def main() -> int | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", type=names_of(ENGINE_NAMES), default="transformers,vllm",
                        help=f"comma-separated, from {', '.join(ENGINE_NAMES)}")
    parser.add_argument("--precisions", type=names_of(PRECISION_NAMES), default="float32,bfloat16",
                        help=f"comma-separated, from {', '.join(PRECISION_NAMES)}")
    parser.add_argument("--repeats", type=options.int_in(1, 100), default=1,
                        help="rounds of every configuration, alternated (1 to 100; --constraints: at least 3)")
    parser.add_argument("--output", metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--constraints", action="store_true",
                        help="instead: decoding throughput with and without constraints, batches of --batch")
    parser.add_argument("--tokens", type=options.int_in(1, 4096), default=32, help="new tokens per question (1 to 4096)")
    parser.add_argument("--batch", type=options.int_in(1, 1024), default=16, help="questions per batch (1 to 1024)")
    parser.add_argument("--job", help=argparse.SUPPRESS)  # ENGINE:PRECISION, one main job (internal)
    options.declare_files(parser, outputs=("output",))
    args = options.parse_args(parser, None)
    if args.job:
        engine_name, _, precision = args.job.partition(":")
        if engine_name not in ENGINE_NAMES or precision not in PRECISION_NAMES:
            return cli.fail(f"--job {args.job}: give ENGINE:PRECISION, from {', '.join(ENGINE_NAMES)} "
                            f"and {', '.join(PRECISION_NAMES)}")
        print(JOB_RESULT + json.dumps(main_job(engine_name, precision)), flush=True)
    elif args.constraints:
        constraints_cost(args.engines, args.tokens, max(args.repeats, 3), args.batch)
    else:
        compare(args.engines, args.precisions, args.repeats, args.output)


if __name__ == "__main__":
    sys.exit(cli.main_guard(main)())
