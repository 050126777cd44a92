import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import weights.__main__ as weights_cli
from weights.check import check
from weights.pad import split_size
from shopbench import spec
from weights import awq
from tests.conftest import ROOT
from tests.tiny_models import make_tiny_qwen2

LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def cli(*argv) -> int:
    return weights_cli.main([str(a) for a in argv])


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Tiny Qwen2 whose intermediate size (320) does not split for TP=4 in groups of 128,
    saved in several shards."""
    folder = tmp_path_factory.mktemp("base")
    return make_tiny_qwen2(folder, seed=1, intermediate_size=320, max_shard_size="30MB")


def make_adapter(base_dir: Path, folder: Path, rank: int, alpha: float, seed: int, rslora=False) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=LINEAR, init_lora_weights=False, use_rslora=rslora)
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_" in name:
                parameter.normal_(0, 0.05)
    peft_model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def adapters(base, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return (make_adapter(base, root / "v8", 4, 8, seed=2), make_adapter(base, root / "v9b", 8, 4, seed=3, rslora=True))


def logits(model, ids=(151644, 872, 198, 9707, 11, 1879, 0)):
    with torch.no_grad():
        return model(torch.tensor([list(ids)])).logits[0]


def load(folder):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


def peft_reference(base_dir, adapter_dirs, weights):
    """PEFT's own merge of each adapter with its lora_B scaled by its ensemble weight."""
    from peft import PeftModel

    model = load(base_dir)
    for adapter_dir, weight in zip(adapter_dirs, weights):
        peft_model = PeftModel.from_pretrained(model, adapter_dir)
        with torch.no_grad():
            for name, parameter in peft_model.named_parameters():
                if "lora_B" in name:
                    parameter.mul_(weight)
        model = peft_model.merge_and_unload()
    return model


def digest(folder: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())).hexdigest()


