"""A real two-node Ray cluster on 127.0.0.1 with token authentication: submit sweeps to it and read the results.

One cluster for the whole module (starting one costs half a minute of the two cores); it is torn down in a
finally, also when a test or the start fails, and the teardown checks that no process of it is left.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_cluster import MICRO, ROOT, submit_cli, write_spec

from cluster.local import LocalCluster, find_processes, free_port

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("aiohttp", "requests", "aiohttp_cors")),
    reason="the Ray jobs API needs ray[default] (aiohttp, aiohttp_cors, requests): pip install 'ray[default]'",
)]


def leftovers(root: Path, sessions: list[int]) -> list[str]:
    """`ps` lines of live processes (not zombies) that name the cluster's folder or run in a session that ``up``
    started (Ray's agents on the head node carry neither the folder nor the marker)."""
    ps = subprocess.run(["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True).stdout
    return [line for line in ps.splitlines()
            if (str(root) in line or int(line.split()[1]) in sessions) and not line.split()[2].startswith("Z")]


@pytest.fixture(scope="module")
def cluster():
    root = Path(tempfile.mkdtemp(prefix="psr-", dir="/tmp"))  # short: Ray's unix socket paths
    c = LocalCluster(root, port=free_port(), dashboard_port=free_port(), auth="token")
    sessions = c.sessions  # the list up() fills, kept here: down() gives the cluster a new, empty one
    try:
        c.up(timeout=240)
        yield c
    finally:
        try:
            c.down()
        finally:
            left = find_processes(root) + [line for line in leftovers(root, sessions) if "pytest" not in line]
            if left:  # kill by pid whatever survived, then fail the teardown
                for p in find_processes(root):
                    os.kill(p.pid, 9)
            shutil.rmtree(root, ignore_errors=True)
            assert not left, f"processes of the test cluster survived: {left}"


@pytest.fixture
def token_env(cluster):
    return {"RAY_AUTH_TOKEN_PATH": str(cluster.token_file)}


def test_submit_micro_sweep_runs_on_both_nodes(cluster, token_env, tmp_path):
    spec = write_spec(tmp_path)
    storage = cluster.storage / "submit"
    result = submit_cli("submit", str(spec), "--address", cluster.dashboard_url, "--storage", str(storage),
                        "--follow", env=token_env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    job_id = result.stdout.splitlines()[0]
    assert re.fullmatch(r"phasescape-cluster_micro-\d{8}-\d{6}-[0-9a-f]{4}", job_id)
    token = cluster.token_file.read_text().strip()
    assert token not in result.stdout + result.stderr

    table = pd.read_parquet(storage / "cluster_micro" / "results.parquet")  # the shared storage path
    trials = table.groupby("trial_id").last()
    assert len(trials) == 4 and set(trials["status"]) == {"COMPLETED"}
    nodes = {n["node_id"]: n for n in cluster.nodes()}
    assert set(trials["node_id"]) == set(nodes), "trials did not run on both nodes"
    assert json.loads((storage / "cluster_micro" / "manifest.json").read_text())

    listing = submit_cli("jobs", "--address", cluster.dashboard_url, env=token_env)
    assert listing.returncode == 0 and re.search(rf"{job_id}\s+SUCCEEDED", listing.stdout), listing.stdout


def test_ray_job_submit_as_documented(cluster, tmp_path):
    """Ray's own CLI, no phasescape wrapper: cluster/README.md's command, from the project root."""
    spec = tmp_path / "ray_cli.yaml"
    spec.write_text(yaml.safe_dump({**MICRO, "name": "ray_cli", "axes": {"data.sigma": [1.0]}, "seeds": [0]}))
    storage = cluster.storage / "ray-cli"
    ray = str(Path(sys.executable).parent / "ray")
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(cluster.token_file)}
    result = subprocess.run(
        [ray, "job", "submit", "--address", cluster.dashboard_url, "--working-dir", ".",
         "--runtime-env-json", json.dumps({"excludes": [".git", ".venv", "results", "runs"]}), "--",
         "python", "-m", "sweep", "run", str(spec), "--storage", str(storage)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "succeeded" in result.stdout + result.stderr
    table = pd.read_parquet(storage / "ray_cli" / "results.parquet")
    assert set(table["status"]) == {"COMPLETED"}


def test_missing_or_wrong_token_is_one_line_exit_2(cluster, tmp_path):
    spec = write_spec(tmp_path)
    home = tmp_path / "home"  # no ~/.ray/auth_token there
    home.mkdir()
    base = {"HOME": str(home), "RAY_AUTH_TOKEN": "", "RAY_AUTH_TOKEN_PATH": ""}
    for env, words in (({}, "requires a token"), ({"RAY_AUTH_TOKEN": "not-the-token"}, "rejected the token")):
        for args in (["submit", str(spec), "--storage", str(cluster.storage)], ["jobs"]):
            start = time.monotonic()
            result = submit_cli(*args, "--address", cluster.dashboard_url, env={**base, **env})
            lines = result.stderr.strip().splitlines()
            assert result.returncode == 2 and len(lines) == 1 and words in lines[0], result.stderr
            assert "not-the-token" not in result.stderr + result.stdout
            assert time.monotonic() - start < 30


def test_failing_job_is_one_line_exit_1(cluster, token_env, tmp_path):
    spec = write_spec(tmp_path)
    blocker = cluster.storage / "a-file"
    blocker.write_text("not a folder")
    result = submit_cli("submit", str(spec), "--address", cluster.dashboard_url, "--storage", str(blocker / "x"),
                        "--follow", env=token_env, timeout=300)
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("phasescape: error: job ") and "FAILED" in last and "exited with code 2" in last


def test_jobs_stop_and_logs(cluster, token_env, tmp_path):
    spec = write_spec(tmp_path, name="long", steps=3000, axes={"data.sigma": [1.0]}, seeds=[0])
    result = submit_cli("submit", str(spec), "--address", cluster.dashboard_url, "--storage",
                        str(cluster.storage / "long"), env=token_env)
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip().splitlines()[0]
    stop = submit_cli("jobs", "--address", cluster.dashboard_url, "--stop", job_id, env=token_env)
    assert stop.returncode == 0 and f"stop requested for job {job_id}" in stop.stdout, stop.stderr
    logs = submit_cli("jobs", "--address", cluster.dashboard_url, "--logs", job_id, "--follow", env=token_env,
                      timeout=120)
    assert logs.returncode == 1 and "STOPPED" in logs.stderr.strip().splitlines()[-1], logs.stderr
    missing = submit_cli("jobs", "--address", cluster.dashboard_url, "--logs", "no-such-job", env=token_env)
    assert missing.returncode == 2 and "no such job" in missing.stderr
