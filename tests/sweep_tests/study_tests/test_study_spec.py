"""Study specs, storage URLs, resume checks and dead-worker handling, on real storages (no Ray here)."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from model.errors import UsageError
from sweep.study.driver import open_study
from sweep.study.liveness import fail_dead_trials, worker_id
from sweep.study.spec import SAMPLERS, Heartbeat, load_spec, parse_spec
from sweep.study.storage import open_storage, storage_url

ROOT = Path(__file__).resolve().parents[3]
BASE = {"name": "s", "base": "micro", "budget": 16, "policy": {"fill": [0.3, 1.0], "aspect": [-1, 1]}}


def spec(**changes):
    return parse_spec({**BASE, **changes})


def test_example_studies_validate():
    paths = sorted((ROOT / "studies").glob("*.yaml"))
    assert paths and all(load_spec(p).n_trials >= 8 for p in paths)


def test_defaults_pin_the_sampler_and_prune_single_objectives():
    s = spec()
    assert s.objectives == ("acc",) and s.directions == ["maximize"]
    assert isinstance(s.make_sampler(), optuna.samplers.TPESampler)
    assert SAMPLERS["tpe"][1]["multivariate"] is True and SAMPLERS["tpe"][1]["constant_liar"] is True
    assert isinstance(s.make_pruner(), optuna.pruners.MedianPruner)
    assert s.baselines == ({"fill": 1.0, "aspect": 0.0},)
    multi = spec(objectives=["acc", "images"], sampler={"name": "nsga2", "population_size": 4})
    assert multi.directions == ["maximize", "minimize"] and isinstance(multi.make_pruner(), optuna.pruners.NopPruner)
    assert isinstance(multi.make_sampler(), optuna.samplers.NSGAIISampler)


@pytest.mark.parametrize("changes, message", [
    ({"objectives": ["accuracy"]}, "objectives: unknown objective 'accuracy'; choose from acc, steps_to_c"),
    ({"objectives": []}, "objectives: expected 1 to 3 distinct names"),
    ({"objectives": ["acc", "acc"]}, "objectives: expected 1 to 3 distinct names"),
    ({"name": "../escape"}, "name: '../escape' must be letters"),
    ({"name": "a/b"}, "name: 'a/b' must be letters"),
    ({"name": "/abs"}, "name: '/abs' must be letters"),
    ({"base": "huge"}, "base: unknown preset 'huge'"),
    ({"budget": 0}, "budget: expected an integer >= 1"),
    ({"budget": 10**6}, "budget: 1000000 exceeds the densest lattice"),
    ({"set": {"data.spacing_x": 2}}, "set.data.spacing_x: chosen by the policy; remove it"),
    ({"set": {"train.lr": 5}}, r"set.train.lr: must be in \(0, 1\)"),
    ({"policy": {"fill": 0.5}}, "policy: nothing to search"),
    ({"policy": {"fill": [0, 2]}}, r"policy.fill: \[0, 2\] must lie in \(0, 1\]"),
    ({"sampler": {"name": "cmaes"}}, "sampler.name: unknown sampler 'cmaes'; choose one of tpe, gp, nsga2, random"),
    ({"sampler": {"name": "tpe", "startup": 3}}, "sampler.startup: not an argument of tpe"),
    ({"sampler": {"name": "tpe", "multivariate": "yes"}}, "sampler.multivariate: expected bool"),
    ({"sampler": {"name": "tpe", "multivariate": False, "group": True}}, "sampler/pruner: Optuna refused"),
    ({"objectives": ["acc", "images"], "pruner": "median"}, "pruner: Optuna prunes single-objective studies"),
    ({"heartbeat": {"interval": 10, "grace_period": 15}}, "heartbeat.grace_period: 15 must be at least twice"),
    ({"baselines": ["grid"]}, r"baselines\[0\]: give a value for each searched knob"),
    ({"trials": 8}, "trials: unknown key"),
])
def test_bad_specs_name_the_field_and_the_fix(changes, message):
    with pytest.raises(UsageError, match=message):
        spec(**changes)


def test_storage_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = spec()
    assert storage_url(s, "results") == f"sqlite:///{tmp_path}/results/studies/s/study.db"
    assert storage_url(s, "results", "journal://logs/s.log") == f"journal://{tmp_path}/logs/s.log"
    assert storage_url(s, "results", "journal:///shared/s.log") == "journal:///shared/s.log"
    assert storage_url(s, "results", "sqlite:///rel.db") == f"sqlite:///{tmp_path}/rel.db"
    assert storage_url(s, "results", "postgresql://u:pw@db:5432/optuna") == "postgresql://u:pw@db:5432/optuna"
    with pytest.raises(UsageError, match="--storage: 'results/s.db' is neither a SQLAlchemy URL"):
        storage_url(s, "results", "results/s.db")


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_study_resumes_by_name_only_with_the_same_search(tmp_path, kind):
    s = spec()
    url = storage_url(s, tmp_path, None if kind == "sqlite" else f"journal://{tmp_path}/s.log")
    first = open_study(s, url)
    again = open_study(parse_spec({**BASE, "n_trials": 40, "workers": 4, "sampler": "random"}), url)  # may change
    assert again._study_id == first._study_id
    assert [t.state for t in again.trials] == [TrialState.WAITING]  # the uniform baseline, enqueued once
    assert again.metric_names == ["acc"]
    with pytest.raises(UsageError, match="policy: the stored study 's' has"):
        open_study(spec(policy={"fill": [0.5, 1.0]}), url)
    with pytest.raises(UsageError, match="objectives: the stored study 's' has"):
        open_study(spec(objectives=["acc", "images"], pruner="none"), url)


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_trials_of_dead_workers_fail_with_a_reason_and_are_retried(tmp_path, kind):
    s = spec()
    url = storage_url(s, tmp_path, None if kind == "sqlite" else f"journal://{tmp_path}/s.log")
    study = optuna.load_study(study_name=open_study(s, url).study_name, storage=open_storage(url))
    heartbeat = Heartbeat(interval=1, grace_period=30, max_retry=1)
    workers = {
        "dead here": f"{socket.gethostname()}/{dead_pid()}/",
        "silent elsewhere": "elsewhere/1/1",
        "alive here": worker_id(),
    }
    trials = {}
    for role, worker in workers.items():
        trial = study.ask()
        trial.suggest_float("fill", 0.3, 1.0)
        trial.set_user_attr("worker", worker)
        trial.set_user_attr("heartbeat", time.time() - (100 if role == "silent elsewhere" else 0))
        trials[role] = trial.number

    failed = dict(fail_dead_trials(study, heartbeat))
    assert set(failed) == {trials["dead here"], trials["silent elsewhere"]}
    by_number = {t.number: t for t in study.get_trials()}
    assert "died" in by_number[trials["dead here"]].user_attrs["fail_reason"]
    assert "no heartbeat from worker elsewhere/1/1 for 100s" in by_number[trials["silent elsewhere"]].user_attrs[
        "fail_reason"]
    assert by_number[trials["alive here"]].state == TrialState.RUNNING
    retries = [t for t in by_number.values() if "failed_trial" in t.system_attrs]
    assert sorted(t.system_attrs["failed_trial"] for t in retries) == sorted(failed)
    assert all(t.state == TrialState.WAITING and "fail_reason" not in t.user_attrs for t in retries)
    assert fail_dead_trials(study, heartbeat) == []  # nothing left to fail, nothing retried twice


def test_workers_started_together_on_a_new_database_all_open_it(tmp_path):
    url = f"sqlite:///{tmp_path}/new.db"
    code = f"from sweep.study.storage import open_storage; open_storage({url!r}); print('open')"
    processes = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, cwd=ROOT) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [out.strip() for out, _ in outputs] == ["open"] * 2, [err[-300:] for _, err in outputs]
