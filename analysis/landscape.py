"""The density-versus-phase landscape: results table -> one row per trial -> one row per grid cell.

Definitions (docs/definitions.md), over the seeds of a cell:
- final phase: the most common final phase; a tie goes to the less advanced phase (A before B before C), so a
  cell is called C only when C wins outright. ``share_C`` is the share of its seeds whose final phase is C.
- steps (seconds) to C: per trial the first evaluation in phase C, +inf when it never got there; per cell the
  median over seeds with "never" counted as infinite, so a cell reads "never" once half its seeds never did.
- acc, acc_x, acc_y, r2_x, r2_y, additivity, orthogonality: value at the last evaluation; mean and sample
  standard deviation (``*_std``, NaN for one seed) over seeds.
- onset_x (onset_y): first step with acc_x (acc_y) >= ONSET (0.5); coupling = onset of the sparse axis (the larger
  lattice spacing; 0 = continuous is the densest) / onset of the dense axis, NaN when the spacings are equal.
Failed trials (status ERROR) are counted per cell but neither vote nor average: their last evaluation is not a
final state. Trials stopped early by a scheduler (STOPPED) count like completed ones. Running (or pending) trials
count with their latest evaluation, and their cells are marked partial.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis import ReportError
from analysis.results import check_table
from model.definitions import CONFIG_SECTIONS, DERIVED, ERROR, FINISHED, ONSET, PHASES, UNFINISHED

FINAL_METRICS = ("acc", "acc_x", "acc_y", "frac_single", "r2_x", "r2_y", "additivity", "orthogonality")
MEDIAN_OVER_SEEDS = ("steps_to_C", "seconds_to_C", "onset_x", "onset_y", "coupling")
NOT_AXES = ("train.seed",)  # replicate seeds are aggregated, never mapped
DEFAULT_AXES = ("density", "overlap")


def modal_phase(phases: Iterable[Any]) -> str | float:
    """Most common phase, ties to the less advanced one; NaN when there is none."""
    counts = Counter(p for p in phases if isinstance(p, str))
    if not counts:
        return math.nan
    top = max(counts.values())
    return min(p for p, n in counts.items() if n == top)


def axis_values(values: pd.Series) -> list[Any]:
    """Distinct values of an axis in plotting order: sorted (inf last among numbers), NaN at the end."""
    unique = list(pd.unique(values))
    present = [v for v in unique if not pd.isna(v)]
    try:
        present.sort()
    except TypeError:
        present.sort(key=str)
    return present + [math.nan] * (len(present) < len(unique))


def position(order: Sequence[Any], value: Any) -> int:
    """Index of ``value`` in an ``axis_values`` list (NaN matches NaN)."""
    return next(i for i, v in enumerate(order) if v == value or (pd.isna(v) and pd.isna(value)))


def by_cell(frame: pd.DataFrame, x: str, y: str, cells: pd.DataFrame) -> dict[tuple[int, int], pd.DataFrame]:
    """Rows of ``frame`` grouped by cell, keyed by the cell's (x index, y index) in ``cells``' axis order."""
    xs, ys = axis_values(cells[x]), axis_values(cells[y])
    groups = frame.groupby([x, y], dropna=False, sort=False)
    return {(position(xs, xv), position(ys, yv)): g for (xv, yv), g in groups}


def config_columns(df: pd.DataFrame) -> list[str]:
    """Columns of a results table that can be axes: flattened config keys and derived data
    quantities (n_positions, density, overlap), ``train.seed`` excluded."""
    return [c for c in df.columns if (c.startswith(CONFIG_SECTIONS) or c in DERIVED) and c not in NOT_AXES]


def varying(df: pd.DataFrame) -> list[str]:
    """Config columns with more than one distinct value: what a sweep actually changed."""
    return [c for c in config_columns(df) if df[c].nunique(dropna=False) > 1]


def choose_axes(
    df: pd.DataFrame, swept: Sequence[str] = (), x: str | None = None, y: str | None = None
) -> tuple[str, str]:
    """The two grid axes: those given, else density x overlap when both vary, else the sweep's swept axes, else
    whatever varies (constant density/overlap fill in for a one-axis sweep)."""
    allowed = config_columns(df)
    for flag, name in (("--x", x), ("--y", y)):
        if name is not None and name not in allowed:
            raise ReportError(f"{flag} {name}: not a config column of this sweep; choose one of "
                              f"{', '.join(varying(df) or allowed)}")
    if x is not None and x == y:
        raise ReportError(f"--x/--y: both are {x}; choose two different axes")
    varies = varying(df)
    if all(a in varies for a in DEFAULT_AXES):
        candidates = list(DEFAULT_AXES)
    else:
        candidates = [a for a in swept if a in allowed] + varies + [a for a in DEFAULT_AXES if a in allowed]
    chosen = [x, y]
    for i in (0, 1):
        if chosen[i] is None:
            chosen[i] = next((c for c in candidates if c not in chosen), None)
    if chosen[0] is None or chosen[1] is None:
        raise ReportError("axes: the results table has fewer than two config columns to map; pass --x and --y")
    return chosen[0], chosen[1]


def _first_step(evals: pd.DataFrame, hit: pd.Series, column: str = "step") -> float:
    """``column`` at the first evaluation where ``hit`` holds; +inf if it never does."""
    values = evals.loc[hit, column]
    return float(values.iloc[0]) if len(values) else math.inf


def _coupling(first: pd.Series, onset_x: float, onset_y: float) -> tuple[str, float]:
    """(sparse axis, onset of the sparse axis / onset of the dense axis); ('', NaN) when not imbalanced."""
    sx, sy = first.get("data.spacing_x", math.nan), first.get("data.spacing_y", math.nan)
    if pd.isna(sx) or pd.isna(sy) or sx == sy:
        return "", math.nan
    sparse, dense = (onset_x, onset_y) if sx > sy else (onset_y, onset_x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return ("x" if sx > sy else "y"), float(np.float64(sparse) / np.float64(dense))


def trial_summary(df: pd.DataFrame, x: str, y: str, onset: float = ONSET) -> pd.DataFrame:
    """One row per trial: its cell (x, y), status, error, last evaluation, steps/seconds to C, onsets, coupling."""
    df = check_table(df, (x, y))
    rows = []
    for trial_id, t in df.groupby("trial_id", sort=False):
        t = t.sort_values("step", na_position="first", kind="stable")
        evals = t[t["step"].notna()]
        first = t.iloc[0]
        row: dict[str, Any] = {
            "trial_id": trial_id, x: first[x], y: first[y], "seed": first["seed"], "config_hash": first["config_hash"],
            # An error may be recorded after evaluations: it decides the trial's status.
            "status": ERROR if (t["status"] == ERROR).any() else t["status"].iloc[-1],
            "error": next((e for e in t["error"] if e), ""), "trial_dir": first["trial_dir"], "n_evals": len(evals),
        }
        if len(evals):
            last = evals.iloc[-1]
            in_c = evals["phase"] == "C"
            row.update({"step": last["step"], "time_s": last["time_s"], "phase": last["phase"],
                        **{m: last[m] for m in FINAL_METRICS},
                        "steps_to_C": _first_step(evals, in_c), "seconds_to_C": _first_step(evals, in_c, "time_s"),
                        "onset_x": _first_step(evals, evals["acc_x"] >= onset),
                        "onset_y": _first_step(evals, evals["acc_y"] >= onset)})
        else:
            row.update(dict.fromkeys(("step", "time_s", *FINAL_METRICS, *MEDIAN_OVER_SEEDS), math.nan), phase=math.nan)
        row["sparse"], row["coupling"] = _coupling(first, row["onset_x"], row["onset_y"])
        rows.append(row)
    return pd.DataFrame(rows)


def landscape(df: pd.DataFrame, x: str, y: str, onset: float = ONSET) -> pd.DataFrame:
    """One row per grid cell (x, y), seeds aggregated as the module docstring says, in axis order (y, then x).

    ``state``: done | partial (a trial still running or pending) | pending (no evaluation yet) | failed (every
    trial failed). ``n_completed`` counts COMPLETED or STOPPED trials, ``n_running`` RUNNING or PENDING ones,
    ``n_error`` failed ones.
    """
    trials = trial_summary(df, x, y, onset)
    rows = []
    for (xv, yv), c in trials.groupby([x, y], dropna=False, sort=False):
        vote = c[(c["status"] != ERROR) & (c["n_evals"] > 0)]
        n_error, n_running = int((c["status"] == ERROR).sum()), int(c["status"].isin(UNFINISHED).sum())
        state = "failed" if n_error == len(c) else "pending" if vote.empty else "partial" if n_running else "done"
        row: dict[str, Any] = {
            x: xv, y: yv, "state": state, "n_trials": len(c), "n_completed": int(c["status"].isin(FINISHED).sum()),
            "n_running": n_running, "n_error": n_error, "n_configs": c["config_hash"].nunique(),
            "phase": modal_phase(vote["phase"]),
            "share_C": float((vote["phase"] == "C").mean()) if len(vote) else math.nan,
            **{f"n_{p}": int((vote["phase"] == p).sum()) for p in PHASES},
            "step": vote["step"].max(), "reached_C": int(np.isfinite(vote["steps_to_C"].astype(float)).sum()),
        }
        for m in FINAL_METRICS:
            row[m], row[f"{m}_std"] = vote[m].astype(float).mean(), vote[m].astype(float).std()
        for m in MEDIAN_OVER_SEEDS:
            row[m] = vote[m].astype(float).median()
        rows.append(row)
    xs, ys = axis_values(trials[x]), axis_values(trials[y])
    rows.sort(key=lambda r: (position(ys, r[y]), position(xs, r[x])))
    return pd.DataFrame(rows)


def _midpoint(a: Any, b: Any) -> float:
    numeric = all(isinstance(v, numbers.Real) and math.isfinite(v) for v in (a, b))
    return (a + b) / 2 if numeric else math.nan


def phase_boundary(cells: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Neighbouring cells whose final phases differ, one row per pair.

    Neighbours are consecutive cells, in axis order, of one row (crossing x) or column (crossing y) among the
    cells that have a phase; failed or empty cells in between are skipped. Columns: ``along`` (the axis
    crossed), ``at`` (the other axis' value), ``low``/``high`` (crossed-axis values either side),
    ``phase_low``/``phase_high``, ``mid`` (midpoint of low and high; NaN unless both are finite numbers).
    """
    rows = []
    known = cells[cells["phase"].notna()]
    for along, other in ((x, y), (y, x)):
        order = axis_values(cells[along])
        for at, line in known.groupby(other, dropna=False, sort=False):
            line = line.iloc[np.argsort([position(order, v) for v in line[along]], kind="stable")]
            for (_, a), (_, b) in zip(line.iloc[:-1].iterrows(), line.iloc[1:].iterrows(), strict=True):
                if a["phase"] != b["phase"]:
                    rows.append({"along": along, "at": at, "low": a[along], "high": b[along],
                                 "phase_low": a["phase"], "phase_high": b["phase"],
                                 "mid": _midpoint(a[along], b[along])})
    return pd.DataFrame(rows, columns=["along", "at", "low", "high", "phase_low", "phase_high", "mid"])


def phase_timeline(df: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Phase of each cell at each evaluation step (modal over its non-failed seeds): x, y, step, phase, n_seeds."""
    df = check_table(df, (x, y))
    failed = set(df.loc[df["status"] == ERROR, "trial_id"])
    evals = df[df["step"].notna() & ~df["trial_id"].isin(failed)]
    out = (evals.groupby([x, y, "step"], dropna=False, sort=False)
           .agg(phase=("phase", modal_phase), n_seeds=("phase", "size")).reset_index())
    xs, ys = axis_values(df[x]), axis_values(df[y])
    order = [(position(ys, b), position(xs, a), s) for a, b, s in zip(out[x], out[y], out["step"], strict=True)]
    return out.iloc[sorted(range(len(out)), key=order.__getitem__)].reset_index(drop=True)
