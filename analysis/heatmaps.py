"""Heatmaps of the landscape: final phase (with its boundary), final acc, steps to phase C, and each headline probe
metric's change since step 0 (diverging colours centred at 0, final and init printed).

Cells sit on an index grid (one column per x value, one row per y value, y growing upwards), so continuous
data (density = inf) gets its own labelled column. A one-axis landscape (y None) is drawn as a single strip along
its key, each value labelled with the secondary quantities (density, overlap, ratio, σ) that follow from it.
Grid positions without a trial stay blank; cells a boundary search inferred without training are dotted and
labelled "inferred" (on the phase map in their inferred phase's colour);
failed cells are hatched with crosses, unmeasurable ones (detector
ceiling below CEILING_MIN) with single diagonals and their ceiling; cells with a trial still running carry a '*'.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from analysis.landscape import axis_values, position
from analysis.plots import save_figure
from analysis.representation import (
    LOWER,
    direction,
    direction_words,
    fmt_change,
    fmt_metric,
    init_column,
    kind,
    learned_column,
)
from analysis.style import (
    FAILED_HATCH,
    INFERRED_HATCH,
    PHASE_COLOURS,
    PHASE_NAMES,
    UNMEASURABLE_HATCH,
    axis_label,
    cell_extras,
    fmt_span,
    fmt_steps,
    fmt_value,
    secondary_names,
)
from model.definitions import CEILING_MIN, PHASE_NUMBER, PHASES

CORNER_BOX = {"facecolor": "white", "edgecolor": "none", "pad": 0.8, "alpha": 0.85}  # readable on any colour


def x_labels(cells: pd.DataFrame, x: str, y: str | None, xs: list[Any]) -> list[str]:
    """Tick labels of the x values; along a one-axis key each also names the secondary quantities that vary."""
    labels = [fmt_value(x, v) for v in xs]
    if y is not None:
        return labels
    differ, _ = secondary_names(cells)
    rows = {position(xs, v): c for v, (_, c) in zip(cells[x], cells.iterrows(), strict=True)}
    return ["\n".join([label, *cell_extras(rows[i], differ)]) if i in rows else label for i, label in enumerate(labels)]


def x_title(cells: pd.DataFrame, x: str, y: str | None) -> str:
    """The x axis title; along a one-axis key it adds the secondary quantities that stay the same throughout."""
    _, same = secondary_names(cells)
    fixed = [fmt_span(n, cells[f"{n}_min"].min(), cells[f"{n}_max"].max()) for n in same] if y is None else []
    return axis_label(x) + (f"  ({', '.join(fixed)} throughout)" if fixed else "")


def _frame(cells: pd.DataFrame, x: str, y: str | None, title: str,
           common: pd.DataFrame | None = None) -> tuple[Figure, Axes, list[Any], list[Any]]:
    """Figure and axes of a map: one column per x value, one row per y value (a single row when y is None); with
    ``common`` (every facet's cells) the columns and rows are those of all facets, so facet panels share ticks."""
    grid = cells if common is None else common
    xs = axis_values(grid[x])
    ys = axis_values(grid[y]) if y is not None else [math.nan]
    labels = x_labels(cells, x, y, xs)
    tilt = len(xs) > 4 and all("\n" not in label for label in labels)
    height = max(3.0, 0.75 * len(ys) + 1.6) if y is not None else 1.9  # one strip: its ticks add their own room
    fig, ax = plt.subplots(figsize=(max(4.8, 1.15 * len(xs) + 2.2), height))
    ax.set_xticks(range(len(xs)), labels, rotation=30 if tilt else 0, ha="right" if tilt else "center")
    if y is not None:
        ax.set_yticks(range(len(ys)), [fmt_value(y, v) for v in ys])
        ax.set_ylabel(axis_label(y))
    else:
        ax.set_yticks([])
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xlabel(x_title(cells, x, y))
    ax.set_title(title, fontsize=10)
    return fig, ax, xs, ys


def _ij(c: pd.Series, x: str, y: str | None, xs: list[Any], ys: list[Any]) -> tuple[int, int]:
    """Grid column and row of one cell (row 0 for a one-axis landscape)."""
    return position(xs, c[x]), position(ys, c[y] if y is not None else math.nan)


def _grid(cells: pd.DataFrame, x: str, y: str | None, xs: list[Any], ys: list[Any], values: pd.Series) -> np.ndarray:
    """``values`` (one per cell) placed on the (row, column) grid; NaN where there is no cell."""
    grid = np.full((len(ys), len(xs)), np.nan)
    for (_, c), v in zip(cells.iterrows(), values, strict=True):
        i, j = _ij(c, x, y, xs, ys)
        grid[j, i] = v
    return grid


def _labelled(cells: pd.DataFrame, column: str) -> pd.DataFrame:
    """The cells whose ``column`` is drawn as a value: known, measurable and trained (unmeasurable and inferred
    cells get their own label)."""
    return cells[cells[column].notna() & cells["measurable"].astype(bool) & (cells["state"] != "inferred")]


def _hatch(ax: Axes, i: int, j: int, hatch: str, text: str) -> None:
    """Cover cell (i, j) with a white hatched square and a boxed label."""
    ax.add_patch(Rectangle((i - 0.5, j - 0.5), 1, 1, facecolor="white", edgecolor="0.3", hatch=hatch, linewidth=0))
    ax.text(i, j, text, ha="center", va="center", fontsize=8,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})


