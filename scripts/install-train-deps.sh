#!/usr/bin/env bash
# Creates a Python virtual environment for the training worker (training/worker) with the packages
# pinned in training/worker/requirements.txt, and prints the interpreter to use as
# RUSTEXPERT_TRAIN_PYTHON (the Go tests of ./training run the worker with it).
#
#   scripts/install-train-deps.sh [VENV_DIR]             # from PyPI; VENV_DIR defaults to ~/.venvs/rustexpert-train
#   SYSTEM_SITE=1 scripts/install-train-deps.sh [DIR]    # reuse torch/transformers already installed system-wide
#   scripts/install-train-deps.sh --download WHEEL_DIR   # only download the wheels (on a machine with internet)
#   WHEELS=WHEEL_DIR scripts/install-train-deps.sh [DIR] # install from those wheels, without internet
#
# Note: PyPI's torch wheel pulls NVIDIA's CUDA libraries, a download of several GB. On a machine
# that already has a matching torch, use SYSTEM_SITE=1 so that pip keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
REQ=training/worker/requirements.txt
PY=${PYTHON:-python3}

if [ "${1:-}" = "--download" ]; then
  dir=${2:?usage: $0 --download WHEEL_DIR}
  "$PY" -m pip download -r "$REQ" -d "$dir"
  echo "wheels in $dir; on the target machine: WHEELS=$dir $0 [VENV_DIR]" >&2
  exit 0
fi

venv=${1:-$HOME/.venvs/rustexpert-train}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "trl 1.16 needs Python >= 3.11; set PYTHON to a newer interpreter" >&2
  exit 1
fi
flags=()
if [ "${SYSTEM_SITE:-0}" = 1 ]; then flags+=(--system-site-packages); fi
"$PY" -m venv "${flags[@]}" "$venv"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check)
if [ -n "${WHEELS:-}" ]; then
  pip+=(--no-index --find-links "$WHEELS")
fi
"${pip[@]}" -r "$REQ"
"$venv/bin/python" -c 'import torch, transformers, peft, trl, datasets
print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "transformers", transformers.__version__,
      "peft", peft.__version__, "trl", trl.__version__, "datasets", datasets.__version__)'
echo "RUSTEXPERT_TRAIN_PYTHON=$venv/bin/python" 
