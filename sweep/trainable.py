"""The trainable: what runs inside a Ray worker for one Tune trial. A plain function, ``run_trial``, trains one
trial with ``model.train`` and reports every evaluation to Ray Tune with a checkpoint, so a retried or resumed
trial continues from its last evaluation; ``sweep/packed_trial.py`` does the same for a packed group.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

from model.config import Config
from model.definitions import COMPLETED, ERROR, RUNNING, STOP_REASON, STOPPED
from sweep.artifacts import from_json_safe
from sweep.packed_trial import run_group, stop_rule
from sweep.spec import SweepSpec, spec_from_dict
from sweep.store import claimed, evaluations, is_finished, read_status, swept_keys, trial_folder, write_status


def trial_configs(params: dict[str, Any]) -> list[Config]:
    """The trials a Tune trial trains: one, or the members of a packed group (sweep/packed_trial.py)."""
    if "configs" in params:
        return [Config.from_dict(d) for d in params["configs"]]
    if "config" in params:
        return [Config.from_dict(params["config"])]
    spec = spec_from_dict(params["spec"])  # optuna: the point was sampled by the searcher
    return [spec.config_for(params["point"], params["seed"])]


def trial_config(params: dict[str, Any]) -> Config:
    """The (first) trial of a Tune trial, which labels it."""
    return trial_configs(params)[0]


def trainable_for(spec: SweepSpec) -> Any:
    """The trainable with the spec's resources: one trial per Tune trial, or packed groups of ``spec.pack``."""
    from ray import tune

    resources = {"cpu": spec.resources.cpu, "gpu": spec.resources.gpu, **spec.resources.custom}
    return tune.with_resources(run_group if spec.pack > 1 else run_trial, resources)


def run_trial(params: dict[str, Any]) -> None:
    """Train one trial, reporting every evaluation to Ray Tune with a checkpoint. When its folder says it finished
    (a second Tune trial of the same config: ``sweep.store.claimed``), report its last evaluation and train nothing."""
    until, why = stop_rule(params)
    config = trial_config(params)
    sweep_dir = Path(params["sweep_dir"])
    folder = trial_folder(sweep_dir, config.hash())
    with claimed([folder]):
        finished = is_finished(folder, settled=until is not None)
        if not finished:
            _train(config, sweep_dir, folder, until, why)
    if finished:  # after the claim is released: Tune may hold a report until it stops the trial
        _report_recorded(config, folder)


def _report_recorded(config: Config, folder: Path) -> None:
    """A finished trial's last evaluation, reported again without training, for searchers that wait for a value
    (Optuna can sample one point twice); NaN and infinities as they were reported the first time."""
    from ray import tune

    history = evaluations(folder)
    if history:
        derived = json.loads((folder / "trial.json").read_text())["derived"]
        tune.report({k: from_json_safe(v) for k, v in {**history[-1], **derived}.items()} | {"trial_id": config.hash()})


def _train(config: Config, sweep_dir: Path, folder: Path, until: Any, why: str) -> None:
    import ray
    from ray import tune

    from model.train import Trainer, TrainingDiverged
    from sweep.artifacts import TrialWriter

    trainer = Trainer(config)
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            trainer.load_checkpoint(Path(d) / "checkpoint.pt")
    derived = trainer.data.derived()
    writer = TrialWriter(folder, plot=False, checkpoint=False, swept=swept_keys(sweep_dir))
    writer.start(trainer)
    write_status(
        folder, RUNNING, error="", pid=os.getpid(), hostname=socket.gethostname(),
        node_id=ray.get_runtime_context().get_node_id(), attempts=read_status(folder).get("attempts", 0) + 1,
        restored_from_step=trainer.step, stop_reason="",
    )

    def on_eval(step: int, metrics: dict[str, Any], t: Trainer) -> None:
        writer(step, metrics, t)
        with tempfile.TemporaryDirectory() as d:
            t.save_checkpoint(Path(d) / "checkpoint.pt")
            tune.report({**metrics, **derived, "trial_id": config.hash()},
                        checkpoint=tune.Checkpoint.from_directory(d))

    try:
        trainer.run(on_eval, until)
    except TrainingDiverged as error:  # deterministic: retrying would diverge again, so fail without retry
        write_status(folder, ERROR, error=str(error))
        return
    except Exception as error:
        write_status(folder, ERROR, error=f"{type(error).__name__}: {error}")
        raise
    if until is not None and trainer.step < config.train.steps:
        write_status(folder, STOPPED, error=why, stop_reason=STOP_REASON)
    else:
        write_status(folder, COMPLETED)
