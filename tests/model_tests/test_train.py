import json
import math

import numpy as np
import pytest
import torch

from model.config import from_preset
from model.definitions import PROBE_METRICS, SAMPLE_METRICS, probe_column
from model.train import Trainer, TrainingDiverged, train


def micro(**overrides):
    return from_preset("micro", {"train.threads": 1, **overrides})


def test_train_reports_every_metric_at_each_evaluation():
    seen = []
    history = train(micro(**{"data.holdout": [[0, 3, 0, 7]]}), on_eval=lambda s, m, t: seen.append(s))
    assert seen == [0, 15, 30]
    assert math.isnan(history[0]["loss"])  # the untrained baseline
    last = history[-1]
    for key in (*SAMPLE_METRICS, *PROBE_METRICS, "loss", "time_s", "phase"):
        assert key in last
    assert "holdout_acc" in last and last["phase"] in "ABC"
    assert math.isfinite(last["loss"])
    assert not any(k.startswith("lattice_") for k in last)  # continuous data: no lattice to score on


def test_lattice_data_is_scored_on_and_off_its_lattice():
    trainer = Trainer(micro(**{"data.spacing_x": 1.0, "data.spacing_y": 3.0}))
    evaluation = trainer.evaluate()
    assert {f"lattice_{m}" for m in SAMPLE_METRICS} <= set(evaluation.metrics)
    n = trainer.config.eval.n_samples
    assert len(evaluation.targets) == n + trainer.config.eval.n_lattice
    lattice = evaluation.targets[n:]
    assert (lattice[:, 0] % 1.0 == 0).all() and (lattice[:, 1] % 3.0 == 0).all()


def test_probe_reads_every_layer_in_one_forward_pass():
    trainer = Trainer(micro(**{"eval.probe_layer": "up1"}))
    calls = []
    trainer.ema.register_forward_pre_hook(lambda *_: calls.append(1))
    activations, xy = trainer.probe(torch.Generator().manual_seed(0))
    assert len(calls) == 1
    # micro: 8 base channels, levels (8, 16) at 8x8 and 4x4, embedding 4 * 8 wide; 5 x 5 grid
    widths = {"embed": 32, "down0": 8 * 8 * 8, "down1": 16 * 4 * 4, "bottleneck": 16 * 4 * 4, "up0": 16 * 4 * 4,
              "up1": 8 * 8 * 8}
    assert {name: a.shape for name, a in activations.items()} == {name: (25, w) for name, w in widths.items()}
    assert xy.shape == (25, 2)

    evaluation = trainer.evaluate()
    m = evaluation.metrics
    for layer in widths:
        for metric in PROBE_METRICS:
            assert probe_column(layer, metric) in m, (layer, metric)
    # the plain names are the default layer's
    np.testing.assert_equal([m[k] for k in PROBE_METRICS], [m[probe_column("up1", k)] for k in PROBE_METRICS])
    assert evaluation.latents.shape == (25, 10)


def test_resume_matches_uninterrupted_run(tmp_path):
    full = train(micro())

    first = Trainer(micro())
    checkpoint = tmp_path / "ckpt.pt"

    def stop_after_first(step, metrics, trainer):
        trainer.save_checkpoint(checkpoint)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        first.run(stop_after_first)
    resumed = train(micro(), resume_from=checkpoint)

    assert len(resumed) == len(full) == 3
    for a, b in zip(full, resumed, strict=True):
        a, b = dict(a), dict(b)
        a.pop("time_s"), b.pop("time_s")
        assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_checkpoint_of_another_config_is_refused(tmp_path):
    trainer = Trainer(micro())
    trainer.save_checkpoint(tmp_path / "c.pt")
    with pytest.raises(ValueError, match="different config"):
        train(micro(**{"data.sigma": 1.5}), resume_from=tmp_path / "c.pt")


def test_nan_loss_stops_the_trial():
    trainer = Trainer(micro())
    with torch.no_grad():
        next(trainer.model.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="loss became nan"):
        trainer.run()


def test_same_seed_same_metrics_different_seed_differs():
    a, b = train(micro()), train(micro())
    c = train(micro(**{"train.seed": 1}))
    assert a[-1]["loss"] == b[-1]["loss"]
    assert a[-1]["loss"] != c[-1]["loss"]


def test_a_checkpoint_from_before_a_hash_neutral_key_still_resumes(tmp_path):
    # data.family (model/families.py) came with a default that leaves the trial's id alone; a checkpoint written
    # without it is the same trial and must resume (it was refused as "a different config").
    trainer = Trainer(micro())
    trainer.save_checkpoint(tmp_path / "c.pt")
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    del state["config"]["data"]["family"]
    torch.save(state, tmp_path / "c.pt")
    Trainer(micro()).load_checkpoint(tmp_path / "c.pt")
