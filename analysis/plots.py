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

from analysis.landscape import axis_values, by_cell, position
from analysis.style import FAILED_HATCH, PHASE_COLOURS, PHASE_NAMES, X_COLOUR, Y_COLOUR, fmt_value
from model.definitions import ERROR, ONSET, PHASES

DPI = 110


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def cell_label(x: str, y: str, xv: Any, yv: Any) -> str:
    """A short label of a grid cell on axes ``x`` and ``y`` with values ``xv`` and ``yv``, e.g.
    ``sigma 1.5, spacing_x 0 (continuous)``."""
    short = lambda name: name.rsplit(".", 1)[-1]  # noqa: E731
    return f"{short(x)} {fmt_value(x, xv)}, {short(y)} {fmt_value(y, yv)}"


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
    return _save(fig, path)


def plot_phase_strips(timeline: pd.DataFrame, cells: pd.DataFrame, x: str, y: str, path: Path) -> Path:
    """One row per cell, coloured by its phase (modal over seeds) over the interval ending at each evaluation."""
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(cells) + 1.4))
    last = timeline["step"].max() if len(timeline) else 1.0
    xs, ys = axis_values(cells[x]), axis_values(cells[y])
    phases = by_cell(timeline, x, y, cells)
    labels = []
    for row, (_, c) in enumerate(cells.iterrows()):
        mine = phases.get((position(xs, c[x]), position(ys, c[y])), timeline.iloc[:0])
        ends = mine["step"].to_numpy(float)
        starts = np.concatenate([[0.0], ends[:-1]])[: len(ends)]
        spans = list(zip(starts, ends - starts, strict=True))
        ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=[PHASE_COLOURS[p] for p in mine["phase"]])
        if c["state"] == "failed":
            ax.broken_barh([(0, last)], (row - 0.4, 0.8), facecolor="white", edgecolor="0.3", hatch=FAILED_HATCH)
        note = {"failed": " (failed)", "partial": " (running)", "pending": " (pending)"}.get(c["state"], "")
        labels.append(cell_label(x, y, c[x], c[y]) + note)
    ax.set_yticks(range(len(cells)), labels, fontsize=8)
    ax.set_ylim(len(cells) - 0.5, -0.5)
    ax.set_xlim(0, last)
    ax.set_xlabel("training step")
    ax.set_title("phase over training, one row per cell (most common phase over seeds)", fontsize=10)
    handles = [Patch(facecolor=PHASE_COLOURS[p], label=PHASE_NAMES[p]) for p in PHASES]
    handles.append(Patch(facecolor="white", edgecolor="0.3", hatch=FAILED_HATCH, label="failed"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return _save(fig, path)


def plot_learning_curves(df: pd.DataFrame, trials: pd.DataFrame, cells: pd.DataFrame, x: str, y: str, path: Path,
                         columns: int = 4) -> Path:
    """acc_x and acc_y over training, one panel per cell (in the landscape's order), one line per seed; dashed
    vertical lines mark the cell's onsets (median first step with acc >= 0.5) and the title its coupling."""
    cols = min(columns, len(cells))
    rows = math.ceil(len(cells) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.7 * cols + 0.3, 2.2 * rows + 0.9), squeeze=False, sharey=True)
    for ax in axes.ravel()[len(cells):]:
        ax.set_visible(False)
    xs, ys = axis_values(cells[x]), axis_values(cells[y])
    seeds = by_cell(trials[trials["status"] != ERROR], x, y, cells)
    for ax, (_, c) in zip(axes.ravel(), cells.iterrows(), strict=False):
        ax.axhline(ONSET, color="0.6", linewidth=0.8, linestyle=":")
        for trial_id in seeds.get((position(xs, c[x]), position(ys, c[y])), trials.iloc[:0])["trial_id"]:
            t = df[(df["trial_id"] == trial_id) & df["step"].notna()].sort_values("step")
            ax.plot(t["step"], t["acc_x"], color=X_COLOUR, linewidth=1.2, alpha=0.85)
            ax.plot(t["step"], t["acc_y"], color=Y_COLOUR, linewidth=1.2, alpha=0.85, linestyle="--")
        for onset, colour in ((c["onset_x"], X_COLOUR), (c["onset_y"], Y_COLOUR)):
            if np.isfinite(onset):
                ax.axvline(onset, color=colour, linewidth=1.0, linestyle=(0, (2, 2)))
        if c["state"] == "failed":
            ax.patch.set_hatch(FAILED_HATCH)
            ax.patch.set_edgecolor("0.6")
            ax.text(0.5, 0.5, "failed", transform=ax.transAxes, ha="center", va="center",
                    bbox={"facecolor": "white", "edgecolor": "none"})
            ax.set_xticks([])
        coupling = "" if math.isnan(c["coupling"]) else f"\ncoupling {c['coupling']:.2g}"
        ax.set_title(cell_label(x, y, c[x], c[y]) + coupling, fontsize=7.5)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("training step", fontsize=7.5)
        ax.tick_params(labelsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy (within tol)", fontsize=8)
    handles = [plt.Line2D([], [], color=X_COLOUR, label="acc_x"),
               plt.Line2D([], [], color=Y_COLOUR, linestyle="--", label="acc_y"),
               plt.Line2D([], [], color="0.3", linestyle=(0, (2, 2)), label=f"onset (first step ≥ {ONSET})"),
               plt.Line2D([], [], color="0.6", linestyle=":", label="threshold")]
    fig.suptitle("learning of x and y (coupling = onset of the sparse axis / onset of the dense axis)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93 if rows > 1 else 0.85))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.93 if rows > 1 else 0.85))
    return _save(fig, path)


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
    return _save(fig, path)
