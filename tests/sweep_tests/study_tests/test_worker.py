"""The study worker's objective: policies whose phases the bump detector cannot tell are never trained."""

import json

import optuna
import pytest

from sweep.study.spec import parse_spec
from sweep.study.worker import objective

MICRO = {
    "name": "micro_ceiling", "base": "micro", "set": {"train.steps": 10, "eval.every": 10}, "budget": 16,
    "policy": {"fill": [0.3, 1.0], "sigma": [0.05, 1.5]}, "objectives": ["acc"],
    "sampler": {"name": "tpe", "seed": 0}, "n_trials": 2,
}


def test_an_unmeasurable_policy_is_pruned_with_its_reason_before_training(tmp_path):
    spec = parse_spec(MICRO)
    trial = optuna.trial.FixedTrial({"fill": 1.0, "sigma": 0.1})
    with pytest.raises(optuna.TrialPruned, match="unmeasurable: ceiling acc 0.[0-9]+ < 0.95: too narrow"):
        objective(trial, spec, tmp_path)
    assert "too narrow" in trial.user_attrs["unmeasurable"] and trial.user_attrs["ceiling_acc"] < 0.95
    assert not (tmp_path / "trials").exists()  # nothing trained, nothing written


def test_a_measurable_policy_trains_and_records_its_ceiling(tmp_path):
    spec = parse_spec(MICRO)
    trial = optuna.trial.FixedTrial({"fill": 1.0, "sigma": 1.0})
    objective(trial, spec, tmp_path)
    assert "unmeasurable" not in trial.user_attrs and trial.user_attrs["ceiling_acc"] >= 0.95
    assert (tmp_path / "trials" / "00000" / "metrics.jsonl").exists()


def test_the_headline_probe_metrics_are_objectives(tmp_path):
    spec = parse_spec({**MICRO, "objectives": ["code_overlap", "continuity"]})
    assert spec.directions == ["minimize", "maximize"]
    trial = optuna.trial.FixedTrial({"fill": 1.0, "sigma": 1.0})
    overlap, continuity = objective(trial, spec, tmp_path)
    lines = (tmp_path / "trials" / "00000" / "metrics.jsonl").read_text().splitlines()
    last = json.loads(lines[-1])
    assert overlap == last["code_overlap"] == trial.user_attrs["code_overlap"]
    assert continuity == last["continuity"] and 0 <= overlap <= 1 and 0 <= continuity <= 1
