"""The latent atlas: how the probe's representation of the (x, y) grid looks at the checkpoints of one trial that
matter, as in the papers' figures.

For one trial: step 0 (the untrained network), then the last evaluation in phase A, in B and in C that the trial
had (whichever exist, in that order, each checkpoint once). Each checkpoint's ``latents`` (the top principal
scores of the default probe layer's activations on the G × G grid, saved in evals/step_*.npz) are embedded in 2D
with scikit-learn's Isomap (geodesic distances over a k-nearest-neighbour graph, k = 8), the nonlinear counterpart
of the papers' UMAP. Isomap's axes are arbitrary up to rotation and reflection, so each panel is centred, scaled to
unit RMS radius and turned onto the one before it by an orthogonal Procrustes fit (the first onto the grid itself):
the panels then read alike. Grid neighbours (right and up) are joined by thin grey lines; on a periodic axis the
wrap-around pairs are left out, since a closed loop cannot lie flat without one long edge crossing the panel.

scikit-learn is imported only when an atlas is drawn (about a second), never by trials or by ``import analysis``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection

from analysis.plots import save_figure
from analysis.representation import fmt_metric
from model.definitions import HEADLINE_PROBE, PHASES

NEIGHBOURS = 8  # Isomap's k; fewer on a grid of fewer points


def grid_indices(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each probe point's column (x index) and row (y index) on the G × G grid, from its coordinates."""
    _, ix = np.unique(np.round(xy[:, 0], 6), return_inverse=True)
    _, iy = np.unique(np.round(xy[:, 1], 6), return_inverse=True)
    return ix, iy


def grid_edges(xy: np.ndarray) -> np.ndarray:
    """(E, 2) index pairs of grid neighbours: each point with its right and its up neighbour (no wrap-around)."""
    ix, iy = grid_indices(xy)
    where = {(i, j): k for k, (i, j) in enumerate(zip(ix, iy, strict=True))}
    pairs = [(k, where[(i + di, j + dj)]) for k, (i, j) in enumerate(zip(ix, iy, strict=True))
             for di, dj in ((1, 0), (0, 1)) if (i + di, j + dj) in where]
    return np.array(pairs, dtype=int).reshape(-1, 2)


def embed(latents: np.ndarray, neighbours: int = NEIGHBOURS) -> tuple[np.ndarray, str]:
    """A 2D Isomap embedding of the rows of ``latents`` and the method's name. Where Isomap cannot run (a collapsed
    code, too few points) or returns non-finite values, the first two principal scores instead, named "PCA"."""
    from sklearn.manifold import Isomap  # here, so that only drawing an atlas pays for the import

    latents = np.asarray(latents, dtype=float)
    k = min(neighbours, len(latents) - 2)
    if k >= 1 and np.ptp(latents, axis=0).max(initial=0) > 0:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. a disconnected neighbour graph, which Isomap completes
                z = Isomap(n_neighbors=k, n_components=2).fit_transform(latents)
            if np.isfinite(z).all() and np.ptp(z, axis=0).max() > 0:
                return z, "Isomap"
        except (ValueError, np.linalg.LinAlgError):
            pass
    z = np.zeros((len(latents), 2))
    z[:, : min(2, latents.shape[1])] = latents[:, :2]
    return z, "PCA"


def standardize(z: np.ndarray) -> np.ndarray:
    """Centred and scaled to unit RMS distance from the centre (unchanged in scale when all points coincide)."""
    z = z - z.mean(axis=0)
    radius = math.sqrt((z ** 2).sum() / len(z))
    return z / radius if radius > 0 else z


def align(z: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``z`` (standardized) turned by the rotation or reflection that brings it closest to ``reference``
    (least squares, orthogonal Procrustes: R = U Vᵀ for the SVD U S Vᵀ of zᵀ·reference)."""
    z, reference = standardize(z), standardize(reference)
    u, _, vt = np.linalg.svd(z.T @ reference)
    return z @ (u @ vt)


def checkpoints(evals: list[dict[str, np.ndarray]], phases: dict[int, str]) -> list[tuple[dict[str, np.ndarray],
                                                                                          str]]:
    """The atlas's checkpoints of one trial with their labels: step 0 ("init") when saved, then the last
    evaluation in phase A, in B and in C (``phases``: step -> phase), each once, in that order."""
    by_step = {int(e["step"]): e for e in evals}
    chosen = [(by_step[0], "init")] if 0 in by_step else []
    for phase in PHASES:
        steps = [s for s in sorted(by_step) if s != 0 and phases.get(s) == phase]
        if steps:
            chosen.append((by_step[steps[-1]], f"last in {phase}"))
    return chosen


def _panel_title(step: int, label: str, phase: str, method: str, metrics: dict[str, float]) -> str:
    """'step 600, last in C' / 'phase C · Isomap' / two headline metrics per line."""
    values = [f"{m} {fmt_metric(metrics.get(m, math.nan))}" for m in HEADLINE_PROBE]
    lines = [" · ".join(values[i:i + 2]) for i in range(0, len(values), 2)]
    return "\n".join([f"step {step:,} ({label})", f"phase {phase} · {method}", *lines])


def plot_atlas(evals: list[dict[str, np.ndarray]], rows: pd.DataFrame, path: Path, title: str = "") -> Path | None:
    """The latent atlas of one trial (module docstring): one column per checkpoint, coloured by x (top row) and by
    y (bottom row). ``rows`` are the trial's rows of the results table (step, phase, headline metrics). Checkpoints
    with non-finite latents are left out; None when no checkpoint is left to draw."""
    rows = rows[rows["step"].notna()].drop_duplicates("step", keep="last").set_index("step")
    phases = {int(s): p for s, p in rows["phase"].items() if isinstance(p, str)}
    chosen = [(e, label) for e, label in checkpoints(evals, phases) if np.isfinite(e["latents"]).all()]
    if not chosen:
        return None
    fig, axes = plt.subplots(2, len(chosen), figsize=(2.7 * len(chosen) + 1.4, 6.6), squeeze=False,
                             layout="constrained")
    previous = None
    for col, (e, label) in enumerate(chosen):
        xy, step = np.asarray(e["probe_xy"], dtype=float), int(e["step"])
        z, method = embed(e["latents"])
        ix, iy = grid_indices(xy)
        z = align(z, np.column_stack([ix, iy]).astype(float) if previous is None else previous)
        previous = z
        segments = z[grid_edges(xy)]
        metrics = rows.loc[step].to_dict() if step in rows.index else {}
        for row, (coordinate, name) in enumerate(((xy[:, 0], "x"), (xy[:, 1], "y"))):
            ax = axes[row, col]
            ax.add_collection(LineCollection(segments, colors="0.7", linewidths=0.6, zorder=1))
            points = ax.scatter(z[:, 0], z[:, 1], c=coordinate, cmap="viridis", s=16, zorder=2, edgecolors="none")
            ax.set_aspect("equal", adjustable="datalim")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(_panel_title(step, label, phases.get(step, "?"), method, metrics), fontsize=7.5)
            if col == len(chosen) - 1:
                fig.colorbar(points, ax=axes[row, :].tolist(), label=f"{name} (px)", fraction=0.03, pad=0.01)
    axes[0, 0].set_ylabel("coloured by x", fontsize=8)
    axes[1, 0].set_ylabel("coloured by y", fontsize=8)
    fig.suptitle(title or "latent atlas (Isomap of the probe activations)", fontsize=9)
    return save_figure(fig, path)
