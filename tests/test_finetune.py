"""python -m training finetune: the recipe, the data checks, the loss mask, the log,
checkpoints and resume, and the adapter `weights merge` reads."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

import prompts
from shopbench import data, spec
from training import finetune as tuning
from training.__main__ import main as training_main
from training.export import sft_record

from tests.conftest import DEV_DATA, write_jsonl


def chat_records(count: int = 8) -> list[dict]:
    """Short export records, not from the dev set: a product and the number of its brand."""
    brands = ["Acme", "Orion", "Lumen", "Ferro", "Aster", "Quokka", "Zephyr", "Tundra", "Kestrel", "Sakura"]
    records = []
    for i in range(count):
        options = "\n".join(f"{n}. {brands[(i + n) % len(brands)]}" for n in range(4))
        question = data.Question(i, f"Which brand makes the {brands[i % 10]} lamp {i}?\n{options}\nAnswer:",
                                  str(i % 4), "brand", spec.MULTIPLE_CHOICE, spec.ACCURACY, None, True)
        records.append(sft_record(question))
    return records


@pytest.fixture
def sft_file(tmp_path):
    return write_jsonl(tmp_path / "sft.jsonl", chat_records())


def test_recipe_is_table_2_from_the_axolotl_file_and_options_override(tmp_path):
    recipe = tuning.read_recipe()
    assert (recipe.lora_r, recipe.lora_alpha, recipe.lora_dropout) == (64, 32, 0.05)
    assert recipe.target_modules == "all-linear"
    assert (recipe.learning_rate, recipe.lr_scheduler, recipe.weight_decay, recipe.warmup_steps) == (2e-4, "cosine", 0.01, 10)
    assert (recipe.micro_batch_size, recipe.gradient_accumulation_steps, recipe.sequence_len) == (1, 4, 3072)
    assert (recipe.optimizer, recipe.load_in_4bit, recipe.bf16) == ("adamw_torch", True, True)
    # A changed file changes the recipe: it is read, not restated.
    text = (spec.ROOT / "training" / "qlora.yml").read_text().replace("lora_r: 64", "lora_r: 8")
    (tmp_path / "r8.yml").write_text(text)
    assert tuning.read_recipe(tmp_path / "r8.yml").lora_r == 8
    (tmp_path / "bad.yml").write_text(text.replace("learning_rate: 0.0002", "learning_rate: fast"))
    with pytest.raises(data.DataError, match="bad.yml: 'learning_rate' is 'fast'"):
        tuning.read_recipe(tmp_path / "bad.yml")
    (tmp_path / "none.yml").write_text(text.replace("micro_batch_size: 1\n", ""))
    with pytest.raises(data.DataError, match="'micro_batch_size' missing"):
        tuning.read_recipe(tmp_path / "none.yml")


def test_precision_is_4bit_only_where_a_gpu_and_bitsandbytes_are():
    recipe = tuning.read_recipe()
    cpu = tuning.choose_precision("auto", recipe, cuda=False, bf16_gpu=False, bitsandbytes=True)
    assert (cpu.dtype, cpu.load_in_4bit) == ("float32", False) and "CPU" in cpu.why
    gpu = tuning.choose_precision("auto", recipe, cuda=True, bf16_gpu=True, bitsandbytes=True)
    assert (gpu.dtype, gpu.load_in_4bit) == ("bfloat16", True)
    no_bnb = tuning.choose_precision("auto", recipe, cuda=True, bf16_gpu=True, bitsandbytes=False)
    assert (no_bnb.dtype, no_bnb.load_in_4bit) == ("bfloat16", False) and "bitsandbytes" in no_bnb.why
    t4 = tuning.choose_precision("auto", recipe, cuda=True, bf16_gpu=False, bitsandbytes=False)
    assert t4.dtype == "float16"
    assert tuning.choose_precision("bfloat16", recipe, cuda=False, bf16_gpu=False, bitsandbytes=False).dtype == "bfloat16"
    with pytest.raises(ValueError, match="4bit needs a CUDA GPU"):
        tuning.choose_precision("4bit", recipe, cuda=False, bf16_gpu=False, bitsandbytes=True)


@pytest.mark.parametrize("record, field", [
    ({"text": "hi"}, "field 'messages': missing"),
    ({"messages": [{"role": "user", "content": "q"}]}, "field 'messages': not three turns"),
    ({"messages": [{"role": "system", "content": prompts.system_prompt(spec.RANKING)},
                   {"role": "assistant", "content": "q"}, {"role": "assistant", "content": "1"}]},
     "'messages\\[1\\].role': 'assistant', expected 'user'"),
    ({"messages": [{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "q"},
                   {"role": "assistant", "content": "1"}]}, "not a system prompt inference uses"),
    ({"messages": [{"role": "system", "content": prompts.system_prompt(spec.RANKING)},
                   {"role": "user", "content": "q  \nmore"}, {"role": "assistant", "content": "1"}]},
     "not cleaned as inference"),
    ({"messages": [{"role": "system", "content": prompts.system_prompt(spec.RANKING)},
                   {"role": "user", "content": "q"}, {"role": "assistant", "content": " "}]},
     "'messages\\[2\\].content': missing or empty"),
])
def test_data_that_is_not_exports_chat_records_is_refused_by_line(tmp_path, record, field):
    path = write_jsonl(tmp_path / "sft.jsonl", [chat_records(1)[0], record])
    with pytest.raises(data.DataError, match=f"sft.jsonl:2: .*{field}"):
        tuning.read_chat_records(path)


def test_training_on_dev_questions_is_refused_unless_allowed(tmp_path):
    dev = data.load_questions(DEV_DATA)
    path = write_jsonl(tmp_path / "sft.jsonl", [*chat_records(2), sft_record(dev[5])])
    records = tuning.read_chat_records(path)
    problem = tuning.contamination(records, [str(DEV_DATA)])
    assert "1 training question(s)" in problem and "data line 3" in problem and "question 6" in problem
    assert tuning.contamination(tuning.read_chat_records(write_jsonl(tmp_path / "ok.jsonl", chat_records(3))),
                                [str(DEV_DATA)]) is None


@pytest.mark.slow
def test_loss_mask_covers_the_inference_prompt_and_trains_the_answer_and_its_end(qwen_tokenizer):
    from decoding.constraints import Vocabulary

    question = data.load_questions(DEV_DATA)[0]
    record = sft_record(question)
    stops = set(Vocabulary.scan(qwen_tokenizer).stops)
    encoded = tuning.encode(record["messages"], qwen_tokenizer, stops)
    masked = [t for t, label in zip(encoded.input_ids, encoded.labels) if label == tuning.IGNORE]
    trained = [label for label in encoded.labels if label != tuning.IGNORE]
    # The masked tokens are exactly what the UserModel sends for this question.
    route = record["messages"][0]["content"]
    profile = next(p for p in prompts.TASK_DESCRIPTIONS if prompts.system_prompt(p) == route)
    sent = prompts.token_ids(prompts.render(question.input_field, profile, qwen_tokenizer), qwen_tokenizer)
    assert masked == sent
    assert encoded.input_ids[:len(sent)] == sent and len(masked) == len(sent)
    # The trained ones are the answer and the end-of-turn token the decoder stops at, nothing after.
    assert qwen_tokenizer.decode(trained) == record["messages"][2]["content"] + "<|im_end|>"
    assert trained[-1] in stops


def refused(argv, capsys, monkeypatch) -> str:
    """Run the command, which must refuse (exit 2) before training: the trainer is never reached."""
    monkeypatch.setattr(tuning, "finetune", lambda *a, **k: pytest.fail("reached training"))
    try:
        code = training_main(argv)
    except SystemExit as exc:  # argparse's usage error
        code = exc.code
    assert code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_refusals_come_before_any_model_loads(tmp_path, sft_file, capsys, monkeypatch):
    no_model = tmp_path / "empty"
    no_model.mkdir()
    base = ["finetune", "--data", str(sft_file), "--out", str(tmp_path / "adapter"), "--model"]
    assert "no config.json" in refused([*base, str(no_model)], capsys, monkeypatch)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    for option, value in (("--lr", "0"), ("--max-steps", "0"), ("--seq-len", "9999999999")):
        line = refused([*base, str(model), option, value], capsys, monkeypatch)
        assert option in line and "must be" in line and "from" in line
    (tmp_path / "adapter").mkdir()
    assert "exists; pass --force" in refused([*base, str(model)], capsys, monkeypatch)
    dev = data.load_questions(DEV_DATA)
    dirty = write_jsonl(tmp_path / "dirty.jsonl", [*chat_records(2), sft_record(dev[0])])
    line = refused(["finetune", "--data", str(dirty), "--out", str(tmp_path / "a2"), "--model", str(model)],
                   capsys, monkeypatch)
    assert "contamination" in line and "--allow-dev" in line
    notchat = write_jsonl(tmp_path / "q.jsonl", [{"input_field": "x"}])
    assert "q.jsonl:1: field 'messages': missing" in refused(
        ["finetune", "--data", str(notchat), "--out", str(tmp_path / "a3"), "--model", str(model)], capsys, monkeypatch)
    assert not (tmp_path / "a2").exists() and not (tmp_path / "a2.partial").exists()


class StopAt:
    """Raises KeyboardInterrupt at the end of a step, as Ctrl-C would."""

    def __new__(cls, step: int):
        from transformers import TrainerCallback

        class Stop(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == step:
                    raise KeyboardInterrupt

        return Stop()


def tiny_run(sft_file, out, model, *extra):
    return training_main(["finetune", "--data", str(sft_file), "--out", str(out), "--model", str(model),
                          "--max-steps", "4", "--save-steps", "2", "--grad-accum", "1", "--lr", "1e-2",
                          "--seq-len", "256", "--seed", "7", "--no-progress", *extra])


def adapter_tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(folder / "adapter_model.safetensors")


@pytest.mark.slow
def test_tiny_finetune_log_resume_and_merge(tiny_qwen2, sft_file, tmp_path, monkeypatch):
    import torch

    whole = tmp_path / "whole"
    assert tiny_run(sft_file, whole, tiny_qwen2) == 0
    assert {p.name for p in whole.iterdir()} >= {"adapter_config.json", "adapter_model.safetensors", tuning.LOG_NAME}
    assert not (tmp_path / "whole.partial").exists()
    log = [json.loads(line) for line in (whole / tuning.LOG_NAME).read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1, 2, 3, 4]
    assert all(set(entry) == {"step", "loss", "learning_rate", "seconds"} for entry in log)
    assert all(entry["loss"] > 0 for entry in log) and log[-1]["seconds"] >= log[0]["seconds"]

    # A run stopped at step 3 (checkpoint at step 2), then resumed, ends with the same adapter.
    stopped = tmp_path / "stopped"
    real = tuning.finetune

    def interrupted(*args, **kwargs):
        return real(*args, **{**kwargs, "extra_callbacks": [StopAt(3)]})

    monkeypatch.setattr(tuning, "finetune", interrupted)
    assert tiny_run(sft_file, stopped, tiny_qwen2) == 130  # Ctrl-C: stopped, resumable
    monkeypatch.setattr(tuning, "finetune", real)
    assert not stopped.exists() and (tmp_path / "stopped.partial" / "checkpoints" / "checkpoint-2").is_dir()
    assert tiny_run(sft_file, stopped, tiny_qwen2) == 2  # a stopped run is not silently thrown away
    assert tiny_run(sft_file, stopped, tiny_qwen2, "--resume") == 0
    resumed_log = [json.loads(line) for line in (stopped / tuning.LOG_NAME).read_text().splitlines()]
    assert [entry["step"] for entry in resumed_log] == [1, 2, 3, 4]
    a, b = adapter_tensors(whole), adapter_tensors(stopped)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(k.endswith("lora_B.weight") and a[k].abs().sum() > 0 for k in a)  # it trained

    # A resume with other settings is refused.
    other = tmp_path / "other"
    monkeypatch.setattr(tuning, "finetune", interrupted)
    assert tiny_run(sft_file, other, tiny_qwen2) == 130
    monkeypatch.setattr(tuning, "finetune", real)
    assert tiny_run(sft_file, other, tiny_qwen2, "--resume", "--max-steps", "5") == 2

    # weights merge reads the adapter, and alpha 1 changes the weights it targets.
    from weights.__main__ import main as weights_main
    from weights.checkpoint import Checkpoint

    merged = tmp_path / "merged"
    assert weights_main(["merge", "--base", str(tiny_qwen2), "--adapter", f"{whole}:1", "--out", str(merged),
                         "--dtype", "float32"]) == 0
    before, after = Checkpoint(tiny_qwen2), Checkpoint(merged)
    name = "model.layers.0.self_attn.q_proj.weight"
    first = before.read_shard(before.shards[0])[name]
    assert not torch.equal(first, after.read_shard(after.shards[0])[name])
    assert torch.equal(before.read_shard(before.shards[0])["model.embed_tokens.weight"],
                       after.read_shard(after.shards[0])["model.embed_tokens.weight"])


@pytest.mark.engine
def test_the_embedded_model_fine_tunes_a_few_steps(sft_file, tmp_path):
    out = tmp_path / "embedded"
    assert training_main(["finetune", "--data", str(sft_file), "--out", str(out), "--max-steps", "2",
                          "--grad-accum", "1", "--save-steps", "1", "--no-progress"]) == 0
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 64 and config["lora_alpha"] == 32
    assert "SmolLM2" in config["base_model_name_or_path"]
    log = [json.loads(line) for line in (out / tuning.LOG_NAME).read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1, 2]
