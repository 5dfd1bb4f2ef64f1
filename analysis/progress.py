"""Where a sweep stands, read from its folder while it runs: trials and cells done, running and pending, training
steps done of the total, the time elapsed and an estimate of the time left; and the box a live report shows it in.

Read straight from the files the trials write as they go (status.json, metrics.jsonl, trial.json) and the manifest,
so it is fresher than results.parquet (rewritten every 20 s) and works for a sweep running on another machine.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.definitions import ERROR, FINISHED, PENDING, RUNNING

DONE, FAILED = "done", "failed"  # a trial's state in the progress, beside RUNNING and PENDING
RESULTS = ("results.parquet", "results.csv")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file as a dict, {} when it is missing or caught half-written (the trials write as we read)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _last_step(folder: Path) -> int:
    """The step of a trial's last evaluation in metrics.jsonl (its last whole line; one being appended is
    skipped), 0 before any."""
    try:
        lines = (folder / "metrics.jsonl").read_text().splitlines()
    except OSError:
        return 0
    for line in reversed(lines):
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0


@dataclass
class Trial:
    """One started trial as the progress sees it."""

    cell: str  # config_hash: the config without its seed; replicates share a cell
    state: str  # DONE, FAILED, RUNNING or PENDING
    step: int  # last evaluated step
    steps: int  # train.steps
    trained: int  # steps trained since this run started (0 for a trial trained by an earlier run)


def _trial(folder: Path, started: float | None) -> Trial:
    """The progress of the trial in ``folder``. A trial RUNNING since before this run started was cut short by an
    interrupted run and waits to be restarted: it counts as pending."""
    record, status = read_json(folder / "trial.json"), read_json(folder / "status.json")
    state, updated = status.get("status", PENDING), status.get("updated", 0.0)
    this_run = started is None or updated >= started
    if state in FINISHED:
        state = DONE
    elif state == ERROR:
        state = FAILED
    elif state == RUNNING and not this_run:
        state = PENDING
    step = _last_step(folder)
    trained = step - int(status.get("restored_from_step") or 0) if this_run and state != PENDING else 0
    steps = int(record.get("config", {}).get("train", {}).get("steps", 0))
    return Trial(record.get("config_hash", folder.name), state, step, steps, max(trained, 0))


@dataclass
class Progress:
    """Where a sweep stands: trials and cells by state, training steps done of the total, time elapsed and left."""

    trials: Counter = field(default_factory=Counter)  # DONE, FAILED, RUNNING, PENDING -> count
    cells: Counter = field(default_factory=Counter)  # DONE, RUNNING, PENDING -> count
    steps_done: int = 0
    steps_total: int = 0
    elapsed_s: float | None = None  # since this run started (None: not recorded)
    left_s: float | None = None  # estimate; None until this run has trained a step
    finished: bool = False
    boundary: bool = False  # a boundary search: some pending cells will be inferred, not trained


def read_progress(sweep_dir: Path, now: float | None = None) -> Progress:
    """The progress of a sweep from its manifest and trial folders.

    Trials not started yet have no folder: they are ``trials_total`` minus the folders. A cell (one config, all its
    seeds) is done when all its seeds are done or failed, pending while none has started, running otherwise. The
    time left is the training steps still to go (trials not started counted at the spec's ``steps``) at the rate of
    this run so far (steps trained since the manifest's ``started`` over the time since), so it includes the time
    between steps (evaluations, worker starts) and how many trials run at once.
    """
    sweep_dir = Path(sweep_dir)
    now = time.time() if now is None else now
    manifest = read_json(sweep_dir / "manifest.json")
    spec = manifest.get("spec") or {}
    started = manifest.get("started")
    root = sweep_dir / "trials"
    folders = sorted(f for f in root.iterdir() if (f / "trial.json").exists()) if root.is_dir() else []
    trials = [_trial(f, started) for f in folders]
    total = max(int(manifest.get("trials_total") or 0), len(trials))
    known = [t.steps for t in trials if t.steps]
    default_steps = spec.get("steps") or (round(sum(known) / len(known)) if known else 0)
    progress = Progress(elapsed_s=None if started is None else max(now - started, 0.0),
                        boundary=(spec.get("search") or {}).get("type") == "boundary")
    progress.trials.update(t.state for t in trials)
    progress.trials[PENDING] += total - len(trials)
    ended = {DONE, FAILED}
    progress.steps_total = sum(t.steps for t in trials) + (total - len(trials)) * default_steps
    progress.steps_done = sum(t.steps if t.state in ended else t.step for t in trials)
    per_cell = 1 if (spec.get("search") or {}).get("type") == "optuna" else max(len(spec.get("seeds") or [0]), 1)
    by_cell: dict[str, list[str]] = {}
    for t in trials:
        by_cell.setdefault(t.cell, []).append(t.state)
    for states in by_cell.values():
        finals = sum(s in ended for s in states)
        progress.cells[DONE if finals >= per_cell else PENDING if set(states) == {PENDING} else RUNNING] += 1
    progress.cells[PENDING] += max(math.ceil(total / per_cell) - len(by_cell), 0)
    trained = sum(t.trained for t in trials)
    if trained and progress.elapsed_s:
        progress.left_s = (progress.steps_total - progress.steps_done) * progress.elapsed_s / trained
    progress.finished = bool(manifest.get("finished")) or _all_ended(sweep_dir, progress, total)
    return progress


def _all_ended(sweep_dir: Path, progress: Progress, total: int) -> bool:
    """Whether every trial has ended and the results table was written after the last of them (a driver that died
    before marking its manifest finished); the table must be that fresh, or a final report would miss the end."""
    if total == 0 or progress.trials[DONE] + progress.trials[FAILED] < total:
        return False
    tables = [sweep_dir / name for name in RESULTS if (sweep_dir / name).exists()]
    statuses = list((sweep_dir / "trials").glob("*/status.json"))
    return bool(tables) and max(p.stat().st_mtime for p in tables) >= max((p.stat().st_mtime for p in statuses),
                                                                          default=0.0)


def fmt_duration(seconds: float) -> str:
    """'45 s', '3 min 05 s', '2 h 07 min'."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def progress_html(progress: Progress, refresh_s: int, sweep_dir: Path) -> str:
    """The progress box at the top of a live report: what runs, a bar of the training steps done, cells and trials
    by state, elapsed and left. ``refresh_s`` 0: the sweep is not running any more (an interrupted run's last
    report), said with the command that continues it."""
    built = time.strftime("%H:%M:%S")
    if refresh_s > 0:
        head = f"<b>Sweep running.</b> This page is rebuilt and reloads itself every {refresh_s} s (built {built})."
    else:
        head = (f"<b>Sweep stopped before it finished</b> (built {built}); "
                f"<code>phasescape resume {html.escape(str(sweep_dir))}</code> continues it.")
    share = progress.steps_done / progress.steps_total if progress.steps_total else 0.0
    c, t = progress.cells, progress.trials
    cells = (f"Cells: {c[DONE]} done, {c[RUNNING]} running, {c[PENDING]} pending (of {sum(c.values())})"
             + ("; a boundary search infers some pending cells instead of training them" if progress.boundary else ""))
    trials = (f"Trials: {t[DONE]} done, {t[RUNNING]} running, {t[PENDING]} pending (of {sum(t.values())})"
              + (f", {t[FAILED]} failed" if t[FAILED] else ""))
    elapsed = "unknown" if progress.elapsed_s is None else fmt_duration(progress.elapsed_s)
    if progress.left_s is not None:
        left = f"about {fmt_duration(progress.left_s)} left at this run's rate so far"
    else:
        left = "time left: known after the first training steps" if refresh_s > 0 else ""
    timing = f"Elapsed {elapsed}" + (f"; {left}" if left else "")
    return (f'<div class="live"><p>{head}</p>'
            f'<progress max="{progress.steps_total}" value="{progress.steps_done}"></progress>'
            f"<p>{share:.0%} of the training steps ({progress.steps_done:,} of {progress.steps_total:,}). "
            f"{cells}. {trials}. {timing}.</p>"
            "<p>The figures come from results.parquet, which the driver rewrites every 20 s while the sweep runs; "
            "cells with running trials carry *.</p></div>")
