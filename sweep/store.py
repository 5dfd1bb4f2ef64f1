"""The results store of a sweep folder, rebuilt from what trials write, so it survives any interruption.

    SWEEP/manifest.json       spec, spec hash, package version, git commit, library versions, machine
    SWEEP/results.parquet     one row per trial x evaluation (results.csv beside it)
    SWEEP/trials/<trial_id>/  trial.json, status.json, metrics.jsonl, evals/step_*.npz (sweep/artifacts.py), and
                              claim.lock, locked while a process trains the trial (``claimed``)
    SWEEP/tune/               Ray Tune's experiment state and checkpoints

Columns: sweep, trial_id (hash of the full config and seed), config_hash (the same without the seed, shared
by replicates), status (COMPLETED | STOPPED (early, by the scheduler or the spec's stop) | RUNNING | ERROR), error,
stop_reason ("phase" when the spec's stop ended the trial, else empty), seed, every
config key flattened (lists as JSON text), n_positions, density, overlap, the ceiling gt_* (model/ceiling.py),
step, time_s, loss, every metric of DESIGN.md, phase, node_id, hostname, trial_dir. A trial with no evaluation yet
still has one row.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from model.config import Config
from model.definitions import FINISHED, PENDING, STOP_REASON
from sweep.artifacts import from_json_safe, write_json
from sweep.provenance import git_commit, library_versions, machine

TRIALS = "trials"


def trial_folder(sweep_dir: Path, trial_id: str) -> Path:
    """``<sweep_dir>/trials/<trial_id>``, the folder of one trial (not created)."""
    return Path(sweep_dir) / TRIALS / trial_id


def read_status(folder: Path) -> dict[str, Any]:
    """A trial folder's status.json as a dict; ``{"status": PENDING}`` when there is none yet."""
    path = folder / "status.json"
    return json.loads(path.read_text()) if path.exists() else {"status": PENDING}


def write_status(folder: Path, status: str, **extra: Any) -> None:
    """Set ``status`` and the ``extra`` fields in a trial's status.json, keeping the other fields and
    stamping ``updated``; creates the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "status.json", {**read_status(folder), "status": status, **extra, "updated": time.time()})


def is_finished(folder: Path, settled: bool = True) -> bool:
    """Whether a trial folder's trial needs no more training: COMPLETED or STOPPED; with ``settled`` False, not
    one the spec's ``stop`` ended (a spec without ``stop`` trains it to its last step)."""
    status = read_status(folder)
    return status["status"] in FINISHED and (settled or status.get("stop_reason") != STOP_REASON)


def finished_trial_ids(sweep_dir: Path, settled: bool = True) -> set[str]:
    """Ids of the trials under ``sweep_dir/trials`` that are finished (``is_finished``)."""
    root = Path(sweep_dir) / TRIALS
    if not root.exists():
        return set()
    return {f.name for f in root.iterdir() if is_finished(f, settled)}


@contextlib.contextmanager
def claimed(folders: list[Path]) -> Iterator[None]:
    """Hold trial folders while one process trains them: an exclusive ``flock`` on each folder's claim.lock,
    taken in sorted order (two overlapping groups cannot deadlock) and released when the block ends or the
    process dies. A second Tune trial of the same config waits here, then finds the trial finished
    (``is_finished``) and trains nothing. Tune can hold such a duplicate after a resume: it writes its trial list
    and then the searcher's state, so a kill between the two leaves the searcher one suggestion behind, and it
    suggests again a trial that Tune also resumes."""
    with contextlib.ExitStack() as stack:
        for folder in sorted(set(folders)):  # one lock per folder: a second flock on it here would wait forever
            folder.mkdir(parents=True, exist_ok=True)
            lock = stack.enter_context(open(folder / "claim.lock", "a"))
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _flat_config(config: dict[str, Any]) -> dict[str, Any]:
    flat = Config.from_dict(config).flat()
    return {k: json.dumps(v) if isinstance(v, list) else v for k, v in flat.items()}


def _number(value: Any) -> float:
    """A number trial.json holds as ``json_safe`` wrote it."""
    return float(from_json_safe(value))


