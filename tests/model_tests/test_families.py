"""Data families (model/families.py): stripes, crosses and mixtures render what they should, pixel by pixel."""

import math

import numpy as np
import pytest
import torch

from model.ceiling import ceiling
from model.config import ConfigError, DataConfig, from_preset
from model.data import BumpDataset
from model.families import draw_stripes, render
from model.geometry import derived_quantities, in_holdout


def images(cfg: DataConfig, labels: list[list[float]]) -> np.ndarray:
    return render(torch.tensor(labels, dtype=torch.float64), cfg)[:, 0].numpy()


def test_a_stripe_along_x_is_a_vertical_line_at_x_whatever_its_off_screen_y():
    cfg = DataConfig(image_size=8, sigma=1.0, stripes=1.0, margin=4.0)
    for y in (-3.5, 11.0):  # above or below the frame
        image = images(cfg, [[3.0, y]])[0]
        assert np.allclose(image[:, 3], 1.0, atol=0.012)  # the column at x = 3 is lit on every row
        assert np.allclose(image[:, 4], math.exp(-0.5), atol=0.012)  # one sigma away: exp(-1/2)
        assert image[:, 6].max() < 0.02  # three columns away: the Gaussian's tail only
        assert np.allclose(image, image[0:1, :], atol=0.012)  # the same on every row: the off-screen arm is invisible


def test_a_stripe_along_y_is_a_horizontal_line_at_y():
    cfg = DataConfig(image_size=8, sigma=1.0, stripes=1.0, margin=4.0)
    image = images(cfg, [[-4.0, 5.0]])[0]
    assert np.allclose(image[5, :], 1.0, atol=0.012)
    assert np.allclose(image[4, :], math.exp(-0.5), atol=0.012)
    assert image[0, :].max() < 1e-3  # far from the stripe; column 0 holds the off-screen arm's tail, exp(-8)


def test_a_cross_is_both_stripes_through_its_label():
    cfg = DataConfig(image_size=8, sigma=0.5, family="cross")
    image = images(cfg, [[2.0, 5.0]])[0]
    assert np.allclose(image[:, 2], 1.0) and np.allclose(image[5, :], 1.0)  # both arms at full height
    assert image[0, 7] < 1e-6  # away from both arms: dark
    assert image.max() == pytest.approx(1.0)  # peak 1 where they cross (the max of the two stripes)


def test_a_bump_family_shows_bumps_in_the_frame_and_stripes_off_it():
    cfg = DataConfig(image_size=8, sigma=1.0, stripes=0.5, margin=4.0)
    bump, stripe = images(cfg, [[3.0, 4.0], [3.0, -4.0]])
    assert bump[4, 3] == pytest.approx(1.0) and bump[0, 3] == pytest.approx(math.exp(-8))  # a bump at (3, 4)
    assert stripe[0, 3] == pytest.approx(1.0, abs=0.012)  # the label with y off-screen is a stripe at x = 3
    plain = DataConfig(image_size=8, sigma=1.0)
    assert np.allclose(images(plain, [[3.0, 4.0]])[0], bump)  # the same bump as before families existed


def test_stripes_cover_the_full_range_and_keep_their_share():
    cfg = DataConfig(image_size=16, sigma=1.0, spacing_x=1, spacing_y=1, stripes=0.75, margin=6.0,
                     holdout=[[6, 9, 0, 15], [0, 15, 6, 9]], keep=0.25)
    ds = BumpDataset(cfg, seed=0)
    labels = ds.sample_centres(8192, torch.Generator().manual_seed(0)).numpy()
    off = (labels < 0) | (labels > 15)
    stripe = off.any(axis=1)
    assert not off.all(axis=1).any()  # never both coordinates off-screen
    assert stripe.mean() == pytest.approx(0.75, abs=0.02)
    assert (off[stripe, 0]).mean() == pytest.approx(0.5, abs=0.03)  # x and y stripes equally often
    depth = np.where(labels < 0, -labels, labels - 15)[off]
    assert depth.min() >= 3.0 and depth.max() <= 6.0  # between 3 sigma and the margin
    own = np.where(off[stripe, 0], labels[stripe, 1], labels[stripe, 0])
    assert set(np.unique(own)) == set(range(16))  # stripes sweep the whole lattice, held-out band included
    assert not in_holdout(labels[~stripe], cfg.holdout).any()  # the 2D part keeps the holdout
    assert set(map(tuple, labels[~stripe])) <= set(map(tuple, ds.centres.numpy()))  # and the kept lattice


def test_stripe_axes_x_draws_only_vertical_stripes():
    cfg = DataConfig(image_size=16, stripes=1.0, stripe_axes="x", margin=4.0)
    labels = draw_stripes(torch.zeros(512, 2), cfg, None, None, torch.Generator().manual_seed(1)).numpy()
    assert ((labels[:, 1] < 0) | (labels[:, 1] > 15)).all() and ((labels[:, 0] >= 0) & (labels[:, 0] <= 15)).all()


def test_no_stripes_draw_no_random_numbers():
    ds = BumpDataset(DataConfig(image_size=16, spacing_x=2, spacing_y=2), 0)
    with_families, before = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(ds.sample_centres(64, with_families), ds._sample_2d(64, before))
    assert torch.equal(with_families.get_state(), before.get_state())  # the training stream is unchanged


def test_derived_quantities_count_stripe_positions():
    cfg = DataConfig(image_size=16, spacing_x=1, spacing_y=3, stripes=0.5, margin=4.0)
    q = derived_quantities(cfg, 0)
    assert q["n_positions"] == 16 * 6 and q["n_stripes"] == 16 + 6
    assert derived_quantities(DataConfig(image_size=16, stripes=0.5, margin=4.0, stripe_axes="y"), 0)[
        "n_stripes"] == math.inf  # a continuous axis has unlimited stripe positions
    assert "n_stripes" not in derived_quantities(DataConfig(), 0)


def test_cross_ceiling_is_measurable():
    config = from_preset("tiny", {"data.family": "cross"})
    assert ceiling(config)["gt_acc"] >= 0.95


@pytest.mark.parametrize(("overrides", "field"), [
    ({"data.family": "blob"}, "data.family"),
    ({"data.stripes": 1.5}, "data.stripes"),
    ({"data.stripe_axes": "z"}, "data.stripe_axes"),
    ({"data.stripes": 0.5}, "data.margin"),  # no margin: a stripe's other coordinate cannot be off-screen
    ({"data.stripes": 0.5, "data.margin": 2.0, "data.sigma": 1.0}, "data.margin"),  # not beyond 3 sigma
    ({"data.stripes": 0.5, "data.margin": 5.0, "data.boundary": "periodic"}, "data.stripes"),
])
def test_bad_family_settings_name_the_field(overrides, field):
    with pytest.raises(ConfigError) as error:
        from_preset("tiny", overrides)
    assert str(error.value).startswith(field + ":") and "\n" not in str(error.value)


def test_new_keys_at_their_defaults_keep_trial_ids():
    config = from_preset("tiny")
    d = config.to_dict()
    for key in ("family", "stripes", "stripe_axes", "margin"):
        d["data"].pop(key)
    import hashlib
    import json

    old = hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
    assert config.hash() == old
    assert from_preset("tiny", {"data.family": "cross"}).hash() != old
