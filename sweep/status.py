"""Plain-text views of a sweep: the plan of a dry run, and the status of a (running or finished) sweep."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from model.ceiling import ceiling
from model.definitions import CONVENIENCE_AXES, ERROR
from model.geometry import derived_quantities
from sweep.spec import SweepSpec


def print_plan(spec: SweepSpec, storage: str | None, max_concurrent: int | None) -> None:
    """The trial table and resource plan of a spec; starts nothing."""
    trials = spec.trials()
    rows = []
    for config in trials:
        flat = config.flat()
        derived = derived_quantities(config.data, config.train.seed)
        row = {"trial_id": config.hash()[:10]}
        row.update({k.split(".")[-1]: flat[k] for k in spec.axes if k not in CONVENIENCE_AXES})
        row.update({"seed": config.train.seed, "spacing": f"{config.data.spacing_x:.2f}x{config.data.spacing_y:.2f}",
                    "sigma": round(config.data.sigma, 3), "density": round(derived["density"], 4),
                    "overlap": round(derived["overlap"], 3), "ceiling": round(ceiling(config)["gt_acc"], 2),
                    "steps": config.train.steps})
        rows.append(row)
    r = spec.resources
    print(f"sweep {spec.name}: {spec.search.type} search, scheduler {spec.scheduler.type}, base preset {spec.base}")
    if rows:
        print(pd.DataFrame(rows).to_string(index=False))
    else:
        print(f"{spec.search.num_samples} trial(s) sampled by Optuna from: {spec.axes}")
    limit = max_concurrent or spec.max_concurrent
    local_slots = math.floor((os.cpu_count() or 1) / r.cpu)
    at_once = min(local_slots, limit) if limit else local_slots
    print(f"per trial: {r.cpu:g} CPU, {r.gpu:g} GPU{', ' + str(r.custom) if r.custom else ''}; "
          f"{len(trials) or spec.search.num_samples} trial(s), up to {at_once} at once on this machine "
          f"({os.cpu_count()} CPUs){f', max_concurrent {limit}' if limit else ''}; results -> {spec.folder(storage)}")
    print("dry run: nothing started")


def final_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The last evaluation of each trial (or its only row if it never evaluated)."""
    ordered = table.sort_values("step", na_position="first") if "step" in table else table
    return ordered.groupby("trial_id", sort=False).tail(1).set_index("trial_id")


def print_status(table: pd.DataFrame, sweep_dir: Path) -> None:
    """Print the status of a sweep from its results ``table`` (``store.collect``'s): trials by state,
    final phases, how many reached phase C, the best acc with a table of final rows, each failed trial's error and
    where results.parquet is."""
    if table.empty:
        print(f"{sweep_dir}: no trial has started yet")
        return
    last = final_rows(table)
    counts = last["status"].value_counts().to_dict()
    print(f"{sweep_dir}: {len(last)} trial(s): " + ", ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items())))
    if "phase" in last:
        phases = last["phase"].fillna("-").value_counts().to_dict()
        print("final phase: " + ", ".join(f"{k} {v}" for k, v in sorted(phases.items())))
        reached_c = table[table["phase"] == "C"].groupby("trial_id")["step"].min()
        print(f"reached phase C: {len(reached_c)}/{len(last)} trial(s)"
              + (f", first at step {int(reached_c.min())}" if len(reached_c) else ""))
    if "acc" in last and last["acc"].notna().any():
        best = last["acc"].idxmax()
        print(f"best so far: trial {best[:10]} acc {last.loc[best, 'acc']:.2f} at step {int(last.loc[best, 'step'])}")
        columns = [c for c in ("status", "density", "overlap", "data.sigma", "seed", "step", "phase", "acc",
                               "r2_x", "r2_y") if c in last]
        print(last[columns].rename(index=lambda s: s[:10]).to_string(float_format=lambda v: f"{v:.3g}"))
    errors = last[last["status"] == ERROR]
    for trial_id, row in errors.iterrows():
        print(f"ERROR {trial_id[:10]}: {row['error']}")
    print(f"results: {sweep_dir / 'results.parquet'}")