@pytest.mark.engine
def test_merge_equals_peft_merge_of_the_scaled_adapters(base, adapters, tmp_path):
    before = digest(base)
    out = tmp_path / "merged"
    assert cli("merge", "--base", base, "--adapter", f"{adapters[0]}:0.56", "--adapter", f"{adapters[1]}:0.25",
               "--out", out, "--dtype", "float32") == 0
    ours, reference = load(out), peft_reference(base, adapters, [0.56, 0.25])
    reference_state = reference.state_dict()
    for name, tensor in ours.state_dict().items():
        assert (tensor - reference_state[name]).abs().max() <= 1e-6, name
    # equal up to float32 rounding: the two merges add the same deltas in another order
    assert torch.allclose(logits(ours), logits(reference), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(logits(ours), logits(load(base)), atol=1e-3)  # the adapters changed something
    assert digest(base) == before  # inputs untouched
    shards = json.loads((out / "model.safetensors.index.json").read_text())["weight_map"]
    assert len(set(shards.values())) > 1 and (out / "tokenizer.json").is_file()


@pytest.mark.engine
def test_single_adapter_is_wise_ft_and_default_output_is_fp16(base, adapters, tmp_path):
    out = tmp_path / "wise"
    assert cli("merge", "--base", base, "--adapter", f"{adapters[0]}:0.5", "--out", out) == 0
    assert json.loads((out / "config.json").read_text())["torch_dtype"] == "float16"
    merged = load(out).state_dict()["model.layers.0.self_attn.q_proj.weight"]
    reference = peft_reference(base, adapters[:1], [0.5]).state_dict()["model.layers.0.self_attn.q_proj.weight"]
    assert torch.allclose(merged, reference.half().float(), atol=0)


@pytest.mark.engine
def test_ensemble_as_one_adapter_matches_the_merged_model(base, adapters, tmp_path):
    from peft import PeftModel

    merged, adapter = tmp_path / "merged", tmp_path / "ensemble"
    specs = ["--adapter", f"{adapters[0]}:0.56", "--adapter", f"{adapters[1]}:-0.3"]
    assert cli("merge", "--base", base, *specs, "--out", merged, "--dtype", "float32") == 0
    assert cli("merge", "--base", base, *specs, "--out", adapter, "--as-adapter") == 0
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 4 + 8
    served = PeftModel.from_pretrained(load(base), adapter).eval()
    assert torch.allclose(logits(served), logits(load(merged)), atol=1e-4)


@pytest.mark.engine
def test_pad_keeps_the_function_and_splits_for_tp4(base, tmp_path):
    out = tmp_path / "padded"
    assert split_size(29568, 4, 128) == 29696 and split_size(320, 4, 128) == 512
    assert cli("pad", "--model", base, "--out", out, "--tp", 4, "--group-size", 128) == 0
    assert json.loads((out / "config.json").read_text())["intermediate_size"] == 512
    # zero rows and columns change nothing but the float summation order
    assert torch.allclose(logits(load(out)), logits(load(base)), rtol=1e-4, atol=1e-4)
    assert check(out).problems == []
    assert any("does not split across 4 GPUs" in p for p in check(base).problems)


@pytest.mark.slow
def test_refusals_come_before_anything_is_written(base, adapters, tmp_path, capsys):
    other = make_tiny_qwen2(tmp_path / "other-base", intermediate_size=256)
    wrong_shape = make_adapter(other, tmp_path / "wrong", 4, 8, seed=5)
    out = tmp_path / "never"
    assert cli("merge", "--base", base, "--adapter", f"{wrong_shape}:1", "--out", out) == 2
    assert "an adapter for another model?" in capsys.readouterr().err and not out.exists()
    config = json.loads((adapters[0] / "adapter_config.json").read_text())
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "adapter_model.safetensors").write_bytes((adapters[0] / "adapter_model.safetensors").read_bytes())
    (broken / "adapter_config.json").write_text(json.dumps({**config, "target_modules": [*LINEAR, "lm_head"]}))
    assert cli("merge", "--base", base, "--adapter", f"{broken}:1", "--out", out) == 2
    assert "target module lm_head has no weights" in capsys.readouterr().err and not out.exists()
    with pytest.raises(SystemExit) as stop:
        cli("merge", "--base", base, "--adapter", f"{adapters[0]}", "--out", out)
    assert stop.value.code == 2 and "expected DIR:WEIGHT" in capsys.readouterr().err
    out.mkdir()
    assert cli("pad", "--model", base, "--out", out) == 2
    assert "pass --force" in capsys.readouterr().err
    assert cli("quantize", "--model", base, "--out", tmp_path / "q") == 2
    err = capsys.readouterr().err
    assert "does not split" in err and "python -m weights pad --tp 4 --group-size 128" in err
    assert not (tmp_path / "q").exists()


@pytest.mark.slow
def test_check_finds_planted_faults(base, tmp_path, capsys):
    padded = tmp_path / "padded"
    assert cli("pad", "--model", base, "--out", padded) == 0
    assert cli("check", padded) == 0
    shard = sorted(padded.glob("model-*.safetensors"))[0]
    shard.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n")
    config = json.loads((padded / "config.json").read_text())
    (padded / "config.json").write_text(json.dumps({**config, "hidden_size": 256}))
    capsys.readouterr()
    assert cli("check", padded) == 1
    out = capsys.readouterr().out
    assert f"{shard}: a git-lfs pointer" in out
    assert "has shape" in out and "the config implies" in out
    (padded / "config.json").write_text(json.dumps({**config, "intermediate_size": 320}))
    assert cli("check", padded) == 1
    assert "does not split across 4 GPUs" in capsys.readouterr().out


