#!/usr/bin/env bash
# Creates a Python virtual environment for the training worker (training/worker) with the packages
# pinned in training/worker/requirements.txt and the optional ones of requirements-qlora.txt
# (bitsandbytes, for lora.quantization nf4), and prints the interpreter to use as
# RUSTEXPERT_TRAIN_PYTHON (the Go tests of ./training run the worker with it).
#
#   scripts/install-train-deps.sh [VENV_DIR]             # from PyPI; VENV_DIR defaults to ~/.venvs/rustexpert-train
#   SYSTEM_SITE=1 scripts/install-train-deps.sh [DIR]    # reuse torch/transformers already installed system-wide
#   scripts/install-train-deps.sh --download WHEEL_DIR   # only download the wheels (on a machine with internet)
#   WHEELS=WHEEL_DIR scripts/install-train-deps.sh [DIR] # install from those wheels, without internet
#   scripts/install-train-deps.sh --cached DIR           # reuse DIR when it was made from the same
#                                                        # requirements.txt (make test does this)
#
# Note: PyPI's torch wheel pulls NVIDIA's CUDA libraries, a download of several GB. On a machine
# that already has a matching torch, use SYSTEM_SITE=1 so that pip keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
REQ=training/worker/requirements.txt
QLORA_REQ=training/worker/requirements-qlora.txt
PY=${PYTHON:-python3}

if [ "${1:-}" = "--download" ]; then
  dir=${2:?usage: $0 --download WHEEL_DIR}
  "$PY" -m pip download -r "$REQ" -r "$QLORA_REQ" -d "$dir"
  echo "wheels in $dir; on the target machine: WHEELS=$dir $0 [VENV_DIR]" >&2
  exit 0
fi

# install_qlora VENV: the optional QLoRA packages, once per version of requirements-qlora.txt.
install_qlora() {
  local stamp="$1/.requirements-qlora.sha256" want
  want=$(sha256sum "$QLORA_REQ" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$1/bin/python" -c 'import bitsandbytes' 2>/dev/null; then
    return
  fi
  local pip=("$1/bin/python" -m pip install --disable-pip-version-check --no-deps)
  if [ -n "${WHEELS:-}" ]; then pip+=(--no-index --find-links "$WHEELS"); fi
  "${pip[@]}" -r "$QLORA_REQ"
  echo "$want" > "$stamp"
}

cached=0
if [ "${1:-}" = "--cached" ]; then
  cached=1
  shift
fi
venv=${1:-$HOME/.venvs/rustexpert-train}
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ "$cached" = 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
  "$venv/bin/python" -c 'import torch, transformers, peft, trl, datasets, gguf' 2>/dev/null; then
  install_qlora "$venv"
  echo "training packages: $venv (up to date)" >&2
  exit 0
fi
if [ "$cached" = 1 ]; then
  rm -rf "$venv"
  echo "training packages: installing into $venv (PyPI's torch brings NVIDIA's CUDA libraries: several GB, once)" >&2
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "trl 1.16 needs Python >= 3.11; set PYTHON to a newer interpreter" >&2
  exit 1
fi
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "Python's venv module is missing: install python3-venv (Debian) and run again" >&2
    exit 1
  fi
fi
mkdir -p "$(dirname "$venv")"
flags=()
if [ "${SYSTEM_SITE:-0}" = 1 ]; then flags+=(--system-site-packages); fi
"$PY" -m venv "${flags[@]}" "$venv"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check)
if [ -n "${WHEELS:-}" ]; then
  pip+=(--no-index --find-links "$WHEELS")
fi
"${pip[@]}" -r "$REQ"
"$venv/bin/python" -c 'import torch, transformers, peft, trl, datasets, gguf
print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "transformers", transformers.__version__,
      "peft", peft.__version__, "trl", trl.__version__, "datasets", datasets.__version__)'
install_qlora "$venv"
echo "RUSTEXPERT_TRAIN_PYTHON=$venv/bin/python" 
echo "$want" > "$stamp"
