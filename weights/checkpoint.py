"""Reading and writing Hugging Face checkpoints one shard at a time.

Only safetensors are read or written (no pickle). A checkpoint is a folder with
`config.json` and either `model.safetensors` or shards listed by
`model.safetensors.index.json`. Outputs are built in a temporary folder beside the target
and renamed when complete, so an interrupted run leaves nothing that looks finished.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shopbench import jsonsafe
from shopbench.data import DataError, give_umask_mode
from shopbench.paths import overlap

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"
# Files copied unchanged next to the weights.
SIDE_FILES = (
    "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json", "chat_template.jinja",
)


class CheckpointError(ValueError):
    """A problem with an input or output folder; the message says which file and what."""


def is_lfs_pointer(path: Path) -> bool:
    """A git-lfs pointer file left where the real file should be (lfs not pulled)."""
    if not path.is_file() or path.stat().st_size > 1024:
        return False
    with open(path, "rb") as handle:
        return handle.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]


# Bytes per element of each safetensors dtype.
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4,
               "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1}


def read_header(path: Path) -> dict[str, TensorInfo]:
    """Names, dtypes and shapes of a safetensors file, without reading its tensors. The
    header is checked against itself and the file: known dtypes, whole shapes, each
    tensor's byte range the size its shape and dtype need, and the file long enough to hold
    them all (a copy cut short fails here)."""
    if is_lfs_pointer(path):
        raise CheckpointError(f"{path}: a git-lfs pointer, not the weights (run `git lfs pull`)")
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if length > size - 8:
                raise ValueError(f"header of {length} bytes in a file of {size}")
            raw = handle.read(length)
    except (OSError, struct.error, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        header = jsonsafe.loads(raw, f"{path}: safetensors header")
    except DataError as exc:
        raise CheckpointError(str(exc)) from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: safetensors header: expected a JSON object, got {jsonsafe.kind(header)}")
    header.pop("__metadata__", None)
    tensors, end = {}, 0
    for name, info in header.items():
        try:
            dtype, shape, (start, stop) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
            whole = all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (*shape, start, stop))
            if dtype not in DTYPE_BYTES or not whole or start > stop:
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: tensor {name} has a malformed header entry") from None
        if stop - start != math.prod(shape) * DTYPE_BYTES[dtype]:
            raise CheckpointError(f"{path}: tensor {name} ({dtype} {list(shape)}) spans {stop - start} bytes, "
                                  f"its shape needs {math.prod(shape) * DTYPE_BYTES[dtype]}")
        tensors[name], end = TensorInfo(dtype, shape), max(end, stop)
    if 8 + length + end > size:
        raise CheckpointError(f"{path}: cut short: its header needs {8 + length + end} bytes, the file has {size} "
                              "(an interrupted copy or download)")
    return tensors


def read_json_object(path: Path) -> dict:
    """A JSON file holding an object, or a one-line CheckpointError naming the file."""
    try:
        value = jsonsafe.load_file(path)
    except DataError as exc:
        raise CheckpointError(str(exc)) from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {jsonsafe.kind(value)}")
    return value


class Checkpoint:
    def __init__(self, folder):
        self.folder = Path(folder)
        config = self.folder / "config.json"
        if not config.is_file():
            raise CheckpointError(f"{self.folder}: no config.json (not a Hugging Face model folder)")
        self.config = read_json_object(config)
        if (self.folder / INDEX).is_file():
            weight_map = read_json_object(self.folder / INDEX).get("weight_map")
            if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
                raise CheckpointError(f"{self.folder / INDEX}: field 'weight_map': expected a mapping of names to files")
            self.weight_map: dict[str, str] = weight_map
        elif (self.folder / SINGLE).exists():
            self.weight_map = {name: SINGLE for name in read_header(self.folder / SINGLE)}
        else:
            raise CheckpointError(f"{self.folder}: no {SINGLE} or {INDEX} (only safetensors checkpoints are read)")

    @property
    def shards(self) -> list[str]:
        return sorted(set(self.weight_map.values()))

    def header(self) -> dict[str, TensorInfo]:
        infos: dict[str, TensorInfo] = {}
        for shard in self.shards:
            infos.update(read_header(self.folder / shard))
        return infos

    def read_shard(self, shard: str) -> dict:
        from safetensors.torch import load_file

        return load_file(self.folder / shard)


def refuse_output(target, force: bool, inputs=()) -> None:
    """Refuse an output folder that exists (without --force) or is, holds or lies inside an
    input; called by `output_folder`, and by commands before their long work."""
    target = Path(target)
    for source in inputs:
        how = overlap(target, source)
        if how:
            raise CheckpointError(f"--out {target} {how.value} the input {os.fspath(source)}; an output never "
                                  "replaces an input: write elsewhere")
    if target.exists() and not force:
        raise CheckpointError(f"{target} exists; pass --force to replace it")


@contextlib.contextmanager
def output_folder(target, force: bool, inputs=()):
    """Yield a temporary folder that becomes `target` when the block completes. An output
    that is, holds or lies inside one of `inputs` is refused: --force never replaces an input."""
    target = Path(target)
    refuse_output(target, force, inputs)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        yield partial
        give_umask_mode(partial, directory=True)
        if target.exists():
            shutil.rmtree(target)
        os.replace(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


class ShardWriter:
    """Writes output shards named like the input's and the index that lists them."""

    def __init__(self, folder: Path, shard_count: int):
        self.folder, self.shard_count = folder, shard_count
        self.weight_map: dict[str, str] = {}
        self.total_bytes = 0

    def write(self, number: int, tensors: dict) -> None:
        from safetensors.torch import save_file

        name = SINGLE if self.shard_count == 1 else f"model-{number + 1:05d}-of-{self.shard_count:05d}.safetensors"
        save_file({k: v.contiguous() for k, v in tensors.items()}, self.folder / name, metadata={"format": "pt"})
        self.weight_map.update(dict.fromkeys(tensors, name))
        self.total_bytes += sum(t.numel() * t.element_size() for t in tensors.values())

    def finish(self, source: Path, config: dict) -> None:
        if self.shard_count > 1:
            index = {"metadata": {"total_size": self.total_bytes}, "weight_map": dict(sorted(self.weight_map.items()))}
            (self.folder / INDEX).write_text(json.dumps(index, indent=2) + "\n")
        (self.folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        copy_side_files(source, self.folder)


def copy_side_files(source: Path, target: Path, keep_existing: bool = False) -> None:
    """Tokenizer and generation config files of `source`, copied unchanged into `target`."""
    for name in SIDE_FILES:
        if (source / name).is_file() and not (keep_existing and (target / name).exists()):
            shutil.copy2(source / name, target / name)


def rewrite(model: Checkpoint, out, config: dict, transform, force: bool = False, progress=None, inputs=()) -> int:
    """Write `model` to `out` shard by shard, each tensor through `transform(name, tensor)`,
    with `config`; returns the bytes written. One shard is in memory at a time. `out` may not
    overlap the model or the other `inputs`."""
    with output_folder(out, force, inputs=(model.folder, *inputs)) as folder:
        writer = ShardWriter(folder, len(model.shards))
        for number, shard in enumerate(model.shards):
            tensors = model.read_shard(shard)
            writer.write(number, {name: transform(name, tensor) for name, tensor in tensors.items()})
            del tensors
            if progress:
                progress(1)
        writer.finish(model.folder, config)
    return writer.total_bytes


def torch_dtype(name: str):
    import torch

    return {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[name]
