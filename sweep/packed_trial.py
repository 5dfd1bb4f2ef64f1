"""Packed trials (spec key ``pack: K``): one Ray Tune trial trains up to K trials of one architecture.

``pack_groups`` splits the pending trials into groups that share ``model.config.pack_key``; the trainable
``run_group`` trains a group with ``model.packed.PackedTrainer``. Every member writes its own
``trials/<trial_id>/`` folder exactly as an unpacked trial does (``TrialWriter``, status.json), so the results
table lists each member as its own trial and a later run reuses finished members like any other trial.

The group reports to Tune once per evaluation round: each numeric metric averaged over the active members,
``phase`` as the members' phases in order (e.g. "CCB"), ``trial_id`` the group id, ``members`` their count.
Its checkpoint holds one checkpoint per active member (``<trial_id>.pt``): a retried or resumed group
restores every member and leaves out those that had diverged (already recorded as ERROR).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.config import Config, pack_key
from model.definitions import COMPLETED, ERROR, RUNNING, STOP_REASON, STOPPED
from sweep.spec import Stop
from sweep.store import claimed, is_finished, read_status, swept_keys, trial_folder, write_status


def stop_rule(params: dict[str, Any]) -> tuple[Callable[[list[dict[str, Any]]], bool] | None, str]:
    """The spec's ``stop`` of a Tune trial's parameters (``params["stop"]``, or the spec's for Optuna) as an
    ``until`` for ``Trainer.run`` and the reason recorded when it ends a trial; (None, "") without one."""
    from model.train import settled

    stop = params.get("stop") or (params.get("spec") or {}).get("stop")
    if not stop:
        return None, ""
    rule = Stop(phase=stop["phase"], patience=int(stop["patience"]))
    return (lambda history: settled(history, rule.phase, rule.patience), f"stopped early: {rule.describe()}")


def pack_groups(configs: list[Config], k: int) -> list[list[Config]]:
    """Trials sharing an architecture, in their given order, cut into groups of at most ``k``."""
    by_key: dict[str, list[Config]] = {}
    for config in configs:
        by_key.setdefault(json.dumps(pack_key(config), sort_keys=True), []).append(config)
    return [same[i:i + k] for same in by_key.values() for i in range(0, len(same), k)]


def group_id(configs: list[Config]) -> str:
    """The id of a group of trials: 16 hex digits of a hash of its members' trial ids, in order."""
    return hashlib.sha256(",".join(c.hash() for c in configs).encode()).hexdigest()[:16]


def group_configs(params: dict[str, Any]) -> list[Config]:
    """The member configs of a group trial's parameters."""
    return [Config.from_dict(d) for d in params["configs"]]


def round_report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One Tune result for a group: numeric metrics averaged over members, their phases side by side."""
    numeric = [k for k, v in rows[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    report: dict[str, Any] = {k: math.fsum(r[k] for r in rows) / len(rows) for k in numeric}
    report.update(step=rows[0]["step"], phase="".join(r["phase"] for r in rows), members=len(rows))
    return report


def run_group(params: dict[str, Any]) -> None:
    """Train a group of trials side by side, each writing its own trial folder; report rounds to Ray Tune. Members
    whose folders say they finished are left out (a second Tune trial of the group: ``sweep.store.claimed``)."""
    sweep_dir = Path(params["sweep_dir"])
    until, why = stop_rule(params)
    configs = group_configs(params)
    gid = group_id(configs)
    with claimed([trial_folder(sweep_dir, c.hash()) for c in configs]):  # members already finished stay out
        configs = [c for c in configs if not is_finished(trial_folder(sweep_dir, c.hash()), settled=until is not None)]
        if configs:
            _train_group(configs, gid, sweep_dir, until, why)


def _train_group(configs: list[Config], gid: str, sweep_dir: Path, until: Any, why: str) -> None:
    import ray
    from ray import tune

    from model.packed import PackedTrainer
    from model.train import Trainer, TrainingDiverged
    from sweep.artifacts import TrialWriter

    checkpoint = tune.get_checkpoint()
    with checkpoint.as_directory() if checkpoint is not None else contextlib.nullcontext() as restored:
        if restored is not None:  # a member missing from the checkpoint had diverged: it stays out
            configs = [c for c in configs if (Path(restored) / f"{c.hash()}.pt").exists()]
        if not configs:
            return
        packed = PackedTrainer(configs)
        if restored is not None:
            for member in packed.members:
                member.load_checkpoint(Path(restored) / f"{member.config.hash()}.pt")

    def folder(member: Trainer) -> Path:
        return trial_folder(sweep_dir, member.config.hash())

    writers, swept = {}, swept_keys(sweep_dir)
    node_id = ray.get_runtime_context().get_node_id()
    for member in packed.members:
        writer = TrialWriter(folder(member), plot=False, checkpoint=False, swept=swept)
        writers[member.config.hash()] = writer
        writer.start(member)
        write_status(
            folder(member), RUNNING, error="", pid=os.getpid(), hostname=socket.gethostname(), node_id=node_id,
            attempts=read_status(folder(member)).get("attempts", 0) + 1, restored_from_step=member.step, group=gid,
            stop_reason="",
        )

    def on_eval(step: int, metrics: dict[str, Any], member: Trainer) -> None:
        writers[member.config.hash()](step, metrics, member)

    def on_diverged(member: Trainer, error: TrainingDiverged) -> None:  # deterministic: no retry, like run_trial
        write_status(folder(member), ERROR, error=str(error))

    def on_settled(member: Trainer) -> None:  # the spec's stop: finished early, final in its phase
        write_status(folder(member), STOPPED, error=why, stop_reason=STOP_REASON)

    def on_round(step: int, group: PackedTrainer) -> None:
        if not group.active:
            return
        with tempfile.TemporaryDirectory() as d:
            for member in group.active:
                member.save_checkpoint(Path(d) / f"{member.config.hash()}.pt")
            report = round_report([m.history[-1] for m in group.active])
            tune.report({**report, "trial_id": gid}, checkpoint=tune.Checkpoint.from_directory(d))

    try:
        packed.run(on_eval, on_diverged, on_round, until, on_settled)
    except Exception as error:
        for member in packed.active:
            write_status(folder(member), ERROR, error=f"{type(error).__name__}: {error}")
        raise
    for member in packed.active:
        write_status(folder(member), COMPLETED)
