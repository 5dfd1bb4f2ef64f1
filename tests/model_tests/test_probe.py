"""The representation probe (model/probe.py, docs/probe.md) on synthetic activations whose answers are known.

Cases: a flat 2D sheet embedded in many dimensions; the same rows shuffled; one one-hot code per x value
concatenated with one per y value; the bump images themselves (a product code); a Clifford torus and a 3D
torus on the periodic grid. The expected numbers are derived in the comments; scikit-learn (a test-only
dependency here) checks the NumPy implementations of trustworthiness, kNN, ridge and the folds.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.manifold import trustworthiness as sk_trustworthiness
from sklearn.metrics import r2_score as sk_r2_score
from sklearn.model_selection import KFold
from sklearn.neighbors import KNeighborsRegressor

from model.config import DataConfig
from model.data import render_bumps
from model.definitions import PROBE_METRICS
from model.geometry import probe_grid
from model.probe import (
    KNN_NEIGHBOURS,
    ORDER_NEIGHBOURS,
    RIDGE_ALPHAS,
    cross_validated_r2,
    decoding_target,
    grid_indices,
    knn_r2,
    neighbour_ranks,
    principal_scores,
    probe_metrics,
    ridge_r2,
    shuffled_folds,
    squared_distances,
    trustworthiness,
)

G = 12  # the default probe grid
IX, IY = grid_indices(G)
ANGLE = 2 * np.pi * np.arange(G) / G


def embed(features, dim=3072, seed=0):
    """Rows (n, m) mapped isometrically into ``dim`` dimensions by a random orthonormal basis."""
    basis, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, features.shape[1])))
    return features @ basis.T


def sheet(grid=G):
    """A flat sheet: h(x, y) = x e1 + y e2 in 3072 dimensions."""
    x, y = grid_indices(grid)
    return embed(np.stack([x, y], axis=1).astype(float))


def one_hot():
    """One one-hot code per x value concatenated with one per y value (2G dimensions)."""
    return np.hstack([np.eye(G)[IX], np.eye(G)[IY]])


def clifford():
    """The Clifford torus (cos x, sin x, cos y, sin y) of the grid angles, in 3072 dimensions."""
    return embed(np.stack([np.cos(ANGLE[IX]), np.sin(ANGLE[IX]), np.cos(ANGLE[IY]), np.sin(ANGLE[IY])], axis=1))


def torus_3d(big=2.0, small=1.0):
    """A 3D torus: x the angle around the axis (radius ``big``), y the angle around the tube (radius ``small``)."""
    ring = big + small * np.cos(ANGLE[IY])
    return np.stack([ring * np.cos(ANGLE[IX]), ring * np.sin(ANGLE[IX]), small * np.sin(ANGLE[IY])], axis=1)


def test_every_metric_is_named_in_definitions():
    assert tuple(probe_metrics(sheet(), G)) == PROBE_METRICS


def test_flat_sheet_is_ordered_decodable_and_factorized():
    m = probe_metrics(sheet(), G)
    for name in ("r2_x", "r2_y", "trust", "continuity", "additivity", "orthogonality", "value_cos_x", "value_cos_y",
                 "parallelism", "ccgen_x", "ccgen_y"):
        assert m[name] == pytest.approx(1.0, abs=1e-9), name
    assert m["eff_dim"] == pytest.approx(2.0, abs=1e-9)  # a square grid: equal variance along x and y
    assert m["code_overlap"] == pytest.approx(0.0, abs=1e-12)
    # Ridge keeps almost all of a direction that holds half the variance: R^2 1 up to its smallest penalty.
    assert m["ridge_r2_x"] == pytest.approx(1.0, abs=1e-5) and m["ridge_r2_y"] == pytest.approx(1.0, abs=1e-5)
    # The codes a(x_i) = (i - 5.5) e1 point one way below the middle and the other way above, so the mean cosine
    # of codes d apart is ((G - d) - 2d) / (G - d): c(2) = 0.6, c(3) = 1/3, and 0.5 is crossed at 2 + 0.1 / (0.6 - 1/3).
    assert m["tuning_width_x"] == pytest.approx(2.375, abs=1e-9) and m["tuning_width_y"] == pytest.approx(2.375)
    # kNN averages 5 neighbours, which straddle a point on the border: high but below 1; checked against sklearn below.
    assert 0.98 < m["knn_r2_x"] < 1 and 0.98 < m["knn_r2_y"] < 1


def test_odd_grid_middle_code_has_no_direction_and_drops_out():
    m = probe_metrics(sheet(5), 5)  # a(x_2) = 0: its cosines are undefined and leave the means
    assert m["value_cos_x"] == pytest.approx(1.0) and m["code_overlap"] == pytest.approx(0.0, abs=1e-12)


def chance_trust(n, k):
    """Expected trustworthiness when each point's k neighbours are a random k of the other n - 1: the ranks
    of the other points form 1..n-1, so the mean penalty per neighbour is sum_{r>k} (r - k) / (n - 1)."""
    return 1 - (n - 1 - k) * (n - k) / ((n - 1) * (2 * n - 3 * k - 1))


def test_shuffled_rows_score_chance():
    """The sheet's rows assigned to random grid points, averaged over 20 shuffles; each tolerance is 4 standard
    deviations of that mean (standard deviations from 300 shuffles)."""
    rng = np.random.default_rng(1)
    h = sheet()
    runs = [probe_metrics(h[rng.permutation(G * G)], G) for _ in range(20)]
    m = {name: np.mean([run[name] for run in runs]) for name in PROBE_METRICS}
    assert m["trust"] == pytest.approx(chance_trust(G * G, ORDER_NEIGHBOURS), abs=0.011)  # 0.512
    assert m["continuity"] == pytest.approx(chance_trust(G * G, ORDER_NEIGHBOURS), abs=0.011)
    # A random split of G^2 values: the main effects explain their degrees of freedom, 2(G-1) / (G^2-1) = 2/(G+1).
    assert m["additivity"] == pytest.approx(2 / (G + 1), abs=0.03)
    assert m["ccgen_x"] == pytest.approx(1 / G, abs=0.022) and m["ccgen_y"] == pytest.approx(1 / G, abs=0.023)
    # Codes in a plane at random angles: E cos^2 = 1/2, E |cos| = 2/pi; displacements: E cos = 0.
    assert m["code_overlap"] == pytest.approx(0.5, abs=0.024)
    assert m["value_cos_x"] == pytest.approx(2 / np.pi, abs=0.033)
    assert m["parallelism"] == pytest.approx(0.0, abs=0.024)
    # kNN predicts the mean of k random targets: error variance (1 + 1/k) times the target's, and a test fold of
    # t points centres on its own mean, so R^2 ~ 1 - (1 + 1/k) t / (t - 1) = -0.243 for k = 5, t = 28.8.
    t = G * G / 5
    expected_knn = 1 - (1 + 1 / KNN_NEIGHBOURS) * t / (t - 1)
    assert m["knn_r2_x"] == pytest.approx(expected_knn, abs=0.08)
    assert m["knn_r2_y"] == pytest.approx(expected_knn, abs=0.08)
    # Linear fits of noise lose a little to their fitted slope: slightly below 0.
    for name in ("ridge_r2_x", "ridge_r2_y", "r2_x", "r2_y"):
        assert -0.07 < m[name] < 0, name


def test_one_hot_codes_are_additive_with_orthogonal_values():
    m = probe_metrics(one_hot(), G)
    for name in ("additivity", "orthogonality", "parallelism", "ccgen_x", "ccgen_y"):
        assert m[name] == pytest.approx(1.0, abs=1e-9), name
    assert m["code_overlap"] == pytest.approx(0.0, abs=1e-12)  # x block and y block
    # a(x_i) = e_i - 1/G: <a_i, a_j> = -1/G, |a_i|^2 = (G-1)/G, so every distinct pair has cos = -1/(G-1) ...
    assert m["value_cos_x"] == pytest.approx(1 / (G - 1)) and m["value_cos_y"] == pytest.approx(1 / (G - 1))
    # ... already below 0.5 one grid step apart: the tuning width is the grid's smallest spacing.
    assert m["tuning_width_x"] == 1.0 and m["tuning_width_y"] == 1.0
    assert m["eff_dim"] == pytest.approx(2 * (G - 1))  # two blocks of G - 1 equal variances
    # The index is linear in the one-hot code (x = sum_i i e_i): ridge decodes it (up to its least shrinkage).
    assert m["ridge_r2_x"] == pytest.approx(1.0, abs=1e-4) and m["ridge_r2_y"] == pytest.approx(1.0, abs=1e-4)


def test_bump_images_are_a_product_code():
    """Bump images h = g(y) (x) g(x) are outer products of 1D bumps g. With P = mean |g|^2 and Q = |mean g|^2,
    mu = gbar (x) gbar, a(x) = gbar (x) (g(x) - gbar), b(y) = (g(y) - gbar) (x) gbar and the residual is
    (g(y) - gbar) (x) (g(x) - gbar): additivity = 1 - (P - Q)^2 / (P^2 - Q^2) = 2Q / (P + Q)."""
    cfg = DataConfig()  # 16 x 16, sigma 1, clip: the tiny preset's probe grid
    xy = probe_grid(cfg, G).astype(np.float64)
    images = render_bumps(torch.from_numpy(xy), cfg.image_size, cfg.sigma, False).flatten(1).numpy()
    axis = xy[:G, 0]
    g = np.exp(-((np.arange(cfg.image_size)[None, :] - axis[:, None]) ** 2) / (2 * cfg.sigma**2))
    p, q = np.mean(np.sum(g**2, axis=1)), np.sum(g.mean(axis=0) ** 2)
    m = probe_metrics(images, G)
    assert m["additivity"] == pytest.approx(2 * q / (p + q), rel=1e-9)
    assert m["additivity"] < 0.4  # 0.376: bumps of width 1 px, 1.18 px apart, are far from additive


def test_clifford_torus_is_additive_and_ordered_on_the_torus():
    m = probe_metrics(clifford(), G, periodic=True)
    for name in ("additivity", "orthogonality", "trust", "continuity", "parallelism", "ccgen_x", "ccgen_y"):
        assert m[name] == pytest.approx(1.0, abs=1e-9), name
    assert m["code_overlap"] == pytest.approx(0.0, abs=1e-12)
    # a(x_i) = (cos, sin) of angle 2 pi i / G: the cosine of codes d steps apart is cos(2 pi d / G).
    assert m["value_cos_x"] == pytest.approx(np.mean(np.abs(np.cos(ANGLE[1:]))))
    assert m["tuning_width_x"] == pytest.approx(G / 6, abs=1e-9)  # cos(2 pi d / G) = 0.5 at d = G/6
    # (cos, sin) of each angle is linear in the features: decoded exactly up to the least ridge shrinkage.
    assert m["ridge_r2_x"] == pytest.approx(1.0, abs=1e-5) and m["ridge_r2_y"] == pytest.approx(1.0, abs=1e-5)
    # Measured against the flat grid instead, points across the seam are activation neighbours but G-1 steps
    # apart (0.894).
    assert probe_metrics(clifford(), G)["trust"] < 0.9


def test_3d_torus_is_not_additive():
    """h = ((R + r cos y) cos x, (R + r cos y) sin x, r sin y): over whole circles mu = 0, a(x) = R (cos x, sin x, 0),
    b(y) = (0, 0, r sin y) and the residual is r cos y (cos x, sin x, 0), so additivity = 1 - (r^2 / 2) / (R^2 + r^2)
    (0.9 for R = 2, r = 1). Yet a and b are orthogonal (overlap 0) and x-steps on every row are parallel: only
    additivity sees that the tube's radius direction turns with x."""
    m = probe_metrics(torus_3d(), G, periodic=True)
    assert m["additivity"] == pytest.approx(0.9)
    assert m["code_overlap"] == pytest.approx(0.0, abs=1e-12)
    assert m["parallelism"] == pytest.approx(1.0)
    assert m["ccgen_y"] < 0.2  # y decoded from half the circle of x fails on the other half, where cos y flips
    assert probe_metrics(clifford(), G, periodic=True)["additivity"] == pytest.approx(1.0)


