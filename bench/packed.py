"""Packed training: K tiny models trained as one vectorised model vs K separate trainings.

    .venv/bin/python -m bench.packed [--quick] [--ks 1 4 16] [--threads 1] [--rounds 3] [--steps N]

For each K, contenders step K tiny-preset members (seeds 0..K-1) ``--steps`` times per round, timed side by
side (bench/common.py):

- ``separate``: the K ``Trainer``s one after another (``PackedTrainer(vectorize=False)``): what K trials
  compute, without their K processes;
- ``vmap``: ``PackedTrainer(vectorize=True)``: the K weight sets stacked, one ``torch.func.vmap`` forward and
  backward (grouped convolutions), then each member's own AdamW and EMA; float32
  (separate members: bf16 autocast on CUDA).
- on CUDA also ``processes``: K separate OS processes training one member each at the same time, as K trials
  with a fractional GPU each would (their CPU-side kernel launches overlap). Timed once per K up to 16, not per round.

Prints images/s of each and the ratios. On a CPU it then measures what packing could save at best: a step's
time is a fixed per-step cost (Python, dispatch, optimizer and EMA over every tensor) plus a part that grows
with the batch; packing K members can at most share the fixed part, so the ceiling on K=16 is
``t(64) / (t(64) - fixed * 15/16)``, with ``fixed`` extrapolated from steps at batch 1..64.
Without ``--quick`` it also profiles one step of each mode at the largest K: time in convolutions.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np
import torch
from torch.profiler import profile

from bench.common import interleave, machine_line, median_rate, median_ratio, set_threads, sync
from model.config import from_preset
from model.packed import PackedTrainer
from model.train import Trainer


def conv_seconds(packed: PackedTrainer) -> tuple[float, float]:
    """(seconds in convolution kernels, seconds in all ops) of one profiled step."""
    with profile() as prof:
        packed.train_step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) / 1e6
    conv = sum(e.self_cpu_time_total for e in events if "conv" in e.key or "cudnn" in e.key) / 1e6
    return conv, total


def stepper(packed: PackedTrainer, steps: int):
    """``steps`` steps of every member; returns the images they trained on."""
    def step() -> float:
        for _ in range(steps):
            packed.train_step()
        return steps * len(packed.active) * packed.members[0].config.train.batch_size
    return step


def fixed_step_cost(threads: int, batches=(1, 2, 4, 8, 16, 32, 64), repeats: int = 30) -> tuple[float, float]:
    """(seconds per step at batch 0 by a linear fit over ``batches``, seconds per step at batch 64)."""
    times = []
    for batch in batches:
        trainer = Trainer(from_preset("tiny", {"train.threads": threads, "train.batch_size": batch}))
        trainer.train_step()
        best = []
        for _ in range(3):  # best of three: the least disturbed by neighbours
            sync()
            start = time.perf_counter()
            for _ in range(repeats):
                trainer.train_step()
            sync()
            best.append((time.perf_counter() - start) / repeats)
        times.append(min(best))
    slope, intercept = np.polyfit(batches, times, 1)
    return float(intercept), times[-1]


def worker(steps: int, seed: int) -> None:
    """One member alone in this process (``--worker``): warm up, say so, wait for the common start, train."""
    trainer = Trainer(from_preset("tiny", {"train.seed": seed}))
    for _ in range(3):
        trainer.train_step()
    sync()
    print("ready", flush=True)
    start_at = float(sys.stdin.readline())
    time.sleep(max(0.0, start_at - time.time()))
    for _ in range(steps):
        trainer.train_step()
    sync()
    print(time.time(), flush=True)


def processes_rate(k: int, steps: int) -> float:
    """Images/s of k concurrent single-member processes, from their common start to the last one's end."""
    procs = [subprocess.Popen([sys.executable, "-m", "bench.packed", "--worker", str(steps), str(seed)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for seed in range(k)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    start_at = time.time() + 0.5
    ends = [float(proc.communicate(f"{start_at}\n")[0].split()[-1]) for proc in procs]
    return k * steps * from_preset("tiny").train.batch_size / (max(ends) - start_at)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 round, no profile: under a minute on 2 cores")
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="steps per round (default: 1 on CPU, 20 on GPU)")
    parser.add_argument("--worker", type=int, nargs=2, metavar=("STEPS", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(*args.worker)
    cuda = torch.cuda.is_available()
    rounds = 1 if args.quick else args.rounds
    steps = args.steps or (20 if cuda else 1)
    set_threads(args.threads)
    print(machine_line(args.threads))
    print(f"{'K':>3} {'separate img/s':>14} {'vmap img/s':>10} {'vmap/separate':>13} {'per CPU s':>9}"
          + (f" {'processes img/s':>15} {'vmap/processes':>14}" if cuda else ""))
    for k in args.ks:
        configs = [from_preset("tiny", {"train.threads": args.threads, "train.seed": s}) for s in range(k)]
        modes = {"separate": PackedTrainer(configs, vectorize=False), "vmap": PackedTrainer(configs, vectorize=True)}
        for packed in modes.values():
            packed.train_step()  # warm-up
        rates = interleave({name: stepper(packed, steps) for name, packed in modes.items()}, rounds)
        line = (f"{k:>3} {median_rate(rates['separate']):14.0f} {median_rate(rates['vmap']):10.0f} "
                f"{median_ratio(rates['vmap'], rates['separate']):13.2f} "
                f"{median_ratio(rates['vmap'], rates['separate'], cpu=True):9.2f}")
        if cuda and k <= 16:  # more processes than this machine's 16 cores would measure the CPU instead
            procs = processes_rate(k, 10 * steps)
            line += f" {procs:15.0f} {median_rate(rates['vmap']) / procs:14.2f}"
        print(line, flush=True)
    if not args.quick:
        for name, packed in modes.items():
            conv, total = conv_seconds(packed)
            print(f"K={k} {name}: one step {total:.2f} s of op time, {conv:.2f} s ({conv / total:.0%}) in convolutions")
    if not cuda:
        fixed, full = fixed_step_cost(args.threads, repeats=5 if args.quick else 30)
        print(f"one tiny step at batch 64: {full * 1e3:.1f} ms, of which fixed per step (batch -> 0): "
              f"{fixed * 1e3:.1f} ms ({fixed / full:.0%}); packing 16 members could at best reach "
              f"{full / (full - fixed * 15 / 16):.2f}x")
    print(machine_line(args.threads).split("; ")[-1] + " (after)")


if __name__ == "__main__":
    main()
