"""Live progress of a sweep in the driver: one line per trial event, a periodic summary, a fresh table."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from ray.tune import Callback

from model.definitions import CONVENIENCE_AXES, RUNNING, STOPPED
from model.geometry import derived_quantities
from sweep.store import read_status, trial_folder, write_results, write_status
from sweep.trainable import trial_configs


class Progress(Callback):
    """Prints trial events; every ``every_s`` seconds prints a summary and rebuilds results.parquet."""

    def __init__(self, sweep: str, sweep_dir: str, axes: list[str], every_s: float) -> None:
        self.sweep, self.sweep_dir, self.axes, self.every_s = sweep, Path(sweep_dir), axes, every_s
        self.started = time.time()
        self.last_summary = time.time()
        self.best: dict[str, Any] = {}

    def _label(self, trial: Any) -> str:
        """Short trial id and the trial's value on each axis (density and overlap as realized); a packed
        group is labelled by its first member."""
        configs = trial_configs(trial.config)
        config = configs[0]
        flat = config.flat()
        derived = derived_quantities(config.data, config.train.seed)
        parts = []
        for key in self.axes:
            value = derived[key] if key in CONVENIENCE_AXES else flat[key]
            short = key.split(".")[-1]
            parts.append(f"{short}={value:.3g}" if isinstance(value, float) else f"{short}={value}")
        packed = f" +{len(configs) - 1} packed" if len(configs) > 1 else ""
        return f"{config.hash()[:8]} [{' '.join(parts)} seed={config.train.seed}]{packed}"

    def _line(self, text: str) -> None:
        print(f"[{time.time() - self.started:7.1f}s] {text}", flush=True)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Print a start line for ``trial``."""
        self._line(f"start   {self._label(trial)}")

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        """Print an evaluation line for ``trial``; remember it when its acc is the best so far."""
        self._line(
            f"eval    {self._label(trial)} step {result.get('step')} phase {result.get('phase')} "
            f"acc {result.get('acc', float('nan')):.2f} single {result.get('frac_single', float('nan')):.2f} "
            f"r2 {result.get('r2_x', float('nan')):.2f}/{result.get('r2_y', float('nan')):.2f}"
        )
        if result.get("acc", -1) > self.best.get("acc", -1):
            self.best = {"acc": result["acc"], "trial": self._label(trial), "step": result.get("step")}

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Print a done line for ``trial``; a trial still running was stopped by the scheduler: record it STOPPED.
        (Tune calls this for trials that finished or that its scheduler stopped, never for those a Ctrl-C ends.)"""
        for config in trial_configs(trial.config):
            folder = trial_folder(self.sweep_dir, config.hash())
            if read_status(folder)["status"] == RUNNING:
                write_status(folder, STOPPED, error="stopped early by the scheduler")
        self._line(f"done    {self._label(trial)}")

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Print a retry line: Tune restarts ``trial`` from its last checkpoint."""
        self._line(f"retry   {self._label(trial)} from its last checkpoint")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Print a failed line: ``trial`` ran out of retries."""
        self._line(f"failed  {self._label(trial)} after max_failures retries; the reason is in its status.json")

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        """Every ``every_s`` seconds, print a summary (trials by state, best acc) and rebuild the
        results table."""
        if time.time() - self.last_summary < self.every_s:
            return
        self.last_summary = time.time()
        counts = Counter(t.status for t in trials)
        best = ""
        if self.best:
            best = f"; best acc {self.best['acc']:.2f} at step {self.best['step']} {self.best['trial']}"
        self._line("summary " + ", ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items())) + best)
        write_results(self.sweep_dir, self.sweep)
