#!/usr/bin/env bash
# Local two-node Ray cluster on 127.0.0.1: cluster/local.sh up|down|status [options] (see cluster/local.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" -m cluster.local "$@"
