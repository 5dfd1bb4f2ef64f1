"""The ceiling of a trial's sample metrics: what the bump detector scores on the true images of the trial's own
evaluation conditions, i.e. on the samples of a perfect model. A phase is only as good as this: where the
ceiling is below ``CEILING_MIN`` a perfect model would not be called phase C, so the cell is unmeasurable.

The true images carry ``CEILING_NOISE`` of Gaussian pixel noise (fixed seed): a trained sampler's output is never
exactly clean, and a detector that only works on noise-free pixels (a flat bump wider than the image, a bump
narrower than a pixel) would promise a phase it cannot see in real samples. NumPy only: ``validate`` and
``run --dry-run`` compute ceilings without importing torch.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from model.config import Config
from model.definitions import CEILING_MIN
from model.geometry import eval_conditions, lattice_conditions, probe_grid
from model.metrics import sample_metrics
from model.probe import probe_metrics

CEILING_NOISE = 0.02  # pixel noise std on [0, 1] images; see docs/definitions.md for how it was chosen
NARROW = 1.0  # sigma (px) below which an unmeasurable trial's reason is "too narrow", else "too wide"


def true_images(xy: np.ndarray, image_size: int, sigma: float, periodic: bool, family: str = "bump") -> np.ndarray:
    """Images (B, N, N) in [0, 1]: a unit-peak Gaussian bump at each centre (B, 2) = (x, y), the same as
    ``model.data.render_bumps`` draws for training; with ``family`` cross, the two stripes through it (their
    pixelwise max, as ``model.families.render`` draws an in-frame cross)."""
    grid = np.arange(image_size, dtype=np.float64)
    dx = grid[None, :] - np.asarray(xy, np.float64)[:, 0:1]
    dy = grid[None, :] - np.asarray(xy, np.float64)[:, 1:2]
    if periodic:
        dx = np.mod(dx + image_size / 2, image_size) - image_size / 2
        dy = np.mod(dy + image_size / 2, image_size) - image_size / 2
    gx, gy = np.exp(-(dx**2) / (2 * sigma**2)), np.exp(-(dy**2) / (2 * sigma**2))
    if family == "cross":
        return np.maximum(gy[:, :, None], gx[:, None, :])
    return gy[:, :, None] * gx[:, None, :]


def score_true(xy: np.ndarray, config: Config, noise: float = CEILING_NOISE) -> dict[str, float]:
    """``sample_metrics`` of the true images at the conditions ``xy`` (n, 2) of ``config``, with ``noise``."""
    data = config.data
    periodic = data.boundary == "periodic"
    images = true_images(xy, data.image_size, data.sigma, periodic, data.family)
    if noise:
        images = np.clip(images + np.random.default_rng(0).normal(0.0, noise, images.shape), 0.0, 1.0)
    return sample_metrics(images, xy, config.eval.tol, periodic, data.sigma, data.family == "bump")


def _config(key: str) -> Config:
    import json

    return Config.from_dict(json.loads(key))


@functools.lru_cache(maxsize=256)
def _seed_free(key: str) -> dict[str, float]:
    """The parts of the ceiling that depend on the data and eval settings only, not on the trial's seed."""
    config = _config(key)
    in_dist, _ = eval_conditions(config.data, config.eval.n_samples, config.eval.seed)
    scores = score_true(in_dist, config)
    out = {f"gt_{k}": scores[k] for k in ("frac_single", "acc", "acc_x", "acc_y")}
    data = config.data
    periodic = data.boundary == "periodic"
    grid = probe_grid(data, config.eval.probe_grid)
    images = true_images(grid, data.image_size, data.sigma, periodic, data.family).reshape(len(grid), -1)
    out.update({f"gt_{k}": v for k, v in probe_metrics(images, config.eval.probe_grid, periodic).items()})
    return out


@functools.lru_cache(maxsize=256)
def _lattice(key: str) -> dict[str, float]:
    """``gt_lattice_acc``: the lattice conditions come from the trial's own data set, so its seed is in ``key``."""
    config = _config(key)
    lattice = lattice_conditions(config.data, config.eval.n_lattice, config.eval.seed, config.train.seed)
    return {"gt_lattice_acc": score_true(lattice, config)["acc"]} if len(lattice) else {}


def ceiling(config: Config) -> dict[str, float]:
    """The ceiling of a trial: ``gt_frac_single``, ``gt_acc``, ``gt_acc_x``, ``gt_acc_y`` on its in-distribution
    evaluation conditions, ``gt_lattice_acc`` on its training-lattice ones when it has any, and ``gt_<m>`` for every
    probe metric m of the ground-truth representation: the true (noise-free) images of the probe grid themselves,
    a product code that is perfectly ordered but not additive, the reference a layer's probe values can be read
    against. Replicate seeds share all but the lattice part (cached apart)."""
    import json

    d = config.to_dict()
    common = {"data": d["data"], "eval": d["eval"]}
    seeded = {**common, "train": {"seed": d["train"]["seed"]}}
    return {**_seed_free(json.dumps(common, sort_keys=True)), **_lattice(json.dumps(seeded, sort_keys=True))}


def unmeasurable(config: Config, scores: dict[str, Any] | None = None) -> str:
    """Why the phases of ``config`` cannot be measured ('' when they can): its ceiling acc below
    ``CEILING_MIN`` because the bump is too narrow for the pixels or too wide for the image."""
    scores = scores if scores is not None else ceiling(config)
    worst = min(scores["gt_acc"], scores.get("gt_lattice_acc", 1.0))
    if worst >= CEILING_MIN:
        return ""
    sigma, n = config.data.sigma, config.data.image_size
    why = (f"too narrow (sigma {sigma:g} px)" if sigma < NARROW else f"too wide for the image (sigma {sigma:g} px, "
           f"N {n})")
    return f"ceiling acc {worst:.2f} < {CEILING_MIN:g}: {why}"
