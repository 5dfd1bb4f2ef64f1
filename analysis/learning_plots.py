"""Figures of per-axis learning: final accuracies and onsets along a one-axis sweep's key, and onset_y against
onset_x for imbalanced data (on the diagonal: x and y learned together).

Values along a key sit at index positions (one per value, labelled with the secondary quantities that follow
from it, as in the heatmaps), so continuous data and uneven steps stay readable. Failed and unmeasurable values
are hatched as in every map. Colours: X_COLOUR / Y_COLOUR per axis, cividis for spacing ratios.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from analysis.heatmaps import state_handles, x_labels, x_title
from analysis.landscape import axis_values, measurable_trials, position, voting
from analysis.plots import save_figure
from analysis.style import X_COLOUR, Y_COLOUR, cell_hatch, fmt_value
from model.definitions import COUPLED_MAX

DODGE = 0.09  # horizontal offset between series at one key value, in index units
MARKERS = ("o", "s", "^", "D", "v", "P", "X")  # one per spacing ratio, beside its colour


def along_axis(ax: Axes, cells: pd.DataFrame, x: str, labels: bool = True) -> list[Any]:
    """Index positions of the key's values on ``ax``, hatched where a value failed or is unmeasurable; ticks
    labelled (with secondary quantities) when ``labels``. Returns the key's values in order."""
    xs = axis_values(cells[x])
    for _, c in cells.iterrows():
        hatch = cell_hatch(c["state"], c["measurable"])
        if hatch:
            i = position(xs, c[x])
            ax.axvspan(i - 0.45, i + 0.45, facecolor="none", edgecolor="0.7", hatch=hatch, linewidth=0, zorder=0)
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_xticks(range(len(xs)), x_labels(cells, x, None, xs) if labels else [])
    if labels:
        ax.set_xlabel(x_title(cells, x, None))
    return xs


def mean_std_series(ax: Axes, cells: pd.DataFrame, xs: list[Any], x: str, column: str, offset: float,
                    style: dict) -> None:
    """Mean ± std over seeds of one final metric at each key value (measurable, known values only)."""
    shown = cells[cells[column].notna() & cells["measurable"].astype(bool)]
    if shown.empty:
        return
    where = [position(xs, v) + offset for v in shown[x]]
    ax.errorbar(where, shown[column], yerr=shown[f"{column}_std"].fillna(0), capsize=2, linewidth=1.2,
                markersize=5, **style)


def plot_acc_along(cells: pd.DataFrame, x: str, path: Path) -> Path:
    """Final acc, acc_x and acc_y along a one-axis key: on the training lattice (solid, filled) and off it (dashed,
    hollow), mean ± std over seeds, with the detector's ceiling (its score on perfect samples) when recorded."""
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(cells) + 3.0), 4.2))
    xs = along_axis(ax, cells, x)
    lattice = cells["lattice_acc_x"].notna().any()
    series = [("acc", 0.0, {"color": "0.25", "marker": "D", "linestyle": "-", "label": "acc (off lattice)"})]
    for axis, colour, sign in (("x", X_COLOUR, -1), ("y", Y_COLOUR, 1)):
        if lattice:
            series.append((f"lattice_acc_{axis}", sign * DODGE, {"color": colour, "marker": "o", "linestyle": "-",
                                                                   "label": f"acc_{axis} on lattice"}))
        series.append((f"acc_{axis}", sign * 2 * DODGE, {"color": colour, "marker": "o", "linestyle": "--",
                                                          "markerfacecolor": "white",
                                                          "label": f"acc_{axis} off lattice"}))
    for column, offset, style in series:
        mean_std_series(ax, cells, xs, x, column, offset, style)
    if cells["gt_acc"].notna().any():
        ceiling = [position(xs, v) for v in cells[x]]
        ax.scatter(ceiling, cells["gt_acc"], marker="_", s=600, color="0.5", zorder=1,
                   label="ceiling (acc of perfect samples)")
    ax.set_ylim(-0.03, 1.05)
    ax.set_ylabel("final accuracy (within tol)")
    ax.set_title("final accuracy along the swept key (mean ± std over seeds)", fontsize=10)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + state_handles()[:2], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False)
    return save_figure(fig, path)


