"""Figures of the representation against its baseline (the untrained network, evaluated at step 0): the headline
probe metrics at step 0 and at the end along a one-axis key, and over training for the example trials.

A two-axis landscape draws the same numbers as heatmaps (analysis/heatmaps.py ``plot_learned_map``). Directions
(which way is more ordered or factorized) come from analysis/representation.py; the purple/orange convention of
the heatmaps is kept here for the printed changes.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.patches import Patch

from analysis.heatmaps import state_handles
from analysis.landscape import position
from analysis.learning_plots import DODGE, along_axis, mean_std_series
from analysis.plots import row_label, save_figure
from analysis.representation import (
    BETTER,
    WORSE,
    direction_words,
    fmt_change,
    init_column,
    learned_column,
    moved,
)
from analysis.style import PHASE_COLOURS, PHASE_NAMES
from model.definitions import HEADLINE_PROBE, PHASES

BETTER_COLOUR, WORSE_COLOUR = "#5e3c99", "#e66101"  # the ends of PuOr: purple = more ordered/factorized
MIN_SPAN = 0.05  # the least y range of a probe-curve panel


def _change_colour(metric: str, change: float, spread: float) -> str:
    """Purple for a change towards order/factorization beyond the seed spread, orange against, grey otherwise."""
    verdict = moved(metric, change, spread)
    return BETTER_COLOUR if verdict == BETTER else WORSE_COLOUR if verdict == WORSE else "0.35"


def plot_probe_along(cells: pd.DataFrame, x: str, path: Path, metrics: tuple[str, ...] | None = None) -> Path:
    """Each headline probe metric along a one-axis key, one panel per metric: its value at step 0 (init, hollow
    grey, dashed) and at the last evaluation (filled, solid), mean ± std over seeds, with the change printed above
    (purple: towards more order or factorization beyond the seed spread, orange: away from it, grey: within it or
    one seed)."""
    metrics = metrics or HEADLINE_PROBE
    fig, axes = plt.subplots(len(metrics), 1, figsize=(max(6.0, 1.2 * len(cells) + 3.0), 2.1 * len(metrics) + 0.9),
                             squeeze=False, sharex=True)
    for k, (ax, metric) in enumerate(zip(axes[:, 0], metrics, strict=True)):
        xs = along_axis(ax, cells, x, labels=k == len(metrics) - 1)
        mean_std_series(ax, cells, xs, x, init_column(metric), -DODGE,
                        {"color": "0.45", "marker": "o", "markerfacecolor": "white", "linestyle": "--",
                         "label": "step 0 (untrained)"})
        mean_std_series(ax, cells, xs, x, metric, DODGE,
                        {"color": "0.1", "marker": "o", "linestyle": "-", "label": "final"})
        learned = learned_column(metric)
        for _, c in cells[cells[learned].notna() & cells["measurable"].astype(bool)].iterrows():
            top = max(c[column] + (0 if pd.isna(c[f"{column}_std"]) else c[f"{column}_std"])
                      for column in (metric, init_column(metric)))
            ax.annotate(fmt_change(c[learned]), (position(xs, c[x]), top), xytext=(0, 4), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7,
                        color=_change_colour(metric, c[learned], c[f"{learned}_std"]))
        ax.margins(y=0.25)
        ax.set_ylabel(f"{metric}\n({direction_words(metric)})", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0, 0].set_title("headline probe metrics at step 0 and at the end (mean ± std over seeds)\nchange printed "
                         "above: purple = towards order or factorization beyond the seed spread, orange = away, grey = "
                         "within it", fontsize=9)
    handles, _ = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles=handles + state_handles()[:2], loc="upper left", bbox_to_anchor=(0.99, 0.95), fontsize=8,
               frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def _least_span(ax: plt.Axes, span: float) -> None:
    """Widen the y range to at least ``span`` about its middle: changes of a few thousandths do not fill a panel."""
    low, high = ax.get_ylim()
    if high - low < span:
        middle = (low + high) / 2
        ax.set_ylim(middle - span / 2, middle + span / 2)


def _phase_background(ax: plt.Axes, t: pd.DataFrame) -> None:
    """Each interval between evaluations shaded with the phase found at its end (as in the phase strips)."""
    steps, phases = t["step"].to_numpy(float), list(t["phase"])
    for start, end, phase in zip(steps[:-1], steps[1:], phases[1:], strict=True):
        if isinstance(phase, str):
            ax.axvspan(start, end, color=PHASE_COLOURS[phase], alpha=0.22, linewidth=0, zorder=0)


def plot_probe_curves(df: pd.DataFrame, examples: list[pd.Series], x: str, y: str | None, path: Path,
                      metrics: tuple[str, ...] | None = None) -> Path:
    """The headline probe metrics over training, one row per example trial and one column per metric, with a dashed
    line at the trial's value at step 0 (the untrained network) and the phase of each interval shaded behind."""
    metrics = metrics or HEADLINE_PROBE
    rows = max(1, len(examples))
    fig, axes = plt.subplots(rows, len(metrics), figsize=(2.6 * len(metrics) + 0.6, 2.0 * rows + 1.0),
                             squeeze=False, sharex="row")
    for r, trial in enumerate(examples):
        t = df[(df["trial_id"] == trial["trial_id"]) & df["step"].notna()].sort_values("step")
        zero = t[t["step"] == 0]
        for ax, metric in zip(axes[r], metrics, strict=True):
            _phase_background(ax, t)
            ax.plot(t["step"], t[metric], color="0.1", marker="o", markersize=3, linewidth=1.2)
            if len(zero) and not math.isnan(zero[metric].iloc[0]):
                ax.axhline(zero[metric].iloc[0], color="0.4", linewidth=1.0, linestyle="--")
            _least_span(ax, MIN_SPAN)
            ax.tick_params(labelsize=7)
            if r == 0:
                ax.set_title(f"{metric}\n({direction_words(metric)})", fontsize=8)
            if r == rows - 1:
                ax.set_xlabel("training step", fontsize=8)
        note = "" if len(zero) else "\n(no step-0 evaluation)"
        axes[r, 0].set_ylabel(f"trial {trial['trial_id'][:8]}\n{row_label(trial, x, y)}\nfinal phase {trial['phase']}"
                              f"{note}", fontsize=7.5)
    handles = [Patch(facecolor=PHASE_COLOURS[p], alpha=0.4, label=PHASE_NAMES[p]) for p in PHASES]
    handles.append(plt.Line2D([], [], color="0.4", linestyle="--", label="value at step 0 (untrained network)"))
    fig.suptitle("headline probe metrics over training against their step-0 baseline, one example trial per final "
                 "phase", fontsize=10)
    fig.tight_layout()
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    return save_figure(fig, path)
