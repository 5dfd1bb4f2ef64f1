"""Figures of training runs: phase-over-training strips, acc_x / acc_y learning curves with onsets, the probe's
latent manifold (PCA), and generated samples with their targets. Written to PNG (matplotlib's Agg backend)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from analysis.landscape import by_cell, cell_orders, cell_position, cell_values
from analysis.style import (
    FAILED_HATCH,
    PHASE_COLOURS,
    PHASE_NAMES,
    UNMEASURABLE_HATCH,
    X_COLOUR,
    Y_COLOUR,
    cell_hatch,
    fmt_value,
)
from model.definitions import ERROR, ONSET, PHASES

DPI = 110


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` (PNG, trimmed to its contents), close it, return ``path``."""
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def cell_label(x: str, y: str | None, xv: Any, yv: Any = None) -> str:
    """A short label of a grid cell on axes ``x`` and ``y`` with values ``xv`` and ``yv``, e.g.
    ``sigma 1.5, spacing_x 0 (continuous)``; of one value of a one-axis key when ``y`` is None (``spacing_y 4``)."""
    short = lambda name: name.rsplit(".", 1)[-1]  # noqa: E731
    first = f"{short(x)} {fmt_value(x, xv)}"
    return first if y is None else f"{first}, {short(y)} {fmt_value(y, yv)}"


def row_label(c: pd.Series, x: str, y: str | None) -> str:
    """``cell_label`` of a landscape (or trial) row."""
    return cell_label(x, y, *cell_values(c, x, y))


