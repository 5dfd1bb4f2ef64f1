"""When one trial learned x and when it learned y, on and off the training lattice, and what that says.

Definitions (docs/definitions.md, section 6), for one trial's evaluations in step order:
- ``onset_x`` (``onset_y``): the first step with ``lattice_acc_x`` (``lattice_acc_y``) >= ONSET, i.e. scored at
  conditions on the training lattice, where a sparse axis has its own training rows. A trial without lattice scores
  for both axes (an older table, or no lattice at all) falls back to ``acc_x`` (``acc_y``); ``onset_basis`` says
  which (``lattice`` or ``off-lattice``), so both axes of a trial are always judged on the same conditions.
- ``onset_x_off`` (``onset_y_off``): the same from ``acc_x`` (``acc_y``), scored off the lattice (random continuous
  points): whether the model interpolates between sparse training rows is a finding of its own.
- sparse axis: the one with the larger lattice spacing (0 = continuous is the densest); none when they are equal.
- ``coupling`` = onset of the sparse axis / onset of the dense axis (on-lattice onsets); ``coupling_off`` the same
  from the off-lattice onsets.
- ``learning``: coupled when the two onsets lie within a factor COUPLED_MAX of each other; sequential when the sparse
  axis comes later than that; ``sparse first`` when it comes earlier than that; ``sparse never`` / ``dense never``
  / ``neither`` when an axis never reached ONSET by the last evaluation. Empty for balanced data or no evaluation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from model.definitions import COUPLED_MAX, ONSET

COUPLED, SEQUENTIAL, SPARSE_FIRST = "coupled", "sequential", "sparse first"
SPARSE_NEVER, DENSE_NEVER, NEITHER = "sparse never", "dense never", "neither"
LEARNING_ORDERS = (COUPLED, SEQUENTIAL, SPARSE_FIRST, SPARSE_NEVER, DENSE_NEVER, NEITHER)
LATTICE, OFF_LATTICE = "lattice", "off-lattice"
ONSET_COLUMNS = ("onset_x", "onset_y", "onset_x_off", "onset_y_off")


def first_step(evals: pd.DataFrame, hit: pd.Series, column: str = "step") -> float:
    """``column`` at the first evaluation where ``hit`` holds; +inf if it never does."""
    values = evals.loc[hit, column]
    return float(values.iloc[0]) if len(values) else math.inf


def sparse_axis(spacing_x: float, spacing_y: float) -> str:
    """'x' or 'y': the axis with the larger spacing (0 = continuous counts as densest); '' when equal or unknown."""
    if pd.isna(spacing_x) or pd.isna(spacing_y) or spacing_x == spacing_y:
        return ""
    return "x" if spacing_x > spacing_y else "y"


def learning_order(sparse_onset: float, dense_onset: float, coupled_max: float = COUPLED_MAX) -> str:
    """One of LEARNING_ORDERS from the onsets (steps; +inf = never) of the sparse and the dense axis."""
    if not math.isfinite(sparse_onset):
        return SPARSE_NEVER if math.isfinite(dense_onset) else NEITHER
    if not math.isfinite(dense_onset):
        return DENSE_NEVER
    if sparse_onset > coupled_max * dense_onset:  # products, not a ratio: an onset at step 0 divides nothing
        return SEQUENTIAL
    return SPARSE_FIRST if dense_onset > coupled_max * sparse_onset else COUPLED


def _ratio(sparse: str, onset_x: float, onset_y: float) -> float:
    """Onset of the sparse axis / onset of the dense one (inf: sparse never; 0: dense never); NaN if balanced."""
    if not sparse:
        return math.nan
    high, low = (onset_x, onset_y) if sparse == "x" else (onset_y, onset_x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(high) / np.float64(low))


def _has_lattice_scores(evals: pd.DataFrame) -> bool:
    """Whether the trial recorded on-lattice scores for both axes (in at least one evaluation)."""
    return all(c in evals.columns and evals[c].notna().any() for c in ("lattice_acc_x", "lattice_acc_y"))


def trial_learning(evals: pd.DataFrame, spacing_x: float, spacing_y: float, onset: float = ONSET) -> dict[str, Any]:
    """Onsets (on and off the lattice), their basis, sparse axis, coupling (on and off) and learning order of one
    trial, from its evaluations (rows in step order with acc_x, acc_y and, when recorded, lattice_acc_x/y)."""
    sparse = sparse_axis(spacing_x, spacing_y)
    if evals.empty:
        return {**dict.fromkeys((*ONSET_COLUMNS, "coupling", "coupling_off"), math.nan), "onset_basis": "",
                "sparse": sparse, "learning": ""}
    basis = LATTICE if _has_lattice_scores(evals) else OFF_LATTICE
    on = "lattice_acc_{}" if basis == LATTICE else "acc_{}"
    row: dict[str, Any] = {"onset_basis": basis, "sparse": sparse}
    for axis in "xy":
        row[f"onset_{axis}"] = first_step(evals, evals[on.format(axis)] >= onset)
        row[f"onset_{axis}_off"] = first_step(evals, evals[f"acc_{axis}"] >= onset)
    row["coupling"] = _ratio(sparse, row["onset_x"], row["onset_y"])
    row["coupling_off"] = _ratio(sparse, row["onset_x_off"], row["onset_y_off"])
    dense = {"x": "y", "y": "x"}.get(sparse, "")
    row["learning"] = learning_order(row[f"onset_{sparse}"], row[f"onset_{dense}"]) if sparse else ""
    return row


def modal_learning(orders: pd.Series) -> str:
    """The most common learning order among trials ('' ignored); 'mixed' on a tie; '' when there is none."""
    counts = orders[orders != ""].value_counts()
    if counts.empty:
        return ""
    return "mixed" if (counts == counts.iloc[0]).sum() > 1 else str(counts.index[0])


def onset_basis(bases: pd.Series) -> str:
    """'lattice' or 'off-lattice' when every evaluated trial shares it, 'mixed' when not, '' when none evaluated."""
    present = set(bases[bases != ""])
    return present.pop() if len(present) == 1 else "mixed" if present else ""
