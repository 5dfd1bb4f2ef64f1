"""Data-collection policies: every policy yields a model/data.py data set within its budget."""

import dataclasses
import math

import numpy as np
import optuna
import pytest

from model.config import from_preset
from model.data import BumpDataset
from model.errors import UsageError
from sweep.study.policy import Policy, PolicyInfeasible, PolicySpace, Range, held_out_share


def dataset(policy: Policy, budget: int, preset: str = "tiny", **data) -> BumpDataset:
    config = from_preset(preset, {f"data.{k}": v for k, v in data.items()})
    overrides = policy.data_overrides(budget, config.data)
    return BumpDataset(from_preset(preset, {**{f"data.{k}": v for k, v in data.items()}, **overrides}).data, seed=3)


def test_uniform_policy_spends_the_whole_budget_on_an_isotropic_lattice():
    data = dataset(Policy(), 64)
    assert data.n_positions == 64
    assert data.cfg.spacing_x == data.cfg.spacing_y == 15 / 7  # 8 x 8 lines from border to border
    assert data.cfg.holdout == []


@pytest.mark.parametrize("boundary", ["clip", "periodic"])
def test_random_policies_never_exceed_their_budget(boundary):
    rng = np.random.default_rng(0)
    feasible = 0
    for _ in range(40):
        budget = int(rng.integers(4, 300))
        policy = Policy(fill=rng.uniform(0.05, 1), aspect=rng.uniform(-3, 3), keep=rng.uniform(0.2, 1),
                        sigma=rng.uniform(0.5, 3), edge=rng.uniform(0, 0.2), hole=rng.uniform(0, 0.4),
                        band=rng.uniform(0, 0.4))
        try:
            data = dataset(policy, budget, boundary=boundary)
        except PolicyInfeasible:
            continue
        feasible += 1
        assert 1 <= data.n_positions <= math.floor(policy.fill * budget) <= budget
        assert data.cfg.sigma == policy.sigma
    assert feasible >= 25


def test_aspect_sets_the_spacing_ratio_and_mirrors():
    wide, tall = dataset(Policy(aspect=2), 64).cfg, dataset(Policy(aspect=-2), 64).cfg
    assert math.log2(wide.spacing_y / wide.spacing_x) == pytest.approx(2, abs=0.35)
    assert (wide.spacing_x, wide.spacing_y) == (tall.spacing_y, tall.spacing_x)


def test_fill_and_keep_trade_lattice_density_for_random_thinning():
    half = dataset(Policy(fill=0.5), 64)
    thinned = dataset(Policy(keep=0.5), 64)
    assert half.n_positions <= 32
    assert 48 <= thinned.n_positions <= 64
    assert thinned.cfg.spacing_x < half.cfg.spacing_x  # a denser lattice, half of it kept


def test_held_out_regions_shape_coverage():
    centre_only = dataset(Policy(edge=0.25), 64).centres.numpy()
    assert centre_only.min() > 15 * 0.25 and centre_only.max() < 15 * 0.75
    border_only = dataset(Policy(hole=0.5), 64).centres.numpy()
    assert not np.any(np.all(np.abs(border_only - 7.5) < 15 * 0.25, axis=1))
    banded = dataset(Policy(band=0.4), 64).centres.numpy()
    assert not np.any(np.abs(banded[:, 0] - 7.5) <= 3) and set(np.round(banded[:, 1], 3)) >= {0.0, 15.0}


def test_held_out_share_is_the_area_fraction():
    data = from_preset("tiny").data
    assert held_out_share(data) == 0
    band = dataclasses.replace(data, holdout=Policy(band=0.5).holdout(data))
    assert held_out_share(band) == pytest.approx(7.5 / 13, abs=0.02)  # 7.5 px of the 1..14 evaluation square


def test_a_policy_the_budget_cannot_realize_says_which_knob_to_move():
    with pytest.raises(PolicyInfeasible, match="raise fill or the budget, or lower |aspect|"):
        Policy(aspect=6).data_overrides(64, from_preset("tiny").data)


def test_space_suggests_through_optuna_and_keeps_fixed_knobs():
    space = PolicySpace.parse({"fill": [0.25, 1.0], "sigma": {"low": 0.5, "high": 2, "log": True}, "keep": 0.5}, 16)
    assert space.searched == {"fill": Range(0.25, 1.0), "sigma": Range(0.5, 2.0, True)}
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    policy = space.suggest(trial)
    assert policy.keep == 0.5 and 0.25 <= policy.fill <= 1 and set(trial.params) == {"fill", "sigma"}
    assert space.uniform(base_sigma=3.0) == {"fill": 1.0, "sigma": 2.0}  # clamped into the searched ranges


@pytest.mark.parametrize("raw, message", [
    ({"fill": [0.0, 1.0]}, r"policy.fill: \[0.0, 1.0\] must lie in \(0, 1\]"),
    ({"aspect": [-8, 2]}, r"policy.aspect: .* must lie in \[-6, 6\]"),
    ({"sigma": [1.0, 9.0]}, r"policy.sigma: .* must lie in \(0, 8\]"),
    ({"fill": [0.9, 0.2]}, "policy.fill: low 0.9 must be < high 0.2"),
    ({"fill": [0.2, 0.5, 0.9]}, r"policy.fill: a range is \[low, high\]"),
    ({"fill": "all"}, "policy.fill: expected a number"),
    ({"sigma": {"low": 0.5, "high": 2, "log": "yes"}}, "policy.sigma: a range is"),
    ({"density": [0.1, 0.5]}, "policy.density: unknown knob; choose from fill, aspect"),
    ({"edge": 0.3, "hole": [0.2, 0.5]}, "edge, hole and band leave no image area"),
    ({"aspect": {"low": 0, "high": 2, "log": True}}, "policy.aspect: log: true needs low > 0"),
    ([0.5], "policy: expected a mapping"),
])
def test_bad_policy_bounds_name_the_knob_and_the_fix(raw, message):
    with pytest.raises(UsageError, match=message):
        PolicySpace.parse(raw, image_size=16)


def test_baselines_must_cover_the_searched_knobs_inside_their_ranges():
    space = PolicySpace.parse({"fill": [0.25, 1.0], "aspect": [-1, 1]}, 16)
    assert space.check_params({"fill": 1, "aspect": 0}, "baselines[0]") == {"fill": 1.0, "aspect": 0.0}
    with pytest.raises(UsageError, match=r"baselines\[0\].aspect: 3 lies outside the searched range"):
        space.check_params({"fill": 1, "aspect": 3}, "baselines[0]")
    with pytest.raises(UsageError, match=r"baselines\[1\]: give a value for each searched knob"):
        space.check_params({"fill": 1}, "baselines[1]")
