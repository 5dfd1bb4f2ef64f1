import numpy as np
import pytest
import torch

from model.data import render_bumps
from model.definitions import phase_of
from model.metrics import cross_validated_r2, detect_bumps, probe_metrics, sample_metrics


def bumps(centres, n=16, sigma=1.0, periodic=False):
    return render_bumps(torch.tensor(centres, dtype=torch.float32), n, sigma, periodic)[:, 0].numpy()


def test_perfect_bumps_score_acc_one():
    targets = np.array([[3.3, 7.8], [10.0, 2.5], [7.5, 7.5], [12.2, 12.9]], dtype=np.float32)
    m = sample_metrics(bumps(targets), targets, tol=1.0)
    assert m["frac_single"] == 1.0 and m["acc"] == 1.0 and m["acc_x"] == 1.0 and m["acc_y"] == 1.0
    assert m["err_median"] < 0.2


def test_two_bumps_count_as_multi_and_blank_as_none():
    two = bumps([[3.0, 3.0]]) + bumps([[11.0, 11.0]])
    blank = np.zeros((1, 16, 16))
    m = sample_metrics(np.concatenate([two, blank]), np.array([[3.0, 3.0], [5.0, 5.0]]))
    assert m["frac_multi"] == 0.5 and m["frac_none"] == 0.5 and m["frac_single"] == 0.0
    assert m["acc"] == 0.0 and np.isnan(m["err_median"])


def test_wrong_place_counts_per_axis():
    image = bumps([[4.0, 10.0]])
    m = sample_metrics(image, np.array([[4.2, 5.0]]), tol=1.0)
    assert m["frac_single"] == 1.0 and m["acc"] == 0.0
    assert m["acc_x"] == 1.0 and m["acc_y"] == 0.0
    assert m["err_median"] == pytest.approx(5.0, abs=0.3)


def test_periodic_bump_across_the_border_is_one_bump_at_the_right_place():
    image = bumps([[15.6, 0.2]], periodic=True)
    counts_clip, _ = detect_bumps(image, periodic=False)
    counts, centres = detect_bumps(image, periodic=True)
    assert counts_clip[0] > 1  # without wrap-around the one bump looks split
    assert counts[0] == 1
    m = sample_metrics(image, np.array([[15.6, 0.2]]), periodic=True)
    # the same sub-pixel offsets in the interior give the same (threshold-induced) error
    interior = sample_metrics(bumps([[7.6, 8.2]]), np.array([[7.6, 8.2]]))
    assert m["acc"] == 1.0 and m["err_median"] == pytest.approx(interior["err_median"], abs=1e-6)


def test_phase_rule_boundaries():
    assert phase_of(0.49, 1.0) == "A"
    assert phase_of(0.5, 0.49) == "B"
    assert phase_of(0.5, 0.5) == "C"
    assert phase_of(0.9, 0.7, single_threshold=0.95) == "A"
    assert phase_of(0.9, 0.7, acc_threshold=0.8) == "B"


G = 10
AXIS = np.linspace(-1, 1, G)
X = np.tile(AXIS, G)  # x varies fastest, as the probe grid does
Y = np.repeat(AXIS, G)


def features(fx, fy):
    return np.stack([f(X, Y) for f in (fx, fy)], axis=1)


def test_additive_representation_is_factorized():
    rng = np.random.default_rng(0)
    basis_x, basis_y = rng.normal(size=(3, 32)), rng.normal(size=(3, 32))
    a = np.stack([np.sin(2 * X), X, X**2], axis=1) @ basis_x
    b = np.stack([np.cos(3 * Y), Y, Y**3], axis=1) @ basis_y
    m = probe_metrics(a + b, G)
    assert m["additivity"] > 0.999


def test_product_representation_is_not_additive():
    rng = np.random.default_rng(0)
    h = np.stack([np.sin(3 * X * Y), np.cos(2 * X * Y), X * Y], axis=1) @ rng.normal(size=(3, 32))
    m = probe_metrics(h, G)
    assert m["additivity"] < 0.5


def test_orthogonality_of_x_and_y_subspaces():
    e = np.eye(8)
    orthogonal = np.outer(X, e[0]) + np.outer(np.sin(2 * X), e[1]) + np.outer(Y, e[2])
    shared = np.outer(X, e[0]) + np.outer(Y, e[0] + 0.01 * e[1])
    assert probe_metrics(orthogonal, G)["orthogonality"] == pytest.approx(1.0, abs=1e-6)
    assert probe_metrics(shared, G)["orthogonality"] < 0.01


def test_cross_validated_r2_known_answers():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(144, 3))
    assert cross_validated_r2(features, features @ [1.0, -2.0, 0.5] + 3) == pytest.approx(1.0)
    # half the target's variance is noise the features cannot see: R^2 about 0.5 on held-out folds
    noisy = features[:, 0] + rng.normal(size=144)
    assert 0.3 < cross_validated_r2(features, noisy) < 0.7
    assert cross_validated_r2(features, rng.normal(size=144)) < 0.1


def test_r2_and_effective_dimension():
    rng = np.random.default_rng(1)
    linear = np.stack([X, Y], axis=1) @ rng.normal(size=(2, 16))
    m = probe_metrics(linear, G)
    assert m["r2_x"] > 0.99 and m["r2_y"] > 0.99
    assert m["eff_dim"] == pytest.approx(2.0, abs=0.6)
    only_x = np.stack([X, X**2], axis=1) @ rng.normal(size=(2, 16))
    m = probe_metrics(only_x, G)
    assert m["r2_x"] > 0.9 and m["r2_y"] < 0.1
    noise = rng.normal(size=(G * G, 64))
    assert probe_metrics(noise, G)["eff_dim"] > 20
