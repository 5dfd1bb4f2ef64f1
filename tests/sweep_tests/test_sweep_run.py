"""Sweeps on a real local Ray with micro presets: results table, reuse, resume after SIGKILL, retries, failures."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import ROOT, phasescape

from sweep.spec import load_spec

pytestmark = pytest.mark.slow  # every test here starts a local Ray


def write_spec(tmp_path: Path, **spec) -> Path:
    spec = {"base": "micro", "seeds": [0], "resources": {"cpu": 1}, "storage": str(tmp_path / "results"), **spec}
    path = tmp_path / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def statuses(sweep_dir: Path) -> dict[str, dict]:
    root = sweep_dir / "trials"
    if not root.exists():
        return {}
    return {f.name: json.loads((f / "status.json").read_text()) for f in root.iterdir() if (f / "status.json").exists()}


def kill_worker_then_finish(driver: subprocess.Popen, worker_pid) -> str:
    """SIGKILL the Ray worker whose pid ``worker_pid()`` returns (once it returns one), then wait for the sweep
    ``driver`` to end, killing it if the test fails first; asserts it exited 0 and returns its output."""
    try:
        os.kill(wait_for(worker_pid, 240, "a checkpointed trial"), signal.SIGKILL)
        out, _ = driver.communicate(timeout=400)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, out[-3000:]
    return out


def wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def kill_when_then_resume(spec: Path, sweep_dir: Path, ready, timeout: float, what: str,
                          before_resume=None) -> pd.DataFrame:
    """Run the sweep ``spec`` in a driver process, SIGKILL it once ``ready()`` holds (and a second more, for the running
    trial to pass a checkpoint), check the manifest says unfinished, call ``before_resume()`` if given, resume it
    and return its results table."""
    driver = subprocess.Popen([sys.executable, "-m", "sweep", "run", str(spec)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(ready, timeout, what)
        time.sleep(1.0)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    finally:
        if driver.poll() is None:
            driver.kill()
    assert not json.loads((sweep_dir / "manifest.json").read_text())["finished"]
    if before_resume is not None:
        before_resume()
    resumed = phasescape("resume", str(sweep_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return pd.read_parquet(sweep_dir / "results.parquet")


def steps_per_trial(table: pd.DataFrame) -> dict[str, list[int]]:
    return {tid: sorted(group["step"].astype(int)) for tid, group in table.groupby("trial_id")}


def test_run_writes_table_status_summarises_and_rerun_reuses(tmp_path):
    spec = write_spec(tmp_path, name="basic", axes={"data.sigma": [1.0, 1.5]})
    result = phasescape("run", str(spec))
    assert result.returncode == 0, result.stderr[-2000:]
    sweep_dir = tmp_path / "results" / "basic"
    table = pd.read_parquet(sweep_dir / "results.parquet")
    assert len(table) == 2 * 3  # trials x evaluations (step 0, the untrained baseline, and two more)
    assert set(table["status"]) == {"COMPLETED"} and set(table["step"]) == {0, 15, 30}
    for column in ("trial_id", "config_hash", "seed", "data.sigma", "density", "overlap", "acc", "r2_x", "phase",
                   "node_id", "time_s", "loss"):
        assert column in table, column
    assert pd.read_csv(sweep_dir / "results.csv").shape == table.shape
    manifest = json.loads((sweep_dir / "manifest.json").read_text())
    assert manifest["finished"] and manifest["spec_hash"] and manifest["versions"]["torch"]
    record = json.loads((sweep_dir / "trials" / table["trial_id"][0] / "trial.json").read_text())
    assert record["git_commit"] and record["seed"] == 0 and record["config_hash"]

    status = phasescape("status", str(sweep_dir))
    assert status.returncode == 0 and "completed 2" in status.stdout and "final phase" in status.stdout

    # Nothing left to train: Ray is not even contacted (an address where no Ray listens would fail the run).
    again = phasescape("run", str(spec), env={"RAY_ADDRESS": "127.0.0.1:9"})
    assert again.returncode == 0, again.stderr
    assert "reusing 2 finished trial(s)" in again.stdout and "nothing to train" in again.stdout
    assert "completed 2" in again.stdout  # the status is printed as after a run
    assert pd.read_parquet(sweep_dir / "results.parquet").equals(table)


def test_sigkill_of_the_driver_then_resume_completes_every_trial_once(tmp_path):
    spec = write_spec(tmp_path, name="killed", axes={"data.sigma": [1.0, 1.2, 1.4, 1.6]}, steps=60,
                      max_concurrent=1)
    sweep_dir = tmp_path / "results" / "killed"
    table = kill_when_then_resume(
        spec, sweep_dir, lambda: any(s["status"] == "COMPLETED" for s in statuses(sweep_dir).values())
        and any(s["status"] == "RUNNING" for s in statuses(sweep_dir).values()), 240, "a finished trial")
    assert table["trial_id"].nunique() == 4
    assert set(table["status"]) == {"COMPLETED"}
    assert all(steps == [0, 15, 30, 45, 60] for steps in steps_per_trial(table).values())


def test_ctrl_c_of_run_leaves_trials_unfinished_and_resume_completes_them(tmp_path):
    # Tune catches the Ctrl-C and returns normally: the running trial must stay RUNNING (not be taken for one its
    # scheduler stopped), the pending ones untouched, and run must exit as interrupted.
    spec = write_spec(tmp_path, name="ctrl_c", axes={"data.sigma": [1.0, 1.2, 1.4]}, steps=300, eval_every=15,
                      max_concurrent=1)
    sweep_dir = tmp_path / "results" / "ctrl_c"
    driver = subprocess.Popen([sys.executable, "-m", "sweep", "run", str(spec)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_for(lambda: any(s["status"] == "RUNNING" for s in statuses(sweep_dir).values()), 240, "a running trial")
        time.sleep(2.0)  # let it pass a checkpoint
        driver.send_signal(signal.SIGINT)
        output, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 130, output[-2000:]
    assert "unfinished" in output and "interrupted" in output
    assert [s["status"] for s in statuses(sweep_dir).values()] == ["RUNNING"]
    assert not json.loads((sweep_dir / "manifest.json").read_text())["finished"]

    resumed = phasescape("resume", str(sweep_dir))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    table = pd.read_parquet(sweep_dir / "results.parquet")
    assert table["trial_id"].nunique() == 3 and set(table["status"]) == {"COMPLETED"}
    assert json.loads((sweep_dir / "manifest.json").read_text())["finished"]


def test_killed_worker_is_retried_from_checkpoint_and_failures_are_recorded(tmp_path):
    spec_path = write_spec(tmp_path, name="faults", axes={"data.sigma": [1.0, 1.3, 1e-30]}, steps=90,
                           max_failures=1, seeds=[0], set={"data.spacing_x": 1.0, "data.spacing_y": 1.0})
    spec = load_spec(spec_path)
    ids = {c.data.sigma: c.hash() for c in spec.trials()}
    sweep_dir = tmp_path / "results" / "faults"
    # A trial whose folder cannot be written raises on every attempt (a disk fault, not a mock).
    (sweep_dir / "trials" / ids[1.3] / "metrics.jsonl.tmp").mkdir(parents=True)
    # sigma 1e-30 diverges; it is also unmeasurable, which run refuses unless told to accept it.
    driver = subprocess.Popen([sys.executable, "-m", "sweep", "run", str(spec_path), "--accept-unmeasurable"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    victim = ids[1.0]

    def checkpointed_worker():
        status = statuses(sweep_dir).get(victim, {})
        lines = (sweep_dir / "trials" / victim / "metrics.jsonl")
        if status.get("status") == "RUNNING" and lines.exists() and lines.read_text().count("\n") >= 2:
            return status["pid"]
        return None

    out = kill_worker_then_finish(driver, checkpointed_worker)

    final = statuses(sweep_dir)
    assert final[victim]["status"] == "COMPLETED"
    assert final[victim]["attempts"] == 2 and final[victim]["restored_from_step"] >= 15
    assert final[ids[1.3]]["status"] == "ERROR" and "IsADirectoryError" in final[ids[1.3]]["error"]
    assert final[ids[1e-30]]["status"] == "ERROR" and "loss became nan" in final[ids[1e-30]]["error"]
    assert final[ids[1e-30]]["attempts"] == 1  # a diverged loss is not retried

    table = pd.read_parquet(sweep_dir / "results.parquet")
    assert table["trial_id"].nunique() == 3  # failed trials are rows too, never dropped
    assert steps_per_trial(table[table["trial_id"] == victim])[victim] == [0, 15, 30, 45, 60, 75, 90]
    assert "retry" in out


def test_impossible_resources_fail_fast(tmp_path):
    for resources, field in (({"cpu": 1, "gpu": 1}, "resources.gpu"), ({"cpu": 64}, "resources.cpu")):
        spec = write_spec(tmp_path, name="impossible", axes={"data.sigma": [1.0]}, resources=resources)
        started = time.time()
        result = phasescape("run", str(spec), timeout=120)
        assert result.returncode == 2 and field in result.stderr, result.stderr[-1000:]
        assert time.time() - started < 60
        assert not (tmp_path / "results" / "impossible" / "trials").exists()


@pytest.mark.slow
def test_optuna_search_trains_a_point_drawn_twice_once_and_reports_it_to_both(tmp_path):
    # 4 draws from 2 points: some draws repeat a point, whose trial (same config and seed) trains once
    spec = write_spec(tmp_path, name="optuna_repeats", axes={"data.sigma": [1.0, 1.5]}, max_concurrent=1,
                      search={"type": "optuna", "num_samples": 4, "metric": "acc", "mode": "max"})
    result = phasescape("run", str(spec))
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_dir = tmp_path / "results" / "optuna_repeats"
    folders = statuses(sweep_dir)
    assert all(s["status"] == "COMPLETED" and s["attempts"] == 1 for s in folders.values())
    by_sigma = {json.loads((sweep_dir / "trials" / t / "trial.json").read_text())["config"]["data"]["sigma"]: t
                for t in folders}
    finals = [[json.loads(line) for line in p.read_text().splitlines() if line.strip()][-1]
              for p in (sweep_dir / "tune").glob("trial_*/result.json")]  # Tune's trial_id replaces ours here
    draws = [by_sigma[r["config"]["point"]["data.sigma"]] for r in finals]
    assert len(draws) == 4 and len(set(draws)) == len(folders) < 4
    for r, trial in zip(finals, draws, strict=True):  # every draw, a repeated one too, reported the final evaluation
        recorded = [json.loads(line) for line in (sweep_dir / "trials" / trial / "metrics.jsonl").open()]
        assert r["step"] == 30 and r["acc"] == recorded[-1]["acc"]
