"""Percolation of the overlap graph (analysis/percolation.py) on lattices small enough to check by hand."""

import math

import numpy as np
import pytest

from analysis import ReportError
from analysis.percolation import (
    component_sizes,
    crossing,
    giant_share,
    join_distance,
    percolation_curve,
    threshold_lambda,
)
from model.config import DataConfig


def test_join_distance_is_where_the_overlap_equals_the_threshold():
    d = join_distance(0.5, 0.005)
    assert math.exp(-d**2 / (4 * 0.5**2)) == pytest.approx(0.005)


def test_components_of_a_hand_drawn_set():
    # sigma 0.3: join distance 1.38, so lattice neighbours (1 px) join, diagonals (1.41 px) do not
    points = [(0, 0), (1, 0), (3, 0), (0, 2), (1, 2), (2, 2), (3, 3)]
    assert list(component_sizes(np.array(points), 0.3)) == [3, 2, 1, 1]
    assert giant_share(np.array(points), 0.3) == pytest.approx(3 / 7)
    assert giant_share(np.array([(0, 0), (1, 1)]), 0.3) == 0.5  # diagonal: apart
    assert giant_share(np.array([(0, 0), (1, 1)]), 0.35) == 1.0  # join distance 1.61: together


def test_periodic_distances_wrap_around():
    points = np.array([(0.0, 5.0), (15.0, 5.0)])
    assert giant_share(points, 0.3) == 0.5
    assert giant_share(points, 0.3, period=16.0) == 1.0  # 1 px apart across the border


def test_full_lattice_is_one_component_and_isolated_bumps_are_not():
    cfg = DataConfig(image_size=8, sigma=0.3, spacing_x=1, spacing_y=1)
    curve = percolation_curve(cfg, [1.0], seeds=[0])
    assert curve.loc[0, "share"] == 1.0 and curve.loc[0, "n_points"] == 64
    narrow = DataConfig(image_size=8, sigma=0.2, spacing_x=1, spacing_y=1)  # join 0.92 px < spacing: no edges
    assert percolation_curve(narrow, [1.0], seeds=[0]).loc[0, "share"] == pytest.approx(1 / 64)


def test_nearest_neighbour_lattice_percolates_near_the_square_lattice_site_threshold():
    # sigma 0.3 joins nearest neighbours only: site percolation on the square lattice, p_c = 0.5927 (infinite
    # lattice); a 32 x 32 lattice's share crosses one half near it
    cfg = DataConfig(image_size=32, sigma=0.3, spacing_x=1, spacing_y=1)
    lam = threshold_lambda(cfg, np.linspace(0.4, 1.0, 25), seeds=range(6))
    assert 0.55 < lam < 0.7


def test_the_threshold_moves_down_as_sigma_widens():
    lams = [threshold_lambda(DataConfig(image_size=16, sigma=s, spacing_x=1, spacing_y=1), seeds=range(4))
            for s in (0.3, 0.5, 0.8)]
    assert lams[0] > lams[1] > lams[2]


def test_curve_is_averaged_over_seeds():
    cfg = DataConfig(image_size=16, sigma=0.3, spacing_x=1, spacing_y=1)
    curve = percolation_curve(cfg, [0.6], seeds=[0, 1, 2])
    assert curve.loc[0, "share_std"] > 0 and curve.loc[0, "n_points"] == round(0.6 * 256)


def test_crossing_interpolates_the_last_rise_through_one_half():
    x = [0.1, 0.2, 0.4, 0.6, 0.8]
    assert crossing(x, [1.0, 0.1, 0.2, 0.6, 0.9]) == pytest.approx(0.4 + 0.3 / 0.4 * 0.2)  # tiny-set 1.0 ignored
    assert crossing(x, [0.6, 0.7, 0.8, 0.9, 1.0]) == 0.1  # above everywhere: the first lambda
    assert math.isnan(crossing(x, [0.0, 0.1, 0.2, 0.3, 0.4]))  # never reaches it


def test_continuous_data_has_no_overlap_graph():
    with pytest.raises(ReportError, match="data.spacing_x"):
        percolation_curve(DataConfig(spacing_x=0, spacing_y=1), [0.5])