def test_constant_activations_score_chance_or_nan():
    m = probe_metrics(np.ones((G * G, 7)), G)
    assert m["eff_dim"] == 0.0
    for name in ("additivity", "orthogonality", "code_overlap", "value_cos_x", "tuning_width_x", "parallelism"):
        assert np.isnan(m[name]), name
    assert m["ccgen_x"] == pytest.approx(1 / G) and m["ccgen_y"] == pytest.approx(1 / G)
    # Every point ties with every other: ties break in one fixed random order, a random neighbourhood.
    assert m["trust"] == pytest.approx(chance_trust(G * G, ORDER_NEIGHBOURS), abs=0.06)
    assert m["continuity"] == pytest.approx(chance_trust(G * G, ORDER_NEIGHBOURS), abs=0.06)


def test_principal_scores_keep_distances_and_drop_empty_directions():
    h = sheet() + np.random.default_rng(0).normal(scale=0.1, size=(G * G, 3072))
    scores, variances = principal_scores(h)
    assert scores.shape == (G * G, G * G - 1)  # n points span n - 1 dimensions once centred
    centred = h - h.mean(axis=0)
    assert squared_distances(scores) == pytest.approx(squared_distances(centred), rel=1e-9, abs=1e-9)
    assert variances == pytest.approx(np.linalg.svd(centred, compute_uv=False)[: G * G - 1] ** 2, rel=1e-9)
    assert np.all(np.diff(variances) <= 0)
    assert principal_scores(sheet())[0].shape == (G * G, 2)


