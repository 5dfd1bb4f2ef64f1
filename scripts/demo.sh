#!/usr/bin/env bash
# Install (idempotent) and run the main job on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/phasescape train --preset tiny --out runs/demo-tiny
