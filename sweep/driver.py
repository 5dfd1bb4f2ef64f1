"""The sweep driver: one sweep spec -> a ``ray.tune.Tuner`` whose trainable is ``sweep.trainable.run_trial``.

Grid and random searches are enumerated here, so finished trials of an earlier run are reused by their hash
(and when nothing is left to train, Ray is not started at all); ``search.type: optuna`` hands the axes to
``OptunaSearch``; ``search.type: boundary`` runs ``BoundarySearcher`` (sweep/boundary_searcher.py), which
reuses finished trials level by level. Each trial writes its own folder under ``SWEEP/trials`` (sweep/artifacts.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from model.config import Config
from model.definitions import ERROR, FINISHED, UNFINISHED
from model.errors import UsageError
from sweep.boundary import grid_record, plan_from_disk
from sweep.ray_session import connect
from sweep.spec import TPE_ARGS, SweepSpec, spec_from_dict
from sweep.store import (
    finished_trial_ids,
    mark_started,
    read_manifest,
    read_status,
    trial_folder,
    write_manifest,
    write_results,
    write_status,
)
from sweep.trainable import trainable_for, trial_configs

TUNE_DIR = "tune"
TABLE_EVERY_S = 20.0  # how often the driver rebuilds results.parquet and prints a summary while running


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
    """A ``ray.tune.Tuner`` over the ``pending`` trial configs of ``spec``, its state under
    ``sweep_dir/tune``: a grid of the configs (of packed groups of them when ``spec.pack`` > 1) or, for
    ``search.type: optuna``, the axes sampled by ``OptunaSearch`` (``pending`` unused); FIFO or ASHA scheduling,
    at most ``max_concurrent`` (else the spec's) trials at once."""
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    from sweep.packed_trial import pack_groups
    from sweep.progress import Progress

    searcher = None
    stop = None if spec.stop is None else spec.to_dict()["stop"]
    if spec.search.type == "boundary":
        from sweep.boundary_searcher import BoundarySearcher

        searcher = BoundarySearcher(spec, sweep_dir, settled=spec.stop is not None)
        params = {}
        num_samples = -1  # until the searcher says FINISHED
    elif spec.search.type == "optuna":
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
        sampler = optuna.samplers.TPESampler(seed=0, **TPE_ARGS)
        searcher = OptunaSearch(metric=spec.search.metric, mode=spec.search.mode, sampler=sampler)
        num_samples = spec.search.num_samples
    elif spec.pack > 1:
        groups = [[c.to_dict() for c in group] for group in pack_groups(pending, spec.pack)]
        params = {"sweep_dir": str(sweep_dir), "configs": tune.grid_search(groups), "stop": stop}
        num_samples = 1
    else:
        params = {"sweep_dir": str(sweep_dir),
                  "config": tune.grid_search([c.to_dict() for c in pending]), "stop": stop}
        num_samples = 1
    scheduler = FIFOScheduler()
    if spec.scheduler.type == "asha":
        scheduler = ASHAScheduler(
            time_attr="training_iteration", metric=spec.scheduler.metric, mode=spec.scheduler.mode,
            # +1: the first report is the untrained baseline (step 0), which no trial should be judged on.
            grace_period=spec.scheduler.grace_period + 1, reduction_factor=spec.scheduler.reduction_factor,
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
    """Run (or continue) a sweep: finished trials are reused, the others trained on Ray Tune. Returns the results
    table (pandas DataFrame) that it also writes to ``<storage>/<name>/results.parquet``.

    When every trial of a grid or random search has finished already, nothing starts: the table is rebuilt and
    returned without Ray.
    """
    sweep_dir = spec.folder(storage)
    trials = spec.trials()
    # A trial the spec's stop ended early is finished only for a spec that stops too.
    done = finished_trial_ids(sweep_dir, settled=spec.stop is not None) if sweep_dir.exists() else set()
    pending = [c for c in trials if c.hash() not in done]
    reused = len(trials) - len(pending)
    total = spec.search.num_samples if spec.search.type == "optuna" else len(trials)
    if spec.search.type == "boundary":
        pending, _, _ = plan_from_disk(spec, sweep_dir, settled=spec.stop is not None)
        reused = len({c.hash() for c in trials} & done)
        if reused:
            print(f"reusing {reused} finished trial(s) of the {len(trials)}-trial grid from {sweep_dir}", flush=True)
    elif reused:
        print(f"reusing {reused} finished trial(s) of {len(trials)} from {sweep_dir}", flush=True)
    if not pending and spec.search.type != "optuna":
        print("nothing to train: every trial has finished", flush=True)
        return _finish(sweep_dir, spec, total)
    import ray

    connect(address)
    try:
        check_resources(spec)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        write_manifest(sweep_dir, spec.to_dict(), spec.hash(), list(spec.axes), total, finished=False)
        mark_started(sweep_dir)
        packed = f" in groups of up to {spec.pack}" if spec.pack > 1 else ""
        if spec.search.type == "boundary":
            print(f"boundary search over a {len(trials)}-trial grid: {len(pending)} trial(s) next{packed} -> "
                  f"{sweep_dir}", flush=True)
        else:
            print(f"running {len(pending) if spec.search.type != 'optuna' else total} trial(s){packed} -> "
                  f"{sweep_dir}", flush=True)
        started = time.time()
        unfinished = mark_stopped(sweep_dir, build_tuner(spec, sweep_dir, pending, max_concurrent).fit())
        print(f"sweep {'interrupted' if unfinished else 'finished'} in {time.time() - started:.0f}s", flush=True)
        return _finish(sweep_dir, spec, total, unfinished)
    finally:
        ray.shutdown()


def _finish(sweep_dir: Path, spec: SweepSpec, total: int, unfinished: int = 0) -> Any:
    """Rebuild the results table and mark the manifest finished; returns the table. With ``unfinished`` trials
    (Tune was interrupted) the manifest stays unfinished and KeyboardInterrupt goes on to the caller, as the
    Ctrl-C that Tune caught would have."""
    table = write_results(sweep_dir, spec.name)
    extra = {}
    if spec.search.type == "boundary":  # the cells it did not train, with their inferred phases, for the report
        _, inferred, complete = plan_from_disk(spec, sweep_dir, settled=spec.stop is not None)
        extra["boundary"] = {**grid_record(spec, inferred), "complete": complete}
        total = len(spec.trials()) - len(inferred) * len(spec.seeds)
    write_manifest(sweep_dir, spec.to_dict(), spec.hash(), list(spec.axes), total, finished=not unfinished,
                   extra=extra)
    if unfinished:
        print(f"{unfinished} trial(s) unfinished; 'phasescape resume {sweep_dir}' continues them", flush=True)
        raise KeyboardInterrupt
    return table


def resume_sweep(sweep_dir: Path, address: str | None = None) -> Any:
    """Continue an interrupted sweep: Tune restores its experiment (finished trials kept, unfinished ones from
    their checkpoints); without Tune state, the spec runs again and reuses finished trials."""
    import ray
    from ray import tune

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
        mark_started(sweep_dir)
        tuner = tune.Tuner.restore(str(tune_path), trainable_for(spec), resume_unfinished=True,
                                   resume_errored=True)
        return _finish(sweep_dir, spec, manifest["trials_total"], mark_stopped(sweep_dir, tuner.fit()))
    finally:
        ray.shutdown()


def mark_stopped(sweep_dir: Path, grid: Any) -> int:
    """Trials Tune gave up on after max_failures keep their last error as the reason; returns how many trials Tune
    left unfinished. Tune ends its run on Ctrl-C without an error, leaving trials it never started (no config)
    and running ones (still RUNNING: unlike a stop by the scheduler, which ``Progress`` records as STOPPED)."""
    unfinished = 0
    for result in grid:
        if result.config is None:
            unfinished += 1
            continue
        for config in trial_configs(result.config):
            folder = trial_folder(sweep_dir, config.hash())
            status = read_status(folder)["status"]
            if result.error is not None and status not in FINISHED:
                write_status(folder, ERROR, error=read_status(folder).get("error") or str(result.error))
            elif result.error is None and status in UNFINISHED:
                unfinished += 1
    return unfinished