def _marks(ax: Axes, cells: pd.DataFrame, x: str, y: str | None, xs: list[Any], ys: list[Any]) -> None:
    """Hatch failed, unmeasurable and inferred cells, name pending ones, flag running trials and partial failures."""
    for _, c in cells.iterrows():
        i, j = _ij(c, x, y, xs, ys)
        ceiling = "" if c["measurable"] else f"\nceiling {c['gt_acc']:.2f}"
        if c["state"] == "inferred":  # dots over the phase colour (the phase map) or blank (the other maps)
            ax.add_patch(Rectangle((i - 0.5, j - 0.5), 1, 1, facecolor="none", edgecolor="0.35",
                                   hatch=INFERRED_HATCH, linewidth=0))
            ax.text(i, j, f"{'' if pd.isna(c['phase']) else c['phase']}\ninferred", ha="center", va="center",
                    fontsize=8, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.8})
        elif c["state"] == "failed":
            _hatch(ax, i, j, FAILED_HATCH, f"failed\n({c['n_error']}){ceiling}")
        elif not c["measurable"]:
            _hatch(ax, i, j, UNMEASURABLE_HATCH, f"unmeasurable{ceiling}")
        elif c["state"] == "pending":
            ax.text(i, j, "pending", ha="center", va="center", fontsize=8, color="0.3")
        if c["state"] in ("partial", "pending"):
            ax.text(i + 0.45, j + 0.45, "*", ha="right", va="top", fontsize=11, fontweight="bold", bbox=CORNER_BOX)
        if c["n_error"] and c["state"] != "failed":
            ax.text(i - 0.45, j + 0.45, f"✗{c['n_error']}", ha="left", va="top", fontsize=8, bbox=CORNER_BOX)


def _boundary(ax: Axes, boundary: pd.DataFrame, x: str, xs: list[Any], ys: list[Any]) -> None:
    """A thick line between (the centres of) neighbouring cells of different phase."""
    for _, b in boundary.iterrows():
        crossing_x = b["along"] == x
        order, other = (xs, ys) if crossing_x else (ys, xs)
        mid = (position(order, b["low"]) + position(order, b["high"])) / 2
        k = position(other, b["at"])
        if crossing_x:
            ax.plot([mid, mid], [k - 0.5, k + 0.5], color="black", linewidth=3, solid_capstyle="butt")
        else:
            ax.plot([k - 0.5, k + 0.5], [mid, mid], color="black", linewidth=3, solid_capstyle="butt")


def _legend(ax: Axes, handles: list[Any]) -> None:
    """A legend to the right of the axes."""
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)