def _trial_rows(sweep: str, sweep_dir: Path, folder: Path) -> list[dict[str, Any]]:
    record = json.loads((folder / "trial.json").read_text())
    status = read_status(folder)
    base = {
        "sweep": sweep,
        "trial_id": record["trial_id"],
        "config_hash": record["config_hash"],
        "status": status["status"],
        "error": status.get("error", ""),
        "stop_reason": status.get("stop_reason", ""),
        "seed": record["seed"],
        **_flat_config(record["config"]),
        **{k: _number(v) for k, v in record["derived"].items()},
        **{k: _number(v) for k, v in record.get("ceiling", {}).items()},
        "node_id": status.get("node_id", ""),
        "hostname": status.get("hostname", ""),
        "trial_dir": str(folder.relative_to(sweep_dir)),
    }
    return [{**base, **m} for m in evaluations(folder)] or [base]


def evaluations(folder: Path) -> list[dict[str, Any]]:
    """A trial folder's evaluations (metrics.jsonl), oldest first; [] before the first."""
    path = folder / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def collect(sweep_dir: Path, sweep: str) -> pd.DataFrame:
    """The tidy table of every trial folder in the sweep (finished, running or failed)."""
    root = Path(sweep_dir) / TRIALS
    rows: list[dict[str, Any]] = []
    if root.exists():
        for folder in sorted(root.iterdir()):
            if (folder / "trial.json").exists():
                rows.extend(_trial_rows(sweep, Path(sweep_dir), folder))
    table = pd.DataFrame(rows)
    if "step" in table:
        table = table.sort_values(["trial_id", "step"], na_position="first").reset_index(drop=True)
    return table


def write_results(sweep_dir: Path, sweep: str) -> pd.DataFrame:
    """Rebuild results.parquet and results.csv atomically; readers never see a half-written table."""
    table = collect(sweep_dir, sweep)
    for name, write in (("results.parquet", table.to_parquet), ("results.csv", table.to_csv)):
        tmp = Path(sweep_dir) / f".{name}.tmp"
        write(tmp, index=False)
        os.replace(tmp, Path(sweep_dir) / name)
    return table


def write_manifest(sweep_dir: Path, spec: dict[str, Any], spec_hash: str, axes: list[str], trials_total: int,
                   finished: bool, extra: dict[str, Any] | None = None) -> None:
    """Write ``sweep_dir/manifest.json``: name, spec, spec hash, axes, trial count, whether finished,
    versions, git commit and machine, and the ``extra`` fields (a boundary search's grid); ``created`` and
    ``started`` (``mark_started``) keep their values."""
    path = Path(sweep_dir) / "manifest.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    write_json(path, {
        "name": spec["name"],
        "spec": spec,
        "spec_hash": spec_hash,
        "axes": axes,
        "trials_total": trials_total,
        "finished": finished,
        "version": library_versions().get("phasescape"),
        "git_commit": git_commit(),
        "versions": library_versions(),
        "machine": machine(),
        "created": previous.get("created") or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "started": previous.get("started"),
        **(extra or {}),
    })


def mark_started(sweep_dir: Path) -> None:
    """Stamp the manifest's ``started`` (Unix time) as a run or resume begins: a live report measures the elapsed
    time and the training rate of this run from it, and takes a trial left RUNNING before it for one not restarted
    yet (analysis/progress.py)."""
    write_json(Path(sweep_dir) / "manifest.json", {**read_manifest(sweep_dir), "started": time.time()})


def read_manifest(sweep_dir: Path) -> dict[str, Any]:
    """The manifest.json of a sweep folder as a dict (FileNotFoundError when there is none)."""
    return json.loads((Path(sweep_dir) / "manifest.json").read_text())


def swept_keys(sweep_dir: Path) -> tuple[str, ...]:
    """What a sweep varies, as the names of trial hyperparameters (sweep/events.py): its axes (a convenience axis,
    density or overlap, is the derived quantity of that name) and ``train.seed`` when it has several seeds."""
    manifest = read_manifest(sweep_dir)
    return (*manifest["axes"], *(["train.seed"] if len(manifest["spec"]["seeds"]) > 1 else []))

