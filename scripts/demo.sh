#!/usr/bin/env bash
# Install (idempotent), then the main job: a small density x overlap sweep on a local Ray (results on the
# local disk), ending in the landscape report. A second run reuses the finished trials.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/phasescape run sweeps/density_overlap_tiny.yaml
.venv/bin/phasescape report results/density_overlap_tiny