def _never_level(trials: pd.DataFrame) -> float:
    """Where 'never' is drawn on an onset axis: a band above the last evaluated step."""
    last = trials["step"].astype(float).max()
    return 1.12 * last if np.isfinite(last) and last > 0 else 1.0


def _placed(values: pd.Series, never: float) -> np.ndarray:
    """Onsets as plotted: +inf (never reached) moved to the ``never`` level."""
    return np.where(np.isinf(values.astype(float)), never, values.astype(float))


def _onset_panel(ax: Axes, trials: pd.DataFrame, xs: list[Any], x: str, never: float) -> None:
    """Per-seed onsets of x and y along the key: on the lattice filled, off the lattice hollow; never on top."""
    for axis, colour, sign in (("x", X_COLOUR, -1), ("y", Y_COLOUR, 1)):
        where = np.array([position(xs, v) for v in trials[x]], dtype=float)
        ax.scatter(where + sign * DODGE, _placed(trials[f"onset_{axis}"], never), color=colour, s=22, zorder=3,
                   label=f"onset_{axis} (on lattice)")
        ax.scatter(where + sign * 2.5 * DODGE, _placed(trials[f"onset_{axis}_off"], never), facecolor="white",
                   edgecolor=colour, s=22, zorder=3, label=f"onset_{axis} off lattice")
    ax.axhline(never, color="0.6", linewidth=0.8, linestyle=":")
    ax.text(-0.45, never, "never", va="bottom", fontsize=8, color="0.3")
    ax.set_ylim(0, never * 1.1)
    ax.set_ylabel("onset (first step with acc ≥ 0.5)", fontsize=8)


def _coupling_panel(ax: Axes, trials: pd.DataFrame, xs: list[Any], x: str) -> None:
    """Per-seed coupling (sparse onset / dense onset) on a log scale, the coupled band shaded. Where an axis was
    never learned the ratio is no number: those seeds are triangles on dotted edge lines (up: the sparse axis
    never, down: the dense axis never), never mistaken for a large or small coupling."""
    imbalanced = trials[trials["sparse"] != ""]
    values = imbalanced["coupling"].astype(float)
    where = np.array([position(xs, v) for v in imbalanced[x]], dtype=float)
    finite = np.isfinite(values) & (values > 0)
    top = max(COUPLED_MAX * 4, values[finite].max() * 3 if finite.any() else 1)
    bottom = min(1 / (COUPLED_MAX * 4), values[finite].min() / 3 if finite.any() else 1)
    ax.axhspan(1 / COUPLED_MAX, COUPLED_MAX, color="0.9", zorder=0, label=f"coupled (within ×{COUPLED_MAX:g})")
    ax.axhline(1, color="0.5", linewidth=0.8)
    ax.scatter(where[finite], values[finite], color="0.15", s=22, zorder=3, label="coupling per seed")
    for hit, level, marker, label in ((np.isinf(values), top, "^", "sparse axis never learned"),
                                      (values == 0, bottom, "v", "dense axis never learned")):
        ax.axhline(level, color="0.6", linewidth=0.8, linestyle=":")
        if hit.any():
            ax.scatter(where[hit], np.full(int(hit.sum()), level), marker=marker, color="0.15", s=36, zorder=3,
                       label=label)
    ax.set_yscale("log")
    ax.set_ylim(bottom / 1.6, top * 1.6)
    ax.text(-0.45, top, "sparse never", va="bottom", fontsize=7, color="0.3")
    ax.text(-0.45, bottom, "dense never", va="top", fontsize=7, color="0.3")
    ax.set_ylabel("coupling\n(sparse / dense onset)", fontsize=8)


