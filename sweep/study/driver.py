"""The driver of a study: create or resume it, then run K Optuna workers as Ray tasks (one CPU each, torch on
one thread) until the study holds ``n_trials`` trials and none is running or waiting; one line per finished trial.

Layout: ``<results>/studies/<name>/`` holds study.db (the default storage), spec.yaml, trials/<number>/ (each
trial's files) and report/. Trials of cluster workers write there too, so on a cluster ``--results`` must be a
shared folder.
"""

from __future__ import annotations

import functools
import os
import shlex
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from model.errors import UsageError
from sweep.masking import has_password, hide_password
from sweep.ray_session import connect
from sweep.study.liveness import fail_dead_trials, wanted
from sweep.study.spec import StudySpec
from sweep.study.storage import ENV, JOURNAL, open_storage, study_folder

# Optuna's states of a trial that will not run again (a retry is a new trial).
ENDED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def open_study(spec: StudySpec, url: str) -> optuna.Study:
    """Create the study (metric names, the spec's identity, enqueued baselines) or load it to resume."""
    storage = open_storage(url)
    try:
        study = optuna.create_study(storage=storage, study_name=spec.name, directions=spec.directions)
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=spec.name, storage=storage)
        check_resumable(study, spec)
        return study
    with warnings.catch_warnings():  # Optuna still calls set_metric_names experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(list(spec.objectives))
    study.set_user_attr("phasescape_spec", spec.identity())
    for params in spec.baselines:
        study.enqueue_trial(params, user_attrs={"baseline": True}, skip_if_exists=True)
    return study


def check_resumable(study: optuna.Study, spec: StudySpec) -> None:
    """A stored study with another search (base, set, seed, budget, policy, objectives) is refused."""
    stored = study.user_attrs.get("phasescape_spec", {})  # absent for a moment after another process creates it
    for key, value in spec.identity().items():
        if key in stored and stored[key] != value:
            raise UsageError(f"{key}: the stored study {spec.name!r} has {stored[key]!r}; restore it or choose a "
                             f"new name to start a fresh study")
    if [d.name.lower() for d in study.directions] != spec.directions:
        raise UsageError(f"objectives: the stored study {spec.name!r} has other directions; choose a new name")


def trial_line(trial: FrozenTrial, objectives: tuple[str, ...]) -> str:
    """One progress line: number, state, values (or why not), parameters, images used."""
    if trial.state == TrialState.COMPLETE:
        result = "  ".join(f"{name} {value:.4g}" for name, value in zip(objectives, trial.values, strict=True))
    elif trial.state == TrialState.PRUNED:
        result = (f"unmeasurable, not trained: {trial.user_attrs['unmeasurable']}" if "unmeasurable" in trial.user_attrs
                  else f"at step {trial.last_step}")
    else:
        result = trial.user_attrs.get("fail_reason", "no reason recorded")
    params = " ".join(f"{k}={v:.3g}" for k, v in trial.params.items())
    seconds = f"{trial.duration.total_seconds():.0f}s" if trial.duration else "-"
    return (f"trial {trial.number:>4}  {trial.state.name:<8} {result}  |  {params}  |  "
            f"images {trial.user_attrs.get('n_positions', '-')}  {seconds}")


def spec_record(spec: StudySpec) -> dict[str, Any]:
    """The spec as written, for ``<study>/spec.yaml``, with a password in its ``storage`` masked."""
    if isinstance(spec.raw.get("storage"), str):
        return {**spec.raw, "storage": hide_password(spec.raw["storage"])}
    return spec.raw


