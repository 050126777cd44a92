"""python -m weights sweep: alphas, the best alpha per track, and a sweep on a tiny model
whose alpha 0 scores exactly what local_evaluation.py scores on the base folder."""
from __future__ import annotations

import json

import pytest

from shopbench import spec
from weights import sweep


def test_alphas_are_checked_sorted_and_include_zero():
    assert sweep.parse_alphas("1,0,0.5,0.5") == (0.0, 0.5, 1.0)
    for text, message in (("0.5,1", "must include 0"), ("0,x", "'x' is not a number"), ("0,nan", "outside"),
                          ("0,-0.5", "outside"), ("0,9", "outside")):
        with pytest.raises(ValueError, match=message):
            sweep.parse_alphas(text)


def run(alpha, overall, **tracks):
    return sweep.Run(alpha, overall, tracks, tracks.get(spec.ALL_AROUND.challenge_id), sweep.results_name(alpha))


def test_best_alpha_per_track_prefers_the_smaller_alpha_on_ties_and_gives_recipe_lines():
    t1, t2 = spec.TRACKS[0].challenge_id, spec.TRACKS[1].challenge_id
    runs = [run(0.0, 0.30, **{t1: 0.5, t2: 0.2}), run(0.5, 0.35, **{t1: 0.6, t2: 0.2}),
            run(1.0, 0.35, **{t1: 0.4, t2: 0.1})]
    best = sweep.best_alphas(runs)
    assert best == {"overall": 0.5, t1: 0.5, t2: 0.0}
    lines = sweep.recipe_lines(best, "adapters/small")
    assert lines[0] == 'T1 best alpha 0.5; weights/recipes/track1.toml: [[adapters]] path = "adapters/small" weight = 0.5'
    assert lines[1].startswith("T2 best alpha 0;") and "track2.toml" in lines[1]


@pytest.fixture(scope="module")
def random_adapter(tiny_qwen2, tmp_path_factory):
    """A PEFT LoRA adapter of the tiny model with large random B, so alpha 1 changes answers."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen2)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 2.0)
    folder = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(folder)
    return folder


@pytest.mark.engine
def test_sweep_alpha_zero_is_the_base_score_and_reruns_score_nothing(tiny_qwen2, random_adapter, tmp_path,
                                                                      monkeypatch):
    import local_evaluation
    from weights.__main__ import main as weights_main

    monkeypatch.delenv("SHOPBENCH_ENGINE", raising=False)
    out = tmp_path / "sweep"
    command = ["sweep", "--base", str(tiny_qwen2), "--adapter", str(random_adapter), "--alphas", "0,1",
               "--limit", "6", "--seed", "5", "--out", str(out), "--no-progress", "--replicates", "200"]
    assert weights_main(command) == 0
    summary = json.loads((out / "sweep.json").read_text())
    assert [r["alpha"] for r in summary["runs"]] == [0.0, 1.0]
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".model-*"))  # merged models are not kept

    monkeypatch.setenv("SHOPBENCH_MODEL_DIR", str(tiny_qwen2))
    assert local_evaluation.main(["--limit", "6", "--seed", "5", "--output", str(tmp_path / "base.json"),
                                  "--no-progress"]) == 0
    monkeypatch.delenv("SHOPBENCH_MODEL_DIR")
    base = json.loads((tmp_path / "base.json").read_text())
    zero = json.loads((out / "alpha-0.json").read_text())
    one = json.loads((out / "alpha-1.json").read_text())
    assert abs(zero["overall"] - base["overall"]) <= 1e-9
    assert [s["response"] for s in zero["samples"]] == [s["response"] for s in base["samples"]]
    assert summary["runs"][0]["overall"] == zero["overall"]
    # The adapter was merged at alpha 1: its answers are another model's.
    assert [s["response"] for s in one["samples"]] != [s["response"] for s in zero["samples"]]

    # A rerun scores nothing again; another sweep's results in OUT are refused.
    monkeypatch.setattr(sweep, "score_alpha", lambda *a, **k: pytest.fail("scored again"))
    assert weights_main(command) == 0
    assert weights_main([*command, "--limit", "5"]) == 2
