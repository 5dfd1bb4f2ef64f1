"""One paper-preset trial on a wall-clock budget: does the 32 x 32 model learn the condition, and when?

    python3 -m bench.paper_trial [--budget 180] [--evals 12] [--goal 0.9] [--preset paper] [--set KEY=VALUE ...]
                                 [--variant KEY=VALUE,KEY=VALUE ...] [--out DIR]

Times a few training steps and one evaluation of the preset on this machine, then sizes ``train.steps`` and
``eval.every`` so that ``--evals`` evaluations fit in ``--budget`` seconds, and trains one fresh trial with those
two overrides (its own random stream: the timing run leaves no trace in it), printing ``phasescape train``'s line
at every evaluation: the phase timeline. It stops early once the trial is in phase C with acc >= ``--goal``, or at
the first evaluation past 1.25 x the budget. The last lines give the steps and seconds to phase C and to the goal,
the phase changes, and the ``phasescape train`` command that repeats the trial on its own.

``--variant`` (repeatable) trains the preset and each variant (comma-separated overrides of keys packed trials may
differ in: learning rate, EMA, warm-up, clipping, seed, data) side by side in one packed process (model/packed.py;
on a GPU one vmapped network in float32, not the bf16 of a trial alone): short runs that tell which setting a
stall in phase B comes from. Each trial's metrics.jsonl, samples.png and evals/ go to ``--out``/<label>/.
"""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path
from typing import Any

import torch

from analysis.plots import plot_samples
from bench.common import machine_line, sync
from model.config import Config, from_preset
from model.packed import PackedTrainer
from model.train import Trainer
from sweep.artifacts import TrialWriter
from sweep.cli import parse_sets, progress_line

OVERRUN = 1.25  # stop at the first evaluation past this multiple of the budget (sizing is from a short timing)
TIMED_STEPS = 20


class Stop(Exception):
    """Raised from a callback: the goal is reached, or the budget is spent."""


def build(configs: list[Config]) -> tuple[Trainer | PackedTrainer, list[Trainer]]:
    """One trial alone, or several packed; returns the runner and its member trainers."""
    if len(configs) == 1:
        trainer = Trainer(configs[0])
        return trainer, [trainer]
    packed = PackedTrainer(configs)
    return packed, packed.members


def measure(configs: list[Config]) -> tuple[float, float, Trainer]:
    """Seconds per training step (after a warm-up in which cuDNN picks its kernels) and per evaluation round,
    and the first member (for its size and device)."""
    runner, members = build(configs)
    for _ in range(3):
        runner.train_step()
    sync()
    start = time.perf_counter()
    for _ in range(TIMED_STEPS):
        runner.train_step()
    sync()
    step_s = (time.perf_counter() - start) / TIMED_STEPS
    start = time.perf_counter()
    for member in members:
        member.evaluate()
    return step_s, time.perf_counter() - start, members[0]


def nice(n: int) -> int:
    """``n`` rounded down to a multiple of 50 (of 10 below 100), at least 1: evaluation steps that read well."""
    unit = 50 if n >= 100 else 10 if n >= 10 else 1
    return max(1, n - n % unit)


def size(budget: float, evals: int, step_s: float, eval_s: float) -> tuple[int, int]:
    """(train.steps, eval.every): ``evals`` evaluations after the untrained one, all inside ``budget`` seconds."""
    train_s = budget - (evals + 1) * eval_s
    if train_s < 10 * step_s * evals:
        raise SystemExit(f"--budget {budget:g}s leaves {train_s:.0f}s for training after {evals + 1} evaluations "
                         f"of {eval_s:.1f}s; give more seconds or fewer --evals")
    every = nice(int(train_s / step_s / evals))
    return every * evals, every


