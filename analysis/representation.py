"""The representation probe in a report: which way each metric points, and each headline metric against its
baseline, the untrained network evaluated at step 0.

The (x, y) encodings give every layer some smooth structure before any training (docs/probe.md), so a final value
alone does not say that a trial learned an ordered or factorized code: the change from step 0 does. Per trial
(``trial_baseline``): ``<m>`` at the last evaluation, ``<m>_init`` at step 0 and ``<m>_learned`` = final − init,
for each m of HEADLINE_PROBE (model/definitions.py); a table without a step-0 row has no init (NaN).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from model.definitions import HEADLINE_PROBE

HIGHER, LOWER = 1, -1
# Which way each probe metric moves as the code becomes more ordered (ORDER) or more factorized (FACTOR), from the
# chance and ideal values of docs/probe.md; None where no single direction means "better".
ORDER, FACTOR = "ordered", "factorized"
PROBE_DIRECTION: dict[str, tuple[int, str] | None] = {
    "r2_x": (HIGHER, ORDER), "r2_y": (HIGHER, ORDER),
    "eff_dim": None,  # 2 for a flat sheet, 22 for a one-hot code: the number of directions, not a quality
    "additivity": (HIGHER, FACTOR), "orthogonality": (HIGHER, FACTOR),
    "trust": (HIGHER, ORDER), "continuity": (HIGHER, ORDER),
    "knn_r2_x": (HIGHER, ORDER), "knn_r2_y": (HIGHER, ORDER),
    "ridge_r2_x": (HIGHER, ORDER), "ridge_r2_y": (HIGHER, ORDER),
    "code_overlap": (LOWER, FACTOR),  # 0 when the x and y codes share no direction
    # 1/(G-1) for a one-hot code, 1 for a linear ramp, both ideal: no direction
    "value_cos_x": None, "value_cos_y": None,
    "tuning_width_x": None, "tuning_width_y": None,  # 1 for one-hot, G/6 for a circle: a shape, not a quality
    "parallelism": (HIGHER, FACTOR),
    "ccgen_x": (HIGHER, FACTOR), "ccgen_y": (HIGHER, FACTOR),
}

ZERO = 1e-9  # values this close to 0 print as 0: rounding noise of a mean, never a probe result

# Per-cell verdicts of a change (``moved``).
BETTER, WORSE, WITHIN, UNKNOWN = "better", "worse", "within", "unknown"


def init_column(metric: str) -> str:
    """The column of a metric's value at step 0 (the untrained network): ``<metric>_init``."""
    return f"{metric}_init"


def learned_column(metric: str) -> str:
    """The column of a metric's change over training (final − init): ``<metric>_learned``."""
    return f"{metric}_learned"


BASELINE_COLUMNS = tuple(c for m in HEADLINE_PROBE for c in (init_column(m), learned_column(m)))


def direction(metric: str) -> int | None:
    """+1 when a higher value means more ordered or factorized, −1 when lower does, None when neither does (or the
    metric is unknown)."""
    entry = PROBE_DIRECTION.get(metric)
    return entry[0] if entry else None


def kind(metric: str) -> str | None:
    """ORDER or FACTOR: what a move of the metric in its direction means; None without a direction."""
    entry = PROBE_DIRECTION.get(metric)
    return entry[1] if entry else None


def direction_words(metric: str) -> str:
    """'higher = more ordered', 'lower = more factorized', or 'no single better direction'."""
    entry = PROBE_DIRECTION.get(metric)
    if entry is None:
        return "no single better direction"
    return f"{'higher' if entry[0] == HIGHER else 'lower'} = more {entry[1]}"


def trial_baseline(evals: pd.DataFrame) -> dict[str, float]:
    """``<m>_init`` (the step-0 row's value; NaN without one) and ``<m>_learned`` (last evaluation − init) of each
    headline metric, for one trial's evaluation rows in step order."""
    zero = evals[evals["step"] == 0]
    out = {}
    for m in HEADLINE_PROBE:
        init = float(zero[m].iloc[0]) if len(zero) else math.nan
        final = float(evals[m].iloc[-1]) if len(evals) else math.nan
        out[init_column(m)], out[learned_column(m)] = init, final - init
    return out


def moved(metric: str, change: float, spread: float) -> str:
    """How a cell's mean change of ``metric`` compares with its seed spread (the sample std of the change over its
    seeds): BETTER or WORSE (in the metric's direction; a metric without one counts a rise as BETTER) when
    |change| > spread, WITHIN when not, UNKNOWN when either is NaN (one seed: no spread)."""
    if math.isnan(change) or math.isnan(spread):
        return UNKNOWN
    if abs(change) <= spread:
        return WITHIN
    return BETTER if change * (direction(metric) or HIGHER) > 0 else WORSE


def has_probe(table: pd.DataFrame) -> bool:
    """Whether a table (results, trials or cells) recorded any headline probe metric."""
    return any(m in table.columns and table[m].notna().any() for m in HEADLINE_PROBE)


def has_baseline(table: pd.DataFrame) -> bool:
    """Whether a trials or cells table has a step-0 value of any headline probe metric."""
    return any(init_column(m) in table.columns and table[init_column(m)].notna().any() for m in HEADLINE_PROBE)


def fmt_metric(value: Any) -> str:
    """A probe value for labels: two decimals, or two significant digits below 0.1 (0.004 stays readable)."""
    if value is None or pd.isna(value):
        return "n/a"
    value = 0.0 if abs(float(value)) < ZERO else float(value)
    text = f"{value:.2f}" if abs(value) >= 0.1 or value == 0 else f"{value:.2g}"
    return text.replace("-", "−")


def fmt_change(value: Any) -> str:
    """A signed change: '+0.11', '−0.076', '0' for none."""
    if value is None or pd.isna(value):
        return "n/a"
    return "0" if abs(value) < ZERO else ("+" if value > 0 else "") + fmt_metric(value)
