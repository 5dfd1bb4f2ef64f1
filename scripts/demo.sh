#!/usr/bin/env bash
# Install (idempotent), then the main job: a 4 x 4 density x overlap landscape on a local Ray (results on the
# local disk) with a boundary search and early stopping in phase C, ending in the landscape report (untrained
# cells drawn "inferred"), which `run` rebuilds every 30 s while the trials train and writes once more at the end
# (results/density_overlap_adaptive/report/report.html). A second run reuses the finished trials.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/phasescape run sweeps/density_overlap_adaptive.yaml
