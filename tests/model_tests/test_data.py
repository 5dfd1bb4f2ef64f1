import math

import numpy as np
import pytest
import torch

from model.config import DataConfig
from model.data import BumpDataset
from model.geometry import eval_conditions, in_holdout, probe_grid


def dataset(**kw) -> BumpDataset:
    return BumpDataset(DataConfig(**kw), seed=0)


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"spacing_x": 3, "spacing_y": 3}, 6 * 6),  # clip: 0, 3, ..., 15
        ({"spacing_x": 1, "spacing_y": 5}, 16 * 4),  # 0, 5, 10, 15
        ({"spacing_x": 4, "spacing_y": 4, "boundary": "periodic"}, 4 * 4),  # 0, 4, 8, 12 (16 wraps to 0)
        ({"spacing_x": 0.5, "spacing_y": 2}, 31 * 8),
    ],
)
def test_n_positions_for_given_spacings(kw, expected):
    ds = dataset(image_size=16, **kw)
    assert ds.n_positions == expected
    assert ds.derived()["density"] == pytest.approx(expected / 256)


def test_continuous_data_is_unlimited():
    ds = dataset(spacing_x=0, spacing_y=2)
    assert math.isinf(ds.n_positions) and math.isinf(ds.derived()["density"])
    assert ds.derived()["overlap"] == pytest.approx(math.exp(-1 / 4))  # mean spacing 1, sigma 1


def test_overlap_definition():
    ds = dataset(spacing_x=2, spacing_y=4, sigma=1.5)
    assert ds.derived()["overlap"] == pytest.approx(math.exp(-(3.0**2) / (4 * 1.5**2)))


def test_keep_fraction():
    ds = dataset(spacing_x=1, spacing_y=1, keep=0.25)
    assert ds.n_positions == round(0.25 * 256)
    other = BumpDataset(DataConfig(spacing_x=1, spacing_y=1, keep=0.25), seed=1)
    assert not torch.equal(ds.centres, other.centres)  # the kept subset depends on the seed


@pytest.mark.parametrize("spacing", [0, 1])
def test_holdout_is_excluded_from_training(spacing):
    rect = [5.0, 9.0, 0.0, 15.0]
    ds = dataset(spacing_x=spacing, spacing_y=spacing, holdout=[rect])
    if spacing:
        assert ds.n_positions == 256 - 5 * 16
    gen = torch.Generator().manual_seed(0)
    centres = ds.sample_centres(4096, gen)
    assert not in_holdout(centres, [rect]).any()
    in_dist, held = eval_conditions(ds.cfg, 64, seed=0)
    assert len(held) == 64 and in_holdout(held, [rect]).all()
    assert not in_holdout(in_dist, [rect]).any()


def test_batches_are_deterministic_and_in_range():
    ds = dataset(spacing_x=2, spacing_y=2)
    a, ca = ds.sample(32, torch.Generator().manual_seed(3))
    b, cb = ds.sample(32, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(ca, cb)
    assert a.shape == (32, 1, 16, 16) and a.min() >= -1 and a.max() <= 1
    peak = ((a[0, 0] + 1) / 2)[int(ca[0, 1]), int(ca[0, 0])]  # lattice centres sit on pixels: peak exactly 1
    assert peak == pytest.approx(1.0)


def test_periodic_bump_wraps_around():
    clip = dataset(spacing_x=1, spacing_y=1)
    wrap = dataset(spacing_x=1, spacing_y=1, boundary="periodic")
    centre = torch.tensor([[0.0, 8.0]])
    assert ((clip.render(centre) + 1) / 2)[0, 0, 8, 15] < 1e-6
    assert ((wrap.render(centre) + 1) / 2)[0, 0, 8, 15] == pytest.approx(math.exp(-0.5))


def test_holdout_covering_everything_is_an_error():
    with pytest.raises(ValueError, match="data.holdout"):
        dataset(spacing_x=4, spacing_y=4, holdout=[[-1, 16, -1, 16]])


def test_probe_grid_order():
    xy = probe_grid(DataConfig(), 4)
    assert xy.shape == (16, 2)
    assert np.all(xy[:4, 1] == xy[0, 1]) and np.all(np.diff(xy[:4, 0]) > 0)  # x varies fastest


def test_lattice_conditions_lie_on_the_training_lattice():
    from model.geometry import lattice_conditions, training_points

    cfg = DataConfig(image_size=16, spacing_x=0.5, spacing_y=4.0, keep=0.8, holdout=[[0, 5, 0, 5]])
    points = lattice_conditions(cfg, 64, seed=3, data_seed=7)
    training = {tuple(p) for p in training_points(cfg, 7)}
    assert len(points) == 64 and len({tuple(p) for p in points}) == 64  # distinct when there are enough
    assert all(tuple(p) in training for p in points)  # the trial's own keep draw, never held out
    few = DataConfig(image_size=16, spacing_x=8.0, spacing_y=8.0)  # 4 centres: all of them, then repeats
    points = lattice_conditions(few, 10, seed=0, data_seed=0)
    assert len(points) == 10 and {tuple(p) for p in points} == {tuple(p) for p in training_points(few, 0)}
    mixed = DataConfig(image_size=16, spacing_x=0.0, spacing_y=4.0)  # continuous x: y on its lattice only
    points = lattice_conditions(mixed, 32, seed=0, data_seed=0)
    assert np.all(np.mod(points[:, 1], 4.0) == 0) and len(np.unique(points[:, 0])) == 32
    assert len(lattice_conditions(DataConfig(image_size=16), 32, seed=0, data_seed=0)) == 0