# --- the NumPy implementations against scikit-learn, on data without ties --------------------------------------


def test_folds_are_sklearns_shuffled_kfold():
    for n in (25, 144, 256):
        ours = shuffled_folds(n)
        theirs = KFold(5, shuffle=True, random_state=0).split(np.zeros(n))
        for (train, test), (sk_train, sk_test) in zip(ours, theirs, strict=True):
            assert np.array_equal(train, sk_train) and np.array_equal(test, sk_test)


def test_trustworthiness_and_continuity_match_sklearn():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(144, 5))
    low = data[:, :2] + 0.3 * rng.normal(size=(144, 2))
    data_ranks, low_ranks = neighbour_ranks(squared_distances(data)), neighbour_ranks(squared_distances(low))
    for k in (5, 8):
        assert trustworthiness(data_ranks, low_ranks, k) == pytest.approx(sk_trustworthiness(data, low, n_neighbors=k))
        assert trustworthiness(low_ranks, data_ranks, k) == pytest.approx(sk_trustworthiness(low, data, n_neighbors=k))


def sklearn_cv_r2(model_for_fold, features, target):
    """Mean test R^2 (pooled over target columns) of scikit-learn models over KFold(5, shuffle, seed 0)."""
    scores = []
    for train, test in KFold(5, shuffle=True, random_state=0).split(features):
        model = model_for_fold(features[train]).fit(features[train], target[train])
        scores.append(sk_r2_score(target[test], model.predict(features[test]), multioutput="variance_weighted"))
    return np.mean(scores)


