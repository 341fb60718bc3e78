#!/usr/bin/env bash
# `make bench-gpu`: install the pre-downloaded wheels (bench/wheels, from `make bench-wheels`) without
# network, next to the machine's own CUDA torch, then run the 7B QLoRA benchmark. One command.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${GPU_PYTHON:-python3}
VENV=${GPU_VENV:-.venv-gpu}
WHEELS=${BENCH_WHEELS:-bench/wheels}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

if [ ! -f "$WHEELS/requirements.txt" ]; then
  echo "no $WHEELS/requirements.txt: run 'make bench-wheels' on a machine with network first" >&2
  exit 2
fi
"$PY" -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA GPU'; \
print('torch', torch.__version__, 'on', torch.cuda.get_device_name(0))"

# A venv that sees the system's packages (its CUDA torch) and takes the wheels on top of them; it also
# keeps pip away from an "externally managed" system Python. Without ensurepip, the system pip
# (visible through --system-site-packages) installs into the venv all the same.
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv --system-site-packages "$VENV" 2>/dev/null || "$PY" -m venv --system-site-packages --without-pip "$VENV"
fi
VPY="$VENV/bin/python"
"$VPY" -m pip install --quiet --no-index --find-links "$WHEELS" -r "$WHEELS/requirements.txt"
"$VPY" -m pip install --quiet --no-index --find-links "$WHEELS" --no-build-isolation --no-deps -e .
# What was found (CUDA, flash-attn, bitsandbytes, liger), printed and saved before the first model.
"$VPY" -m bench.gpu_preflight
"$VPY" -m bench.train_throughput --suite 7b "$@"
