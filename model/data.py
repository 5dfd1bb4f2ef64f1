"""Bump data sets: single-channel N x N images, each one 2D Gaussian bump centred at a continuous (x, y).

Training centres lie on a lattice of spacing (spacing_x, spacing_y) -- 0 on an axis draws that coordinate
continuously -- minus held-out rectangles, of which a random fraction ``keep`` is kept (model/geometry.py
computes where centres lie, in NumPy). Images are rendered on the training device for each batch, so there is
no DataLoader round trip.

Coordinates are in pixels: x indexes columns, y indexes rows. With ``boundary: clip`` centres lie in
[0, N-1] and bumps are cut at the border; with ``periodic`` they lie in [0, N) and wrap around.
"""

from __future__ import annotations

import math

import torch

from model import families
from model.config import DataConfig
from model.geometry import axis_lattice, coordinate_range, in_holdout, quantities_for, training_points


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
        points = training_points(cfg, seed)
        self.continuous = points is None
        self.centres = None if points is None else torch.tensor(points, dtype=torch.float32, device=self.device)

    @property
    def n_positions(self) -> float:
        """Distinct training centres (inf when any axis is drawn continuously)."""
        return math.inf if self.centres is None else float(len(self.centres))

    def derived(self) -> dict[str, float]:
        """Data quantities of this set: ``n_positions`` (inf when continuous), ``density`` (centres
        per pixel) and ``overlap`` of neighbouring bumps."""
        return quantities_for(self.cfg, self.n_positions)

    def sample_centres(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """(batch_size, 2) centres (x, y) in pixels on ``self.device``, drawn with ``generator``:
        uniformly from the training points, or, with a continuous axis, uniformly over the coordinate range (lattice
        axes snapped to their lattice) with held-out rectangles rejected; then a ``data.stripes`` share of them
        replaced by stripe labels (model/families.py)."""
        return families.draw_stripes(self._sample_2d(batch_size, generator), self.cfg, self.lattice_x,
                                     self.lattice_y, generator)

    def _sample_2d(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
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
        if self.cfg.family == "bump" and self.cfg.stripes == 0:
            images = render_bumps(centres, self.cfg.image_size, self.cfg.sigma, self.cfg.boundary == "periodic")
        else:
            images = families.render(centres, self.cfg)
        return images * 2 - 1

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A training batch drawn with ``generator``: (images (B, 1, N, N) in [-1, 1], centres (B, 2)
        as (x, y) in pixels)."""
        centres = self.sample_centres(batch_size, generator)
        return self.render(centres), centres


