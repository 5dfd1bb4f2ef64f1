"""Data families: 2D Gaussian bumps, 1D Gaussian stripes, their crossing sum, and mixtures of them in one set.

Follow-up paper (Liang, Liu, Ostrow & Fiete, arXiv 2408.13256, appendix, Fig. 9): a stripe is a "sum of
stripes" (SOS) image drawn on a canvas larger than the visible frame (44 x 44 around a 32 x 32 frame) and
cropped to the frame; its label (x, y) runs over the whole canvas. A label with both coordinates in the frame
shows both stripes (a cross, "2D SOS"); one with y off-screen shows only the vertical stripe at x (a "1D
stripe" that encodes x); the model is conditioned on the full label either way. phasescape follows it:

- ``data.family`` says what an image whose label lies in the frame shows: ``bump`` (the 2D Gaussian bump) or
  ``cross`` (two perpendicular stripes through (x, y)).
- ``data.stripes`` is the share of training images that are 1D stripes; ``data.stripe_axes`` which (``xy``:
  both, equally often; ``x``: vertical lines, whose position encodes x; ``y``: horizontal lines). A stripe
  along x has its x drawn over the whole range (its axis lattice when ``data.spacing_x`` > 0, else
  continuously) and its y uniformly from the off-screen bands [-margin, -3 sigma] and
  [R + 3 sigma, R + margin] (R = N - 1), so the other arm is invisible (< exp(-4.5) = 1.1% of the peak).
  Stripes ignore ``data.holdout`` and ``data.keep``: they present each factor over its full range, the
  paper's point. The 2D part of the set (``1 - stripes``) is the lattice, keep and holdout of the data keys.
- Mixtures are these keys together, e.g. stripes everywhere plus a few 2D bumps outside a held-out band:
  ``family: bump, stripes: 0.8, keep: 0.25, holdout: [[6, 9, 0, 15], [0, 15, 6, 9]]``.

Rendering depends only on the label: in the frame it is the family's shape; with a coordinate off-screen it is
the visible part of the label's cross, i.e. a stripe. Every image peaks at 1: a cross is the pixelwise max of
its two stripes (the paper adds them, which peaks at 2 where they cross; the max keeps both arms at 1 and the
[0, 1] range the samplers clamp to).

Evaluation conditions always lie in the frame, so samples are scored as the family's shape (model/metrics.py);
a cross is scored with the bump detector: one connected component whose row and column profiles peak at
(y, x) -- the detector does not check that the arms span the frame.
"""

from __future__ import annotations

import numpy as np
import torch

from model.config import DataConfig

REACH = 3.0  # an off-screen coordinate lies at least REACH * sigma outside the frame


def in_frame(xy: torch.Tensor | np.ndarray, hi: float) -> torch.Tensor | np.ndarray:
    """Mask (B,) of the labels (B, 2) with both coordinates in [0, hi]."""
    x, y = xy[..., 0], xy[..., 1]
    return (x >= 0) & (x <= hi) & (y >= 0) & (y <= hi)


def stripe_profiles(centres: torch.Tensor, image_size: int, sigma: float, periodic: bool
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """(gx (B, N) along columns, gy (B, N) along rows): the 1D Gaussian profiles of each label (x, y)."""
    grid = torch.arange(image_size, device=centres.device, dtype=centres.dtype)
    dx = grid[None, :] - centres[:, 0:1]
    dy = grid[None, :] - centres[:, 1:2]
    if periodic:
        dx = torch.remainder(dx + image_size / 2, image_size) - image_size / 2
        dy = torch.remainder(dy + image_size / 2, image_size) - image_size / 2
    return torch.exp(-(dx**2) / (2 * sigma**2)), torch.exp(-(dy**2) / (2 * sigma**2))


def render(centres: torch.Tensor, cfg: DataConfig) -> torch.Tensor:
    """Images (B, 1, N, N) in [0, 1] of the labels (B, 2) = (x, y): the family's shape where the label lies in the
    frame, the visible stripe(s) of its cross where a coordinate is off-screen."""
    n = cfg.image_size
    gx, gy = stripe_profiles(centres, n, cfg.sigma, cfg.boundary == "periodic")
    cross = torch.maximum(gy[:, :, None].expand(-1, -1, n), gx[:, None, :].expand(-1, n, -1))
    if cfg.family == "cross":
        return cross.unsqueeze(1)
    bump = gy[:, :, None] * gx[:, None, :]
    hi = float(n - 1 if cfg.boundary == "clip" else n)
    inside = in_frame(centres, hi)[:, None, None]
    return torch.where(inside, bump, cross).unsqueeze(1)


def draw_stripes(centres: torch.Tensor, cfg: DataConfig, lattice_x: np.ndarray | None,
                 lattice_y: np.ndarray | None, generator: torch.Generator) -> torch.Tensor:
    """Replace a ``cfg.stripes`` share of the labels (B, 2) by stripe labels, drawn with ``generator``: the
    stripe's own coordinate over its full range, the other one off-screen (module docstring). Consumes no
    random numbers when ``cfg.stripes`` is 0, so sets without stripes draw exactly what they drew before."""
    if cfg.stripes == 0:
        return centres
    b, device = len(centres), centres.device
    hi = float(cfg.image_size - 1)
    is_stripe = torch.rand(b, generator=generator, device=device) < cfg.stripes
    axes = {"xy": [0, 1], "x": [0], "y": [1]}[cfg.stripe_axes]
    axis = torch.as_tensor(axes, device=device)[
        torch.randint(len(axes), (b,), generator=generator, device=device)]  # 0: stripe encodes x
    own = torch.rand(b, generator=generator, device=device) * hi
    for a, lattice in ((0, lattice_x), (1, lattice_y)):
        if lattice is not None:
            pick = torch.randint(len(lattice), (b,), generator=generator, device=device)
            values = torch.as_tensor(lattice, dtype=centres.dtype, device=device)[pick]
            own = torch.where(axis == a, values, own)
    near = REACH * cfg.sigma
    depth = near + torch.rand(b, generator=generator, device=device) * (cfg.margin - near)
    low = torch.rand(b, generator=generator, device=device) < 0.5
    off = torch.where(low, -depth, hi + depth)
    stripe = torch.stack([torch.where(axis == 0, own, off), torch.where(axis == 0, off, own)], dim=1)
    return torch.where(is_stripe[:, None], stripe.to(centres.dtype), centres)
