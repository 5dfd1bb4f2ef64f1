#!/usr/bin/env bash
# The GPU figures of bench/README.md in one run on a lent GPU machine, most important first. That image has
# torch but no Ray or Optuna, so this covers the model, packing and the benches, not sweeps. diffusers (for
# train_step) comes as wheels in .whl/ (see the device tool's README).
# Usage there: bash bench/gpu_check.sh [packed agree train_step trial tests]   (default: all)
set -uo pipefail
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
nvidia-smi -L
sections=${*:-packed agree train_step trial tests}
section() { [[ " $sections " == *" $1 "* ]] && echo && echo "== $1 ($(date +%T))"; }
if section packed; then  # vmap vs separate vs concurrent processes
    timeout 170 python3 -m bench.packed --ks 1 4 16 64 --rounds 2 --steps 10 --quick
fi
if section agree; then  # packed (vmap, bf16) vs separate training on CUDA: how far the metrics drift
    timeout 120 python3 - <<'PY'
from model.config import from_preset
from model.packed import PackedTrainer
from model.train import train
configs = [from_preset("tiny", {"train.seed": s, "train.steps": 800, "eval.every": 400}) for s in range(2)]
for vmapped, alone in zip(PackedTrainer(configs).run(), [train(c) for c in configs], strict=True):
    for v, a in zip(vmapped, alone, strict=True):
        print(f"step {v['step']}: packed/alone loss {v['loss']:.4f}/{a['loss']:.4f} acc {v['acc']:.2f}/{a['acc']:.2f} "
              f"single {v['frac_single']:.2f}/{a['frac_single']:.2f} r2_x {v['r2_x']:.2f}/{a['r2_x']:.2f} "
              f"phase {v['phase']}/{a['phase']}")
PY
fi
if section train_step; then  # tiny vs diffusers
    timeout 70 python3 -m bench.train_step --rounds 6 --steps 30
fi
if section trial; then  # a whole tiny trial
    timeout 120 python3 -m sweep train --preset tiny --out /tmp/tiny
fi
if section tests; then  # model tests on CUDA (the Ray sweep tests deselected)
    timeout 90 python3 -m pytest -q -p no:cacheprovider --tb=line tests/model_tests/test_train.py tests/model_tests/test_packed.py \
        -k "not packed_sweep and not spec_hash"
fi
