"""Packed training: K tiny models trained as one vectorised model vs K separate trainings.

    .venv/bin/python -m bench.packed [--quick] [--ks 1 4 16] [--threads 1] [--rounds 3]

For each K, two contenders step K tiny-preset members (seeds 0..K-1) once per call, timed side by side:

- ``separate``: the K ``Trainer``s one after another (``PackedTrainer(vectorize=False)``): what K trials
  compute, without their K processes;
- ``vmap``: ``PackedTrainer(vectorize=True)``: the K weight sets stacked, one ``torch.func.vmap`` forward and
  backward (grouped convolutions), then each member's own AdamW and EMA. bf16 autocast on CUDA.

Prints images/s of both and their ratio. Without ``--quick`` it also profiles one step of each mode at the
largest K and prints the time spent in convolutions: the part vectorising cannot shrink on a CPU.
"""

from __future__ import annotations

import argparse

from torch.profiler import profile

from bench.common import interleave, machine_line, median_rate, median_ratio, set_threads
from model.config import from_preset
from model.packed import PackedTrainer


def conv_seconds(packed: PackedTrainer) -> tuple[float, float]:
    """(seconds in convolution kernels, seconds in all ops) of one profiled step."""
    with profile() as prof:
        packed.train_step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) / 1e6
    conv = sum(e.self_cpu_time_total for e in events if "conv" in e.key or "cudnn" in e.key) / 1e6
    return conv, total


def stepper(packed: PackedTrainer):
    """One step of every member; returns the images it trained on."""
    def step() -> float:
        packed.train_step()
        return len(packed.active) * packed.members[0].config.train.batch_size
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 round, no profile: under a minute on 2 cores")
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    set_threads(args.threads)
    print(machine_line(args.threads))
    print(f"{'K':>3} {'separate img/s':>14} {'vmap img/s':>10} {'vmap/separate':>13} {'per CPU s':>9}")
    for k in args.ks:
        configs = [from_preset("tiny", {"train.threads": args.threads, "train.seed": s}) for s in range(k)]
        modes = {"separate": PackedTrainer(configs, vectorize=False), "vmap": PackedTrainer(configs, vectorize=True)}
        for packed in modes.values():
            packed.train_step()  # warm-up
        rates = interleave({name: stepper(packed) for name, packed in modes.items()}, rounds)
        print(f"{k:>3} {median_rate(rates['separate']):14.0f} {median_rate(rates['vmap']):10.0f} "
              f"{median_ratio(rates['vmap'], rates['separate']):13.2f} "
              f"{median_ratio(rates['vmap'], rates['separate'], cpu=True):9.2f}")
    if not args.quick:
        for name, packed in modes.items():
            conv, total = conv_seconds(packed)
            print(f"K={k} {name}: one step {total:.2f} s of op time, {conv:.2f} s ({conv / total:.0%}) in convolutions")
    print(machine_line(args.threads).split("; ")[-1] + " (after)")


if __name__ == "__main__":
    main()