def plot_samples(samples: np.ndarray, targets: np.ndarray, path: Path, title: str = "", max_images: int = 32) -> Path:
    """A grid of generated images (n, N, N) in [0, 1], each with its requested (x, y) marked by a red cross.

    Drawn as one montage (blue-grey gaps, never mistaken for a bump) in a single axes: fast enough to redraw at
    every evaluation of a trial."""
    n = min(len(samples), max_images)
    cols = min(8, n)
    rows = math.ceil(n / cols)
    size = samples.shape[-1]
    cell = size + max(1, size // 8)
    montage = np.full((rows * cell - cell + size, cols * cell - cell + size), np.nan)
    for i in range(n):
        r, c = divmod(i, cols)
        montage[r * cell:r * cell + size, c * cell:c * cell + size] = samples[i]
    fig, ax = plt.subplots(figsize=(1.1 * cols, 1.1 * rows + 0.4))
    ax.imshow(montage, cmap=plt.get_cmap("gray").with_extremes(bad="#9fb7cc"), vmin=0, vmax=1,
              interpolation="nearest")
    r, c = np.divmod(np.arange(n), cols)
    ax.plot(c * cell + targets[:n, 0], r * cell + targets[:n, 1], "r+", markersize=8, markeredgewidth=1.5)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def plot_phase_strips(timeline: pd.DataFrame, cells: pd.DataFrame, x: str, y: str | None, path: Path) -> Path:
    """One row per cell, coloured by its phase (modal over seeds) over the interval ending at each evaluation."""
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(cells) + 1.4))
    last = timeline["step"].max() if len(timeline) else 1.0
    orders = cell_orders(cells, x, y)
    phases = by_cell(timeline, cells, x, y)
    labels = []
    for row, (_, c) in enumerate(cells.iterrows()):
        mine = phases.get(cell_position(orders, cell_values(c, x, y)), timeline.iloc[:0])
        ends = mine["step"].to_numpy(float)
        starts = np.concatenate([[0.0], ends[:-1]])[: len(ends)]
        spans = list(zip(starts, ends - starts, strict=True))
        ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=[PHASE_COLOURS[p] for p in mine["phase"]])
        if c["state"] == "failed":
            ax.broken_barh([(0, last)], (row - 0.4, 0.8), facecolor="white", edgecolor="0.3", hatch=FAILED_HATCH)
        elif not c["measurable"]:  # its phases are drawn, crossed out: the detector cannot score them
            ax.broken_barh([(0, last)], (row - 0.4, 0.8), facecolor="none", edgecolor="0.2",
                           hatch=UNMEASURABLE_HATCH)
        note = {"failed": " (failed)", "partial": " (running)", "pending": " (pending)"}.get(c["state"], "")
        labels.append(row_label(c, x, y) + note + ("" if c["measurable"] else " (unmeasurable)"))
    ax.set_yticks(range(len(cells)), labels, fontsize=8)
    ax.set_ylim(len(cells) - 0.5, -0.5)
    ax.set_xlim(0, last)
    ax.set_xlabel("training step")
    ax.set_title("phase over training, one row per cell (most common phase over seeds)", fontsize=10)
    handles = [Patch(facecolor=PHASE_COLOURS[p], label=PHASE_NAMES[p]) for p in PHASES]
    handles.append(Patch(facecolor="white", edgecolor="0.3", hatch=FAILED_HATCH, label="failed"))
    handles.append(Patch(facecolor="white", edgecolor="0.3", hatch=UNMEASURABLE_HATCH, label="unmeasurable"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return save_figure(fig, path)


def _curves(ax: plt.Axes, t: pd.DataFrame) -> None:
    """One trial's acc_x and acc_y over training: on the lattice (solid x, dashed y) when recorded, off the lattice
    thin and dotted beside them; off the lattice in the solid/dashed style when that is all there is."""
    lattice = t["lattice_acc_x"].notna().any() and t["lattice_acc_y"].notna().any()
    prefix = "lattice_" if lattice else ""
    ax.plot(t["step"], t[f"{prefix}acc_x"], color=X_COLOUR, linewidth=1.2, alpha=0.85)
    ax.plot(t["step"], t[f"{prefix}acc_y"], color=Y_COLOUR, linewidth=1.2, alpha=0.85, linestyle="--")
    if lattice:
        for column, colour in (("acc_x", X_COLOUR), ("acc_y", Y_COLOUR)):
            ax.plot(t["step"], t[column], color=colour, linewidth=0.9, alpha=0.7, linestyle=":")


def _curve_handles(lattice: bool) -> list[Any]:
    """Legend entries of ``_curves`` (with the off-lattice lines only when some trial has lattice scores)."""
    where = " on lattice" if lattice else ""
    handles = [plt.Line2D([], [], color=X_COLOUR, label=f"acc_x{where}"),
               plt.Line2D([], [], color=Y_COLOUR, linestyle="--", label=f"acc_y{where}")]
    if lattice:
        handles.append(plt.Line2D([], [], color="0.3", linestyle=":", label="off lattice (x, y)"))
    return [*handles, plt.Line2D([], [], color="0.3", linestyle=(0, (2, 2)), label=f"onset (first step ≥ {ONSET})"),
            plt.Line2D([], [], color="0.6", linestyle=":", linewidth=0.8, label="threshold")]


def _panel_title(c: pd.Series, x: str, y: str | None) -> str:
    """A learning-curve panel's title: the cell, its coupling, or why its numbers are not read."""
    notes = [row_label(c, x, y)]
    if math.isinf(c["coupling"]) or c["coupling"] == 0:  # an axis never learned: no ratio to print
        notes.append(f"{'sparse' if math.isinf(c['coupling']) else 'dense'} axis never reached {ONSET:g}")
    elif not math.isnan(c["coupling"]):
        notes.append(f"coupling {c['coupling']:.2g}")
    if not c["measurable"]:
        notes.append(f"unmeasurable (ceiling {c['gt_acc']:.2f})")
    return "\n".join(notes)


def plot_learning_curves(df: pd.DataFrame, trials: pd.DataFrame, cells: pd.DataFrame, x: str, y: str | None,
                         path: Path, columns: int = 4) -> Path:
    """acc_x and acc_y over training, one panel per cell (in the landscape's order), one line per seed; dashed
    vertical lines mark the cell's onsets (median first step with acc >= 0.5 on the lattice when recorded) and
    the title its coupling."""
    cols = min(columns, len(cells))
    rows = math.ceil(len(cells) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.7 * cols + 0.3, 2.2 * rows + 0.9), squeeze=False, sharey=True)
    for ax in axes.ravel()[len(cells):]:
        ax.set_visible(False)
    orders = cell_orders(cells, x, y)
    seeds = by_cell(trials[trials["status"] != ERROR], cells, x, y)
    for ax, (_, c) in zip(axes.ravel(), cells.iterrows(), strict=False):
        ax.axhline(ONSET, color="0.6", linewidth=0.8, linestyle=":")
        for trial_id in seeds.get(cell_position(orders, cell_values(c, x, y)), trials.iloc[:0])["trial_id"]:
            _curves(ax, df[(df["trial_id"] == trial_id) & df["step"].notna()].sort_values("step"))
        for onset, colour in ((c["onset_x"], X_COLOUR), (c["onset_y"], Y_COLOUR)):
            if np.isfinite(onset):
                ax.axvline(onset, color=colour, linewidth=1.0, linestyle=(0, (2, 2)))
        hatch = cell_hatch(c["state"], c["measurable"])
        if hatch:
            ax.patch.set_hatch(hatch)
            ax.patch.set_edgecolor("0.75")
        if c["state"] == "failed":
            ax.text(0.5, 0.5, "failed", transform=ax.transAxes, ha="center", va="center",
                    bbox={"facecolor": "white", "edgecolor": "none"})
            ax.set_xticks([])
        ax.set_title(_panel_title(c, x, y), fontsize=7.5)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("training step", fontsize=7.5)
        ax.tick_params(labelsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy (within tol)", fontsize=8)
    handles = _curve_handles(bool(df["lattice_acc_x"].notna().any()))
    fig.suptitle("learning of x and y (coupling = onset of the sparse axis / onset of the dense axis)", fontsize=10)
    fig.tight_layout()
    # Below the panels, where it cannot collide with the title however many rows there are (the saved figure
    # grows to hold it).
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    return save_figure(fig, path)


def plot_latents(evals: list[dict[str, np.ndarray]], path: Path, title: str = "", notes: dict[int, str] | None = None,
                 checkpoints: int = 4) -> Path:
    """The probe's latent manifold: PC1 vs PC2 of the probe activations at a few checkpoints, coloured by x (top
    row) and by y (bottom row), grey lines joining grid neighbours (an ordered 2D sheet means phase C)."""
    chosen = [evals[i] for i in sorted(set(np.linspace(0, len(evals) - 1, checkpoints).round().astype(int)))]
    fig, axes = plt.subplots(2, len(chosen), figsize=(2.5 * len(chosen) + 1.2, 4.8), squeeze=False)
    for col, e in enumerate(chosen):
        latents, xy = e["latents"], e["probe_xy"]
        g = round(math.sqrt(len(xy)))
        sheet = latents[:, :2].reshape(g, g, 2)  # [y index, x index, PC]
        step = int(e["step"])
        for row, (coordinate, name) in enumerate(((xy[:, 0], "x"), (xy[:, 1], "y"))):
            ax = axes[row, col]
            for k in range(g):
                ax.plot(sheet[k, :, 0], sheet[k, :, 1], color="0.75", linewidth=0.6, zorder=1)
                ax.plot(sheet[:, k, 0], sheet[:, k, 1], color="0.75", linewidth=0.6, zorder=1)
            points = ax.scatter(latents[:, 0], latents[:, 1], c=coordinate, cmap="viridis", s=14, zorder=2)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel("PC1", fontsize=8)
            ax.set_ylabel("PC2", fontsize=8)
            if row == 0:
                ax.set_title(f"step {step}" + (f"\n{notes[step]}" if notes and step in notes else ""), fontsize=8)
            if col == len(chosen) - 1:
                fig.colorbar(points, ax=axes[row, :].tolist(), label=f"{name} (px)", fraction=0.03, pad=0.02)
    fig.suptitle(title or "probe latents (PCA), coloured by x (top) and y (bottom)", fontsize=9)
    return save_figure(fig, path)