def plot_onsets_along(trials: pd.DataFrame, cells: pd.DataFrame, x: str, path: Path) -> Path:
    """Onsets of x and y per seed along a one-axis key (on and off the lattice) and, for imbalanced data, the
    coupling per seed below them."""
    read = measurable_trials(trials, cells, x)
    imbalanced = (read["sparse"] != "").any()
    fig, axes = plt.subplots(2 if imbalanced else 1, 1, figsize=(max(6.0, 1.2 * len(cells) + 3.0),
                                                                5.8 if imbalanced else 3.6), squeeze=False,
                             sharex=True)
    xs = along_axis(axes[0, 0], cells, x, labels=not imbalanced)
    _onset_panel(axes[0, 0], read, xs, x, _never_level(read))
    if imbalanced:
        along_axis(axes[1, 0], cells, x)
        _coupling_panel(axes[1, 0], read, xs, x)
    axes[0, 0].set_title("when x and y were learned, per seed (on the training lattice and off it)", fontsize=10)
    handles = [h for ax in axes[:, 0] for h in ax.get_legend_handles_labels()[0]]
    fig.legend(handles=handles + state_handles()[:2], loc="upper left", bbox_to_anchor=(0.99, 0.95), fontsize=8,
               frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def _jitter(n: int, scale: float, seed: int) -> np.ndarray:
    """A small fixed offset per point, so seeds with the same onsets stay visible (same every run)."""
    return np.random.default_rng(seed).uniform(-scale, scale, n)


def _scatter_panel(ax: Axes, trials: pd.DataFrame, suffix: str, never: float, colours: dict[float, Any]) -> None:
    """onset_y against onset_x (``suffix`` '' on the lattice, '_off' off it), one point per trial coloured by its
    spacing ratio; never-learned onsets on the 'never' lines; the diagonal and the coupled band."""
    line = np.array([0, never * 1.1])
    ax.fill_between(line, line / COUPLED_MAX, line * COUPLED_MAX, color="0.92", zorder=0,
                    label=f"coupled (onsets within ×{COUPLED_MAX:g})")
    ax.plot(line, line, color="0.4", linewidth=1, label="diagonal: learned together")
    ax.axvline(never, color="0.6", linewidth=0.8, linestyle=":")
    ax.axhline(never, color="0.6", linewidth=0.8, linestyle=":")
    ax.text(never, never * 0.02, "never ", rotation=90, va="bottom", ha="right", fontsize=7, color="0.3")
    ax.text(never * 1.09, never, "never", va="bottom", ha="right", fontsize=7, color="0.3")
    for k, (ratio, group) in enumerate(trials.groupby("ratio", sort=True)):
        spread = 0.012 * never
        ox = _placed(group[f"onset_x{suffix}"], never) + _jitter(len(group), spread, 2 * k)
        oy = _placed(group[f"onset_y{suffix}"], never) + _jitter(len(group), spread, 2 * k + 1)
        ax.scatter(ox, oy, color=colours[ratio], marker=MARKERS[k % len(MARKERS)], edgecolor="0.2", linewidth=0.5,
                   s=40, zorder=3, label=f"ratio {fmt_value('ratio', ratio)}")
    ax.set_xlim(0, never * 1.1)
    ax.set_ylim(0, never * 1.1)
    ax.set_aspect("equal")
    ax.set_xlabel("onset_x (step)")
    ax.set_ylabel("onset_y (step)")


def plot_onset_scatter(trials: pd.DataFrame, cells: pd.DataFrame, x: str, y: str | None, path: Path) -> Path:
    """onset_y against onset_x for every evaluated trial of imbalanced data in a measurable cell: on the training
    lattice (left) and off it (right), coloured by spacing ratio. On the diagonal x and y were learned together."""
    shown = measurable_trials(trials, cells, x, y)
    shown = shown[shown["sparse"] != ""]
    left_out = int((voting(trials)["sparse"] != "").sum()) - len(shown)
    never = _never_level(shown)
    ratios = sorted(shown["ratio"].dropna().unique())
    palette = plt.get_cmap("cividis")(np.linspace(0.0, 0.95, max(len(ratios), 1)))
    colours = dict(zip(ratios, palette, strict=False))
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 5.0))
    for ax, (suffix, where) in zip(axes, (("", "on the training lattice"), ("_off", "off the lattice")),
                                   strict=True):
        _scatter_panel(ax, shown, suffix, never, colours)
        ax.set_title(f"onsets {where}", fontsize=10)
    note = f"; {left_out} trials of unmeasurable cells left out" if left_out else ""
    fig.suptitle(f"onset_y against onset_x, one point per trial (slightly jittered){note}", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(0.99, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def has_imbalance(trials: pd.DataFrame) -> bool:
    """Whether any voting trial has a sparse axis (spacing_x != spacing_y): then the onset scatter is drawn."""
    return bool((voting(trials)["sparse"] != "").any())