@pytest.mark.parametrize("periodic", [False, True])
def test_knn_and_ridge_r2_match_sklearn(periodic):
    rng = np.random.default_rng(0)
    features = np.stack([np.sin(ANGLE[IX]) + IY / G, IX * IY / G**2], axis=1) @ rng.normal(size=(2, 30))
    features += rng.normal(scale=0.3, size=features.shape)  # no ties, and a penalty worth choosing
    scores, _ = principal_scores(features)
    ranks = neighbour_ranks(squared_distances(scores))
    targets = [decoding_target(index, G, periodic) for index in (IX, IY)]

    def ridge_for_fold(_):
        return RidgeCV(alphas=RIDGE_ALPHAS * np.sum((features - features.mean(axis=0)) ** 2))

    ours = ridge_r2(scores, targets)
    for target, ridge in zip(targets, ours, strict=True):
        knn = sklearn_cv_r2(lambda _: KNeighborsRegressor(KNN_NEIGHBOURS), features, target)
        assert knn_r2(ranks, target) == pytest.approx(knn, abs=1e-12)
        assert ridge == pytest.approx(sklearn_cv_r2(ridge_for_fold, features, target), abs=1e-9)
        assert -1 < ridge < 1


def test_cross_validated_r2_known_answers_and_sklearn():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(144, 3))
    assert cross_validated_r2(features, features @ [1.0, -2.0, 0.5] + 3) == pytest.approx(1.0)
    # half the target's variance is noise the features cannot see: R^2 about 0.5 on held-out folds
    noisy = features[:, 0] + rng.normal(size=144)
    assert 0.3 < cross_validated_r2(features, noisy) < 0.7
    assert cross_validated_r2(features, noisy) == pytest.approx(
        sklearn_cv_r2(lambda _: LinearRegression(), features, noisy), abs=1e-12)
    assert cross_validated_r2(features, rng.normal(size=144)) < 0.1


