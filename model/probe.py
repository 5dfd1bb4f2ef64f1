"""The representation probe (docs/probe.md): metrics of one layer's activations over the G x G probe grid.

The grid holds G*G conditions with x varying fastest (row i*G + j is (x_j, y_i), model/geometry.py
``probe_grid``); on a periodic grid each axis is G evenly spaced points of a circle. Every metric is a function
of the activations (G*G, D) and of the grid alone, NumPy only: trial workers call it at every evaluation, and
scikit-learn's import alone would cost them seconds (the tests check the NumPy versions against scikit-learn).

Cost: the activations are first reduced exactly to their principal-component scores (at most G*G - 1 columns)
through one eigendecomposition of the G*G x G*G Gram matrix, which keeps every distance, inner product and
linear fit; all metrics of one layer then take a few milliseconds (docs/probe.md gives the timings).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from model.definitions import PROBE_METRICS

FOLDS = 5  # shuffled cross-validation folds of kNN, ridge and PCA-3 R^2 (seed 0)
PCA_COMPONENTS = 3  # r2_x, r2_y read the top principal components only (the paper's ordering measure)
ORDER_NEIGHBOURS = 8  # k of trustworthiness and continuity (fewer on grids under 17 points)
KNN_NEIGHBOURS = 5  # k of the kNN regression
RIDGE_ALPHAS = 10.0 ** np.arange(-5, 0)  # ridge penalties, in units of the total sum of squares of the scores
TUNING_LEVEL = 0.5  # the tuning width is the value distance where the mean code cosine falls below this
RANK_RTOL = 1e-12  # principal variances below this share of the largest are rounding noise
CONSTANT_RTOL = 1e-20  # rows whose total variance is below this share of their squared norm are all equal
TIE_RTOL = 1e-9  # ties of distance (to this share of a row's largest) break in one fixed pseudo-random order
TIE_SEED = 0  # the seed of that order
ZERO_RTOL = 1e-8  # a value code shorter than this share of the rows' RMS norm has no direction


# --- reduction and the grid ----------------------------------------------------------------------------------


def principal_scores(activations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Activations (n, ...) -> (scores (n, r), variances (r,)): the centred rows in principal coordinates.

    Scores are sorted by decreasing variance (a variance here is a squared singular value of the centred
    rows); directions with no variance are dropped, so r <= min(n - 1, D). Computed from the n x n Gram matrix:
    far cheaper than an SVD of the (n, D) matrix when D >> n, and exact for every distance and linear fit.
    """
    h = activations.reshape(len(activations), -1)
    mean = h.mean(axis=0, dtype=np.float64)
    centred = h - mean  # float64 (one pass over the activations: they can be megabytes)
    variances, vectors = np.linalg.eigh(centred @ centred.T)
    variances, vectors = variances[::-1], vectors[:, ::-1]
    # Without variance, centring leaves rounding noise of the values themselves: no direction to keep.
    squared_norm = np.sum(variances) + len(h) * np.dot(mean, mean)
    keep = variances > max(RANK_RTOL * variances[0], CONSTANT_RTOL * squared_norm)
    return vectors[:, keep] * np.sqrt(variances[keep]), variances[keep]


