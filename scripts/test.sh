#!/usr/bin/env bash
# Install (idempotent) and run the test suite and the linter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
bash scripts/postgres.sh  # the PostgreSQL storage tests' server binaries (root + apt-get; else they skip)
export RAY_AUTH_MODE=disabled  # throwaway local test clusters
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
