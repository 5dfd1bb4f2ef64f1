"""Where bumps may be: centre ranges, training lattices, held-out rectangles, evaluation and probe points.

NumPy only, so the sweep driver can describe a trial (its realized density and overlap) without importing
torch, which a trial's worker needs but the driver does not.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from model.config import DataConfig

if TYPE_CHECKING:
    import torch


def coordinate_range(cfg: DataConfig) -> float:
    """Upper end of the centre range: N-1 when clipped, N (exclusive) when periodic."""
    return float(cfg.image_size - 1 if cfg.boundary == "clip" else cfg.image_size)


def axis_lattice(spacing: float, cfg: DataConfig) -> np.ndarray | None:
    """Lattice positions along one axis, or None when that axis is drawn continuously."""
    if spacing == 0:
        return None
    hi = coordinate_range(cfg)
    eps = 1e-9 if cfg.boundary == "clip" else -1e-9  # periodic: N itself is 0 again
    return np.arange(0.0, hi + eps, spacing)


def in_holdout(xy: np.ndarray | torch.Tensor, holdout: list[list[float]]) -> np.ndarray | torch.Tensor:
    """Boolean mask of the points (..., 2) that fall inside any held-out rectangle [x0, x1, y0, y1]."""
    x, y = xy[..., 0], xy[..., 1]
    mask = x < -math.inf  # all False, same type and device as the input
    for x0, x1, y0, y1 in holdout:
        mask = mask | ((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
    return mask


def overlap(mean_spacing: float, sigma: float) -> float:
    """Normalized inner product of two bumps of width sigma whose centres are mean_spacing apart."""
    return math.exp(-(mean_spacing**2) / (4 * sigma**2))


def training_points(cfg: DataConfig, seed: int) -> np.ndarray | None:
    """The distinct training centres (n, 2) of a lattice data set, minus held-out ones, a random ``keep``
    fraction of them; None when any axis is drawn continuously."""
    lattice_x, lattice_y = axis_lattice(cfg.spacing_x, cfg), axis_lattice(cfg.spacing_y, cfg)
    if lattice_x is None or lattice_y is None:
        return None
    xx, yy = np.meshgrid(lattice_x, lattice_y, indexing="xy")
    points = np.stack([xx.ravel(), yy.ravel()], axis=1)
    points = points[~in_holdout(points, cfg.holdout)]
    if cfg.keep < 1:
        n_keep = max(1, round(cfg.keep * len(points)))
        chosen = np.random.default_rng(seed).choice(len(points), size=n_keep, replace=False)
        points = points[np.sort(chosen)]
    if len(points) == 0:
        raise ValueError("data.holdout: the held-out rectangles cover every lattice point; shrink them")
    return points


def derived_quantities(cfg: DataConfig, seed: int) -> dict[str, float]:
    """Data quantities of a trial: distinct training centres, density (centres per pixel), bump overlap."""
    points = training_points(cfg, seed)
    return quantities_for(cfg, math.inf if points is None else float(len(points)))


def _significant(value: float, digits: int = 12) -> float:
    """``value`` rounded to ``digits`` significant digits (inf and NaN unchanged)."""
    return float(f"{value:.{digits}g}") if math.isfinite(value) else value


def quantities_for(cfg: DataConfig, n_positions: float) -> dict[str, float]:
    """``derived_quantities`` for a data set whose training centres are already counted. ``n_positions`` and
    ``density`` count the 2D part; a set with stripes (model/families.py) adds ``n_stripes``, the distinct
    stripe positions over the stripe axes in use (inf when such an axis is continuous)."""
    # 12 significant digits: a sigma solved from a requested overlap gives it back as 0.34999999999999987 in one cell
    # and 0.35 in the next, and a landscape would draw them as two rows.
    out = {"n_positions": n_positions, "density": _significant(n_positions / cfg.image_size**2),
           "overlap": _significant(overlap((cfg.spacing_x + cfg.spacing_y) / 2, cfg.sigma))}
    if cfg.stripes > 0:
        out["n_stripes"] = 0.0
        for axis, spacing in (("x", cfg.spacing_x), ("y", cfg.spacing_y)):
            if axis in cfg.stripe_axes:
                lattice = axis_lattice(spacing, cfg)
                out["n_stripes"] += math.inf if lattice is None else float(len(lattice))
    return out


def eval_margin(cfg: DataConfig) -> float:
    """Evaluation conditions keep this far from a clipped border, where a cut bump biases its centroid."""
    return 0.0 if cfg.boundary == "periodic" else min(cfg.sigma, (cfg.image_size - 1) / 4)


def eval_conditions(cfg: DataConfig, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed off-lattice evaluation points: (in-distribution (n, 2), held-out (n or 0, 2)).

    In-distribution points avoid the held-out rectangles; held-out points lie inside them.
    """
    rng = np.random.default_rng(seed)
    lo, hi = eval_margin(cfg), coordinate_range(cfg) - eval_margin(cfg)
    pool = rng.uniform(lo, hi, size=(max(64 * n, 4096), 2))
    held = in_holdout(pool, cfg.holdout)
    inside, outside = pool[held][:n], pool[~held][:n]
    return outside.astype(np.float32), inside.astype(np.float32)


def lattice_conditions(cfg: DataConfig, n: int, seed: int, data_seed: int) -> np.ndarray:
    """``n`` evaluation points (n, 2) drawn from the training centres of the data set of ``data_seed`` (its
    ``keep`` draw): every lattice axis on its lattice, a continuous axis uniform in the evaluation range, never in a
    held-out rectangle. Empty when both axes are continuous (nothing to tell apart from ``eval_conditions``).

    With at least ``n`` training centres they are distinct; with fewer, every centre is used and the rest drawn
    again, so a small lattice is still scored on ``n`` samples.
    """
    rng = np.random.default_rng(seed)
    points = training_points(cfg, data_seed)
    if points is not None:
        if len(points) >= n:
            return points[np.sort(rng.choice(len(points), size=n, replace=False))].astype(np.float32)
        extra = rng.choice(len(points), size=n - len(points), replace=True)
        return np.concatenate([points, points[extra]]).astype(np.float32)
    lattices = [axis_lattice(cfg.spacing_x, cfg), axis_lattice(cfg.spacing_y, cfg)]
    if n == 0 or all(lattice is None for lattice in lattices):
        return np.zeros((0, 2), np.float32)
    lo, hi = eval_margin(cfg), coordinate_range(cfg) - eval_margin(cfg)
    pool = rng.uniform(lo, hi, size=(max(64 * n, 4096), 2))
    for axis, lattice in enumerate(lattices):
        if lattice is not None:
            pool[:, axis] = rng.choice(lattice, size=len(pool))
    return pool[~in_holdout(pool, cfg.holdout)][:n].astype(np.float32)


def probe_grid(cfg: DataConfig, g: int) -> np.ndarray:
    """A full G x G grid of conditions (G*G, 2), x varying fastest: row i*G + j is (x_j, y_i)."""
    if cfg.boundary == "periodic":
        axis = np.arange(g, dtype=np.float32) * cfg.image_size / g
    else:
        axis = np.linspace(eval_margin(cfg), coordinate_range(cfg) - eval_margin(cfg), g, dtype=np.float32)
    xx, yy = np.meshgrid(axis, axis, indexing="xy")
    return np.stack([xx.ravel(), yy.ravel()], axis=1)
