"""Ray Tune runner: one sweep spec -> a ``ray.tune.Tuner`` whose trainable is the plain function ``run_trial``.

Grid and random searches are enumerated here (so finished trials of an earlier run are skipped by their
hash); ``search.type: optuna`` hands the axes to ``OptunaSearch``. Each trial writes its own folder under
``SWEEP/trials`` (sweep/artifacts.py) and reports every evaluation to Tune with a checkpoint, so a retried or
resumed trial continues from its last evaluation.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from model.config import Config
from sweep.errors import UsageError
from sweep.spec import SweepSpec, spec_from_dict
from sweep.store import (
    FINISHED,
    finished_trial_ids,
    read_status,
    trial_folder,
    write_manifest,
    write_results,
    write_status,
)

TUNE_DIR = "tune"
# Our own store and progress lines replace Tune's tables and its TensorBoard/CSV loggers (JSON is kept for
# Tune's ResultGrid); the snapshot at every checkpoint is wanted for resume, so its warning is silenced.
QUIET_TUNE = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
}
TABLE_EVERY_S = 20.0  # how often the driver rebuilds results.parquet and prints a summary while running


# --- the trainable: runs in a Ray worker -------------------------------------------------------------------


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

    from sweep.packed_trial import run_group

    resources = {"cpu": spec.resources.cpu, "gpu": spec.resources.gpu, **spec.resources.custom}
    return tune.with_resources(run_group if spec.pack > 1 else run_trial, resources)


def run_trial(params: dict[str, Any]) -> None:
    """Train one trial, reporting every evaluation to Ray Tune with a checkpoint."""
    import ray
    from ray import tune

    from model.train import Trainer, TrainingDiverged
    from sweep.artifacts import TrialWriter

    config = trial_config(params)
    folder = trial_folder(Path(params["sweep_dir"]), config.hash())
    trainer = Trainer(config)
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            trainer.load_checkpoint(Path(d) / "checkpoint.pt")
    derived = trainer.data.derived()
    writer = TrialWriter(folder, plot=False, checkpoint=False)
    writer.start(trainer)
    write_status(
        folder, "RUNNING", error="", pid=os.getpid(), hostname=socket.gethostname(),
        node_id=ray.get_runtime_context().get_node_id(), attempts=read_status(folder).get("attempts", 0) + 1,
        restored_from_step=trainer.step,
    )

    def on_eval(step: int, metrics: dict[str, Any], t: Trainer) -> None:
        writer(step, metrics, t)
        with tempfile.TemporaryDirectory() as d:
            t.save_checkpoint(Path(d) / "checkpoint.pt")
            tune.report({**metrics, **derived, "trial_id": config.hash()},
                        checkpoint=tune.Checkpoint.from_directory(d))

    try:
        trainer.run(on_eval)
    except TrainingDiverged as error:  # deterministic: retrying would diverge again, so fail without retry
        write_status(folder, "ERROR", error=str(error))
        return
    except Exception as error:
        write_status(folder, "ERROR", error=f"{type(error).__name__}: {error}")
        raise
    write_status(folder, "COMPLETED")


# --- the driver ----------------------------------------------------------------------------------------------


def connect(address: str | None) -> str:
    """Connect to ``address`` (or RAY_ADDRESS); else start a local Ray sized to this machine, dashboard off."""
    import ray

    for key, value in QUIET_TUNE.items():
        os.environ.setdefault(key, value)
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise UsageError(f"--address {address}: cannot reach a Ray cluster ({error}); check the address") from None
        return address
    # Ray starts one idle worker per CPU for its first driver, but Tune gives every trial actor a runtime env of
    # its own (env_vars), which those workers cannot serve: on 2 cores starting them only delays the first trial
    # by about a second (bench/sweep_overhead.py).
    os.environ.setdefault("RAY_prestart_worker_first_driver", "0")
    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, logging_level=logging.WARNING,
             log_to_driver=False)
    return "local"


def check_resources(spec: SweepSpec) -> None:
    """Fail fast when no node can ever hold one trial, instead of leaving trials pending forever."""
    import ray

    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    r = spec.resources
    wanted = {"CPU": r.cpu, "GPU": r.gpu, **r.custom}
    for name, amount in wanted.items():
        if amount <= 0:
            continue
        largest = max((node.get(name, 0) for node in nodes), default=0)
        if largest < min(amount, 1) or (amount >= 1 and largest < amount):
            field = {"CPU": "resources.cpu", "GPU": "resources.gpu"}.get(name, f"resources.custom.{name}")
            raise UsageError(f"{field}: each trial asks for {amount} {name} but the largest node has {largest}; "
                             f"lower the request or add nodes that have it")


def build_tuner(spec: SweepSpec, sweep_dir: Path, pending: list[Config], max_concurrent: int | None):
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    from sweep.packed_trial import pack_groups
    from sweep.progress import Progress

    searcher = None
    if spec.search.type == "optuna":
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        space: dict[str, Any] = {}
        for key, values in spec.axes.items():
            if isinstance(values, list):
                space[key] = tune.choice(values)
            else:
                (kind, (lo, hi)), = values.items()
                space[key] = {"uniform": tune.uniform(lo, hi), "loguniform": tune.loguniform(lo, hi),
                              "int": tune.randint(lo, hi + 1)}[kind]
        params: dict[str, Any] = {
            "spec": spec.to_dict(), "sweep_dir": str(sweep_dir), "point": space,
            "seed": tune.choice(spec.seeds) if len(spec.seeds) > 1 else spec.seeds[0],
        }
        # Pinned sampler arguments: Optuna 5 changed TPE's defaults.
        sampler = optuna.samplers.TPESampler(seed=0, multivariate=False, constant_liar=False)
        searcher = OptunaSearch(metric=spec.search.metric, mode=spec.search.mode, sampler=sampler)
        num_samples = spec.search.num_samples
    elif spec.pack > 1:
        groups = [[c.to_dict() for c in group] for group in pack_groups(pending, spec.pack)]
        params = {"sweep_dir": str(sweep_dir), "configs": tune.grid_search(groups)}
        num_samples = 1
    else:
        params = {"sweep_dir": str(sweep_dir),
                  "config": tune.grid_search([c.to_dict() for c in pending])}
        num_samples = 1
    scheduler = FIFOScheduler()
    if spec.scheduler.type == "asha":
        scheduler = ASHAScheduler(
            time_attr="training_iteration", metric=spec.scheduler.metric, mode=spec.scheduler.mode,
            grace_period=spec.scheduler.grace_period, reduction_factor=spec.scheduler.reduction_factor,
        )
    limit = max_concurrent if max_concurrent is not None else spec.max_concurrent
    # reuse_actors: a finished trial's worker, torch and the model code already imported, runs the next trial;
    # it saves a worker start and those imports per trial (bench/sweep_overhead.py).
    return tune.Tuner(
        trainable_for(spec),
        param_space=params,
        tune_config=tune.TuneConfig(num_samples=num_samples, search_alg=searcher, scheduler=scheduler,
                                    max_concurrent_trials=limit or None, reuse_actors=True,
                                    trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}"),
        run_config=tune.RunConfig(
            name=TUNE_DIR, storage_path=str(sweep_dir), verbose=0, log_to_file=True,
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            callbacks=[JsonLoggerCallback(), Progress(spec.name, str(sweep_dir), list(spec.axes), TABLE_EVERY_S)],
        ),
    )


def run_sweep(spec: SweepSpec, storage: str | None = None, address: str | None = None,
              max_concurrent: int | None = None) -> Any:
    """Run (or continue) a sweep: finished trials are reused, the others trained. Returns the results table."""
    import ray

    sweep_dir = spec.folder(storage)
    trials = spec.trials()
    done = finished_trial_ids(sweep_dir) if sweep_dir.exists() else set()
    pending = [c for c in trials if c.hash() not in done]
    reused = len(trials) - len(pending)
    connect(address)
    try:
        check_resources(spec)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        total = spec.search.num_samples if spec.search.type == "optuna" else len(trials)
        write_manifest(sweep_dir, spec.to_dict(), spec.hash(), list(spec.axes), total, finished=False)
        if reused:
            print(f"reusing {reused} finished trial(s) of {len(trials)} from {sweep_dir}", flush=True)
        if pending or spec.search.type == "optuna":
            packed = f" in groups of up to {spec.pack}" if spec.pack > 1 else ""
            print(f"running {len(pending) if spec.search.type != 'optuna' else total} trial(s){packed} -> {sweep_dir}",
                  flush=True)
            started = time.time()
            tuner = build_tuner(spec, sweep_dir, pending, max_concurrent)
            grid = tuner.fit()
            mark_stopped(sweep_dir, grid)
            print(f"sweep finished in {time.time() - started:.0f}s", flush=True)
        table = write_results(sweep_dir, spec.name)
        write_manifest(sweep_dir, spec.to_dict(), spec.hash(), list(spec.axes), total, finished=True)
        return table
    finally:
        ray.shutdown()


def resume_sweep(sweep_dir: Path, address: str | None = None) -> Any:
    """Continue an interrupted sweep: Tune restores its experiment (finished trials kept, unfinished ones from
    their checkpoints); without Tune state, the spec runs again and reuses finished trials."""
    import ray
    from ray import tune

    from sweep.store import read_manifest

    manifest = read_manifest(sweep_dir)
    spec = spec_from_dict(manifest["spec"])
    tune_path = sweep_dir / TUNE_DIR
    if not tune.Tuner.can_restore(str(tune_path)):
        print(f"no Ray Tune state in {tune_path}; running the spec again, reusing finished trials", flush=True)
        return run_sweep(spec, storage=str(sweep_dir.parent), address=address)
    connect(address)
    try:
        check_resources(spec)
        print(f"resuming {sweep_dir}", flush=True)
        tuner = tune.Tuner.restore(str(tune_path), trainable_for(spec), resume_unfinished=True,
                                   resume_errored=True)
        mark_stopped(sweep_dir, tuner.fit())
        table = write_results(sweep_dir, spec.name)
        write_manifest(sweep_dir, spec.to_dict(), spec.hash(), list(spec.axes), manifest["trials_total"],
                       finished=True)
        return table
    finally:
        ray.shutdown()


def mark_stopped(sweep_dir: Path, grid: Any) -> None:
    """Trials that Tune ended without error but that did not finish training were stopped by the scheduler;
    trials Tune gave up on after max_failures keep their last error as the reason."""
    for result in grid:
        for config in trial_configs(result.config):
            folder = trial_folder(sweep_dir, config.hash())
            status = read_status(folder)["status"]
            if result.error is not None and status not in FINISHED:
                write_status(folder, "ERROR", error=read_status(folder).get("error") or str(result.error))
            elif result.error is None and status == "RUNNING":
                write_status(folder, "STOPPED", error="stopped early by the scheduler")
