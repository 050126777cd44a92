"""PEFT LoRA adapters: reading, checking against a base model, and weighted ensembles.

An adapter i changes a targeted weight by s_i * B_i @ A_i, with s_i = lora_alpha / r (or
lora_alpha / sqrt(r) with rsLoRA). An ensemble with weights w_i, the winners' wise-ft
included (one adapter, w = alpha), changes it by sum_i w_i * s_i * B_i @ A_i.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from shopbench.jsonsafe import is_int, is_number
from shopbench.options import number
from weights.checkpoint import CheckpointError, TensorInfo, is_lfs_pointer, read_json_object

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.lora_(?P<side>[AB])(?:\.[^.]+)?\.weight$")


@dataclass
class Adapter:
    folder: Path
    weight: float
    rank: int
    scaling: float
    config: dict
    pairs: dict  # base weight name -> (A [r, in], B [out, r]), kept in their stored dtype

    def delta(self, name: str):
        """weight * scaling * B @ A for one base weight (float32), or None when not targeted."""
        if name not in self.pairs:
            return None
        a, b = self.pairs[name]
        return (self.weight * self.scaling) * (b.float() @ a.float())


class AdapterSpec(NamedTuple):
    """An adapter folder and its ensemble weight, as --adapter DIR:WEIGHT gives them. It is
    path-like (its folder), so the option checks see the folder a merge reads."""

    folder: Path
    weight: float

    def __fspath__(self) -> str:
        return os.fspath(self.folder)

    def __str__(self) -> str:
        return f"{self.folder}:{self.weight!r}"


# An ensemble weight is a small factor; the bound only keeps a typo from passing.
MAX_ADAPTER_WEIGHT = 1000.0


def parse_spec(text) -> AdapterSpec:
    """"DIR:WEIGHT" -> AdapterSpec(DIR, WEIGHT) (one already parsed is returned as it is)."""
    if isinstance(text, AdapterSpec):
        return text
    folder, _, weight = text.rpartition(":")
    if not folder:
        raise CheckpointError(f"--adapter {text}: expected DIR:WEIGHT, for example adapters/v8:0.56")
    try:
        value = number(weight, -MAX_ADAPTER_WEIGHT, MAX_ADAPTER_WEIGHT)
    except ValueError:
        raise CheckpointError(f"--adapter {text}: expected DIR:WEIGHT, for example adapters/v8:0.56, the weight "
                              f"a finite number from {-MAX_ADAPTER_WEIGHT:g} to {MAX_ADAPTER_WEIGHT:g}") from None
    return AdapterSpec(Path(folder), value)


def load_adapter(folder: Path, weight: float) -> Adapter:
    config_path, weights_path = folder / ADAPTER_CONFIG, folder / ADAPTER_WEIGHTS
    if not config_path.is_file() or not weights_path.is_file():
        raise CheckpointError(f"{folder}: not a PEFT adapter (needs {ADAPTER_CONFIG} and {ADAPTER_WEIGHTS})")
    if is_lfs_pointer(weights_path):
        raise CheckpointError(f"{weights_path}: a git-lfs pointer, not the weights (run `git lfs pull`)")
    config = read_json_object(config_path)
    unsupported = [
        key for key in ("use_dora", "fan_in_fan_out", "rank_pattern", "alpha_pattern", "modules_to_save")
        if config.get(key)
    ]
    if config.get("peft_type", "LORA") != "LORA" or unsupported:
        what = ", ".join(unsupported) or f"peft_type {config.get('peft_type')}"
        raise CheckpointError(f"{config_path}: unsupported adapter feature: {what}")
    rank, alpha = config.get("r"), config.get("lora_alpha")
    if not is_int(rank) or rank < 1 or not is_number(alpha):
        raise CheckpointError(f"{config_path}: fields 'r' and 'lora_alpha': expected a whole number >= 1 and a "
                              f"finite number, got {rank!r} and {alpha!r}")
    scaling = alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank

    from safetensors.torch import load_file

    halves: dict[str, dict[str, object]] = {}
    for key, tensor in load_file(weights_path).items():
        match = _KEY.match(key)
        if not match:
            raise CheckpointError(f"{weights_path}: unexpected tensor {key} (only LoRA A/B weights are supported)")
        halves.setdefault(match["module"] + ".weight", {})[match["side"]] = tensor
    pairs = {}
    for name, sides in halves.items():
        if set(sides) != {"A", "B"}:
            raise CheckpointError(f"{weights_path}: {name} has lora_{''.join(sides)} without its other half")
        a, b = sides["A"], sides["B"]
        if a.shape[0] != rank or b.shape[1] != rank:
            raise CheckpointError(f"{weights_path}: {name} has rank {a.shape[0]}/{b.shape[1]}, config r is {rank}")
        pairs[name] = (a, b)
    return Adapter(folder, weight, rank, scaling, config, pairs)


def check_fits(adapters: list[Adapter], base: dict[str, TensorInfo]) -> None:
    """Every targeted weight exists in the base with the shape B @ A has; else one error
    listing every problem, raised before anything is written."""
    problems = []
    for adapter in adapters:
        for name, (a, b) in adapter.pairs.items():
            if name not in base:
                problems.append(f"{adapter.folder}: targets {name}, which the base model does not have")
            elif base[name].shape != (b.shape[0], a.shape[1]):
                problems.append(
                    f"{adapter.folder}: {name} is {tuple(base[name].shape)} in the base but "
                    f"{(b.shape[0], a.shape[1])} in the adapter (an adapter for another model?)"
                )
        for module in adapter.config.get("target_modules") or []:
            # PEFT matches a target by its full name or a suffix of it ("all-linear" is saved as full names).
            if isinstance(module, str) and not any(n == f"{module}.weight" or n.endswith(f".{module}.weight")
                                                   for n in adapter.pairs):
                problems.append(f"{adapter.folder}: target module {module} has no weights in the adapter")
    if problems:
        raise CheckpointError("adapters do not fit the base model:\n  " + "\n  ".join(problems))


def ensemble_as_adapter(adapters: list[Adapter]) -> tuple[dict, dict]:
    """One LoRA adapter whose change equals the weighted ensemble's, exactly.

    Ranks add up: A stacks the adapters' A_i scaled by sqrt(|w_i s_i|), B stacks their B_i
    scaled by sign(w_i) sqrt(|w_i s_i|), and lora_alpha = rank makes the new scaling 1, so
    B @ A = sum_i w_i s_i B_i A_i. A weight an adapter does not target gets zero blocks.
    """
    import torch

    names = sorted({name for adapter in adapters for name in adapter.pairs})
    rank = sum(adapter.rank for adapter in adapters)
    tensors = {}
    for name in names:
        a_blocks, b_blocks = [], []
        some_a, some_b = next(adapter.pairs[name] for adapter in adapters if name in adapter.pairs)
        out_features, in_features = some_b.shape[0], some_a.shape[1]
        for adapter in adapters:
            factor = math.sqrt(abs(adapter.weight * adapter.scaling))
            sign = -1.0 if adapter.weight * adapter.scaling < 0 else 1.0
            if name in adapter.pairs:
                a, b = adapter.pairs[name]
                a_blocks.append(a.float() * factor)
                b_blocks.append(b.float() * (sign * factor))
            else:
                a_blocks.append(torch.zeros(adapter.rank, in_features))
                b_blocks.append(torch.zeros(out_features, adapter.rank))
        module = name[: -len(".weight")]
        tensors[f"base_model.model.{module}.lora_A.weight"] = torch.cat(a_blocks, dim=0)
        tensors[f"base_model.model.{module}.lora_B.weight"] = torch.cat(b_blocks, dim=1)
    first = adapters[0].config
    targets = sorted({name.rsplit(".", 2)[-2] for name in names})
    config = {
        **{k: v for k, v in first.items() if k not in ("r", "lora_alpha", "use_rslora", "target_modules", "lora_dropout")},
        "peft_type": "LORA",
        "r": rank,
        "lora_alpha": rank,
        "use_rslora": False,
        "lora_dropout": 0.0,
        "target_modules": targets,
    }
    return config, tensors
