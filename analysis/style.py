"""Shared look of every figure: phase colours, axis labels with units, readable value labels."""

from __future__ import annotations

import math
import numbers
from typing import Any

# Okabe-Ito colours: distinguishable with every common colour-vision deficiency.
PHASE_COLOURS = {"A": "#E69F00", "B": "#56B4E9", "C": "#009E73"}
PHASE_NAMES = {"A": "A: no single bump", "B": "B: one bump, wrong place", "C": "C: one bump, right place"}
X_COLOUR, Y_COLOUR = "#0072B2", "#D55E00"
FAILED_HATCH = "xx"

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
}
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
