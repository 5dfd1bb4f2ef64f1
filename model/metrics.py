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


def min_peak(sigma: float) -> float:
    """The dimmest brightest pixel a unit-peak bump of width ``sigma`` can have: its centre half-way between
    four pixel centres (0.5 px off on both axes) leaves the nearest pixels at exp(-1 / (4 sigma^2))."""
    return float(np.exp(-0.25 / sigma**2))


def bump_floor(threshold: float, sigma: float | None) -> float:
    """Peak brightness below which an image holds no bump: ``threshold`` (half the unit peak), lowered to
    ``min_peak(sigma)`` only for bumps so narrow that a true one can fall below it (sigma < 0.6 px)."""
    return threshold if sigma is None else min(threshold, min_peak(sigma))


def max_span(sigma: float) -> float:
    """The widest run of pixels (on either axis) that one bump of width ``sigma`` may cover at half its peak:
    twice a Gaussian's full width at half maximum (2.355 sigma) plus 2 px for pixelation. A stripe or a cross
    drawn through the frame spans far more, so it is one component but not a bump."""
    return 2 * 2.3548 * sigma + 2.0


def _peak_offset(profile: np.ndarray, m: int) -> float:
    """Sub-pixel offset of a peak from its brightest index ``m``: the vertex of a parabola fitted to the log of
    the profile around the peak (exact for a sampled Gaussian, clipped or not), within +-1 px of ``m``.

    The fit uses the contiguous run of values >= half the peak, plus one neighbour each side, weighted by the
    squared values so the faint tails (where noise dominates the log) count little.
    """
    size = len(profile)
    top = profile[m]
    lo, hi = m, m
    while lo > 0 and profile[lo - 1] >= 0.5 * top:
        lo -= 1
    while hi < size - 1 and profile[hi + 1] >= 0.5 * top:
        hi += 1
    lo, hi = max(lo - 1, 0), min(hi + 1, size - 1)
    idx = np.arange(lo, hi + 1)
    values = np.maximum(profile[idx], 1e-12 * top)
    if len(idx) < 3:
        return float(np.sum(values * (idx - m)) / np.sum(values))  # at a border with 2 pixels: centroid
    u = idx - m
    w = values**2
    design = np.stack([np.ones_like(u), u, u * u], axis=1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design * w[:, None] ** 0.5, np.log(values) * w**0.5, rcond=None)
    if coef[2] >= 0:  # not a peak: fall back to the centroid of the run
        return float(np.clip(np.sum(values * u) / np.sum(values), -1, 1))
    return float(np.clip(-coef[1] / (2 * coef[2]), -1.0, 1.0))


def _centre(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[float, float]:
    """(x, y) of the one bump of ``image`` (N, N) whose pixels span ``rows`` and ``cols`` (boolean masks): a
    log-parabola peak fit on the image's column profile over those rows, and its row profile over those
    columns. A Gaussian bump is separable, so both profiles are 1D Gaussians even where the border cuts it."""
    x_profile = image[rows].sum(axis=0)
    y_profile = image[:, cols].sum(axis=1)
    mx, my = int(np.argmax(x_profile)), int(np.argmax(y_profile))
    return mx + _peak_offset(x_profile, mx), my + _peak_offset(y_profile, my)


def _run(mask: np.ndarray) -> int:
    """Pixels from the first True of a 1D mask to its last."""
    idx = np.flatnonzero(mask)
    return int(idx[-1] - idx[0] + 1) if len(idx) else 0


def _count(images: np.ndarray, level: np.ndarray, periodic: bool) -> tuple[np.ndarray, np.ndarray]:
    """(components per image, labels): connected components of the pixels >= each image's ``level``."""
    b = len(images)
    mask = images >= level[:, None, None]
    labels, n = ndimage.label(mask, structure=_STRUCTURE)
    if periodic and n > 0:
        labels = _merge_wrapped_labels(labels, n)
    image_of_pixel = np.broadcast_to(np.arange(b)[:, None, None], labels.shape)
    keys = np.unique(image_of_pixel[labels > 0].astype(np.int64) * (labels.max() + 1) + labels[labels > 0])
    return np.bincount(keys // (labels.max() + 1), minlength=b), labels


def detect_bumps(
    images: np.ndarray, threshold: float = 0.5, periodic: bool = False, sigma: float | None = None,
    compact: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Count bumps and locate single ones in images (B, N, N) scaled so a true bump's peak is 1.

    An image whose brightest pixel is below ``bump_floor(threshold, sigma)`` holds no bump. Otherwise a bump is
    a connected component (8-connectivity; across opposite borders when ``periodic``) of the pixels >=
    ``threshold`` times the image's own peak, so a narrow bump whose centre falls between pixel centres (peak
    below 1) is still seen; the count is the larger of that and the count at the absolute level ``threshold``,
    so two bumps joined by a ridge under the relative level still count as two. The centre of a single bump is
    a sub-pixel Gaussian peak fit of its row and column profiles (``_centre``), unbiased where the border clips
    the bump. With ``sigma`` given and ``compact`` (the data are bumps, not crosses), a lone component wider than
    ``max_span(sigma)`` on either axis (a stripe, a cross, a smear) is not a bump: the image counts 0. Returns
    (counts (B,), centres (B, 2) as (x, y) = (column, row)), NaN centres where an image does not hold exactly one
    bump.
    """
    peak = images.max(axis=(1, 2))
    bright = peak >= bump_floor(threshold, sigma)
    counts, labels = _count(images, np.where(bright, threshold * peak, np.inf), periodic)
    absolute, _ = _count(images, np.full(len(images), float(threshold)), periodic)
    counts = np.maximum(counts, absolute)
    centres = np.full((len(images), 2), np.nan)
    size = np.array([images.shape[2], images.shape[1]])
    for i in np.flatnonzero(counts == 1):
        image, pixels = images[i], labels[i] > 0
        shift = np.zeros(2, dtype=int)
        if periodic:  # move the brightest pixel to the middle so a bump across the border is whole
            row, col = np.unravel_index(np.argmax(image), image.shape)
            shift = size // 2 - np.array([col, row])
            image = np.roll(image, (shift[1], shift[0]), axis=(0, 1))
            pixels = np.roll(pixels, (shift[1], shift[0]), axis=(0, 1))
        rows, cols = pixels.any(axis=1), pixels.any(axis=0)
        if compact and sigma is not None and max(_run(rows), _run(cols)) > max_span(sigma):
            counts[i] = 0
            continue
        centre = np.array(_centre(image, rows, cols)) - shift
        centres[i] = np.mod(centre, size) if periodic else centre
    return counts, centres


def sample_metrics(
    images: np.ndarray, targets: np.ndarray, tol: float = 1.0, periodic: bool = False, sigma: float | None = None,
    compact: bool = True,
) -> dict[str, float]:
    """frac_none/multi/single, acc, acc_x, acc_y (within tol pixels) and err_median of generated samples.

    ``images`` (B, N, N) are scaled to [0, 1] (a bump's peak is 1); ``targets`` (B, 2) are the requested
    (x, y); ``sigma`` is the data's bump width (it lowers the no-bump floor for sub-pixel bumps, see
    ``bump_floor``) and, with ``compact``, the widest a bump may be (``max_span``; off for crosses).
    err_median is over single-bump samples (NaN if there are none).
    """
    counts, centres = detect_bumps(images, 0.5, periodic, sigma, compact)
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
