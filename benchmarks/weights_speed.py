"""Merge and pad on a synthetic ~1B-parameter Qwen2-style model: time and peak memory.

The model (fp16, several safetensors shards of about --shard-mb) and two rank-64 LoRA
adapters over every linear layer are written to --workdir; then `python -m weights merge`
(two adapters) and `python -m weights pad` each run in a fresh process, which reports its
own peak resident memory. The figures project to Qwen2-72B (about 145 GB in fp16 shards
of about 4 GB) by bytes for time and by largest shard for memory.

    python benchmarks/weights_speed.py [--workdir DIR] [--layers 20] [--shard-mb 500]
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __spec__ is None:  # run as a script (python benchmarks/NAME.py): its packages are one folder up
    sys.path.insert(0, str(ROOT))

from shopbench import cli, options  # noqa: E402

HIDDEN, HEADS, KV_HEADS, INTERMEDIATE, VOCAB = 2048, 16, 4, 5504, 32000
QWEN2_72B_BYTES, QWEN2_72B_SHARD_BYTES = 145.4e9, 4.0e9
# Qwen2-72B: 80 layers; (in + out) features of q, k, v, o, gate, up, down.
QWEN2_72B_LORA_FEATURES = 80 * (2 * 16384 + 2 * 9216 + 3 * 37760)
# The child reports VmHWM, its own peak resident memory. (ru_maxrss would not do: Linux
# carries it over from the parent through fork and exec.)
REPORT_PEAK = (
    "print('PEAK_RSS_KB', next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')), "
    "file=sys.stderr)\n"
)
BASELINE = "import sys, torch, safetensors.torch, tqdm\n" + REPORT_PEAK
MEASURE = (
    "import sys, runpy\n"
    "sys.argv = ['weights', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('weights', run_name='__main__')\n"
    "except SystemExit as exit:\n    code = exit.code\n"
    + REPORT_PEAK + "sys.exit(code)\n"
)


def linear_shapes(layer: int) -> dict[str, tuple[int, int]]:
    head_dim = HIDDEN // HEADS
    prefix = f"model.layers.{layer}."
    return {
        prefix + "self_attn.q_proj.weight": (HIDDEN, HIDDEN),
        prefix + "self_attn.k_proj.weight": (KV_HEADS * head_dim, HIDDEN),
        prefix + "self_attn.v_proj.weight": (KV_HEADS * head_dim, HIDDEN),
        prefix + "self_attn.o_proj.weight": (HIDDEN, HIDDEN),
        prefix + "mlp.gate_proj.weight": (INTERMEDIATE, HIDDEN),
        prefix + "mlp.up_proj.weight": (INTERMEDIATE, HIDDEN),
        prefix + "mlp.down_proj.weight": (HIDDEN, INTERMEDIATE),
    }


def write_model(folder: Path, layers: int, shard_bytes: int) -> int:
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    shapes = {"model.embed_tokens.weight": (VOCAB, HIDDEN)}
    for layer in range(layers):
        shapes.update(linear_shapes(layer))
        shapes[f"model.layers.{layer}.input_layernorm.weight"] = (HIDDEN,)
        shapes[f"model.layers.{layer}.post_attention_layernorm.weight"] = (HIDDEN,)
    shapes["model.norm.weight"] = (HIDDEN,)
    shapes["lm_head.weight"] = (VOCAB, HIDDEN)
    groups, current, size = [], [], 0
    for name, shape in shapes.items():
        nbytes = 2 * torch.Size(shape).numel()
        if current and size + nbytes > shard_bytes:
            groups.append(current)
            current, size = [], 0
        current.append(name)
        size += nbytes
    groups.append(current)
    weight_map, parameters = {}, 0
    generator = torch.Generator().manual_seed(0)
    for number, names in enumerate(groups):
        file = f"model-{number + 1:05d}-of-{len(groups):05d}.safetensors"
        tensors = {n: (torch.randn(shapes[n], generator=generator) * 0.02).half() for n in names}
        save_file(tensors, folder / file, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(names, file))
        parameters += sum(t.numel() for t in tensors.values())
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    config = {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE, "num_hidden_layers": layers, "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS, "vocab_size": VOCAB, "tie_word_embeddings": False, "torch_dtype": "float16",
    }
    (folder / "config.json").write_text(json.dumps(config))
    return parameters


def write_adapter(folder: Path, layers: int, rank: int, seed: int) -> None:
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for layer in range(layers):
        for name, (out_features, in_features) in linear_shapes(layer).items():
            module = "base_model.model." + name[: -len(".weight")]
            tensors[module + ".lora_A.weight"] = torch.randn(rank, in_features, generator=generator) * 0.01
            tensors[module + ".lora_B.weight"] = torch.randn(out_features, rank, generator=generator) * 0.01
    save_file(tensors, folder / "adapter_model.safetensors", metadata={"format": "pt"})
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    config = {"peft_type": "LORA", "r": rank, "lora_alpha": rank // 2, "target_modules": targets}
    (folder / "adapter_config.json").write_text(json.dumps(config))


def run(*argv, script: str = MEASURE) -> tuple[float, float]:
    """(seconds, peak resident GiB) of one `python -m weights` command in a fresh process."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, *map(str, argv)], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    peak = next(line for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_KB"))
    return seconds, int(peak.split()[1]) / 2**20


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", help="where the synthetic model goes (default: a temporary folder)")
    parser.add_argument("--layers", type=options.int_in(1, 1000), default=20, help="decoder layers (1 to 1000)")
    parser.add_argument("--shard-mb", type=options.int_in(1, 100_000), default=500,
                        help="size of each shard in MB (1 to 100000)")
    options.declare_files(parser, outputs=("workdir",), folders=("workdir",))
    args = options.parse_args(parser, argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="weights-bench-"))
    try:
        began = time.perf_counter()
        parameters = write_model(work / "base", args.layers, args.shard_mb * 2**20)
        for seed, name in enumerate(("v8", "v9b")):
            write_adapter(work / name, args.layers, 64, seed)
        base_bytes = sum(p.stat().st_size for p in (work / "base").glob("*.safetensors"))
        largest = max(p.stat().st_size for p in (work / "base").glob("*.safetensors"))
        adapter_bytes = sum((work / n / "adapter_model.safetensors").stat().st_size for n in ("v8", "v9b"))
        print(f"synthetic model: {parameters / 1e9:.2f}B parameters, {base_bytes / 2**30:.2f} GiB fp16 in "
              f"{len(list((work / 'base').glob('*.safetensors')))} shards (largest {largest / 2**20:.0f} MiB); "
              f"two rank-64 adapters {adapter_bytes / 2**20:.0f} MiB; written in {time.perf_counter() - began:.1f} s")
        merge = run("merge", "--base", work / "base", "--adapter", f"{work / 'v8'}:0.56",
                    "--adapter", f"{work / 'v9b'}:0.25", "--out", work / "merged")
        pad = run("pad", "--model", work / "merged", "--out", work / "padded")
        print(f"{'command':<8}{'seconds':>9}{'peak RSS GiB':>14}{'GiB/s':>8}")
        for name, (seconds, peak) in (("merge", merge), ("pad", pad)):
            print(f"{name:<8}{seconds:>9.1f}{peak:>14.2f}{base_bytes / 2**30 / seconds:>8.2f}")
        # Peak memory is a fixed part (Python, torch, the adapters as stored) plus a part that
        # grows with the largest shard (its tensors in and out); time grows with the bytes.
        runtime = run(script=BASELINE)[1]
        per_shard = {name: (peak - runtime - (adapter_bytes / 2**30 if name == "merge" else 0)) / (largest / 2**30)
                     for name, (_, peak) in (("merge", merge), ("pad", pad))}
        adapters_72b = 2 * 64 * QWEN2_72B_LORA_FEATURES * 2 / 2**30  # two rank-64 adapters, bf16
        shard_72b = QWEN2_72B_SHARD_BYTES / 2**30
        scale = QWEN2_72B_BYTES / base_bytes
        print(f"peak = {runtime:.2f} GiB runtime (+ adapters as stored, merge) + shard x "
              f"{per_shard['merge']:.2f} (merge) / {per_shard['pad']:.2f} (pad)")
        print(f"projection to Qwen2-72B ({QWEN2_72B_BYTES / 1e9:.0f} GB fp16 in {shard_72b:.1f} GiB shards, two rank-64 "
              f"bf16 adapters {adapters_72b:.1f} GiB), this machine: merge {merge[0] * scale / 60:.0f} min and "
              f"{runtime + adapters_72b + per_shard['merge'] * shard_72b:.1f} GiB peak, pad {pad[0] * scale / 60:.0f} min "
              f"and {runtime + per_shard['pad'] * shard_72b:.1f} GiB peak")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(cli.main_guard(main)())
