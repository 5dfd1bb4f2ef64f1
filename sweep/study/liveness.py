"""Is a trial's worker still alive? Every running trial records its worker (host/pid/start time) and beats a
heartbeat user attribute; a RUNNING trial whose worker process is gone (same host) or silent for
``heartbeat.grace_period`` seconds is failed with ``user_attrs["fail_reason"]`` and re-enqueued with its
parameters up to ``max_retry`` times. Workers and the driver both call ``fail_dead_trials``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweep.procs import START_TIME, alive, stat_fields
from sweep.study.spec import Heartbeat


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


@contextlib.contextmanager
def beating(trial: optuna.Trial, interval: float) -> Iterator[None]:
    """Record who runs the trial and beat every ``interval`` seconds until the block ends."""
    trial.set_user_attr("worker", worker_id())
    trial.set_user_attr("heartbeat", time.time())
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            with contextlib.suppress(Exception):  # a busy database: the next beat tries again
                trial.set_user_attr("heartbeat", time.time())

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
