"""Sweep overhead: K micro trials through ``phasescape run`` vs the same K trainings in a plain loop.

    .venv/bin/python -m bench.sweep_overhead [--quick] [--trials 4] [--steps 300] [--pack K] [--address A]

Writes a spec into a temporary folder (base ``micro``, K seeds, 1 CPU per trial, one trial at a time so the
sweep does what the loop does), runs ``python -m sweep run SPEC`` and timestamps its progress lines as they
arrive (``[   12.3s] start|eval|done ...``), then trains ``spec.trials()`` with ``model.train.train`` in this
process on one thread. Prints:

- start-up: launch to the first ``start`` line, paid once per sweep, split at the driver's ``running`` line
  (interpreter, imports and ``ray.init`` before it; Tune and the first worker after it);
- first report: launch to the first ``eval`` line;
- per-trial overhead: (first ``start`` to last ``done``, minus the loop's time) / K: worker start, imports,
  trial folders, checkpoints and reports, paid by every trial;
- those overheads as a share of 2-minute trials (per trial, and for a sweep of 4 trials two at a time).

With ``--address`` the sweep goes to an already running Ray cluster (its GCS address), which takes starting
Ray out of the start-up. Without it, the parts of the first report are printed too, each timed alone in a
fresh interpreter: the driver's start (interpreter, its imports and Tune's), ``ray.init`` of a local Ray,
the imports of a trial's worker after ``import ray`` (Tune, torch, our model and sweep code), and the first
trial's own work up to its first evaluation (build, train, evaluate). Their sum leaves out
Tune's scheduling, starting the worker and passing the report on; in a sweep some of them overlap.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.common import machine_line, set_threads
from model.train import train
from sweep.spec import load_spec

LINE = re.compile(r"^(?:\[\s*[\d.]+s\] )?(running|start|eval|done)\b")
TRIAL_S = 120.0  # the trial length the overhead target is stated for


def run_sweep(spec_path: Path, address: str | None) -> dict[str, list[float]]:
    """Seconds from launch at which each kind of progress line arrived, plus the total ('exit')."""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    command = [sys.executable, "-m", "sweep", "run", str(spec_path), "--max-concurrent", "1"]
    proc = subprocess.Popen(command + (["--address", address] if address else []),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen: dict[str, list[float]] = {"running": [], "start": [], "eval": [], "done": []}
    assert proc.stdout is not None
    tail = []
    for line in proc.stdout:
        tail = [*tail[-20:], line]
        match = LINE.match(line)
        if match:
            seen[match.group(1)].append(time.perf_counter() - start)
    if proc.wait() != 0:
        raise SystemExit("phasescape run failed:\n" + "".join(tail))
    seen["exit"] = [time.perf_counter() - start]
    return seen


DRIVER_START = "import sweep.cli, sweep.driver, sweep.progress"  # sweep.progress imports Tune
RAY_INIT = """import time
import ray
from sweep.ray_session import connect
start = time.perf_counter()
connect(None)  # a local Ray, started as `phasescape run` starts it
print(time.perf_counter() - start)
ray.shutdown()
"""
WORKER_IMPORTS = """import time
import ray  # the idle workers Ray starts with a cluster have imported it before they are given a trial
start = time.perf_counter()
import ray.tune, torch
import model.train, sweep.trainable
print(time.perf_counter() - start)
"""
TRIAL_WORK = """import sys, time
import torch
from model.train import Trainer
from sweep.spec import load_spec
torch.set_num_threads(1)
config = load_spec(sys.argv[1]).trials()[0]
start = time.perf_counter()
trainer = Trainer(config)
while trainer.step < config.eval.every:
    trainer.train_step()
trainer.evaluate()
print(time.perf_counter() - start)
"""


def seconds_in_fresh_python(code: str, *args: str) -> float:
    """What ``code`` prints last (a duration it measured), or without output the wall time of the whole process."""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                         check=True).stdout
    return float(out.split()[-1]) if out.strip() else time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 trials of 60 steps: under a minute")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--steps", type=int, default=300, help="micro training steps per trial")
    parser.add_argument("--pack", type=int, default=1, help="spec key pack: train this many trials per Tune trial")
    parser.add_argument("--address", help="an already running Ray cluster to run the sweep on (default: start one)")
    args = parser.parse_args()
    if args.quick:
        args.trials, args.steps = 2, 60
    set_threads(1)
    print(machine_line(1))
    with tempfile.TemporaryDirectory() as tmp:
        spec = {"name": "overhead", "base": "micro", "seeds": list(range(args.trials)), "steps": args.steps,
                "eval_every": max(1, args.steps // 2), "resources": {"cpu": 1}, "storage": str(Path(tmp) / "r")}
        if args.pack > 1:
            spec["pack"] = args.pack
        spec_path = Path(tmp) / "overhead.yaml"
        spec_path.write_text(yaml.safe_dump(spec))
        seen = run_sweep(spec_path, args.address)
        parts = {} if args.address else {
            "driver start and imports": seconds_in_fresh_python(DRIVER_START),
            "ray.init": seconds_in_fresh_python(RAY_INIT),
            "a trial worker's imports": seconds_in_fresh_python(WORKER_IMPORTS),
            "the trial to its first evaluation": seconds_in_fresh_python(TRIAL_WORK, str(spec_path)),
        }
        start = time.perf_counter()
        for config in load_spec(spec_path).trials():
            train(config)
        loop = time.perf_counter() - start

    k = args.trials
    startup, first_eval, total = seen["start"][0], seen["eval"][0], seen["exit"][0]
    per_trial = (seen["done"][-1] - startup - loop) / k
    print(f"{k} micro trials x {args.steps} steps{f', pack {args.pack}' if args.pack > 1 else ''}: "
          f"phasescape run {total:.1f}s, plain loop {loop:.1f}s ({loop / k:.1f}s per trial), ratio {total / loop:.2f}")
    print(f"start-up (launch to first trial start): {startup:.1f}s, of which {seen['running'][0]:.1f}s to Ray up; "
          f"first report: {first_eval:.1f}s after launch")
    if parts:
        print("parts of the first report: " + " + ".join(f"{name} {t:.1f}s" for name, t in parts.items())
              + f" = {sum(parts.values()):.1f}s (each alone in a fresh interpreter)")
    print(f"per-trial overhead: {per_trial:.2f}s = {per_trial / (loop / k):.0%} of these trials, "
          f"{per_trial / TRIAL_S:.1%} of a {TRIAL_S:.0f}s trial")
    fixed = startup + total - seen["done"][-1]
    print(f"a sweep of 4 {TRIAL_S:.0f}s trials, 2 at a time: overhead {(fixed + 2 * per_trial) / (2 * TRIAL_S):.1%} "
          f"of its wall time (start-up and shutdown {fixed:.1f}s once, per-trial overhead twice per slot)")
    print(machine_line(1).split("; ")[-1] + " (after)")


if __name__ == "__main__":
    main()
