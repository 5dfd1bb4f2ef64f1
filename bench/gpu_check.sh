#!/usr/bin/env bash
# The GPU checks of bench/README.md in one run on a lent GPU machine, most important first:
#   paper     one `paper`-preset trial (32 x 32) on a wall budget: the phase timeline; does it reach phase C
#             with acc >= 0.9, after how many steps and seconds (bench/paper_trial.py)
#   sweep     bench/specs/gpu_landscape.yaml through `phasescape run` packed, one trial per GPU and as
#             fractional-GPU trials: first report, trial-steps/s, trials/hour, GPU use (bench/gpu_sweep.py);
#             then `phasescape report` of the packed run. Needs Ray: the wheels of bench/gpu_wheels.sh in .whl/
#   variants  the paper preset beside learning-rate / EMA variants, packed: for a paper trial stuck in phase B
#   packed agree train_step trial tests   the tiny-preset checks of logs/h200-2026-11-28.txt
# Default: paper sweep, about 8 minutes, inside one device call (10 minutes at most). Everything it prints goes
# to $OUT/gpu_check.log (else /tmp/gpu_check/), beside paper.tar.gz, sweep.tar.gz, landscape.csv and summary.md.
# Sizes: PAPER_BUDGET seconds of paper training (default 150), CAPS per sweep mode ("packed=150 whole=45
# fraction=65": a mode's run is stopped with Ctrl-C after that), LANDSCAPE_STEPS to resize the sweep's trials.
# MICRO=1 runs paper and sweep with the micro preset on CPUs (PYTHON names the interpreter, the wheels are not
# installed): the same commands and paths, end to end, on a machine without a GPU.
# Usage there: bash bench/gpu_check.sh [SECTION ...]
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
out=${OUT:-/tmp/gpu_check}
tmp=$(mktemp -d)
mkdir -p "$out"
exec > >(tee -a "$out/gpu_check.log") 2>&1
micro=${MICRO:-0}
budget=${PAPER_BUDGET:-150}
caps=${CAPS:-packed=150 whole=45 fraction=65}
if [[ $micro == 1 ]]; then
    paper_args=(--preset micro --budget "${PAPER_BUDGET:-20}" --evals 4 --set train.threads=1)
    sweep_args=(--micro)
else
    paper_args=(--budget "$budget")
    sweep_args=()
    if ls .whl/*.whl >/dev/null 2>&1; then  # Ray and its needs (bench/gpu_wheels.sh), diffusers for train_step
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
        export PYTHONPATH=/tmp/site
    fi
    nvidia-smi -L
fi
[[ -n ${LANDSCAPE_STEPS:-} ]] && sweep_args+=(--steps "$LANDSCAPE_STEPS")
sections=${*:-paper sweep}
section() { [[ " $sections " == *" $1 "* ]] && echo && echo "== $1 ($(date +%T))"; }
# Everything but the per-evaluation arrays (evals/*.npz, megabytes per trial) comes back.
pack_up() { tar -czf "$out/$1.tar.gz" --exclude='*.npz' --exclude=tune -C "$tmp" "${@:2}"; }

if section paper; then  # stops early once in phase C with acc >= 0.9
    timeout -s INT -k 20 $((budget + 90)) "$py" -m bench.paper_trial "${paper_args[@]}" --out "$tmp/paper"
    pack_up paper paper
fi
if section variants; then  # the same budget, the preset and three variants vmapped together in float32
    timeout -s INT -k 20 $((budget + 90)) "$py" -m bench.paper_trial "${paper_args[@]}" --out "$tmp/variants" \
        --variant train.lr=1e-3 --variant train.ema_decay=0.995 \
        --variant train.lr=1e-3,train.ema_decay=0.995,train.warmup_steps=100
    pack_up variants variants
fi
if section sweep; then
    if ! "$py" -c "import ray.tune"; then
        echo "no Ray here: run bash bench/gpu_wheels.sh where PyPI is reachable and carry .whl"
    else
        read -ra cap_args <<<"$caps"
        [[ $micro == 1 ]] && cap_args=()
        timeout -s INT -k 30 360 "$py" -m bench.gpu_sweep bench/specs/gpu_landscape.yaml --storage "$tmp/sweep" \
            --cap "${cap_args[@]}" "${sweep_args[@]}"
        timeout 60 "$py" -m sweep report "$tmp/sweep/packed/gpu_landscape" -o "$tmp/report" &&
            cp "$tmp/report/landscape.csv" "$tmp/report/summary.md" "$out/"
        pack_up sweep report sweep
    fi
fi
if section packed; then  # vmap vs separate vs concurrent processes
    timeout 170 "$py" -m bench.packed --ks 1 4 16 64 --rounds 2 --steps 10 --quick
fi
if section agree; then  # packed (vmap, bf16) vs separate training on CUDA: how far the metrics drift
    timeout 120 "$py" - <<'PY'
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
    timeout 70 "$py" -m bench.train_step --rounds 6 --steps 30
fi
if section trial; then  # a whole tiny trial
    timeout 120 "$py" -m sweep train --preset tiny --out "$tmp/tiny"
fi
if section tests; then  # model tests on CUDA (the Ray sweep tests deselected)
    timeout 90 "$py" -m pytest -q -p no:cacheprovider --tb=line tests/model_tests/test_train.py \
        tests/model_tests/test_packed.py -k "not packed_sweep and not spec_hash"
fi
echo && echo "== end ($(date +%T)); files in $out: $(ls "$out" | tr '\n' ' ')"