def run_study(spec: StudySpec, url: str, results: str | Path, workers: int, address: str | None = None,
              use_ray: bool = True, out: Callable[[str], None] | None = None) -> optuna.Study:
    """Run (or resume) the study: fail trials of dead workers, then ``workers`` Optuna workers as Ray tasks
    (or one in this process when ``use_ray`` is false) until it holds ``spec.n_trials`` trials; one line per
    finished trial."""
    out = out or functools.partial(print, flush=True)  # progress lines reach a pipe at once
    folder = study_folder(results, spec.name)
    folder.mkdir(parents=True, exist_ok=True)
    study = open_study(spec, url)
    if not (folder / "spec.yaml").exists():
        (folder / "spec.yaml").write_text(yaml.safe_dump(spec_record(spec), sort_keys=False))
    finished = study.get_trials(deepcopy=False, states=ENDED)
    if finished:
        out(f"resuming study {spec.name}: {len(finished)} trials finished before")
    for number, reason in fail_dead_trials(study, spec.heartbeat):
        out(f"trial {number:>4}  FAIL     {reason} (found on start; re-enqueued up to "
            f"{spec.heartbeat.max_retry} times)")
    shown = {t.number for t in study.get_trials(deepcopy=False, states=ENDED)}
    out(f"study {spec.name}: {spec.n_trials} trials, {workers if use_ray else 1} at a time, "
        f"storage {hide_password(url)}")

    def show_new() -> None:
        for trial in sorted(study.get_trials(deepcopy=False, states=ENDED), key=lambda t: t.number):
            if trial.number not in shown:
                shown.add(trial.number)
                out(trial_line(trial, spec.objectives))

    if use_ray:
        _on_ray(spec, url, folder, workers, address, study, show_new, out)
    else:
        from sweep.study.worker import run_worker  # torch: only where a worker runs

        run_worker(spec, url, folder, salt=os.getpid(), on_finished=lambda *_: show_new())
    show_new()
    return study


def _on_ray(spec: StudySpec, url: str, folder: Path, workers: int, address: str | None, study: optuna.Study,
            show_new: Callable[[], None], out: Callable[[str], None]) -> None:
    """Run rounds of ``workers`` Ray tasks until the study holds its trials and none is running: a retry
    enqueued after the workers stopped gets another round, a trial whose worker is unknown or remote is
    waited for until it finishes or its heartbeat goes stale."""
    if not wanted(study, spec.n_trials):
        return
    import ray

    connect(address, num_cpus=workers, prestart_workers=True)  # plain Ray tasks do use prestarted workers
    try:
        from sweep.study.worker import ray_worker

        task = ray.remote(num_cpus=1, max_retries=0)(ray_worker)
        pending: list[Any] = []
        rounds = 0
        while True:
            if not pending and wanted(study, spec.n_trials):
                pending = [task.remote(spec, url, str(folder), rounds * workers + i) for i in range(workers)]
                rounds += 1
            if pending:
                done, pending = ray.wait(pending, num_returns=len(pending), timeout=2.0)
                ray.get(done)  # a worker's own error (not a trial's) surfaces here
            else:
                time.sleep(2.0)
            for number, reason in fail_dead_trials(study, spec.heartbeat):
                out(f"trial {number:>4}  FAIL     {reason}")
            show_new()
            if not pending and not wanted(study, spec.n_trials) and not study.get_trials(
                    deepcopy=False, states=(TrialState.RUNNING,)):
                return
    finally:
        ray.shutdown()


def summary(study: optuna.Study, spec: StudySpec, url: str, seconds: float) -> list[str]:
    """Closing lines of a study run: trials by state after ``seconds``, the best trial (one objective) or
    up to 10 of the Pareto set, and the commands that inspect ``url`` with Optuna's CLI and dashboard."""
    trials = study.get_trials(deepcopy=False)
    counts = ", ".join(f"{sum(t.state == s for t in trials)} {s.name}" for s in TrialState
                       if any(t.state == s for t in trials))
    lines = [f"study {spec.name}: {len(trials)} trials ({counts}) after {seconds:.0f}s"]
    if any(t.state == TrialState.COMPLETE for t in trials):
        single = len(spec.objectives) == 1
        best = [study.best_trial] if single else study.best_trials[:10]
        lines += [("best   " if single else "pareto ") + trial_line(t, spec.objectives) for t in best]
    return lines + inspect_lines(url, spec.name)


def inspect_lines(url: str, name: str) -> list[str]:
    """The commands that open the study in Optuna's CLI and dashboard. A URL with a password is named by the
    variable that holds it (``$PHASESCAPE_STORAGE``), never written out: the lines end up in logs and terminals."""
    where = shlex.quote(url[len(JOURNAL):] if url.startswith(JOURNAL) else url)
    if has_password(url):
        where = f'"${ENV}"'
    lines = [f"inspect: optuna trials --storage {where} --study-name {name}",
             f"         optuna-dashboard {where} --host 127.0.0.1"]
    if has_password(url):
        lines.append(f"         where {ENV} holds {hide_password(url)} with its password")
    return lines