# --- the paper-style metrics (moved from test_metrics.py) ------------------------------------------------------

AXIS = np.linspace(-1, 1, 10)
X = np.tile(AXIS, 10)  # x varies fastest, as the probe grid does
Y = np.repeat(AXIS, 10)


def test_additive_representation_is_factorized():
    rng = np.random.default_rng(0)
    basis_x, basis_y = rng.normal(size=(3, 32)), rng.normal(size=(3, 32))
    a = np.stack([np.sin(2 * X), X, X**2], axis=1) @ basis_x
    b = np.stack([np.cos(3 * Y), Y, Y**3], axis=1) @ basis_y
    m = probe_metrics(a + b, 10)
    assert m["additivity"] > 0.999


def test_product_representation_is_not_additive():
    rng = np.random.default_rng(0)
    h = np.stack([np.sin(3 * X * Y), np.cos(2 * X * Y), X * Y], axis=1) @ rng.normal(size=(3, 32))
    m = probe_metrics(h, 10)
    assert m["additivity"] < 0.5


def test_orthogonality_of_x_and_y_subspaces():
    e = np.eye(8)
    orthogonal = np.outer(X, e[0]) + np.outer(np.sin(2 * X), e[1]) + np.outer(Y, e[2])
    shared = np.outer(X, e[0]) + np.outer(Y, e[0] + 0.01 * e[1])
    assert probe_metrics(orthogonal, 10)["orthogonality"] == pytest.approx(1.0, abs=1e-6)
    assert probe_metrics(shared, 10)["orthogonality"] < 0.01


def test_r2_and_effective_dimension():
    rng = np.random.default_rng(1)
    linear = np.stack([X, Y], axis=1) @ rng.normal(size=(2, 16))
    m = probe_metrics(linear, 10)
    assert m["r2_x"] > 0.99 and m["r2_y"] > 0.99
    assert m["eff_dim"] == pytest.approx(2.0, abs=0.6)
    only_x = np.stack([X, X**2], axis=1) @ rng.normal(size=(2, 16))
    m = probe_metrics(only_x, 10)
    assert m["r2_x"] > 0.9 and m["r2_y"] < 0.1
    noise = rng.normal(size=(100, 64))
    assert probe_metrics(noise, 10)["eff_dim"] > 20


def test_model_does_not_import_sklearn():
    """Trial workers import model/ at start-up: scikit-learn's import would cost each of them seconds."""
    code = "import sys, model.train, model.probe; sys.exit('sklearn' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, timeout=120).returncode == 0
