"""Packed training (model/packed.py) gives each member the metrics of its unpacked run at equal seeds."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import phasescape

from model.config import from_preset
from model.errors import UsageError
from model.packed import PackedTrainer, pack_key
from model.train import train
from sweep.spec import load_spec, parse_spec


def micro(**overrides):
    return from_preset("micro", {"train.threads": 1, **overrides})


# Members differ in seed, learning rate and data set: what a sweep packs together.
CONFIGS = [micro(), micro(**{"train.seed": 1, "train.lr": 1e-3}), micro(**{"data.sigma": 1.5, "data.spacing_x": 2})]


def without_time(history):
    """Rows without time_s, NaN (the step-0 loss) as None so that equal rows compare equal."""
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items() if k != "time_s"}
            for row in history]


@pytest.fixture(scope="module")
def separate():
    return [without_time(train(c)) for c in CONFIGS]


def test_stepped_members_equal_separate_runs_exactly(separate):
    packed = PackedTrainer(CONFIGS, vectorize=False)
    assert [without_time(h) for h in packed.run()] == separate


def test_vectorized_members_match_separate_runs_closely(separate):
    """vmap runs the K networks as grouped convolutions and one batched backward, which sums in another order
    than K separate passes: float32 results differ in the last bits (about 1e-7 relative per step) and 30 steps
    of training amplify that to about 1e-6 (measured). Losses and probe scores must agree to 1e-4; sample
    metrics count thresholded bumps, where a pixel sitting at the threshold could flip, so one sample of the
    16 may differ."""
    packed = PackedTrainer(CONFIGS, vectorize=True)
    one_sample = 1 / CONFIGS[0].eval.n_samples
    for got, want in zip(packed.run(), separate, strict=True):
        got = without_time(got)
        assert [r["step"] for r in got] == [r["step"] for r in want] == [0, 15, 30]
        for g, w in zip(got, want, strict=True):
            assert g["loss"] == w["loss"] is None if g["step"] == 0 else g["loss"] == pytest.approx(w["loss"], rel=1e-4)
            for key in ("r2_x", "r2_y", "eff_dim", "additivity", "orthogonality"):
                assert g[key] == pytest.approx(w[key], rel=1e-4, abs=1e-4), key
            for key in ("frac_none", "frac_multi", "frac_single", "acc", "acc_x", "acc_y"):
                assert abs(g[key] - w[key]) <= one_sample + 1e-9, key


def test_a_diverged_member_drops_out_and_the_others_finish(separate):
    packed = PackedTrainer(CONFIGS[:2], vectorize=False)
    with torch.no_grad():
        next(packed.members[0].model.parameters()).fill_(float("nan"))
    diverged = []
    histories = packed.run(on_diverged=lambda member, error: diverged.append((member, str(error))))
    assert len(diverged) == 1 and diverged[0][0] is packed.members[0] and "loss became nan" in diverged[0][1]
    assert [r["step"] for r in histories[0]] == [0]  # the untrained baseline, then it diverged
    assert without_time(histories[1]) == separate[1]


def test_group_resumes_from_member_checkpoints(tmp_path, separate):
    first = PackedTrainer(CONFIGS, vectorize=False)

    def stop_after_first_round(step, group):
        for i, member in enumerate(group.members):
            member.save_checkpoint(tmp_path / f"{i}.pt")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        first.run(on_round=stop_after_first_round)
    resumed = PackedTrainer(CONFIGS, vectorize=False)
    for i, member in enumerate(resumed.members):
        member.load_checkpoint(tmp_path / f"{i}.pt")
    histories = resumed.run()
    assert [without_time(h) for h in histories] == separate
    for history in histories:  # the clock goes on from the checkpoint
        assert 0 < history[0]["time_s"] < history[1]["time_s"]


def test_members_must_share_the_architecture():
    assert pack_key(CONFIGS[0]) == pack_key(CONFIGS[2])
    with pytest.raises(ValueError, match="model.base_channels"):
        PackedTrainer([micro(), micro(**{"model.base_channels": 12})])


@pytest.mark.parametrize(("extra", "message"), [
    ({"pack": 0}, "pack: expected an integer >= 1"),
    ({"pack": 2, "search": {"type": "optuna"}, "axes": {"train.lr": {"loguniform": [1e-4, 1e-2]}}}, "pack: Optuna"),
    ({"pack": 2, "scheduler": {"type": "asha"}}, "pack: ASHA"),
])
def test_bad_pack_is_refused(tmp_path, extra, message):
    with pytest.raises(UsageError, match=message):
        parse_spec({"name": "p", "base": "micro", "storage": str(tmp_path), **extra})


def test_packing_keeps_the_spec_hash(tmp_path):
    spec = {"name": "p", "base": "micro", "storage": str(tmp_path), "seeds": [0, 1]}
    assert parse_spec(spec).hash() == parse_spec({**spec, "pack": 2}).hash()


@pytest.mark.slow
def test_packed_sweep_records_each_member_as_its_own_trial(tmp_path):
    spec = {"name": "packed", "base": "micro", "seeds": [0, 1, 2], "pack": 2, "resources": {"cpu": 1},
            "storage": str(tmp_path / "results")}
    path = tmp_path / "packed.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = phasescape("run", str(path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "3 trial(s) in groups of up to 2" in result.stdout

    sweep_dir = tmp_path / "results" / "packed"
    table = pd.read_parquet(sweep_dir / "results.parquet")
    configs = load_spec(path).trials()
    assert set(table["trial_id"]) == {c.hash() for c in configs} and len(table) == 3 * 3
    assert set(table["status"]) == {"COMPLETED"}
    groups = {json.loads((sweep_dir / "trials" / c.hash() / "status.json").read_text())["group"] for c in configs}
    assert len(groups) == 2  # 2 + 1 members
    for config in configs:  # members stepped one after another on a CPU: exactly the unpacked metrics
        rows = table[table["trial_id"] == config.hash()].sort_values("step")
        want = train(config)
        assert list(rows["step"]) == [0, 15, 30]
        assert np.array_equal(rows["loss"], [m["loss"] for m in want], equal_nan=True)
        assert list(rows["acc"]) == [m["acc"] for m in want]
