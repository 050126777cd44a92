"""`python -m weights build RECIPE`: the whole chain for one track, from a recipe file.

merge (base + weighted adapters, fp16) -> pad (intermediate size for TP and AWQ groups)
-> quantize (AWQ 4-bit, in AutoAWQ's environment when this one lacks it) -> check.
Paths in the recipe are relative to the current folder (run from the repository root).
"""
from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from shopbench import files, spec
from shopbench.errors import DataError
from weights import awq, quantize
from weights.check import check
from weights.checkpoint import CheckpointError, output_folder, refuse_output
from weights.merge import merge
from weights.pad import pad


MAX_RECIPE_BYTES = 1 << 20  # a recipe is a few lines of TOML


def read_recipe(path) -> dict:
    path = Path(path)
    try:
        recipe = tomllib.loads(files.read_document(path, MAX_RECIPE_BYTES).decode("utf-8"))
    except DataError as exc:
        raise CheckpointError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except RecursionError:
        raise CheckpointError(f"{path}: nested too deep to be a recipe") from None
    for key in ("base", "out", "adapters"):
        if key not in recipe:
            raise CheckpointError(f"{path}: missing '{key}'")
    for key in ("base", "out"):
        if not isinstance(recipe[key], str) or not recipe[key]:
            raise CheckpointError(f"{path}: '{key}' must be a folder name (a non-empty string)")
    if not isinstance(recipe["adapters"], list):
        raise CheckpointError(f"{path}: 'adapters' must be a list of tables with a path and a weight")
    for number, adapter in enumerate(recipe["adapters"], start=1):
        if not isinstance(adapter, dict) or not isinstance(adapter.get("path"), str) or \
                not isinstance(adapter.get("weight"), (int, float)):
            raise CheckpointError(f"{path}: adapter {number} needs a path (string) and a weight (number)")
    return recipe


def _quantize_step(source: Path, out: Path, settings: dict, tp: int, force: bool) -> None:
    quantize.quantize(source, out, calib=settings.get("calib", quantize.DEFAULT_CALIBRATION),
                      samples=settings.get("samples", quantize.DEFAULT_SAMPLES),
                      seq_len=settings.get("seq_len", quantize.DEFAULT_SEQ_LEN), tp=tp, force=force)


def checked_recipe(recipe_path, force: bool = False) -> dict:
    """The recipe, once its output is known to be writable: it may not exist (without
    --force) nor overlap the recipe, the base or an adapter."""
    recipe = read_recipe(recipe_path)
    refuse_output(recipe["out"], force, inputs=[recipe_path, recipe["base"], *(a["path"] for a in recipe["adapters"])])
    return recipe


def build(recipe_path, force: bool = False, progress=None) -> dict:
    recipe = checked_recipe(recipe_path, force)
    out = Path(recipe["out"])
    work = Path(recipe.get("work", "weights/build")) / out.name
    pad_settings = recipe.get("pad", {})
    tp, group = pad_settings.get("tp", spec.SUBMISSION_GPUS), pad_settings.get("group_size", awq.GROUP_SIZE)
    specs = [f"{a['path']}:{a['weight']}" for a in recipe["adapters"]]
    done = progress or (lambda step: None)
    steps = {"merge": merge(recipe["base"], specs, work / "merged", force=True)}
    done("merge")
    steps["pad"] = pad(work / "merged", work / "padded", tp=tp, group_size=group, force=True)
    done("pad")
    if "quantize" in recipe:
        _quantize_step(work / "padded", out, recipe["quantize"], tp, force)
    else:
        with output_folder(out, force) as folder:
            shutil.copytree(work / "padded", folder, dirs_exist_ok=True)
    done("quantize" if "quantize" in recipe else "copy")
    result = check(out, tp=tp, group_size=group)
    steps["check"] = {"problems": result.problems, "bytes": result.total_bytes, "quantization": result.quantization}
    done("check")
    return steps
