"""`python -m weights pad`: zero-pad the MLP intermediate size so it splits across GPUs.

vLLM splits the MLP's intermediate dimension across tensor-parallel ranks, and AWQ needs
each rank's share to be a whole number of quantization groups. Qwen2-72B's 29568 / 4 = 7392
is not a multiple of 128, so it is padded to 29696. Zero rows in gate/up and zero columns
in down add silu(0) * 0 = 0: the padded model computes the same function. Pad the
unquantized model, then quantize.
"""
from __future__ import annotations

import math
import re

from shopbench import spec
from weights import awq
from weights.checkpoint import Checkpoint, CheckpointError, rewrite

_ROWS = re.compile(r"\.mlp\.(gate_proj|up_proj)\.(weight|bias)$")  # intermediate is dim 0
_COLUMNS = re.compile(r"\.mlp\.down_proj\.weight$")  # intermediate is dim 1


def split_size(intermediate_size: int, tp: int, group_size: int) -> int:
    """The smallest size >= intermediate_size divisible by tp * group_size."""
    unit = tp * group_size
    return math.ceil(intermediate_size / unit) * unit


def pad(model_dir, out, tp: int = spec.SUBMISSION_GPUS, group_size: int = awq.GROUP_SIZE, intermediate_size: int | None = None,
        force: bool = False, progress=None) -> dict:
    import torch

    model = Checkpoint(model_dir)
    if "quantization_config" in model.config:
        raise CheckpointError(f"{model_dir}: already quantized; pad the unquantized model, then quantize")
    old = model.config["intermediate_size"]
    new = intermediate_size if intermediate_size is not None else split_size(old, tp, group_size)
    if new < old:
        raise CheckpointError(f"--intermediate-size {new} is smaller than the model's {old}")
    header = model.header()
    for name, info in header.items():
        if (_ROWS.search(name) and info.shape[0] != old) or (_COLUMNS.search(name) and info.shape[1] != old):
            raise CheckpointError(f"{name} has shape {info.shape}, not intermediate size {old} where expected")
    if not any(_COLUMNS.search(name) for name in header):
        raise CheckpointError(f"{model_dir}: no mlp.down_proj weights (not a Llama/Qwen2-style model)")
    padded = []

    def widen(name: str, tensor):
        if _ROWS.search(name):
            padded.append(name)
            return torch.cat([tensor, tensor.new_zeros((new - old, *tensor.shape[1:]))], dim=0)
        if _COLUMNS.search(name):
            padded.append(name)
            return torch.cat([tensor, tensor.new_zeros((tensor.shape[0], new - old))], dim=1)
        return tensor

    written = rewrite(model, out, {**model.config, "intermediate_size": new}, widen, force, progress)
    return {"intermediate_size": [old, new], "padded_tensors": len(padded), "bytes": written}