def _legend_below(fig: Figure, ax: Axes, handles: list[Any]) -> None:
    """A legend under the axes, clear of its tick labels and title however many lines those take."""
    bottom = ax.get_tightbbox(fig.canvas.get_renderer()).transformed(ax.transAxes.inverted()).y0
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, bottom - 0.02), ncol=2, fontsize=8,
              frameon=False)


def state_handles() -> list[Any]:
    """Legend entries of the cell marks that every map shares (failed, unmeasurable, ✗n, *)."""
    return [Patch(facecolor="white", edgecolor="0.3", hatch=FAILED_HATCH, label="failed (all trials)"),
            Patch(facecolor="white", edgecolor="0.3", hatch=UNMEASURABLE_HATCH,
                  label=f"unmeasurable (detector ceiling < {CEILING_MIN:g})"),
            Patch(facecolor="white", edgecolor="0.35", hatch=INFERRED_HATCH,
                  label="inferred (not trained; its trained neighbours agree)"),
            Patch(facecolor="none", edgecolor="none", label="✗n  n trials failed"),
            Patch(facecolor="none", edgecolor="none", label="*  still running (partial)")]


def _phase_text(c: pd.Series, extras: list[str]) -> str:
    """A phase-map cell's label: its phase, the seeds in C and, on a grid, its secondary quantities (σ, ...)."""
    voters = c["n_A"] + c["n_B"] + c["n_C"]
    return "\n".join([c["phase"], f"{c['n_C']}/{voters} in C", *cell_extras(c, extras)])


def _titled(title: str, facet: str) -> str:
    """A map's title under its facet's label (a facet panel), or alone."""
    return f"{facet}\n{title}" if facet else title


def plot_phase_map(cells: pd.DataFrame, boundary: pd.DataFrame, x: str, y: str | None, path: Path,
                   title: str = "", facet: str = "", common: pd.DataFrame | None = None) -> Path:
    """Final phase per cell (categorical colours), seeds in C per cell, the phase boundary as thick lines. On a
    grid each cell also shows σ and the other secondary quantities that vary (along one key the ticks do).
    A facet panel: ``facet`` (its label) heads the title, ``common`` (all facets' cells) sets the ticks."""
    fig, ax, xs, ys = _frame(cells, x, y, _titled(title or "final phase (most common over seeds)", facet), common)
    codes = cells["phase"].where(cells["measurable"].astype(bool)).map(PHASE_NUMBER)
    cmap = ListedColormap([PHASE_COLOURS[p] for p in PHASES])
    ax.imshow(_grid(cells, x, y, xs, ys, codes), cmap=cmap, vmin=-0.5, vmax=2.5, origin="lower", aspect="auto")
    differ, same = secondary_names(cells)
    extras = (["sigma"] if "sigma" in same else []) + differ if y is not None else []  # σ always, first
    for _, c in _labelled(cells, "phase").iterrows():
        ax.text(*_ij(c, x, y, xs, ys), _phase_text(c, extras), ha="center", va="center", fontsize=8)
    _marks(ax, cells, x, y, xs, ys)
    _boundary(ax, boundary, x, xs, ys)
    phases = [Patch(facecolor=PHASE_COLOURS[p], label=PHASE_NAMES[p]) for p in PHASES]
    edge = plt.Line2D([], [], color="black", linewidth=3, label="phase boundary")
    _legend(ax, [*phases, edge, *state_handles()])
    return save_figure(fig, path)


def _readable_text(ax: Axes, i: int, j: int, text: str, rgba: tuple[float, ...]) -> None:
    """Black text on light colours, white on dark ones."""
    luminance = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]
    ax.text(i, j, text, ha="center", va="center", fontsize=8, color="black" if luminance > 0.5 else "white")


