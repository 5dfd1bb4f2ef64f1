"""Evaluation cost against agreement: DDIM with 10/25/50/100 steps vs 1,000-step ancestral (DDPM) sampling.

    .venv/bin/python -m bench.eval [--quick] [--train-steps 800] [--checkpoint PATH] [--save PATH] [--threads 1]

Trains the tiny preset briefly (or loads a ``Trainer`` checkpoint), then evaluates the same EMA weights with
each sampler exactly as a trial's evaluation does (``Trainer.evaluate``: the fixed conditions, then the probe)
and prints its wall time, the sample metrics, their distance from the ancestral sampler's, and the share of
conditions whose sample is judged the same (correct or not) by both. Recommends the fewest DDIM steps whose
acc and frac_single lie within max(0.05, 2 standard errors) of the ancestral ones, with the same phase; when no
DDIM setting does (DDIM solves the probability-flow ODE, which an imperfect model need not agree with), the
fewest steps that agree so with DDIM at 100 steps, and says so.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import machine_line, set_threads
from model.config import Config, from_preset
from model.metrics import detect_bumps
from model.train import Evaluation, Trainer

DDIM_STEPS = (10, 25, 50, 100)


def correct(evaluation: Evaluation, tol: float) -> np.ndarray:
    """Per condition: one bump within ``tol`` pixels of its target."""
    counts, centres = detect_bumps(evaluation.samples, 0.5)
    with np.errstate(invalid="ignore"):
        return (counts == 1) & (np.linalg.norm(centres - evaluation.targets, axis=1) <= tol)


def trained(args: argparse.Namespace) -> Trainer:
    if args.checkpoint:
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
        trainer = Trainer(Config.from_dict(state["config"]))
        trainer.load_checkpoint(args.checkpoint)
        return trainer
    trainer = Trainer(from_preset("tiny", {"train.threads": args.threads, "train.steps": args.train_steps}))
    start = time.perf_counter()
    while trainer.step < args.train_steps:
        trainer.train_step()
    print(f"trained the tiny preset {args.train_steps} steps in {time.perf_counter() - start:.0f}s")
    if args.save:
        trainer.save_checkpoint(args.save)
    return trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 training steps, 16 conditions: under a minute")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--train-steps", type=int, default=800)
    parser.add_argument("--samples", type=int, default=128, help="evaluation conditions (the tiny preset's 128)")
    parser.add_argument("--checkpoint", type=Path, help="evaluate this Trainer checkpoint instead of training")
    parser.add_argument("--save", type=Path, help="save the briefly trained model here for later runs")
    args = parser.parse_args()
    if args.quick:
        args.train_steps, args.samples = 100, 16
    set_threads(args.threads)
    print(machine_line(args.threads))
    trainer = trained(args)
    ec = trainer.config.eval
    ec.n_samples = args.samples

    results = {}
    for sampler, steps in [("ddpm", trainer.config.diffusion.timesteps)] + [("ddim", s) for s in DDIM_STEPS]:
        ec.sampler, ec.ddim_steps = sampler, min(steps, trainer.config.diffusion.timesteps)
        start = time.perf_counter()
        evaluation = trainer.evaluate()
        results[(sampler, steps)] = (time.perf_counter() - start, evaluation)

    ref_time, ref = results[("ddpm", trainer.config.diffusion.timesteps)]
    ref_ok, m0 = correct(ref, ec.tol), ref.metrics
    n = len(ref_ok)
    tol = max(0.05, 2 * math.sqrt(max(m0["acc"] * (1 - m0["acc"]), 1e-9) / n))
    print(f"step {trainer.step}, {n} conditions; 'agree': share of conditions judged alike (correct or not) "
          f"by both samplers; tolerance on acc and frac_single: {tol:.3f}")
    print(f"{'sampler':<10} {'eval s':>7} {'x faster':>8} {'single':>6} {'acc':>5} {'err px':>6} {'phase':>5} "
          f"{'d acc':>6} {'d single':>8} {'agree':>6}")
    for (sampler, steps), (seconds, evaluation) in results.items():
        m = evaluation.metrics
        d_acc, d_single = m["acc"] - m0["acc"], m["frac_single"] - m0["frac_single"]
        agree = float(np.mean(correct(evaluation, ec.tol) == ref_ok))
        print(f"{sampler + ' ' + str(steps):<10} {seconds:7.2f} {ref_time / seconds:8.1f} {m['frac_single']:6.2f} "
              f"{m['acc']:5.2f} {m['err_median']:6.2f} {m['phase']:>5} {d_acc:+6.2f} {d_single:+8.2f} {agree:6.2f}")

    def fewest_close_to(reference: dict) -> int | None:
        for steps in DDIM_STEPS:
            m = results[("ddim", steps)][1].metrics
            if (abs(m["acc"] - reference["acc"]) <= tol and abs(m["frac_single"] - reference["frac_single"]) <= tol
                    and m["phase"] == reference["phase"]):
                return steps
        return None

    recommended = fewest_close_to(m0)
    if recommended is not None:
        print(f"recommended eval.ddim_steps: {recommended} (fewest DDIM steps that agree with ancestral sampling)")
    else:
        converged = fewest_close_to(results[("ddim", DDIM_STEPS[-1])][1].metrics)
        print(f"no DDIM setting agrees with ancestral sampling at this checkpoint; DDIM {converged} agrees with "
              f"DDIM {DDIM_STEPS[-1]}: recommended eval.ddim_steps {converged} if DDIM stays the sampler")


if __name__ == "__main__":
    main()
