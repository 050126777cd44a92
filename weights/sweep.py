"""`python -m weights sweep`: the wise-ft weight chosen by score (paper Fig. 3).

For each alpha the base model is merged with the first adapter at weight alpha (the other
adapters at their fixed weights) by `weights.merge`, in the base model's own dtype, and the
merged model is run and scored exactly as `local_evaluation.py` runs and scores a model
folder (`SHOPBENCH_MODEL_DIR`, the same model class, engine, seed, questions and scorer).
Alpha 0 is the base model's own weights, so it scores what the base scores.

Each alpha's results file is kept in OUT (`alpha-A.json`, local_evaluation's `--output`
format) and a rerun scores only the alphas without one; `sweep.json` and `sweep.png` are
written from them at the end.
"""
from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from shopbench import data, environment, jsonsafe, spec
from shopbench.data import DataError

MAX_ALPHA = 4.0  # past this the adapter's change is extrapolated well beyond what was trained


def parse_alphas(text: str) -> tuple[float, ...]:
    """"0,0.25,1" -> (0.0, 0.25, 1.0), sorted and distinct; 0 must be one of them (every
    alpha is compared with it)."""
    values = []
    for piece in text.split(","):
        try:
            value = float(piece)
        except ValueError:
            raise ValueError(f"--alphas: {piece.strip()!r} is not a number") from None
        if not math.isfinite(value) or not 0 <= value <= MAX_ALPHA:
            raise ValueError(f"--alphas: {piece.strip()} is outside 0 to {MAX_ALPHA:g}")
        values.append(value)
    alphas = tuple(sorted(set(values)))
    if 0.0 not in alphas:
        raise ValueError("--alphas must include 0 (the base model, which every alpha is compared with)")
    return alphas


def results_name(alpha: float) -> str:
    return f"alpha-{alpha:g}.json"


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def run_key(base, adapter, fixed: list[str], data_path, limit, seed: int, model: str, batch_size) -> dict:
    """What decides a sweep's scores: an alpha's saved results are reused only under the same."""
    from weights.lora import ADAPTER_WEIGHTS, parse_spec

    def adapter_id(folder: Path) -> dict:
        return {"path": str(folder.resolve()), "sha256": _digest(folder / ADAPTER_WEIGHTS)}

    return {
        "base": str(Path(base).resolve()), "adapter": adapter_id(Path(adapter)),
        "fixed": [{**adapter_id(folder), "weight": weight} for folder, weight in map(parse_spec, fixed)],
        "data": str(Path(data_path).resolve()), "data_bytes": Path(data_path).stat().st_size, "limit": limit,
        "seed": seed, "model": model, "batch_size": batch_size,
        "engine": environment.text(environment.ENGINE_ENV),
        "decoding": environment.text(environment.DECODING_ENV),
    }


def saved_results(out: Path, alpha: float, key: dict) -> dict | None:
    """The alpha's results when OUT holds them for this sweep; None when there are none.
    Results of another sweep are refused (they would be mixed into this one)."""
    path = out / results_name(alpha)
    if not path.is_file():
        return None
    try:
        results = jsonsafe.load_file(path)
    except DataError:
        return None  # not a results file this command wrote whole: scored again
    if not isinstance(results, dict) or results.get("sweep") != key:
        raise DataError(f"{path}: scored by another sweep (other base, adapter, data or settings); "
                        "write elsewhere, or --force to score again")
    return results


@dataclass(frozen=True)
class Run:
    alpha: float
    overall: float
    tracks: dict
    t5: float | None
    results: str  # the results file's name in OUT

    def to_json(self) -> dict:
        return asdict(self)


def run_of(alpha: float, results: dict) -> Run:
    tracks = results["tracks"]
    return Run(alpha, results["overall"], tracks, tracks.get(spec.ALL_AROUND.challenge_id), results_name(alpha))


def with_model_dir(folder: Path):
    """SHOPBENCH_MODEL_DIR set to `folder` for the block, as local_evaluation would be run."""
    return environment.exported(environment.MODEL_DIR_ENV, folder)


def base_dtype(config: dict) -> str:
    """The dtype the merge writes: the base model's own, so alpha 0 is its weights bit for bit."""
    stated = config.get("torch_dtype") or config.get("dtype")
    return stated if stated in ("float16", "bfloat16", "float32") else "float32"


def score_alpha(alpha: float, args, questions, scorer, key: dict, out: Path) -> dict:
    """Merge at alpha, run the model class on the merged folder and score it; the results
    file is written atomically."""
    from shopbench import cli
    from weights.checkpoint import Checkpoint
    from weights.merge import merge

    folder = out / f".model-alpha-{alpha:g}"
    merge(args.base, [f"{args.adapter[0]}:{alpha!r}", *args.adapter[1:]], folder,
          dtype=base_dtype(Checkpoint(args.base).config), force=True)
    try:
        with with_model_dir(folder):
            cli.seed_process(args.seed)  # each alpha's model seeded as local_evaluation.py seeds it
            generation = cli.run_model(args, questions)  # the model is built, run and let go
        gc.collect()
        report = scorer.score(questions, generation.responses, progress=not args.no_progress)
        cli.attach_generation(report, generation)
        results = cli.results_json(report, generation)
        results["sweep"] = key
        results["alpha"] = alpha
        data.write_atomically(out / results_name(alpha), data.json_text(results, indent=1))
        return results
    finally:
        if not args.keep_models:
            shutil.rmtree(folder, ignore_errors=True)


