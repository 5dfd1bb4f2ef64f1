"""Percolation of the training bumps (follow-up paper, arXiv 2408.13256, Sec. 6 and Fig. 6c, 13, 14b).

The overlap graph of a data set joins two training bumps when their overlap exp(-d^2 / (4 sigma^2)) (the
normalized inner product of two bumps whose centres are d apart, docs/definitions.md) exceeds a threshold
(0.005 in the paper), i.e. when d < 2 sigma sqrt(-ln threshold). The **share** of a set is the size of its
largest connected component over the number of training centres; over the kept fraction lambda of the lattice
(``data.keep``) it jumps from small to about 1 where the graph percolates. ``percolation_curve`` averages the
share over seeds (each seed keeps another random subset, as ``model.geometry.training_points`` draws for a trial of
that seed); ``crossing`` is the lambda where the seed-averaged share crosses one half.

Computed with scipy's k-d tree (neighbour pairs) and its sparse-graph ``connected_components``; no torch.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from analysis import ReportError
from model.config import DataConfig
from model.geometry import training_points

THRESHOLD = 0.005  # the follow-up paper's overlap threshold (Fig. 6c)
HALF = 0.5


def join_distance(sigma: float, threshold: float = THRESHOLD) -> float:
    """Centres closer than this are joined: exp(-d^2 / (4 sigma^2)) > threshold <=> d < 2 sigma sqrt(-ln thr)."""
    if not 0 < threshold < 1:
        raise ReportError(f"threshold: must be in (0, 1), got {threshold}")
    return 2 * sigma * math.sqrt(-math.log(threshold))


def component_sizes(points: np.ndarray, sigma: float, threshold: float = THRESHOLD,
                    period: float | None = None) -> np.ndarray:
    """Sizes of the connected components of the overlap graph of ``points`` (n, 2), largest first; with
    ``period`` (periodic images of that size) distances wrap around."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) == 0:
        return np.zeros(0, dtype=int)
    # strictly closer than the join distance (overlap strictly above the threshold)
    radius = np.nextafter(join_distance(sigma, threshold), 0)
    tree = cKDTree(np.mod(points, period) if period else points, boxsize=period)
    pairs = tree.query_pairs(radius, output_type="ndarray")
    n = len(points)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.sort(np.bincount(labels))[::-1]


def giant_share(points: np.ndarray, sigma: float, threshold: float = THRESHOLD, period: float | None = None) -> float:
    """The largest component's share of the points (1.0 for one point; NaN for none)."""
    sizes = component_sizes(points, sigma, threshold, period)
    return float(sizes[0] / sizes.sum()) if len(sizes) else math.nan


def percolation_curve(cfg: DataConfig, lambdas: list[float] | np.ndarray, seeds: list[int] | range = range(8),
                      threshold: float = THRESHOLD) -> pd.DataFrame:
    """One row per lambda: ``lambda``, ``share`` (mean over seeds), ``share_std``, ``n_points`` (mean kept
    centres), for the lattice of ``cfg`` (its spacings, holdout, sigma) with ``keep`` = lambda."""
    if cfg.spacing_x == 0 or cfg.spacing_y == 0:
        raise ReportError("data.spacing_x/spacing_y: percolation needs a lattice on both axes; continuous centres "
                          "have no overlap graph")
    period = float(cfg.image_size) if cfg.boundary == "periodic" else None
    rows = []
    for lam in lambdas:
        if not 0 < lam <= 1:
            raise ReportError(f"lambda: must be in (0, 1], got {lam}")
        shares, counts = [], []
        for seed in seeds:
            points = training_points(replace(cfg, keep=float(lam)), seed)
            shares.append(giant_share(points, cfg.sigma, threshold, period))
            counts.append(len(points))
        rows.append({"lambda": float(lam), "share": float(np.mean(shares)),
                     "share_std": float(np.std(shares, ddof=1)) if len(shares) > 1 else math.nan,
                     "n_points": float(np.mean(counts))})
    return pd.DataFrame(rows)


def crossing(x: np.ndarray | list[float], y: np.ndarray | list[float], level: float = HALF) -> float:
    """Where the curve y(x) (x ascending) last rises through ``level``: linear interpolation between the last
    point below it and the next point; the first x if y never falls below it, NaN if it never reaches it.

    Searched from the top, so a small set whose few points happen to touch (share 1 at tiny lambda) does not
    count as percolated."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    order = np.argsort(x)
    x, y = x[order], y[order]
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    if len(x) == 0 or y[-1] < level:
        return math.nan
    below = np.flatnonzero(y < level)
    if len(below) == 0:
        return float(x[0])
    i = below[-1]
    return float(x[i] + (level - y[i]) * (x[i + 1] - x[i]) / (y[i + 1] - y[i]))


def threshold_lambda(cfg: DataConfig, lambdas: list[float] | np.ndarray | None = None,
                     seeds: list[int] | range = range(8), threshold: float = THRESHOLD) -> float:
    """The lambda at which the seed-averaged giant-component share of ``cfg``'s lattice crosses one half."""
    grid = np.linspace(0.02, 1.0, 50) if lambdas is None else np.asarray(lambdas)
    curve = percolation_curve(cfg, grid, seeds, threshold)
    return crossing(curve["lambda"], curve["share"])