def plot_metric_map(cells: pd.DataFrame, boundary: pd.DataFrame, x: str, y: str | None, column: str, path: Path,
                    label: str, facet: str = "", common: pd.DataFrame | None = None) -> Path:
    """A metric in [0, 1] per cell (mean over seeds, ± sample std), colour-blind-safe cividis scale (fixed, so
    facet panels share it; ``facet`` and ``common`` as for plot_phase_map)."""
    fig, ax, xs, ys = _frame(cells, x, y, _titled(f"{label} (mean ± std over seeds)", facet), common)
    cmap, norm = plt.get_cmap("cividis"), Normalize(0, 1)
    shown = cells[column].where(cells["measurable"].astype(bool))
    image = ax.imshow(_grid(cells, x, y, xs, ys, shown), cmap=cmap, norm=norm, origin="lower", aspect="auto")
    for _, c in _labelled(cells, column).iterrows():
        spread = "" if math.isnan(c[f"{column}_std"]) else f"\n±{c[f'{column}_std']:.2f}"
        _readable_text(ax, *_ij(c, x, y, xs, ys), f"{c[column]:.2f}{spread}", cmap(norm(c[column])))
    _marks(ax, cells, x, y, xs, ys)
    _boundary(ax, boundary, x, xs, ys)
    fig.colorbar(image, ax=ax, label=label, fraction=0.05, pad=0.02)
    return save_figure(fig, path)


def plot_steps_map(cells: pd.DataFrame, boundary: pd.DataFrame, x: str, y: str | None, path: Path,
                   facet: str = "", common: pd.DataFrame | None = None) -> Path:
    """Training steps to reach phase C (median over seeds); 'never' cells grey, labelled. A facet panel
    (``facet``, ``common`` as for plot_phase_map) takes its colour scale from every facet's cells."""
    fig, ax, xs, ys = _frame(cells, x, y, _titled("training steps to reach phase C (median over seeds)", facet),
                             common)
    steps = cells["steps_to_C"].astype(float).where(cells["measurable"].astype(bool))
    scale = common if common is not None else cells
    scaled = scale["steps_to_C"].astype(float).where(scale["measurable"].astype(bool))
    finite = scaled[np.isfinite(scaled)]
    cmap = plt.get_cmap("cividis_r")  # fewer steps = brighter
    norm = Normalize(finite.min(), finite.max()) if len(finite) else Normalize(0, 1)
    if len(finite) and finite.min() == finite.max():
        norm = Normalize(finite.min() * 0.5, finite.max() * 1.5)
    never = _grid(cells, x, y, xs, ys, np.isinf(steps).astype(float).where(steps.notna()))
    ax.imshow(np.where(never == 1, 1.0, np.nan), cmap=ListedColormap(["#c8c8c8"]), origin="lower", aspect="auto")
    image = ax.imshow(_grid(cells, x, y, xs, ys, steps.where(np.isfinite(steps))), cmap=cmap, norm=norm,
                      origin="lower", aspect="auto")
    for _, c in _labelled(cells, "steps_to_C").iterrows():
        voters = c["n_A"] + c["n_B"] + c["n_C"]
        text = f"{fmt_steps(c['steps_to_C'])}\n{c['reached_C']}/{voters} seeds"
        colour = cmap(norm(c["steps_to_C"])) if math.isfinite(c["steps_to_C"]) else (0.78, 0.78, 0.78, 1)
        _readable_text(ax, *_ij(c, x, y, xs, ys), text, colour)
    _marks(ax, cells, x, y, xs, ys)
    _boundary(ax, boundary, x, xs, ys)
    if len(finite):
        fig.colorbar(image, ax=ax, label="steps to phase C", fraction=0.05, pad=0.02)
    _legend_below(fig, ax, [Patch(facecolor="#c8c8c8", label="never (at least half the seeds)"),
                            Patch(facecolor="none", edgecolor="none", label="k/n: seeds that reached C")])
    return save_figure(fig, path)


def learned_colours(metric: str) -> tuple[Any, str]:
    """The diverging, colour-blind-safe map of a probe metric's change and the words for its ends: PuOr oriented
    so that purple always means more ordered or factorized (reversed for a lower-is-better metric)."""
    sign = direction(metric)
    cmap = plt.get_cmap("PuOr_r" if sign == LOWER else "PuOr")
    words = (f"purple: more {kind(metric)}, orange: less" if sign is not None
             else "purple: rose, orange: fell (no better direction)")
    return cmap, words


