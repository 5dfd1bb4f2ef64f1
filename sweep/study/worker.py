"""The worker side of a study: one Optuna worker trains the policies its sampler suggests, one trial at a time.

A worker records who runs each trial (host/pid/start time) and beats a heartbeat user attribute while it
trains (liveness.py), so the driver or any other worker can tell a dead worker's trial from a slow one.
Scores are whole-image: where a policy held regions out, their held-out scores count at their share of the
area, so leaving data out is never rewarded by an easier exam. Imports torch; the driver imports this
module only when it runs a worker itself.

Example (one worker in this process, as ``phasescape study SPEC --no-ray`` runs it)::

    from sweep.study.driver import open_study
    from sweep.study.spec import load_spec
    from sweep.study.storage import storage_url
    from sweep.study.worker import run_worker

    spec = load_spec("studies/budget_tiny.yaml")
    url = storage_url(spec, "results")
    open_study(spec, url)
    run_worker(spec, url, "results/studies/budget_tiny")
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import FrozenTrial, TrialState

from model.ceiling import ceiling, unmeasurable
from model.config import Config
from model.definitions import phase_of
from model.train import Trainer
from sweep.artifacts import TrialWriter
from sweep.masking import hide_password
from sweep.study.liveness import beating, fail_dead_trials, wanted
from sweep.study.policy import held_out_share
from sweep.study.spec import StudySpec
from sweep.study.storage import open_storage


class Scorer:
    """Objective values of a trial, scored over the whole image: where the policy held regions out, their
    held-out scores count at their share of the area (an easier exam must not reward leaving data out)."""

    def __init__(self, spec: StudySpec, config: Config, n_positions: float) -> None:
        self.objectives = spec.objectives
        self.eval = config.eval
        self.share = held_out_share(config.data)
        self.never = config.train.steps + config.eval.every  # steps_to_c of a trial that never reaches C
        self.n_positions = n_positions
        self.reached_c: int | None = None

    def _whole(self, metrics: dict[str, Any], key: str) -> float:
        held = metrics.get(f"holdout_{key}")
        return metrics[key] if held is None else (1 - self.share) * metrics[key] + self.share * held

    def update(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """Whole-image scores after one evaluation; ``values`` lists the objectives in spec order."""
        acc, single = self._whole(metrics, "acc"), self._whole(metrics, "frac_single")
        phase = phase_of(single, acc, self.eval.phase_single, self.eval.phase_acc)
        if phase == "C" and self.reached_c is None:
            self.reached_c = metrics["step"]
        scores = {
            "acc": acc, "frac_single": single, "phase": phase, "steps_to_c": self.reached_c or self.never,
            "additivity": metrics["additivity"], "orthogonality": metrics["orthogonality"],
            "code_overlap": metrics["code_overlap"], "continuity": metrics["continuity"],
            "r2": min(metrics["r2_x"], metrics["r2_y"]), "images": self.n_positions,
        }
        values = [float(scores[name]) for name in self.objectives]
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"objectives {dict(zip(self.objectives, values, strict=True))} at step {metrics['step']}")
        return {**scores, "values": values}


class _ReachedC(Exception):
    """steps_to_c is the only objective and the trial reached phase C: more training cannot change it."""


def objective(trial: optuna.Trial, spec: StudySpec, folder: Path) -> float | list[float]:
    """Train the policy the sampler suggests; report whole-image scores for pruning; return the objectives."""
    policy = spec.policy.suggest(trial)
    overrides = policy.data_overrides(spec.budget, spec.config().data)
    config = spec.config(overrides)
    limits = ceiling(config)
    trial.set_user_attr("ceiling_acc", limits["gt_acc"])
    why = unmeasurable(config, limits)
    if why:  # a perfect model would be scored as failing: its objective values would rank the detector, not the data
        trial.set_user_attr("policy", dataclasses.asdict(policy))
        trial.set_user_attr("unmeasurable", why)
        raise optuna.TrialPruned(f"unmeasurable: {why}")
    out = folder / "trials" / f"{trial.number:05d}"
    trainer = Trainer(config)
    derived = trainer.data.derived()
    trial.set_user_attr("artifacts", str(out.relative_to(folder)))
    trial.set_user_attr("policy", dataclasses.asdict(policy))
    trial.set_user_attr("data", overrides)
    trial.set_user_attr("n_positions", int(derived["n_positions"]))
    writer = TrialWriter(out)
    writer.start(trainer)
    scorer = Scorer(spec, config, derived["n_positions"])
    scores: dict[str, Any] = {}

    def on_eval(step: int, metrics: dict[str, Any], t: Any) -> None:
        nonlocal scores
        writer(step, metrics, t)
        scores = scorer.update(metrics)
        if len(spec.objectives) == 1:
            trial.report(scores["values"][0], step)
            if step < config.train.steps and trial.should_prune():  # at the last step it is done anyway
                _record(trial, scores)
                raise optuna.TrialPruned(f"pruned at step {step}")
        if spec.objectives == ("steps_to_c",) and scorer.reached_c is not None:
            raise _ReachedC

    with contextlib.suppress(_ReachedC):
        trainer.run(on_eval)
    _record(trial, scores)
    return scores["values"][0] if len(spec.objectives) == 1 else scores["values"]


def _record(trial: optuna.Trial, scores: dict[str, Any]) -> None:
    for key in ("phase", "acc", "frac_single", "steps_to_c", "additivity", "orthogonality", "code_overlap",
                "continuity", "r2"):
        trial.set_user_attr(key, scores[key])


def run_worker(spec: StudySpec, url: str, folder: str | Path, salt: int = 0,
               on_finished: Callable[[optuna.Study, FrozenTrial], None] | None = None) -> int:
    """One Optuna worker: optimize the stored study, one trial at a time, until it holds ``spec.n_trials``
    trials (failed ones that were retried do not count) and nothing waits. Returns the trials run here."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder = Path(folder)
    study = optuna.load_study(study_name=spec.name, storage=open_storage(url, spec.heartbeat),
                              sampler=spec.make_sampler(salt), pruner=spec.make_pruner())

    running: list[int] = []  # the number of this worker's current trial

    def guarded(trial: optuna.Trial) -> float | list[float]:
        running[:] = [trial.number]
        with beating(trial, spec.heartbeat.interval):
            try:
                return objective(trial, spec, folder)
            except optuna.TrialPruned:
                raise
            except Exception as error:
                trial.set_user_attr("fail_reason", hide_password(f"{type(error).__name__}: {error}"))
                raise

    ran = 0
    while True:
        fail_dead_trials(study, spec.heartbeat)
        if not wanted(study, spec.n_trials):
            return ran
        running.clear()
        try:
            study.optimize(guarded, n_trials=1, catch=(Exception,), callbacks=[on_finished] if on_finished else None)
        except (ValueError, optuna.exceptions.UpdateFinishedTrialError):
            # Telling a trial that another process failed as stale (this worker fell silent past the grace
            # period, e.g. a stalled database) raises; that trial was retried elsewhere, so this worker goes on.
            if not running or study.get_trials(deepcopy=False)[running[0]].state != TrialState.FAIL:
                raise
        ran += 1


def ray_worker(spec: StudySpec, url: str, folder: str, salt: int) -> int:
    """A Ray task's body: one CPU per worker; several trials at once beat one wide trial on small models."""
    torch.set_num_threads(1)
    return run_worker(spec, url, folder, salt)
