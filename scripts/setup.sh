#!/usr/bin/env bash
# Idempotent install into .venv: the CPU torch wheel first (an unpinned torch would pull a 5.5 GB CUDA
# build), then phasescape with its extras. Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
[ -x .venv/bin/python ] || python3 -m venv .venv
py=.venv/bin/python
if ! "$py" -c "import torch" 2>/dev/null; then
    "$py" -m pip install --quiet --upgrade pip
    if [ -n "$(command -v nvidia-smi)" ]; then "$py" -m pip install --quiet torch; else "$py" -m pip install --quiet torch==2.13.0; fi
fi
"$py" -m pip install --quiet -e ".${extras:+[$extras]}"
