"""`python -m weights merge`: base model + weighted LoRA ensemble -> one merged model, or
the ensemble as one adapter (`--as-adapter`). Shard by shard: peak memory is about one
shard of the base plus the adapters."""
from __future__ import annotations

import json
from pathlib import Path

from weights.checkpoint import Checkpoint, output_folder, refuse_output, rewrite, torch_dtype
from weights.lora import ADAPTER_CONFIG, ADAPTER_WEIGHTS, check_fits, ensemble_as_adapter, load_adapter, parse_spec


def _inputs(base_dir, adapter_specs: list[str]) -> list[Path]:
    """The folders a merge reads, which its output may not overlap."""
    return [Path(base_dir), *(parse_spec(spec)[0] for spec in adapter_specs)]


def load_adapters(specs: list[str]):
    return [load_adapter(*parse_spec(spec)) for spec in specs]


def merge(base_dir, adapter_specs: list[str], out, dtype: str = "float16", force: bool = False, progress=None) -> dict:
    refuse_output(out, force, inputs=_inputs(base_dir, adapter_specs))
    base = Checkpoint(base_dir)
    adapters = load_adapters(adapter_specs)
    check_fits(adapters, base.header())
    target = torch_dtype(dtype)
    merged = []

    def apply(name: str, tensor):
        changes = [d for d in (a.delta(name) for a in adapters) if d is not None]
        if not changes:
            return tensor.to(target) if tensor.is_floating_point() else tensor
        merged.append(name)
        return (tensor.float() + sum(changes)).to(target)

    written = rewrite(base, out, {**base.config, "torch_dtype": dtype}, apply, force, progress,
                      inputs=_inputs(base_dir, adapter_specs))
    return {"merged_weights": len(merged), "adapters": len(adapters), "bytes": written}


def merge_as_adapter(base_dir, adapter_specs: list[str], out, force: bool = False) -> dict:
    from safetensors.torch import save_file

    refuse_output(out, force, inputs=_inputs(base_dir, adapter_specs))
    base = Checkpoint(base_dir)
    adapters = load_adapters(adapter_specs)
    check_fits(adapters, base.header())
    config, tensors = ensemble_as_adapter(adapters)
    config["base_model_name_or_path"] = str(Path(base_dir))
    with output_folder(out, force, inputs=_inputs(base_dir, adapter_specs)) as folder:
        save_file(tensors, folder / ADAPTER_WEIGHTS, metadata={"format": "pt"})
        (folder / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    return {"rank": config["r"], "weights": len(tensors) // 2, "adapters": len(adapters)}
