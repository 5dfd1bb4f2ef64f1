"""Optuna studies of data-collection policies: ``phasescape study SPEC.yaml``, run as parallel workers on Ray.

Why Optuna workers on Ray (not Ray Tune): Optuna owns the trial lifecycle -- asking, pruning, retries of
trials whose worker died -- in a storage that any process can reach; Ray only places K worker processes (one
CPU each, torch on one thread), each calling ``study.optimize`` against that storage until the study holds
``n_trials`` trials. So more workers can feed the same study from anywhere (a second driver on a cluster,
``--no-ray`` processes on other machines), and ``optuna trials`` / ``optuna-dashboard`` read it unchanged.

Storage (``--storage`` or the spec's ``storage``):
    default                  sqlite:///<results>/studies/<name>/study.db
    any SQLAlchemy URL       e.g. postgresql+psycopg2://user:password@host/db (clusters)
    journal://PATH           Optuna's journal file, e.g. journal:///shared/studies/a.log (absolute: 3 slashes)

Dead workers: every running trial records its worker (host/pid/start time) and a heartbeat user attribute
every ``heartbeat.interval`` seconds. Before each trial, every poll of the driver and first thing on resume,
a RUNNING trial whose worker process is gone (same host) or silent for ``grace_period`` seconds is failed
with ``user_attrs["fail_reason"]`` and re-enqueued with its parameters (``max_retry`` times). SQL storages
also run Optuna's own heartbeat as a backstop for workers that are not phasescape's.

Layout: ``<results>/studies/<name>/`` holds study.db, spec.yaml, trials/<number>/ (TrialWriter's files) and
report/. Trials of cluster workers write there too, so on a cluster ``--results`` must be a shared folder.

Example::

    from sweep.study import run_study, storage_url
    from sweep.study_spec import load_spec

    spec = load_spec("studies/budget_tiny.yaml")
    study = run_study(spec, storage_url(spec, "results"), "results", workers=2)
    print(study.best_trial.params)
"""

from __future__ import annotations

import functools
import os
import socket
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
import yaml
from optuna.trial import FrozenTrial, TrialState

from sweep.errors import UsageError
from sweep.procs import START_TIME, alive, stat_fields
from sweep.study_spec import Heartbeat, StudySpec

JOURNAL = "journal://"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def study_folder(results: str | Path, name: str) -> Path:
    """``<results>/studies/<name>``; spec names are validated, so this never leaves ``results``."""
    return Path(results).expanduser().resolve() / "studies" / name


def storage_url(spec: StudySpec, results: str | Path, override: str | None = None) -> str:
    """The study's storage URL with relative file paths made absolute (workers may start elsewhere)."""
    url = override or spec.storage or f"sqlite:///{study_folder(results, spec.name) / 'study.db'}"
    if url.startswith(JOURNAL):
        return JOURNAL + str(Path(url[len(JOURNAL):]).expanduser().resolve())
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise UsageError(f"--storage: {url!r} is neither a SQLAlchemy URL (sqlite:///file.db, postgresql://...) "
                         f"nor journal://PATH") from None
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        parsed = parsed.set(database=str(Path(parsed.database).expanduser().resolve()))
    return parsed.render_as_string(hide_password=False)


def _begin_immediate(engine: sqlalchemy.engine.Engine) -> None:
    """Start every SQLite transaction with BEGIN IMMEDIATE (SQLAlchemy's recipe for pysqlite).

    SQLite ignores the SELECT ... FOR UPDATE with which Optuna claims a WAITING trial, so two workers could both
    read it as waiting and both run it; the second then fails with "Cannot tell a COMPLETE trial" (seen when a
    resumed study's workers started together on its retries). Taking the write lock when a transaction begins
    makes Optuna's read-check-write atomic across processes; the connection's timeout bounds the wait.
    """

    @sqlalchemy.event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite would otherwise open its own (deferred) transactions

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin(connection: sqlalchemy.engine.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened before the listeners (to create the tables) would begin the old way


def open_storage(url: str, heartbeat: Heartbeat | None = None) -> optuna.storages.BaseStorage:
    """Optuna storage for ``url``; with ``heartbeat``, SQL storages also run Optuna's own heartbeat."""
    if url.startswith(JOURNAL):
        path = Path(url[len(JOURNAL):])
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    beat: dict[str, Any] = {}
    if heartbeat is not None:  # a longer grace than ours: phasescape fails (with a reason) and retries first
        beat = {"heartbeat_interval": heartbeat.interval,
                "grace_period": heartbeat.grace_period + 2 * heartbeat.interval,
                "heartbeat_stale_trial_callback": functools.partial(retry, max_retry=heartbeat.max_retry)}
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}  # several writers wait
    for attempt in range(3):
        try:
            with warnings.catch_warnings():  # Optuna still calls its heartbeat arguments experimental
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(url, engine_kwargs=engine, **beat)
            if url.startswith("sqlite"):
                _begin_immediate(storage.engine)
            return storage
        except ImportError as error:
            raise UsageError(f"--storage: {url.split(':')[0]} needs a database driver ({error}); install it") from None
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError):
            if attempt == 2:
                raise
            time.sleep(1 + attempt)  # workers started together on a new database: one of them made the tables


# --- workers: who runs a trial, and are they still alive --------------------------------------------------


def worker_id() -> str:
    """host/pid/start time (clock ticks since boot), so a reused pid is not mistaken for the worker."""
    fields = stat_fields(os.getpid())
    return f"{socket.gethostname()}/{os.getpid()}/{fields[START_TIME] if fields else ''}"


