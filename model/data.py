"""Bump data sets: single-channel N x N images, each one 2D Gaussian bump centred at a continuous (x, y).

Training centres lie on a lattice of spacing (spacing_x, spacing_y) -- 0 on an axis draws that coordinate
continuously -- minus held-out rectangles, of which a random fraction ``keep`` is kept. Images are rendered
on the training device for each batch, so there is no DataLoader round trip.

Coordinates are in pixels: x indexes columns, y indexes rows. With ``boundary: clip`` centres lie in
[0, N-1] and bumps are cut at the border; with ``periodic`` they lie in [0, N) and wrap around.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from model.config import DataConfig


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


def render_bumps(centres: torch.Tensor, image_size: int, sigma: float, periodic: bool) -> torch.Tensor:
    """Images (B, 1, N, N) in [0, 1]: a unit-peak Gaussian bump at each centre (B, 2) given as (x, y)."""
    grid = torch.arange(image_size, device=centres.device, dtype=centres.dtype)
    dx = grid[None, :] - centres[:, 0:1]  # (B, N) along columns
    dy = grid[None, :] - centres[:, 1:2]  # (B, N) along rows
    if periodic:
        dx = torch.remainder(dx + image_size / 2, image_size) - image_size / 2
        dy = torch.remainder(dy + image_size / 2, image_size) - image_size / 2
    gx = torch.exp(-(dx**2) / (2 * sigma**2))
    gy = torch.exp(-(dy**2) / (2 * sigma**2))
    return (gy[:, :, None] * gx[:, None, :]).unsqueeze(1)  # separable: (B, 1, rows=y, cols=x)


class BumpDataset:
    """The training distribution of one trial; ``sample`` draws a batch of (images in [-1, 1], centres)."""

    def __init__(self, cfg: DataConfig, seed: int, device: torch.device | str = "cpu") -> None:
        self.cfg = cfg
        self.device = torch.device(device)
        self.lattice_x = axis_lattice(cfg.spacing_x, cfg)
        self.lattice_y = axis_lattice(cfg.spacing_y, cfg)
        self.continuous = self.lattice_x is None or self.lattice_y is None
        self.centres: torch.Tensor | None = None
        if not self.continuous:
            xx, yy = np.meshgrid(self.lattice_x, self.lattice_y, indexing="xy")
            points = np.stack([xx.ravel(), yy.ravel()], axis=1)
            points = points[~in_holdout(points, cfg.holdout)]
            if cfg.keep < 1:
                n_keep = max(1, round(cfg.keep * len(points)))
                chosen = np.random.default_rng(seed).choice(len(points), size=n_keep, replace=False)
                points = points[np.sort(chosen)]
            if len(points) == 0:
                raise ValueError("data.holdout: the held-out rectangles cover every lattice point; shrink them")
            self.centres = torch.tensor(points, dtype=torch.float32, device=self.device)

    @property
    def n_positions(self) -> float:
        """Distinct training centres (inf when any axis is drawn continuously)."""
        return math.inf if self.centres is None else float(len(self.centres))

    @property
    def density(self) -> float:
        return self.n_positions / self.cfg.image_size**2

    @property
    def overlap(self) -> float:
        return overlap((self.cfg.spacing_x + self.cfg.spacing_y) / 2, self.cfg.sigma)

    def derived(self) -> dict[str, float]:
        return {"n_positions": self.n_positions, "density": self.density, "overlap": self.overlap}

    def sample_centres(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        if self.centres is not None:
            idx = torch.randint(len(self.centres), (batch_size,), generator=generator, device=self.device)
            return self.centres[idx]
        hi = coordinate_range(self.cfg)
        out = torch.empty(0, 2, device=self.device)
        while len(out) < batch_size:  # rejection sampling around held-out rectangles
            xy = torch.rand(2 * batch_size, 2, generator=generator, device=self.device) * hi
            for axis, lattice in ((0, self.lattice_x), (1, self.lattice_y)):
                if lattice is not None:
                    pick = torch.randint(len(lattice), (2 * batch_size,), generator=generator, device=self.device)
                    xy[:, axis] = torch.as_tensor(lattice, dtype=xy.dtype, device=self.device)[pick]
            out = torch.cat([out, xy[~in_holdout(xy, self.cfg.holdout)]])
        return out[:batch_size]

    def render(self, centres: torch.Tensor) -> torch.Tensor:
        """Model-space images in [-1, 1]."""
        images = render_bumps(centres, self.cfg.image_size, self.cfg.sigma, self.cfg.boundary == "periodic")
        return images * 2 - 1

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        centres = self.sample_centres(batch_size, generator)
        return self.render(centres), centres


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


def probe_grid(cfg: DataConfig, g: int) -> np.ndarray:
    """A full G x G grid of conditions (G*G, 2), x varying fastest: row i*G + j is (x_j, y_i)."""
    if cfg.boundary == "periodic":
        axis = np.arange(g, dtype=np.float32) * cfg.image_size / g
    else:
        axis = np.linspace(eval_margin(cfg), coordinate_range(cfg) - eval_margin(cfg), g, dtype=np.float32)
    xx, yy = np.meshgrid(axis, axis, indexing="xy")
    return np.stack([xx.ravel(), yy.ravel()], axis=1)
