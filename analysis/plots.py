"""Figures for reports, written to PNG files (matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_samples(samples: np.ndarray, targets: np.ndarray, path: Path, title: str = "", max_images: int = 32) -> Path:
    """A grid of generated images (n, N, N) in [0, 1], each with its requested (x, y) marked by a red cross."""
    n = min(len(samples), max_images)
    cols = min(8, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.4 * rows + 0.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        ax = axes.ravel()[i]
        ax.imshow(samples[i], cmap="gray", vmin=0, vmax=1, origin="upper")
        ax.plot(targets[i, 0], targets[i, 1], "r+", markersize=8, markeredgewidth=1.5)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