def worker_alive(worker: str) -> bool | None:
    """Whether the worker process still runs; None when it ran on another host (its heartbeat decides)."""
    host, pid, start = worker.rsplit("/", 2)
    if host != socket.gethostname():
        return None
    if not Path("/proc").is_dir():  # no procfs: the pid alone
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, under another user
            return True
        return True
    fields = stat_fields(int(pid))
    return alive(fields) and (not start or fields[START_TIME] == start)


def retry(study: optuna.Study, trial: FrozenTrial, max_retry: int) -> None:
    """Re-enqueue a trial failed for a dead worker with its parameters, as Optuna's
    RetryHeartbeatStaleTrialCallback does (same system attributes), but without copying its user attributes:
    the failed trial keeps its fail_reason and artifacts, the retry gets its own."""
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    if len(history) > max_retry:
        return
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING, params=trial.params, distributions=trial.distributions,
        system_attrs={"failed_trial": history[0], "retry_history": history},
    ))


def fail_dead_trials(study: optuna.Study, heartbeat: Heartbeat) -> list[tuple[int, str]]:
    """Fail the RUNNING trials whose worker is gone, each with a ``fail_reason``; retry them. Returns
    (number, reason) of those failed here. Safe to run from several processes: one of them wins each trial."""
    failed = []
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker")
        last = trial.user_attrs.get("heartbeat", trial.datetime_start.timestamp())  # no beat yet: its start
        if worker and worker_alive(worker) is False:
            reason = f"worker {worker} died"
        elif now - last > heartbeat.grace_period:
            reason = f"no heartbeat from worker {worker or '(none yet)'} for {now - last:.0f}s"
        else:
            continue
        try:  # storage calls by trial id: Optuna has no public API to fail another process's trial with a reason
            study._storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # it finished meanwhile, or another process failed it first
        retry(study, trial, heartbeat.max_retry)
        failed.append((trial.number, reason))
    return failed


def wanted(study: optuna.Study, n_trials: int) -> bool:
    """Whether a worker should start another trial: one is waiting, or fewer than ``n_trials`` count (all
    trials but the failed ones that were retried)."""
    trials = study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    waiting = any(t.state == TrialState.WAITING for t in trials)
    return waiting or sum(t.number not in retried for t in trials) < n_trials


# --- the driver -------------------------------------------------------------------------------------------


def open_study(spec: StudySpec, url: str) -> optuna.Study:
    """Create the study (metric names, the spec's identity, enqueued baselines) or load it to resume."""
    storage = open_storage(url)
    try:
        study = optuna.create_study(storage=storage, study_name=spec.name, directions=spec.directions)
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=spec.name, storage=storage)
        check_resumable(study, spec)
        return study
    with warnings.catch_warnings():  # set_metric_names is "experimental" since Optuna 3.2, and stable in use
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
        result = f"at step {trial.last_step}"
    else:
        result = trial.user_attrs.get("fail_reason", "no reason recorded")
    params = " ".join(f"{k}={v:.3g}" for k, v in trial.params.items())
    seconds = f"{trial.duration.total_seconds():.0f}s" if trial.duration else "-"
    return (f"trial {trial.number:>4}  {trial.state.name:<8} {result}  |  {params}  |  "
            f"images {trial.user_attrs.get('n_positions', '-')}  {seconds}")


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
        (folder / "spec.yaml").write_text(yaml.safe_dump(spec.raw, sort_keys=False))
    finished = study.get_trials(deepcopy=False, states=FINISHED)
    if finished:
        out(f"resuming study {spec.name}: {len(finished)} trials finished before")
    for number, reason in fail_dead_trials(study, spec.heartbeat):
        out(f"trial {number:>4}  FAIL     {reason} (found on start; re-enqueued up to "
            f"{spec.heartbeat.max_retry} times)")
    shown = {t.number for t in study.get_trials(deepcopy=False, states=FINISHED)}
    out(f"study {spec.name}: {spec.n_trials} trials, {workers if use_ray else 1} at a time, storage {url}")

    def show_new() -> None:
        for trial in sorted(study.get_trials(deepcopy=False, states=FINISHED), key=lambda t: t.number):
            if trial.number not in shown:
                shown.add(trial.number)
                out(trial_line(trial, spec.objectives))

    if use_ray:
        _on_ray(spec, url, folder, workers, address, study, show_new, out)
    else:
        from sweep.study_worker import run_worker  # torch: only where a worker runs

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

    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
    else:  # a fresh local Ray for this study alone, without the dashboard's web server
        ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        from sweep.study_worker import ray_worker

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
    trials = study.get_trials(deepcopy=False)
    counts = ", ".join(f"{sum(t.state == s for t in trials)} {s.name}" for s in TrialState
                       if any(t.state == s for t in trials))
    lines = [f"study {spec.name}: {len(trials)} trials ({counts}) after {seconds:.0f}s"]
    if any(t.state == TrialState.COMPLETE for t in trials):
        single = len(spec.objectives) == 1
        best = [study.best_trial] if single else study.best_trials[:10]
        lines += [("best   " if single else "pareto ") + trial_line(t, spec.objectives) for t in best]
    where = url[len(JOURNAL):] if url.startswith(JOURNAL) else url
    lines += [f"inspect: optuna trials --storage {where} --study-name {spec.name}",
              f"         optuna-dashboard {where} --host 127.0.0.1"]
    return lines