def grid_indices(grid: int) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) grid indices (G*G,) of the probe rows, x varying fastest."""
    axis = np.arange(grid)
    return np.tile(axis, grid), np.repeat(axis, grid)


def value_distance(a: np.ndarray, b: np.ndarray, grid: int, periodic: bool) -> np.ndarray:
    """Distance in grid steps between index arrays a and b; around the circle when ``periodic``."""
    d = np.abs(a - b)
    return np.minimum(d, grid - d) if periodic else d


def decoding_target(index: np.ndarray, grid: int, periodic: bool) -> np.ndarray:
    """What kNN and ridge decode (n, 1 or 2): the grid index, or (cos, sin) of its angle on a periodic axis."""
    if not periodic:
        return index[:, None].astype(np.float64)
    angle = 2 * np.pi * index / grid
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


def squared_distances(points: np.ndarray, others: np.ndarray | None = None) -> np.ndarray:
    """Squared Euclidean distances (n, m) from the rows of ``points`` (n, r) to those of ``others`` (m, r),
    by default ``points`` themselves."""
    others = points if others is None else others
    norms, other_norms = np.sum(points**2, axis=1), np.sum(others**2, axis=1)
    return np.maximum(norms[:, None] + other_norms[None, :] - 2 * points @ others.T, 0.0)


def _grid_squared_distances(grid: int, periodic: bool) -> np.ndarray:
    """Squared distances (G*G, G*G) between probe points, in grid steps (toroidal when ``periodic``)."""
    x, y = grid_indices(grid)
    dx = value_distance(x[:, None], x[None, :], grid, periodic)
    dy = value_distance(y[:, None], y[None, :], grid, periodic)
    return (dx**2 + dy**2).astype(np.float64)


# --- cross-validated decoding --------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def shuffled_folds(n: int, folds: int = FOLDS) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """(train, test) index pairs: scikit-learn's ``KFold(folds, shuffle=True, random_state=0)``, in NumPy
    (cached: every metric and every evaluation uses the same folds)."""
    order = np.arange(n)
    np.random.RandomState(0).shuffle(order)
    sizes = np.full(folds, n // folds)
    sizes[: n % folds] += 1
    pairs = tuple((np.setdiff1d(order, test), np.sort(test)) for test in np.split(order, np.cumsum(sizes)[:-1]))
    for index in (i for pair in pairs for i in pair):
        index.flags.writeable = False  # shared by every caller through the cache
    return pairs


def r2_score(target: np.ndarray, prediction: np.ndarray) -> float:
    """R^2 of ``prediction`` for ``target`` (n,) or (n, m), pooled over columns: 1 - SS_res / SS_tot with each
    column centred on its own mean (scikit-learn's ``r2_score(..., multioutput="variance_weighted")``). A
    constant target scores 1 if predicted exactly, else 0, as scikit-learn's does."""
    residual = np.sum((target - prediction) ** 2)
    total = np.sum((target - target.mean(axis=0)) ** 2)
    return float(1 - residual / total) if total > 0 else float(residual == 0)


def cross_validated_r2(features: np.ndarray, target: np.ndarray, folds: int = FOLDS) -> float:
    """Mean test R^2 of least-squares linear regression (with intercept) over ``folds`` shuffled folds
    (``shuffled_folds``; R^2 as ``r2_score``)."""
    design = np.hstack([features, np.ones((len(target), 1))])
    scores = []
    for train, test in shuffled_folds(len(target), folds):
        coef, *_ = np.linalg.lstsq(design[train], target[train], rcond=None)
        scores.append(r2_score(target[test], design[test] @ coef))
    return float(np.mean(scores))


def knn_r2(ranks: np.ndarray, target: np.ndarray, k: int = KNN_NEIGHBOURS) -> float:
    """Mean test R^2 over the shuffled folds of kNN regression: a test point's prediction is the mean target
    (n, m) of the k training points it ranks nearest (``neighbour_ranks`` (n, n) of the activations)."""
    scores = []
    for train, test in shuffled_folds(len(target)):
        nearest = np.argsort(ranks[np.ix_(test, train)], axis=1)[:, :k]
        scores.append(r2_score(target[test], target[train][nearest].mean(axis=1)))
    return float(np.mean(scores))


def _ridge_smoothers(scores: np.ndarray) -> np.ndarray:
    """Hat matrices (alphas, n, n) of ridge regression with an unpenalized intercept from principal ``scores``
    (n, r), one per penalty of RIDGE_ALPHAS times the scores' total sum of squares:
    H = 11'/n + U diag(l / (l + alpha)) U', with U the scores' unit directions and l their squared norms."""
    variances = np.sum(scores**2, axis=0)
    u = scores / np.sqrt(variances)
    shrink = variances / (variances + RIDGE_ALPHAS[:, None] * (variances.sum() or 1.0))
    return 1 / len(scores) + (u * shrink[:, None, :]) @ u.T


def _left_out_residuals(hat: np.ndarray, residual: np.ndarray, train: np.ndarray,
                        test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For smoothers ``hat`` (alphas, n, n) with full-data ``residual`` (alphas, n, m): the residuals of the test
    rows under a fit on the training rows (alphas, t, m), and the leave-one-out residuals of the training rows
    under that fit (alphas, n - t, m); both exact, without refitting.

    Leaving out the rows T gives residuals (I - H_TT)^-1 r_T; leaving out T and one more row i gives i the
    residual (r_i + H_iT e_T) / (1 - H_ii - H_iT (I - H_TT)^-1 H_Ti) (a Schur complement)."""
    m = residual.shape[2]
    h_tt, h_ts = hat[:, test][:, :, test], hat[:, test][:, :, train]
    solved = np.linalg.solve(np.eye(len(test)) - h_tt, np.concatenate([residual[:, test], h_ts], axis=2))
    left_out, spread = solved[:, :, :m], solved[:, :, m:]
    h_st = np.swapaxes(h_ts, 1, 2)
    leverage = np.diagonal(hat, axis1=1, axis2=2)[:, train] + np.sum(h_st * np.swapaxes(spread, 1, 2), axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = (residual[:, train] + h_st @ left_out) / (1 - leverage)[:, :, None]
    return left_out, inner


def ridge_r2(scores: np.ndarray, targets: list[np.ndarray]) -> list[float]:
    """Mean test R^2 over the shuffled folds of ridge regression (unpenalized intercept) from principal
    ``scores`` (n, r: centred, orthogonal columns, as ``principal_scores`` gives) onto each target (n, m) of
    ``targets``. In each fold and for each target the penalty is the one of RIDGE_ALPHAS (times the scores'
    total sum of squares) with the least leave-one-out squared error on the fold's training rows (the rule of
    scikit-learn's ``RidgeCV``). Exact, without refitting (``_left_out_residuals``)."""
    hat = _ridge_smoothers(scores)
    y = np.hstack(targets)
    residual = (y - y.mean(axis=0)) - (hat - 1 / len(y)) @ (y - y.mean(axis=0))  # (alphas, n, m)
    bounds = np.cumsum([0] + [t.shape[1] for t in targets])
    per_fold = []
    for train, test in shuffled_folds(len(y)):
        left_out, inner = _left_out_residuals(hat, residual, train, test)
        fold = []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            error = np.sum(inner[:, :, lo:hi] ** 2, axis=(1, 2))
            # An interpolating fit (leverage 1) has an infinite or NaN error and is never chosen.
            best = int(np.argmin(np.where(np.isfinite(error), error, np.inf)))
            fold.append(r2_score(y[test, lo:hi], y[test, lo:hi] - left_out[best, :, lo:hi]))
        per_fold.append(fold)
    return [float(v) for v in np.mean(per_fold, axis=0)]


# --- local order ---------------------------------------------------------------------------------------------


def neighbour_ranks(squared: np.ndarray) -> np.ndarray:
    """Rank (n, n) of every point j around every point i under ``squared`` distances (n, n): 0 for i itself,
    1 for its nearest neighbour, ... Each distance gains TIE_RTOL * (the row's largest) * p_j / n, p a fixed
    pseudo-random permutation: exact ties (and their rounding noise) are broken in that one order, the same for
    every space, so spaces with the same ties rank alike and a collapsed code ranks at random."""
    n = len(squared)
    priority = np.random.RandomState(TIE_SEED).permutation(n) / n
    largest = squared.max(axis=1, keepdims=True)
    d = squared + TIE_RTOL * np.where(largest > 0, largest, 1.0) * priority  # ties differ by their priority only
    np.fill_diagonal(d, -np.inf)  # i itself sorts first
    rank = np.empty((n, n), dtype=np.int64)
    rank[np.arange(n)[:, None], np.argsort(d, axis=1)] = np.arange(n)
    return rank


@lru_cache(maxsize=8)
def grid_ranks(grid: int, periodic: bool) -> np.ndarray:
    """``neighbour_ranks`` of the probe grid itself (read-only; the same at every evaluation)."""
    ranks = neighbour_ranks(_grid_squared_distances(grid, periodic))
    ranks.flags.writeable = False
    return ranks


def trustworthiness(rank_space: np.ndarray, neighbour_space: np.ndarray, k: int) -> float:
    """Venna & Kaski's trustworthiness of ``neighbour_space`` against ``rank_space`` (both ``neighbour_ranks``
    (n, n)): 1 - 2 / (n k (2n - 3k - 1)) * sum over i and over the k nearest neighbours j of i in
    ``neighbour_space`` of max(0, rank of j around i in ``rank_space`` - k). 1 when every such neighbour is
    among the k nearest in ``rank_space`` too, about 0.5 at random, 0 at worst."""
    n = len(rank_space)
    neighbours = (neighbour_space >= 1) & (neighbour_space <= k)
    penalty = np.sum(np.maximum(rank_space - k, 0)[neighbours])
    return float(1 - 2 * penalty / (n * k * (2 * n - 3 * k - 1)))


def local_order(ranks: np.ndarray, grid: int, periodic: bool) -> dict[str, float]:
    """trust (activation neighbours are grid neighbours) and continuity (grid neighbours stay activation
    neighbours) of the activations' ``neighbour_ranks`` (G*G, G*G) against the grid's (toroidal when
    ``periodic``), k = ORDER_NEIGHBOURS (at most (n - 1) // 2, as trustworthiness needs k < n / 2)."""
    k = min(ORDER_NEIGHBOURS, (grid * grid - 1) // 2)
    reference = grid_ranks(grid, periodic)
    return {"trust": trustworthiness(reference, ranks, k), "continuity": trustworthiness(ranks, reference, k)}


# --- factorization -------------------------------------------------------------------------------------------


def two_way(cube: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The decomposition h = mu + a(x) + b(y) of ``cube`` [y, x, feature]: (mu (r,), a (G, r), b (G, r))."""
    mu = cube.mean(axis=(0, 1))
    return mu, cube.mean(axis=0) - mu, cube.mean(axis=1) - mu


def _unit_rows(vectors: np.ndarray, scale: float) -> np.ndarray:
    """Rows scaled to unit length; rows shorter than ZERO_RTOL * scale (no direction) become NaN."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > ZERO_RTOL * scale, vectors / norms, np.nan)


def _pair_mean(values: np.ndarray) -> float:
    """Mean of the finite entries (NaN if none): cosines that involve a code without direction drop out."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def tuning_width(cosines: np.ndarray, grid: int, periodic: bool) -> float:
    """Value distance (grid steps) where the mean cosine c(d) of codes d steps apart falls below TUNING_LEVEL,
    from the code cosines (G, G): 1 if c(1) is already below (the grid resolves no less), else linear
    interpolation between the last d above and the first below; NaN if c(d) never falls below."""
    index = np.arange(grid)
    distance = value_distance(index[:, None], index[None, :], grid, periodic)
    previous = (0, 1.0)
    for d in range(1, distance.max() + 1):
        c = _pair_mean(cosines[distance == d])
        if np.isnan(c):
            continue
        if c < TUNING_LEVEL:
            if d == 1:
                return 1.0
            d0, c0 = previous
            return float(d0 + (d - d0) * (c0 - TUNING_LEVEL) / (c0 - c))
        previous = (d, c)
    return float("nan")


def value_codes(codes: np.ndarray, scale: float, grid: int, periodic: bool) -> tuple[float, float]:
    """(mean |cos| between the codes (G, r) of distinct values, tuning width) of one axis."""
    unit = _unit_rows(codes, scale)
    cosines = unit @ unit.T
    off_diagonal = ~np.eye(grid, dtype=bool)
    return _pair_mean(np.abs(cosines[off_diagonal])), tuning_width(cosines, grid, periodic)


def parallelism(cube: np.ndarray, scale: float, periodic: bool) -> float:
    """Mean cosine between the x-displacements h(x_{i+1}, y) - h(x_i, y) of the same step i on two distinct
    rows y, over all steps (around the circle when ``periodic``) and row pairs."""
    steps = np.roll(cube, -1, axis=1) - cube
    if not periodic:
        steps = steps[:, :-1]
    unit = _unit_rows(np.swapaxes(steps, 0, 1), scale)  # [step, row, feature]
    cosines = unit @ np.swapaxes(unit, 1, 2)
    off_diagonal = ~np.eye(cube.shape[0], dtype=bool)
    return _pair_mean(cosines[:, off_diagonal])


def cross_condition(cube: np.ndarray) -> float:
    """Share of points whose x index a nearest-class-mean decoder trained on the other half of the y rows
    gets right: class means over rows [0, G//2) decode rows [G//2, G), and the reverse; chance is 1/G."""
    grid = cube.shape[0]
    halves = (np.arange(grid // 2), np.arange(grid // 2, grid))
    correct = 0
    for train, test in (halves, halves[::-1]):
        means = cube[train].mean(axis=0)  # (G x values, r)
        points = cube[test].reshape(len(test) * grid, cube.shape[2])
        guess = np.argmin(squared_distances(points, means), axis=1)
        correct += np.sum(guess == np.tile(np.arange(grid), len(test)))
    return float(correct / grid**2)


def _subspace(vectors: np.ndarray, energy: float = 0.9, max_dim: int = 5) -> np.ndarray:
    """Orthonormal basis (k, D) of the directions holding ``energy`` of the rows' squared norm."""
    _, s, vt = np.linalg.svd(vectors, full_matrices=False)
    if s.sum() == 0:
        return vt[:0]
    share = np.cumsum(s**2) / np.sum(s**2)
    k = min(int(np.searchsorted(share, energy) + 1), max_dim)
    return vt[:k]


def factorization(scores: np.ndarray, grid: int, periodic: bool) -> dict[str, float]:
    """additivity, orthogonality, code_overlap, value_cos_x/y, tuning_width_x/y, parallelism, ccgen_x/y of
    principal ``scores`` (G*G, r) over the grid (docs/probe.md)."""
    if scores.shape[1] == 0:  # no variance: one zero feature, so every code is a zero code (NaN scores)
        scores = np.zeros((len(scores), 1))
    cube = scores.reshape(grid, grid, -1)  # [y index, x index, feature]
    mu, a, b = two_way(cube)
    total = np.sum((cube - mu) ** 2)
    residual = np.sum((cube - (mu + a[None, :, :] + b[:, None, :])) ** 2)
    scale = np.sqrt(total / grid**2)  # RMS norm of the centred rows
    basis_a, basis_b = _subspace(a), _subspace(b)
    if len(basis_a) and len(basis_b):
        orthogonality = float(1 - np.mean(np.linalg.svd(basis_a @ basis_b.T, compute_uv=False) ** 2))
    else:
        orthogonality = float("nan")
    value_cos_x, tuning_width_x = value_codes(a, scale, grid, periodic)
    value_cos_y, tuning_width_y = value_codes(b, scale, grid, periodic)
    return {
        "additivity": float(1 - residual / total) if total > 0 else float("nan"),
        "orthogonality": orthogonality,
        "code_overlap": _pair_mean((_unit_rows(a, scale) @ _unit_rows(b, scale).T) ** 2),
        "value_cos_x": value_cos_x, "value_cos_y": value_cos_y,
        "tuning_width_x": tuning_width_x, "tuning_width_y": tuning_width_y,
        "parallelism": parallelism(cube, scale, periodic),
        "ccgen_x": cross_condition(cube), "ccgen_y": cross_condition(np.swapaxes(cube, 0, 1)),
    }


# --- all metrics of one layer --------------------------------------------------------------------------------


def probe_metrics(activations: np.ndarray, grid: int, periodic: bool = False) -> dict[str, float]:
    """Every probe metric (model/definitions.py PROBE_METRICS, defined in docs/probe.md) of one layer's
    activations (G*G, ...) over the G x G probe grid, x varying fastest; ``periodic``: both axes are circles."""
    return metrics_of_scores(principal_scores(activations)[0], grid, periodic)


def metrics_of_scores(scores: np.ndarray, grid: int, periodic: bool = False) -> dict[str, float]:
    """``probe_metrics`` from the layer's ``principal_scores`` (G*G, r), for a caller that needs them too.

    r2_x, r2_y: PCA-3 linear R^2 of the grid index; eff_dim; trust, continuity; knn_r2_x/y, ridge_r2_x/y
    (of the index, or of (cos, sin) of its angle when periodic); the factorization scores of ``factorization``.
    """
    variances = np.sum(scores**2, axis=0)
    x, y = grid_indices(grid)
    ranks = neighbour_ranks(squared_distances(scores))
    targets = [decoding_target(index, grid, periodic) for index in (x, y)]
    ridge_x, ridge_y = ridge_r2(scores, targets)
    metrics = {
        "r2_x": cross_validated_r2(scores[:, :PCA_COMPONENTS], x.astype(np.float64)),
        "r2_y": cross_validated_r2(scores[:, :PCA_COMPONENTS], y.astype(np.float64)),
        "eff_dim": float(variances.sum() ** 2 / np.sum(variances**2)) if len(variances) else 0.0,
        **local_order(ranks, grid, periodic),
        "knn_r2_x": knn_r2(ranks, targets[0]), "knn_r2_y": knn_r2(ranks, targets[1]),
        "ridge_r2_x": ridge_x, "ridge_r2_y": ridge_y,
        **factorization(scores, grid, periodic),
    }
    return {name: metrics[name] for name in PROBE_METRICS}