def comparison_rows(results: dict[float, dict], replicates: int, seed: int) -> dict[float, object]:
    """Each alpha's overall row of `run.py compare` against alpha 0 (None for alpha 0)."""
    from shopbench import compare

    base = compare.results_from_json(results_name(0.0), results[0.0])
    rows = {}
    for alpha, result in results.items():
        if alpha == 0.0:
            rows[alpha] = None
            continue
        paired = compare.pair(base, compare.results_from_json(results_name(alpha), result))
        rows[alpha] = next(r for r in compare.bootstrap(paired, replicates, seed, base.rules).rows
                           if r.kind == "overall")
    return rows


def best_alphas(runs: list[Run]) -> dict[str, float]:
    """The alpha with the highest score per track (ties: the smaller alpha, closer to the
    base), and overall."""
    best = {"overall": max(runs, key=lambda r: (r.overall, -r.alpha)).alpha}
    for track in runs[0].tracks:
        best[track] = max(runs, key=lambda r: (r.tracks.get(track, float("-inf")), -r.alpha)).alpha
    return best


def recipe_lines(best: dict[str, float], adapter: str) -> list[str]:
    """What to paste into each track's recipe (weights/recipes/trackN.toml)."""
    lines = []
    for track, alpha in best.items():
        if track in spec.TRACK_BY_ID:
            recipe = spec.TRACK_BY_ID[track].recipe
            lines.append(f"{spec.track_label(track)} best alpha {alpha:g}; {recipe}: "
                         f'[[adapters]] path = "{adapter}" weight = {alpha:g}')
    return lines


def table_lines(runs: list[Run], rows: dict) -> list[str]:
    from shopbench.report import table

    tracks = list(runs[0].tracks)
    cells = []
    for run in runs:
        row = rows[run.alpha]
        against = "" if row is None else (
            f"{row.difference:+.4f} [{row.low:+.4f}, {row.high:+.4f}]{' *' if row.excludes_zero else ''}")
        cells.append([f"{run.alpha:g}", f"{run.overall:.4f}", against,
                      *(f"{run.tracks.get(t, float('nan')):.4f}" for t in tracks)])
    header = ["alpha", "overall", "vs alpha 0 [95% interval]", *(spec.track_label(t) for t in tracks)]
    return table(header, cells, right=set(range(1, len(header))))


def sweep(args, questions, scorer, key: dict, progress_line=print) -> dict:
    """Score every alpha not yet scored, then write sweep.json and sweep.png; returns sweep.json's content."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for alpha in args.alphas:
        saved = None if args.force else saved_results(out, alpha, key)
        if saved is not None:
            progress_line(f"alpha {alpha:g}: scored before ({results_name(alpha)}), {saved['overall']:.4f}")
            results[alpha] = saved
            continue
        results[alpha] = score_alpha(alpha, args, questions, scorer, key, out)
        progress_line(f"alpha {alpha:g}: {results[alpha]['overall']:.4f}")
    runs = [run_of(alpha, results[alpha]) for alpha in args.alphas]
    rows = comparison_rows(results, args.replicates, args.seed)
    best = best_alphas(runs)
    summary = {
        "base": args.base, "adapter": args.adapter[0], "fixed": args.adapter[1:], "data": args.data,
        "limit": args.limit, "seed": args.seed, "questions": len(questions),
        "runs": [run.to_json() for run in runs],
        "versus_alpha_0": {f"{alpha:g}": None if row is None else row.to_json() for alpha, row in rows.items()},
        "best_alpha": best,
    }
    data.write_atomically(out / "sweep.json", json.dumps(summary, indent=1) + "\n")
    plot(runs, out / "sweep.png", f"{Path(args.adapter[0]).name} on {Path(args.base).name}, "
         f"{len(questions)} questions of {Path(args.data).name}")
    summary["table"] = table_lines(runs, rows)
    summary["recipe_lines"] = recipe_lines(best, args.adapter[0])
    return summary


def plot(runs: list[Run], path: Path, title: str) -> None:
    """Overall and per-track score against alpha, as the paper's Fig. 3."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    alphas = [r.alpha for r in runs]
    figure, axes = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    axes.plot(alphas, [r.overall for r in runs], marker="o", linewidth=2.2, color="black", label="overall")
    for track in runs[0].tracks:
        axes.plot(alphas, [r.tracks.get(track, float("nan")) for r in runs], marker=".", linewidth=1.2,
                  label=spec.track_label(track))
    axes.set_xlabel("alpha (weight of the fine-tuned adapter)")
    axes.set_ylabel("score")
    axes.set_title(title, fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    partial = path.with_name(f".{path.name}.partial.png")
    try:
        figure.savefig(partial)
        data.give_umask_mode(partial)
        os.replace(partial, path)
    finally:
        plt.close(figure)
        partial.unlink(missing_ok=True)