def plot_learned_map(cells: pd.DataFrame, boundary: pd.DataFrame, x: str, y: str, metric: str, path: Path) -> Path:
    """A headline probe metric against its baseline, per cell: colour = the change since step 0 (``<m>_learned``,
    mean over seeds) on a diverging map centred at 0; text = the change (± its std over seeds), the final value
    and the value at step 0 (init)."""
    learned, init = learned_column(metric), init_column(metric)
    fig, ax, xs, ys = _frame(cells, x, y, f"{metric}: change since step 0, the untrained network\n(final − init, "
                                          "mean over seeds)")
    cmap, words = learned_colours(metric)
    shown = cells[learned].astype(float).where(cells["measurable"].astype(bool))
    reach = float(np.nanmax(np.abs(shown))) if shown.notna().any() else 0.0
    norm = Normalize(-reach, reach) if reach > 0 else Normalize(-1e-9, 1e-9)
    image = ax.imshow(_grid(cells, x, y, xs, ys, shown), cmap=cmap, norm=norm, origin="lower", aspect="auto")
    for _, c in _labelled(cells, learned).iterrows():
        spread = "" if pd.isna(c[f"{learned}_std"]) else f" ±{fmt_metric(c[f'{learned}_std'])}"
        text = f"{fmt_change(c[learned])}{spread}\nfinal {fmt_metric(c[metric])}\ninit {fmt_metric(c[init])}"
        _readable_text(ax, *_ij(c, x, y, xs, ys), text, cmap(norm(c[learned])))
    _marks(ax, cells, x, y, xs, ys)
    _boundary(ax, boundary, x, xs, ys)
    fig.colorbar(image, ax=ax, label=f"final − init ({direction_words(metric)})\n{words}", fraction=0.05, pad=0.02)
    return save_figure(fig, path)


OVERLAY_STYLES = ("-", "--", ":", "-.")


def plot_boundary_overlay(cells: pd.DataFrame, boundary: pd.DataFrame, x: str, y: str | None, path: Path) -> Path:
    """Every facet's phase boundary on one landscape: the common grid (light grey where some facet has a cell),
    each facet's boundary lines in its own colour and line style, slightly offset so that shared edges stay
    visible; the legend names each facet (and says when it has no boundary)."""
    fig, ax, xs, ys = _frame(cells, x, y, "phase boundaries of every facet")
    present = _grid(cells, x, y, xs, ys, pd.Series(1.0, index=cells.index))
    ax.imshow(np.where(present == 1, 1.0, np.nan), cmap=ListedColormap(["#eeeeee"]), origin="lower", aspect="auto")
    labels = list(dict.fromkeys(cells["facet"]))
    colours = plt.get_cmap("tab10")
    handles = []
    for k, label in enumerate(labels):
        colour, style = colours(k % 10), OVERLAY_STYLES[(k // 10 + k) % len(OVERLAY_STYLES)]
        shift = (k - (len(labels) - 1) / 2) * min(0.08, 0.6 / max(len(labels), 1))
        mine = boundary[boundary["facet"] == label] if "facet" in boundary.columns else boundary.iloc[:0]
        for _, b in mine.iterrows():
            crossing_x = b["along"] == x
            order, other = (xs, ys) if crossing_x else (ys, xs)
            mid = (position(order, b["low"]) + position(order, b["high"])) / 2 + shift
            at = position(other, b["at"])
            line = ([mid, mid], [at - 0.5, at + 0.5]) if crossing_x else ([at - 0.5, at + 0.5], [mid, mid])
            ax.plot(*line, color=colour, linestyle=style, linewidth=2.5)
        note = "" if len(mine) else " (no boundary)"
        handles.append(plt.Line2D([], [], color=colour, linestyle=style, linewidth=2.5, label=label + note))
    _legend(ax, handles)
    return save_figure(fig, path)
