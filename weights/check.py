"""`python -m weights check`: everything about a model folder that would fail a submission,
found from the config and the safetensors headers alone (no tensor is loaded).

- git-lfs pointer files where weights should be;
- the index and the shards agree, every shard is readable;
- every Llama/Qwen2-style weight has the shape the config implies, unquantized or AWQ
  (GEMM layout: qweight [in, out / pack], qzeros [in / group, out / pack], scales
  [in / group, out]);
- the MLP intermediate size splits across the tensor-parallel ranks in whole groups.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shopbench import spec
from weights import awq
from weights.checkpoint import Checkpoint, CheckpointError, TensorInfo, is_lfs_pointer, read_header, read_json_object


@dataclass
class CheckResult:
    folder: Path
    problems: list[str] = field(default_factory=list)
    total_bytes: int = 0
    tensors: int = 0
    quantization: str = "none"


def _linear_shapes(config: dict) -> dict[str, tuple[int, int]]:
    """(out_features, in_features) of each linear layer of a decoder layer."""
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_dim = config.get("head_dim") or hidden // heads
    kv = config.get("num_key_value_heads", heads) * head_dim
    inter = config["intermediate_size"]
    return {
        "self_attn.q_proj": (heads * head_dim, hidden),
        "self_attn.k_proj": (kv, hidden),
        "self_attn.v_proj": (kv, hidden),
        "self_attn.o_proj": (hidden, heads * head_dim),
        "mlp.gate_proj": (inter, hidden),
        "mlp.up_proj": (inter, hidden),
        "mlp.down_proj": (hidden, inter),
    }


def _expected(config: dict) -> dict[str, tuple[int, ...]]:
    quant = config.get("quantization_config") or {}
    is_awq = quant.get("quant_method") == "awq"
    pack = 32 // quant.get("bits", awq.QUANT_CONFIG["w_bit"]) if is_awq else 1
    group = quant.get("group_size", awq.GROUP_SIZE)
    hidden, vocab = config["hidden_size"], config["vocab_size"]
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (vocab, hidden), "model.norm.weight": (hidden,)}
    if not config.get("tie_word_embeddings"):
        shapes["lm_head.weight"] = (vocab, hidden)
    for layer in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{layer}."
        shapes[prefix + "input_layernorm.weight"] = (hidden,)
        shapes[prefix + "post_attention_layernorm.weight"] = (hidden,)
        for module, (out_features, in_features) in _linear_shapes(config).items():
            if is_awq:
                shapes[prefix + module + ".qweight"] = (in_features, out_features // pack)
                shapes[prefix + module + ".qzeros"] = (in_features // group, out_features // pack)
                shapes[prefix + module + ".scales"] = (in_features // group, out_features)
            else:
                shapes[prefix + module + ".weight"] = (out_features, in_features)
    return shapes


def split_problem(config: dict, tp: int, group_size: int) -> str | None:
    inter = config.get("intermediate_size")
    group = (config.get("quantization_config") or {}).get("group_size", group_size)
    if inter is None:
        return "config.json has no intermediate_size"
    if inter % tp or (inter // tp) % group:
        return (
            f"intermediate_size {inter} does not split across {tp} GPUs in groups of {group} "
            f"({inter} / {tp} = {inter / tp:g}); fix: python -m weights pad --tp {tp} --group-size {group}"
        )
    return None


def check(folder, tp: int = spec.SUBMISSION_GPUS, group_size: int = awq.GROUP_SIZE) -> CheckResult:
    folder = Path(folder)
    result = CheckResult(folder)
    if not folder.is_dir():
        result.problems.append(f"{folder}: no such folder")
        return result
    files = [p for p in folder.rglob("*") if p.is_file()]
    result.total_bytes = sum(p.stat().st_size for p in files)
    pointers = [p for p in files if is_lfs_pointer(p)]
    result.problems += [f"{p}: a git-lfs pointer, not the file (run `git lfs pull`)" for p in pointers]
    config_path = folder / "config.json"
    if config_path.is_file() and config_path not in pointers:
        try:
            problem = split_problem(read_json_object(config_path), tp, group_size)
        except CheckpointError as exc:
            result.problems.append(str(exc))
            return result
        if problem:
            result.problems.append(problem)
    try:
        model = Checkpoint(folder)
    except CheckpointError as exc:
        if not pointers:  # a pointer in place of the only shard is already reported
            result.problems.append(str(exc))
        return result
    found: dict[str, TensorInfo] = {}
    unreadable = set()
    for shard in model.shards:
        path = folder / shard
        try:
            if not path.is_file():
                raise CheckpointError(f"{path}: listed in the index but missing")
            header = {} if path in pointers else read_header(path)
        except CheckpointError as exc:
            result.problems.append(str(exc))
            header = None
        if not header:
            unreadable.add(shard)
            continue
        for name in header:
            if model.weight_map.get(name) != shard:
                result.problems.append(f"{path}: holds {name}, which the index does not place there")
        found.update(header)
    result.tensors = len(found)
    config = model.config
    result.quantization = (config.get("quantization_config") or {}).get("quant_method", "none")
    if {"hidden_size", "num_hidden_layers", "vocab_size", "num_attention_heads", "intermediate_size"} <= set(config):
        for name, shape in _expected(config).items():
            if name in found:
                if tuple(found[name].shape) != shape:
                    result.problems.append(f"{name} has shape {tuple(found[name].shape)}, the config implies {shape}")
            elif model.weight_map.get(name) not in unreadable:
                result.problems.append(f"missing tensor {name}")
    return result
