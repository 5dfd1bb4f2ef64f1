"""Shared look of every figure: phase colours, axis labels with units, readable value labels."""

from __future__ import annotations

import math
import numbers
from typing import Any

import pandas as pd

# Okabe-Ito colours: distinguishable with every common colour-vision deficiency.
PHASE_COLOURS = {"A": "#E69F00", "B": "#56B4E9", "C": "#009E73"}
PHASE_NAMES = {"A": "A: no single bump", "B": "B: one bump, wrong place", "C": "C: one bump, right place"}
X_COLOUR, Y_COLOUR = "#0072B2", "#D55E00"
FAILED_HATCH = "xx"
INFERRED_HATCH = ".."  # a boundary search's untrained cell: its inferred phase's colour shows through the dots
UNMEASURABLE_HATCH = "///"  # diagonal lines one way only: never mistaken for a failed cell's crosses

AXIS_LABELS = {
    "density": "density (training centres / N²)",
    "overlap": "overlap exp(−d²/4σ²)",
    "n_positions": "training centres",
    "data.sigma": "bump width σ (px)",
    "data.spacing_x": "lattice spacing x (px)",
    "data.spacing_y": "lattice spacing y (px)",
    "data.keep": "kept fraction λ",
    "data.image_size": "image size N (px)",
    "model.base_channels": "base channels",
    "train.steps": "training steps",
    "train.lr": "learning rate",
    "train.batch_size": "batch size",
    "ratio": "spacing ratio (sparse / dense)",
}
# How a cell's secondary quantities (analysis/landscape.py SECONDARY) are named in labels.
SECONDARY_SYMBOLS = {"sigma": "σ", "density": "density", "overlap": "overlap", "ratio": "ratio"}
CONTINUOUS_AT_INF = ("density", "n_positions")
CONTINUOUS_AT_ZERO = ("data.spacing_x", "data.spacing_y")


def axis_label(axis: str) -> str:
    """An axis title with its unit, e.g. ``bump width σ (px)`` for ``data.sigma``; else the axis name."""
    return AXIS_LABELS.get(axis, axis)


def fmt_value(axis: str, value: Any) -> str:
    """A readable label for one axis value; continuous data is named, never shown as a bare inf or 0."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "∞ (continuous)" if axis in CONTINUOUS_AT_INF else ("∞" if value > 0 else "−∞")
        if value == 0 and axis in CONTINUOUS_AT_ZERO:
            return "0 (continuous)"
        return f"{value:.3g}"
    return str(value)


def fmt_steps(value: float) -> str:
    """Steps to an event: 'never' when it did not happen, '' when unknown."""
    if math.isnan(value):
        return ""
    return "never" if math.isinf(value) else f"{value:,.0f}"


def fmt_span(name: str, low: float, high: float, symbol: bool = True) -> str:
    """A secondary quantity of a cell, e.g. ``σ 1.5``, or ``σ 1–1.5`` when its trials differ (without the ``σ``
    when not ``symbol``); '' when unknown."""
    if pd.isna(low):
        return ""
    value = fmt_value(name, low) if low == high else f"{fmt_value(name, low)}–{fmt_value(name, high)}"
    return f"{SECONDARY_SYMBOLS.get(name, name)} {value}" if symbol else value


def secondary_names(cells: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The secondary quantities the cells carry (``<name>_min``/``<name>_max`` columns), split into those that
    differ between cells and those with one value throughout; unknown (all NaN) ones are left out."""
    differ, same = [], []
    for name in SECONDARY_SYMBOLS:
        if f"{name}_min" not in cells.columns or cells[f"{name}_min"].isna().all():
            continue
        values = pd.concat([cells[f"{name}_min"], cells[f"{name}_max"]]).dropna()
        (same if values.nunique() == 1 else differ).append(name)
    return differ, same


def cell_extras(cell: pd.Series, names: list[str]) -> list[str]:
    """``fmt_span`` of each named secondary quantity of one cell (a landscape row), unknown ones left out."""
    spans = (fmt_span(n, cell[f"{n}_min"], cell[f"{n}_max"]) for n in names)
    return [text for text in spans if text]


def cell_hatch(state: str, measurable: bool) -> str | None:
    """The hatch that marks a cell in every figure: FAILED_HATCH for a failed cell, UNMEASURABLE_HATCH for an
    unmeasurable one, None otherwise."""
    if state == "failed":
        return FAILED_HATCH
    return None if measurable else UNMEASURABLE_HATCH
