"""Evaluation metrics (docs/definitions.md): bump detection on samples and the representation probe.

All functions take numpy arrays so they can be tested on synthetic inputs with known answers.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# 8-connectivity inside each image, never across the batch axis.
_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_STRUCTURE[1] = True


def _merge_wrapped_labels(labels: np.ndarray, n: int) -> np.ndarray:
    """Periodic images: components that touch across opposite borders are one bump."""
    pairs = []
    for axis in (1, 2):
        first = np.take(labels, 0, axis=axis)
        last = np.take(labels, -1, axis=axis)
        for shift in (-1, 0, 1):  # diagonal neighbours across the border count too (8-connectivity)
            shifted = np.roll(last, shift, axis=1)
            both = (first > 0) & (shifted > 0)
            pairs.append(np.stack([first[both], shifted[both]], axis=1))
    edges = np.concatenate(pairs)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n + 1, n + 1))
    _, component = connected_components(graph, directed=False)
    merged = component[labels]
    merged[labels == 0] = -1
    return merged + 1  # background 0, bumps >= 1


def _centroid(profile: np.ndarray, periodic: bool) -> np.ndarray:
    """Intensity-weighted mean position of each row of ``profile`` (B, N); periodic profiles are measured
    from their brightest pixel, so a bump that wraps around the border stays whole."""
    size = profile.shape[1]
    coords = np.arange(size)[None, :]
    shift = profile.argmax(axis=1)[:, None] - size // 2 if periodic else np.zeros((len(profile), 1), int)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = (profile * np.mod(coords - shift, size)).sum(axis=1) / profile.sum(axis=1)
    return np.mod(centre + shift[:, 0], size) if periodic else centre


def detect_bumps(
    images: np.ndarray, threshold: float = 0.5, periodic: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Count bumps and locate single ones in images (B, N, N) scaled so a bump's peak is 1.

    A bump is a connected component of pixels >= threshold (half the peak); the centre of a single bump is
    its intensity-weighted centroid, returned as (x, y) = (column, row). Returns (counts (B,), centres (B, 2))
    with NaN centres where an image does not hold exactly one bump.
    """
    b, n_rows, n_cols = images.shape
    mask = images >= threshold
    labels, n = ndimage.label(mask, structure=_STRUCTURE)
    if periodic and n > 0:
        labels = _merge_wrapped_labels(labels, n)
    image_of_pixel = np.broadcast_to(np.arange(b)[:, None, None], labels.shape)
    keys = np.unique(image_of_pixel[labels > 0].astype(np.int64) * (labels.max() + 1) + labels[labels > 0])
    counts = np.bincount(keys // (labels.max() + 1), minlength=b)

    weights = np.where(mask, images, 0.0)
    cx = _centroid(weights.sum(axis=1), periodic)
    cy = _centroid(weights.sum(axis=2), periodic)
    centres = np.stack([cx, cy], axis=1)
    centres[counts != 1] = np.nan
    return counts, centres


def sample_metrics(
    images: np.ndarray, targets: np.ndarray, tol: float = 1.0, periodic: bool = False
) -> dict[str, float]:
    """frac_none/multi/single, acc, acc_x, acc_y (within tol pixels) and err_median of generated samples.

    ``images`` (B, N, N) are scaled to [0, 1] (a bump's peak is 1); ``targets`` (B, 2) are the requested
    (x, y). err_median is over single-bump samples (NaN if there are none).
    """
    counts, centres = detect_bumps(images, 0.5, periodic)
    diff = centres - targets
    if periodic:
        size = np.array([images.shape[2], images.shape[1]])
        diff = np.mod(diff + size / 2, size) - size / 2
    single = counts == 1
    with np.errstate(invalid="ignore"):
        err = np.linalg.norm(diff, axis=1)
        return {
            "frac_none": float(np.mean(counts == 0)),
            "frac_multi": float(np.mean(counts > 1)),
            "frac_single": float(np.mean(single)),
            "acc": float(np.mean(single & (err <= tol))),
            "acc_x": float(np.mean(single & (np.abs(diff[:, 0]) <= tol))),
            "acc_y": float(np.mean(single & (np.abs(diff[:, 1]) <= tol))),
            "err_median": float(np.median(err[single])) if single.any() else float("nan"),
        }