@pytest.mark.slow
def test_check_reports_truncated_shards_and_malformed_json_as_problems(base, tmp_path, capsys):
    padded = tmp_path / "padded"
    assert cli("pad", "--model", base, "--out", padded) == 0
    shard = sorted(padded.glob("model-*.safetensors"))[-1]
    whole = shard.read_bytes()
    shard.write_bytes(whole[: len(whole) // 2])  # an interrupted copy
    capsys.readouterr()
    assert cli("check", padded) == 1
    assert f"{shard}: cut short" in capsys.readouterr().out
    shard.write_bytes(whole)
    index = padded / "model.safetensors.index.json"
    good_index = index.read_text()
    for config_text, index_text, expected in [
        ("not json", good_index, "config.json:1: not valid JSON"),
        ("[1, 2]", good_index, "config.json: expected a JSON object, got a list"),
        (None, '{"weight_map": [1]}', "field 'weight_map': expected a mapping"),
    ]:
        config = padded / "config.json"
        kept = config.read_text()
        if config_text is not None:
            config.write_text(config_text)
        index.write_text(index_text)
        assert cli("check", padded) == 1
        out = capsys.readouterr().out
        assert expected in out and "Traceback" not in out
        config.write_text(kept)
        index.write_text(good_index)
    assert cli("check", padded) == 0


@pytest.fixture(scope="module")
def quantized(base, tmp_path_factory):
    root = tmp_path_factory.mktemp("awq")
    assert cli("pad", "--model", base, "--out", root / "padded") == 0
    # from the main environment, which lacks AutoAWQ: the command hands itself to AutoAWQ's own
    done = subprocess.run(
        [sys.executable, "-m", "weights", "quantize", "--model", root / "padded", "--out", root / "awq",
         "--samples", "8", "--seq-len", "64"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "awq"


@pytest.mark.engine
def test_quantize_writes_an_awq_gemm_checkpoint_vllm_serves(quantized):
    config = json.loads((quantized / "config.json").read_text())["quantization_config"]
    assert (config["quant_method"], config["bits"], config["group_size"], config["version"], config["zero_point"]) == (
        "awq", 4, awq.GROUP_SIZE, "gemm", True)
    result = check(quantized)
    assert result.problems == [] and result.quantization == "awq"
    script = (
        "import os, sys; os.environ['VLLM_ENABLE_V1_MULTIPROCESSING'] = '0'\n"
        "from dataclasses import replace\n"
        "from models.engines import Request, registry\n"
        "from models.settings import VLLM_ON_CPU\nfrom decoding.constraints import Constraint\n"
        "if __name__ == '__main__':\n"
        "    engine = registry.build('vllm', sys.argv[1], replace(VLLM_ON_CPU, quantization='awq', dtype='bfloat16'))\n"
        "    out = engine.generate([Request([151644, 872, 198], Constraint(5), ())])\n"
        "    print('GENERATED', out[0].token_ids)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, quantized], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    generated = [line for line in done.stdout.splitlines() if line.startswith("GENERATED")]
    assert generated and len(eval(generated[0].split(" ", 1)[1])) == 5


@pytest.mark.slow
def test_calibration_uses_the_inference_prompts(base):
    import prompts
    from decoding.profiles import profile_of
    from routing.classifier import classify
    from transformers import AutoTokenizer
    from weights.quantize import calibration_texts

    tokenizer = AutoTokenizer.from_pretrained(base)
    texts = calibration_texts(spec.DEV_DATA, tokenizer, 96)
    first = json.loads((spec.DEV_DATA).read_text().splitlines()[0])
    route = classify(first["input_field"], first["is_multiple_choice"])
    assert len(texts) == 96 and texts[0] == prompts.render(first["input_field"], profile_of(route).system_prompt, tokenizer)


@pytest.mark.engine
def test_build_runs_the_whole_chain_from_a_recipe(base, adapters, tmp_path, monkeypatch):
    recipe = tmp_path / "track9.toml"
    recipe.write_text(
        f'base = "{base}"\nout = "{tmp_path / "served"}"\nwork = "{tmp_path / "work"}"\n'
        f'[[adapters]]\npath = "{adapters[0]}"\nweight = 0.56\n[[adapters]]\npath = "{adapters[1]}"\nweight = 0.25\n'
        f'[pad]\ntp = {spec.SUBMISSION_GPUS}\ngroup_size = {awq.GROUP_SIZE}\n'
        f'[quantize]\ncalib = "{spec.DEV_DATA}"\nsamples = 8\nseq_len = 64\n'
    )
    monkeypatch.chdir(ROOT)
    assert cli("build", recipe) == 0
    assert check(tmp_path / "served").quantization == "awq"
    assert cli("build", recipe) == 2  # the output exists: refused without --force


def test_shipped_recipes_are_table_6():
    from weights.build import read_recipe

    expected = {1: [0.56, 0.75], 2: [1.0, 0.5], 3: [0.56, 0.25], 4: [1.0, 0.5], 5: [0.56, 0.25]}
    for track, weights in expected.items():
        recipe = read_recipe(ROOT / "weights" / "recipes" / f"track{track}.toml")
        assert [a["weight"] for a in recipe["adapters"]] == weights
        # padding and quantization follow the winners' defaults, which live in one place each
        assert "pad" not in recipe and recipe["quantize"] == {}


@pytest.mark.slow
def test_harmful_options_are_refused_before_anything_is_written(base, adapters, tmp_path, capsys):
    for weight in ("nan", "inf", "²", "1e9"):
        with pytest.raises(SystemExit) as stop:
            cli("merge", "--base", base, "--adapter", f"{adapters[0]}:{weight}", "--out", tmp_path / "m")
        assert stop.value.code == 2 and "a finite number from -1000 to 1000" in capsys.readouterr().err
    before = sorted(p.name for p in base.iterdir())
    for out in (base, base / "inside", base.parent):  # is, lies inside, or holds the base model
        with pytest.raises(SystemExit) as stop:
            cli("merge", "--base", base, "--adapter", f"{adapters[0]}:1", "--out", out, "--force")
        assert stop.value.code == 2 and "--base" in capsys.readouterr().err
    assert sorted(p.name for p in base.iterdir()) == before
    assert cli("pad", "--model", base, "--out", tmp_path / "padded") == 0
    assert cli("quantize", "--model", tmp_path / "padded", "--out", tmp_path / "q", "--calib", tmp_path / "no.json") == 2
    assert "--calib" in capsys.readouterr().err
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "padded" / name).unlink(missing_ok=True)
    assert cli("quantize", "--model", tmp_path / "padded", "--out", tmp_path / "q") == 2
    assert "no tokenizer" in capsys.readouterr().err
    for argv in (["pad", "--model", base, "--out", tmp_path / "p", "--tp", "0"],
                 ["check", base, "--group-size", "0"], ["quantize", "--model", base, "--out", tmp_path / "q",
                                                        "--samples", "0"]):
        with pytest.raises(SystemExit) as stop:
            cli(*argv)
        assert stop.value.code == 2 and "must be an integer from 1 to" in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in ("m", "p", "q"))


def test_a_malformed_shard_header_is_a_problem_line(tmp_path):
    import struct

    from weights.checkpoint import CheckpointError, read_header

    def shard(entry: dict, body: bytes = b"\0" * 8) -> Path:
        header = json.dumps({"w": entry}).encode()
        path = tmp_path / "model.safetensors"
        path.write_bytes(struct.pack("<Q", len(header)) + header + body)
        return path

    assert read_header(shard({"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}))["w"].shape == (2,)
    for entry in ({"dtype": "F32", "shape": [2], "data_offsets": ["0", "8"]},
                  {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]},
                  {"dtype": "Q9", "shape": [2], "data_offsets": [0, 8]},
                  {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}):
        with pytest.raises(CheckpointError, match="malformed header entry"):
            read_header(shard(entry))
