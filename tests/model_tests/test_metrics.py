import numpy as np
import pytest
import torch

from model.data import render_bumps
from model.definitions import phase_of
from model.metrics import detect_bumps, sample_metrics


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

