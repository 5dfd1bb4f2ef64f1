"""What TensorBoard's event files cost a trial: writing them per evaluation, against the evaluation itself and a
training step, side by side in one run.

    .venv/bin/python -m bench.tensorboard_cost [--quick] [--preset tiny] [--threads 1] [--evals 4]

Trains one trial of ``--preset`` (its own ``eval.every``) in a temporary folder with the ``TrialWriter`` a sweep
uses (sweep/artifacts.py), timing each part of every evaluation interval as it happens: the training steps, the
evaluation (sampling, probe, metrics), writing the trial folder's files (evals/*.npz, metrics.jsonl and the event
file) and, apart, the event file's append alone (sweep/events.py). Prints each part's median per evaluation, the
event append as a ratio to the evaluation, to one training step and to the whole interval, and what starting the
event file costs: the first start in a process (it imports tensorboardX) and a later one (a retried attempt's: its
restart marker and the hyperparameters).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import machine_line, set_threads
from model.config import from_preset
from model.train import Trainer
from sweep.artifacts import TrialWriter
from sweep.events import EventLog

PARTS = ("training step", "evaluation", "trial files", "event append")


def timed(fn, *args) -> tuple[float, float]:
    """Wall seconds and CPU seconds of this process that ``fn(*args)`` took: on a shared machine the CPU seconds
    move less with the neighbours' load."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> None:
    """Run the measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="micro preset, 3 evaluations")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a 1-CPU Ray trial gets 1)")
    parser.add_argument("--evals", type=int, default=4, help="evaluations after the untrained one")
    args = parser.parse_args(argv)
    preset, evals = ("micro", 3) if args.quick else (args.preset, args.evals)
    set_threads(args.threads)
    print(machine_line(args.threads))
    every = from_preset(preset).eval.every
    trainer = Trainer(from_preset(preset, {"train.steps": every * evals}))
    derived = trainer.data.derived()
    parts: dict[str, list[tuple[float, float]]] = {name: [] for name in PARTS}
    with tempfile.TemporaryDirectory() as d:
        # The event append is timed on a second file, so the trial's own is written once, as in a sweep.
        scratch = EventLog(Path(d) / "scratch")
        scratch.folder.mkdir()
        first_start = timed(scratch.start, trainer.config, derived, [])
        writer = TrialWriter(Path(d) / "trial", plot=False, checkpoint=False)
        writer.start(trainer)
        clock, metrics = time.perf_counter() - trainer.elapsed, {}
        for round_ in range(evals + 1):
            if round_:  # round 0 evaluates the untrained network, as every trial does
                steps = timed(lambda: [trainer.train_step() for _ in range(every)])
                parts["training step"].append((steps[0] / every, steps[1] / every))
            parts["evaluation"].append(timed(lambda: metrics.update(trainer.end_interval(clock))))
            parts["trial files"].append(timed(writer, trainer.step, metrics, trainer))
            parts["event append"].append(timed(scratch.append, metrics))
        restart = timed(scratch.start, trainer.config, derived, trainer.history)

    print(f"{preset}: eval.every {every}, {evals} evaluations after step 0, {len(metrics) - 1} metrics each")
    print(f"  {'median per evaluation':<22} {'wall ms':>10} {'CPU ms':>10}")
    median = {name: [statistics.median(t[i] for t in times) for i in (0, 1)] for name, times in parts.items()}
    for name, (wall, cpu) in median.items():
        print(f"  {name:<22} {wall * 1e3:10.3f} {cpu * 1e3:10.3f}")
    append = median["event append"]
    interval = [every * median["training step"][i] + median["evaluation"][i] + median["trial files"][i] for i in (0, 1)]
    for name, whole in (("evaluation", median["evaluation"]), ("training step", median["training step"]),
                        (f"interval ({every} steps, evaluation, trial files)", interval)):
        print(f"  event append / {name}: {append[0] / whole[0]:.2e} wall, {append[1] / whole[1]:.2e} CPU")
    print(f"  first start in a process (imports tensorboardX, writes hparams): {first_start[0] * 1e3:.1f} ms wall")
    print(f"  a later start (restart marker, hparams): {restart[0] * 1e3:.2f} ms wall, {restart[1] * 1e3:.2f} ms CPU")


if __name__ == "__main__":
    main()