class Timeline:
    """One trial's evaluations: phase changes, and the first step (and second) of phase C and of the goal."""

    def __init__(self, label: str, goal: float) -> None:
        self.label, self.goal = label, goal
        self.changes: list[tuple[str, int, float]] = []
        self.first_c: tuple[int, float] | None = None
        self.first_goal: tuple[int, float] | None = None
        self.last: dict[str, Any] = {}

    def add(self, m: dict[str, Any]) -> None:
        if not self.changes or self.changes[-1][0] != m["phase"]:
            self.changes.append((m["phase"], m["step"], m["time_s"]))
        if m["phase"] == "C" and self.first_c is None:
            self.first_c = (m["step"], m["time_s"])
        if m["phase"] == "C" and m["acc"] >= self.goal and self.first_goal is None:
            self.first_goal = (m["step"], m["time_s"])
        self.last = m

    def summary(self) -> str:
        m = self.last
        changes = " -> ".join(f"{p} at {s} ({t:.0f}s)" for p, s, t in self.changes)
        c = f"phase C at step {self.first_c[0]} ({self.first_c[1]:.0f}s)" if self.first_c else "never phase C"
        if self.first_goal:
            verdict = f"REACHED: C with acc >= {self.goal:g} at step {self.first_goal[0]} ({self.first_goal[1]:.0f}s)"
        else:
            verdict = f"NOT reached: C with acc >= {self.goal:g}"
        return (f"{self.label}: {verdict}; {c}; phases {changes}; last step {m['step']} ({m['time_s']:.0f}s): phase "
                f"{m['phase']}, single {m['frac_single']:.2f}, acc {m['acc']:.2f}, err {m['err_median']:.2f}px")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=180.0, help="wall seconds for training and evaluation")
    parser.add_argument("--evals", type=int, default=12, help="evaluations in the budget (after the untrained one)")
    parser.add_argument("--goal", type=float, default=0.9, help="stop once in phase C with acc >= this")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every trial")
    parser.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE,...",
                        help="also train the preset with these overrides, packed with it (repeatable)")
    parser.add_argument("--out", default="/tmp/paper_trial", help="trial folders go here, one per label")
    args = parser.parse_args()

    common = parse_sets(args.set)
    labels = ["preset", *args.variant]
    overrides = [common, *({**common, **parse_sets(v.split(","))} for v in args.variant)]
    print(machine_line(common.get("train.threads") or torch.get_num_threads()))
    step_s, eval_s, first = measure([from_preset(args.preset, o) for o in overrides])
    steps, every = size(args.budget, args.evals, step_s, eval_s)
    packed = f", {len(labels)} packed" if len(labels) > 1 else ""
    print(f"{args.preset}: {first.n_parameters / 1e6:.2f} M parameters on {first.device}{packed}; "
          f"{1 / step_s:.1f} steps/s, one evaluation round {eval_s:.1f}s -> train.steps {steps}, eval.every {every} "
          f"for a {args.budget:.0f}s budget", flush=True)
    # Evaluations use the EMA weights, which start as the untrained network: how much of it the last one still holds.
    left = [f"{from_preset(args.preset, o).train.ema_decay ** steps:.1%} ({label})" for label, o in
            zip(labels, overrides, strict=True)]
    print(f"EMA: the weights evaluated at step {steps} are still {', '.join(left)} the untrained network's")
    sized = [{**o, "train.steps": steps, "eval.every": every} for o in overrides]
    if len(labels) == 1:
        sets = " ".join(f"--set {shlex.quote(f'{k}={v}')}" for k, v in sized[0].items())
        print(f"alone: python3 -m sweep train --preset {args.preset} {sets}")

    runner, members = build([from_preset(args.preset, o) for o in sized])
    timelines, writers = {}, {}
    for label, member in zip(labels, members, strict=True):
        timelines[id(member)] = Timeline(label, args.goal)
        # samples.png is drawn once at the end: drawing it at every evaluation would spend the budget on matplotlib
        writers[id(member)] = writer = TrialWriter(Path(args.out) / label.replace("=", "-").replace(",", "_"),
                                                   plot=False, checkpoint=False)
        writer.start(member)

    def check(elapsed: float) -> None:
        if all(t.first_goal for t in timelines.values()) or elapsed > OVERRUN * args.budget:
            raise Stop

    def on_eval(step: int, metrics: dict[str, Any], member: Trainer) -> None:
        writers[id(member)](step, metrics, member)
        timelines[id(member)].add(metrics)
        prefix = f"[{timelines[id(member)].label}] " if len(labels) > 1 else ""
        print(prefix + progress_line(metrics, steps), flush=True)
        if len(labels) == 1:
            check(metrics["time_s"])

    try:
        if isinstance(runner, PackedTrainer):
            runner.run(on_eval, on_round=lambda _step, group: check(max(m.elapsed for m in group.members)))
        else:
            runner.run(on_eval)
    except Stop:
        pass
    for member in members:
        last, writer = member.evaluation, writers[id(member)]
        if last is not None:
            plot_samples(last.samples, last.targets, writer.folder / "samples.png",
                         title=f"step {last.step}: phase {last.metrics['phase']}, acc {last.metrics['acc']:.2f}")
        print(timelines[id(member)].summary())
    rate = max(m.step for m in members) / max(m.elapsed for m in members)
    print(f"{rate:.1f} steps/s with evaluations; trial folders in {args.out}")


if __name__ == "__main__":
    main()
