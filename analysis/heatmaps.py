"""Heatmaps of the landscape: final phase (with its boundary), final acc, steps to phase C.

Cells sit on an index grid (one column per x value, one row per y value, y growing upwards), so continuous
data (density = inf) gets its own labelled column. Grid positions without a trial stay blank; failed cells are
hatched; cells with a trial still running carry a '*'.
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
from analysis.style import FAILED_HATCH, PHASE_COLOURS, PHASE_NAMES, axis_label, fmt_steps, fmt_value
from model.definitions import PHASES

DPI = 110
CORNER_BOX = {"facecolor": "white", "edgecolor": "none", "pad": 0.8, "alpha": 0.85}  # readable on any colour


def _frame(cells: pd.DataFrame, x: str, y: str, title: str) -> tuple[Figure, Axes, list[Any], list[Any]]:
    xs, ys = axis_values(cells[x]), axis_values(cells[y])
    fig, ax = plt.subplots(figsize=(max(4.8, 1.15 * len(xs) + 2.2), max(3.0, 0.75 * len(ys) + 1.6)))
    ax.set_xticks(range(len(xs)), [fmt_value(x, v) for v in xs], rotation=30 if len(xs) > 4 else 0,
                  ha="right" if len(xs) > 4 else "center")
    ax.set_yticks(range(len(ys)), [fmt_value(y, v) for v in ys])
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    ax.set_title(title, fontsize=10)
    return fig, ax, xs, ys


def _grid(cells: pd.DataFrame, x: str, y: str, xs: list[Any], ys: list[Any], values: pd.Series) -> np.ndarray:
    grid = np.full((len(ys), len(xs)), np.nan)
    for xv, yv, v in zip(cells[x], cells[y], values, strict=True):
        grid[position(ys, yv), position(xs, xv)] = v
    return grid


def _marks(ax: Axes, cells: pd.DataFrame, x: str, y: str, xs: list[Any], ys: list[Any]) -> None:
    """Hatch failed cells, name pending ones, flag running trials and partial failures in the corners."""
    for _, c in cells.iterrows():
        i, j = position(xs, c[x]), position(ys, c[y])
        if c["state"] == "failed":
            ax.add_patch(Rectangle((i - 0.5, j - 0.5), 1, 1, facecolor="white", edgecolor="0.3", hatch=FAILED_HATCH,
                                   linewidth=0))
            ax.text(i, j, f"failed\n({c['n_error']})", ha="center", va="center", fontsize=8,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
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
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _state_handles() -> list[Any]:
    return [Patch(facecolor="white", edgecolor="0.3", hatch=FAILED_HATCH, label="failed (all trials)"),
            Patch(facecolor="none", edgecolor="none", label="✗n  n trials failed"),
            Patch(facecolor="none", edgecolor="none", label="*  still running (partial)")]


def plot_phase_map(cells: pd.DataFrame, boundary: pd.DataFrame, x: str, y: str, path: Path, title: str = "") -> Path:
    """Final phase per cell (categorical colours), seeds in C per cell, the phase boundary as thick lines."""
    fig, ax, xs, ys = _frame(cells, x, y, title or "final phase (most common over seeds)")
    codes = cells["phase"].map({p: i for i, p in enumerate(PHASES)})
    cmap = ListedColormap([PHASE_COLOURS[p] for p in PHASES])
    ax.imshow(_grid(cells, x, y, xs, ys, codes), cmap=cmap, vmin=-0.5, vmax=2.5, origin="lower", aspect="auto")
    for _, c in cells[cells["phase"].notna()].iterrows():
        voters = c["n_A"] + c["n_B"] + c["n_C"]
        ax.text(position(xs, c[x]), position(ys, c[y]), f"{c['phase']}\n{c['n_C']}/{voters} in C", ha="center",
                va="center", fontsize=8)
    _marks(ax, cells, x, y, xs, ys)
    _boundary(ax, boundary, x, xs, ys)
    phases = [Patch(facecolor=PHASE_COLOURS[p], label=PHASE_NAMES[p]) for p in PHASES]
    edge = plt.Line2D([], [], color="black", linewidth=3, label="phase boundary")
    _legend(ax, [*phases, edge, *_state_handles()])
    return _save(fig, path)


def _readable_text(ax: Axes, i: int, j: int, text: str, rgba: tuple[float, ...]) -> None:
    """Black text on light colours, white on dark ones."""
    luminance = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]
    ax.text(i, j, text, ha="center", va="center", fontsize=8, color="black" if luminance > 0.5 else "white")


def plot_metric_map(cells: pd.DataFrame, boundary: pd.DataFrame, x: str, y: str, column: str, path: Path,
                    label: str) -> Path:
    """A metric in [0, 1] per cell (mean over seeds, ± sample std), colour-blind-safe cividis scale."""
    fig, ax, xs, ys = _frame(cells, x, y, f"{label} (mean ± std over seeds)")
    cmap, norm = plt.get_cmap("cividis"), Normalize(0, 1)
    image = ax.imshow(_grid(cells, x, y, xs, ys, cells[column]), cmap=cmap, norm=norm, origin="lower", aspect="auto")
    for _, c in cells[cells[column].notna()].iterrows():
        spread = "" if math.isnan(c[f"{column}_std"]) else f"\n±{c[f'{column}_std']:.2f}"
        _readable_text(ax, position(xs, c[x]), position(ys, c[y]), f"{c[column]:.2f}{spread}", cmap(norm(c[column])))
    _marks(ax, cells, x, y, xs, ys)
    _boundary(ax, boundary, x, xs, ys)
    fig.colorbar(image, ax=ax, label=label, fraction=0.05, pad=0.02)
    return _save(fig, path)


def plot_steps_map(cells: pd.DataFrame, boundary: pd.DataFrame, x: str, y: str, path: Path) -> Path:
    """Training steps to reach phase C (median over seeds); 'never' cells grey, labelled."""
    fig, ax, xs, ys = _frame(cells, x, y, "training steps to reach phase C (median over seeds)")
    steps = cells["steps_to_C"].astype(float)
    finite = steps[np.isfinite(steps)]
    cmap = plt.get_cmap("cividis_r")  # fewer steps = brighter
    norm = Normalize(finite.min(), finite.max()) if len(finite) else Normalize(0, 1)
    if len(finite) and finite.min() == finite.max():
        norm = Normalize(finite.min() * 0.5, finite.max() * 1.5)
    never = _grid(cells, x, y, xs, ys, np.isinf(steps).astype(float).where(steps.notna()))
    ax.imshow(np.where(never == 1, 1.0, np.nan), cmap=ListedColormap(["#c8c8c8"]), origin="lower", aspect="auto")
    image = ax.imshow(_grid(cells, x, y, xs, ys, steps.where(np.isfinite(steps))), cmap=cmap, norm=norm,
                      origin="lower", aspect="auto")
    for _, c in cells[steps.notna()].iterrows():
        voters = c["n_A"] + c["n_B"] + c["n_C"]
        text = f"{fmt_steps(c['steps_to_C'])}\n{c['reached_C']}/{voters} seeds"
        colour = cmap(norm(c["steps_to_C"])) if math.isfinite(c["steps_to_C"]) else (0.78, 0.78, 0.78, 1)
        _readable_text(ax, position(xs, c[x]), position(ys, c[y]), text, colour)
    _marks(ax, cells, x, y, xs, ys)
    _boundary(ax, boundary, x, xs, ys)
    if len(finite):
        fig.colorbar(image, ax=ax, label="steps to phase C", fraction=0.05, pad=0.02)
    ax.legend(handles=[Patch(facecolor="#c8c8c8", label="never (at least half the seeds)"),
                       Patch(facecolor="none", edgecolor="none", label="k/n: seeds that reached C")],
              loc="upper center", bbox_to_anchor=(0.5, -0.16 if len(xs) <= 4 else -0.28), ncol=2, fontsize=8,
              frameon=False)
    return _save(fig, path)
