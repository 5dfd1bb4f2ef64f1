"""Reading a sweep folder: the results table, its manifest and the per-trial evaluation files.

Every check raises ``ReportError`` naming the file or column and the fix, so the CLI can print one line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import ReportError
from model.definitions import (
    CONFIG_SECTIONS,
    DERIVED,
    IDENTITY_COLUMNS,
    PHASES,
    PROBE_METRICS,
    REQUIRED_METRICS,
    STATUSES,
)

# Probe scores and provenance are shown when present; an older or hand-made table may lack them.
OPTIONAL_TEXT = ("config_hash", "error", "trial_dir")
# The detector's score on the true images of a trial's own evaluation conditions (its ceiling; one value per
# trial, repeated in each of its rows), and the sample metrics scored at conditions on the training lattice. Both
# are absent from older tables, the lattice scores also from trials without a lattice: then they read NaN.
CEILING_COLUMNS = ("gt_frac_single", "gt_acc", "gt_acc_x", "gt_acc_y", "gt_lattice_acc")
LATTICE_COLUMNS = ("lattice_frac_single", "lattice_acc", "lattice_acc_x", "lattice_acc_y")
OPTIONAL_METRICS = (*PROBE_METRICS, *CEILING_COLUMNS, *LATTICE_COLUMNS)
PROBE_PREFIX = "probe."  # every layer's probe metrics: probe.<layer>.<metric> (model/definitions.py probe_column)
ANALYSIS_DERIVED = ("ratio",)  # derived here from the config columns (spacing_ratio), mappable like density


def spacing_ratio(spacing_x: float, spacing_y: float) -> float:
    """The larger lattice spacing / the smaller one; spacing 0 (continuous) is the densest, so (0, s > 0) gives
    inf and (0, 0) gives 1 (balanced); NaN when a spacing is unknown."""
    if math.isnan(spacing_x) or math.isnan(spacing_y):
        return math.nan
    low, high = sorted((spacing_x, spacing_y))
    if high == 0:
        return 1.0
    return math.inf if low == 0 else high / low


def tidy(value: float) -> float:
    """10 significant digits: an overlap solved for 0.2 and one of 0.19999999999999998 share a grid cell."""
    return float(f"{value:.10g}")


def check_table(df: pd.DataFrame, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A copy of a results table with its columns and values checked, numbers parsed, optional columns filled.

    Before any trial has evaluated, the store writes no metric columns at all: those become empty. Once
    ``step`` exists, every metric column must too. Optional metric columns (probe, ceiling, lattice scores) that an
    older table lacks become NaN; every metric column, the per-layer ``probe.*`` ones included, is numeric (nulls
    read NaN); ``ratio`` (``spacing_ratio``) is added when both spacings are columns.
    """
    df = df.copy()
    if "step" not in df.columns:
        for column in (*REQUIRED_METRICS, "phase"):
            df[column] = np.nan
    for column in (*IDENTITY_COLUMNS, *REQUIRED_METRICS, "phase", *columns):
        if column not in df.columns:
            raise ReportError(f"results table: missing column '{column}'; write the table with every column of "
                              f"the results contract (README, 'Reports')")
    if df.empty:
        raise ReportError("results table: no rows yet; run the report again once a trial has started")
    bad = sorted(set(df["status"].dropna()) - set(STATUSES))
    if bad or df["status"].isna().any():
        raise ReportError(f"status: unknown value {bad[0] if bad else None!r}; expected one of {', '.join(STATUSES)}")
    bad = sorted(set(df["phase"].dropna()) - set(PHASES))
    if bad:
        raise ReportError(f"phase: unknown value {bad[0]!r}; expected A, B or C (or empty before any evaluation)")
    missing = [column for column in OPTIONAL_METRICS if column not in df.columns]
    df = df.assign(**dict.fromkeys(missing, np.nan))
    # JSON lines carry NaN as null and infinities as "inf": a column of nulls would stay text. Every layer's probe
    # metrics (probe.<layer>.<metric>) are numbers too; the loss when present.
    per_layer = [c for c in df.columns if c.startswith(PROBE_PREFIX)]
    numeric = [*REQUIRED_METRICS, *OPTIONAL_METRICS, *per_layer, *(["loss"] if "loss" in df.columns else [])]
    # All columns at once: column by column, a wide table (8 layers × 19 metrics) fragments.
    converted = df[numeric].apply(pd.to_numeric, errors="coerce")
    df = pd.concat([df.drop(columns=numeric), converted], axis=1)[list(df.columns)]
    if {"data.spacing_x", "data.spacing_y"} <= set(df.columns):
        spacings = (pd.to_numeric(df[f"data.spacing_{a}"], errors="coerce") for a in "xy")
        df["ratio"] = [spacing_ratio(sx, sy) for sx, sy in zip(*spacings, strict=True)]
    mapped = (*DERIVED, *ANALYSIS_DERIVED)
    for column in df.columns:
        if (column.startswith(CONFIG_SECTIONS) or column in mapped) and pd.api.types.is_float_dtype(df[column]):
            df[column] = df[column].map(tidy)
    if "seed" not in df.columns:
        df["seed"] = np.nan
    for column in OPTIONAL_TEXT:
        df[column] = df[column].fillna("").astype(str) if column in df.columns else ""
    return df


def load_results(sweep_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The checked results table (Parquet, else the CSV beside it) and the manifest of a sweep folder."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise ReportError(f"{sweep_dir}: not a folder; pass the sweep folder that holds results.parquet")
    manifest_path = sweep_dir / "manifest.json"
    if not manifest_path.exists():
        raise ReportError(f"{manifest_path}: missing; pass a sweep folder (it holds manifest.json and results.parquet)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as error:
        raise ReportError(f"{manifest_path}: not valid JSON ({error.msg}); rewrite it or rerun the sweep") from None
    if (sweep_dir / "results.parquet").exists():
        df = pd.read_parquet(sweep_dir / "results.parquet")
    elif (sweep_dir / "results.csv").exists():
        df = pd.read_csv(sweep_dir / "results.csv")
    else:
        raise ReportError(f"{sweep_dir}: no results.parquet or results.csv yet; wait for the first trial to report")
    return check_table(df), manifest


def trial_folder(sweep_dir: Path, trial: pd.Series) -> Path:
    """The folder of a trial (a trial_summary row): its ``trial_dir`` under the sweep folder, else
    ``trials/<trial_id>`` (a table without the column)."""
    return Path(sweep_dir) / (trial["trial_dir"] or f"trials/{trial['trial_id']}")


def eval_files(sweep_dir: Path, trial: pd.Series) -> list[Path]:
    """The ``evals/step_*.npz`` files a trial saved, in step order (none when its folder is gone)."""
    return sorted((trial_folder(sweep_dir, trial) / "evals").glob("step_*.npz"))


def load_evals(sweep_dir: Path, trial: pd.Series) -> list[dict[str, np.ndarray]]:
    """The evaluation arrays (step, samples, targets, latents, probe_xy) a trial saved, in step order."""
    evals = []
    for path in eval_files(sweep_dir, trial):
        with np.load(path) as z:
            evals.append({key: z[key] for key in z.files})
    return evals
