"""Engine speed on the embedded default model (SmolLM2-135M-Instruct, CPU, float32).

1. Decoding throughput with and without constraints, side by side in one run, for the
   transformers engine and vLLM: every request decodes exactly --tokens new tokens (no
   stop token), unconstrained, under the NER copy bias (1024 entries) and under the digit
   mask, so the difference is the constraints' own cost. Each setting is timed --repeats
   times, interleaved; the median counts.
2. Seconds per dev question by decoding profile, the UserModel on the 96 dev questions.

    python benchmarks/engine_speed.py [--engines transformers,vllm] [--tokens 32] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shopbench import options, spec  # noqa: E402
from shopbench.data import read_json_lines  # noqa: E402


def build(engine_name: str):
    from models import embedded
    from models.settings import CPU_CONTEXT, VLLM_ON_CPU

    model_dir = str(embedded.safetensors_copy())
    if engine_name == "vllm":
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from models.engines.vllm_engine import VllmEngine

        return VllmEngine(model_dir, VLLM_ON_CPU)
    from models.engines.transformers_engine import TransformersEngine

    return TransformersEngine(model_dir, CPU_CONTEXT)


def throughput(engine, model, questions, tokens: int, repeats: int) -> dict[str, float]:
    """Tokens per second per constraint setting (median over repeats, interleaved)."""
    from models.engines import Request
    from routing.classifier import Route
    from decoding.constraints import Constraint
    from decoding.profiles import constraint_for
    from shopbench import spec

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


def per_profile(model, records) -> dict[str, float]:
    from shopbench.data import load_questions
    from shopbench.runner import run

    generation = run(model, load_questions(spec.DEV_DATA))
    return {p: row["seconds"] / row["questions"] for p, row in generation.summary()["by_profile"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="transformers,vllm")
    parser.add_argument("--tokens", type=options.int_in(1, 4096), default=32, help="new tokens per question (1 to 4096)")
    parser.add_argument("--repeats", type=options.int_in(1, 1000), default=3, help="timed repeats (1 to 1000)")
    parser.add_argument("--batch", type=options.int_in(1, 1024), default=16, help="questions per batch (1 to 1024)")
    args = options.parse_args(parser, None)

    from models.settings import ModelSettings
    from models.shop_model import ShopModel

    records = [record for _, record in read_json_lines(spec.DEV_DATA)]
    questions = [r["input_field"] for r in records if r["task_type"] == "named_entity_recognition"]
    questions = (questions * args.batch)[: args.batch]
    for engine_name in args.engines.split(","):
        began = time.perf_counter()
        engine = build(engine_name)
        start_seconds = time.perf_counter() - began
        model = ShopModel(ModelSettings(None, engine_name, "benchmark"), engine=engine)
        rates = throughput(engine, model, questions, args.tokens, args.repeats)
        print(f"\n{engine_name} engine (started in {start_seconds:.1f} s), batch {args.batch}, {args.tokens} new tokens each")
        print(f"{'constraint':<12}{'tokens/s':>10}{'cost':>9}")
        for name, rate in rates.items():
            cost = "" if name == "none" else f"{(rates['none'] / rate - 1) * 100:+.1f}%"
            print(f"{name:<12}{rate:>10.1f}{cost:>9}")
        seconds = per_profile(model, records)
        print("seconds per dev question: " + ", ".join(f"{p} {s:.3f}" for p, s in seconds.items()))


if __name__ == "__main__":
    main()
