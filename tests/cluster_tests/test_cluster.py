"""cluster/ without a running cluster: argument handling, tokens, staging, fast failures, configs, process cleanup."""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from cluster import submit
from cluster.auth import Token, find_token, redact
from cluster.local import MARKER, LocalCluster, _port_free, find_processes, free_port
from model.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "cluster"
MICRO = {"name": "cluster_micro", "base": "micro", "axes": {"data.sigma": [1.0, 1.5]}, "seeds": [0, 1],
         "resources": {"cpu": 1}}


def submit_cli(*args, env=None, timeout=60):
    """`phasescape submit|jobs ...` in a subprocess; returns CompletedProcess with text output."""
    return subprocess.run([sys.executable, "-m", "sweep", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def parse(*argv):
    parser = argparse.ArgumentParser(prog="phasescape")
    submit.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def write_spec(folder: Path, **changes) -> Path:
    path = folder / f"{changes.get('name', MICRO['name'])}.yaml"
    path.write_text(yaml.safe_dump({**MICRO, **changes}))
    return path


def test_register_adds_submit_and_jobs_with_handlers():
    args = parse("submit", "s.yaml", "--address", "http://h:8265", "--storage", "/shared", "--follow")
    assert args.command == "submit" and args.follow and args.storage == "/shared" and callable(args.func)
    args = parse("jobs", "--address", "h:8265", "--stop", "raysubmit_1")
    assert args.command == "jobs" and args.stop == "raysubmit_1" and callable(args.func)
    with pytest.raises(SystemExit):  # no way to give the token on the command line
        parse("submit", "s.yaml", "--token", "abc")


def test_token_sources_in_order_and_never_shown(tmp_path):
    (tmp_path / "f").write_text("from-file\n")
    (tmp_path / "p").write_text("from-path")
    (tmp_path / "d").write_text("from-default")
    default = tmp_path / "d"
    env = {"RAY_AUTH_TOKEN": "from-env", "RAY_AUTH_TOKEN_PATH": str(tmp_path / "p")}
    assert find_token(str(tmp_path / "f"), env, default).value == "from-file"
    assert find_token(None, env, default).value == "from-env"
    assert find_token(None, {"RAY_AUTH_TOKEN_PATH": str(tmp_path / "p")}, default).value == "from-path"
    assert find_token(None, {}, default).value == "from-default"
    assert find_token(None, {}, tmp_path / "missing") is None
    token = find_token(None, env, default)
    assert "from-env" not in repr(token) and token.headers() == {"Authorization": "Bearer from-env"}
    assert redact("bad from-env here", token) == "bad <token> here"
    (tmp_path / "blank").write_text("\n")
    for bad in ("blank", "s3cr3t-pasted-by-mistake"):
        with pytest.raises(UsageError, match="--token-file") as error:
            find_token(str(tmp_path / bad), {}, default)
        assert bad not in str(error.value)
    assert repr(Token("s3cr3t", "x")) == "Token(source='x')"


def test_address_is_the_jobs_api():
    assert submit.resolve_address("127.0.0.1:8265", {}) == "http://127.0.0.1:8265"
    assert submit.resolve_address("https://h:443/", {}) == "https://h:443"
    assert submit.resolve_address(None, {"RAY_API_SERVER_ADDRESS": "http://a:8265"}) == "http://a:8265"
    assert submit.resolve_address(None, {"RAY_ADDRESS": "http://b:8265"}) == "http://b:8265"
    for address, env in ((None, {}), (None, {"RAY_ADDRESS": "10.0.0.1:6379"}), ("ray://h:10001", {})):
        with pytest.raises(UsageError, match="--address"):
            submit.resolve_address(address, env)


def test_plan_sweep_needs_shared_storage_and_validates_the_spec(tmp_path):
    spec = write_spec(tmp_path)
    plan = submit.plan(parse("submit", str(spec), "--storage", "/mnt/shared/results", "--max-concurrent", "2"))
    assert plan.kind == "sweep" and plan.results == "/mnt/shared/results/cluster_micro"
    assert plan.entrypoint == ["python", "-m", "sweep", "run", "submitted/cluster_micro.yaml", "--storage",
                               "/mnt/shared/results", "--max-concurrent", "2"]
    with pytest.raises(UsageError, match="URIs are not supported"):
        submit.plan(parse("submit", str(spec), "--storage", "s3://bucket/r"))
    (tmp_path / "abs").mkdir()
    assert submit.plan(parse("submit", str(write_spec(tmp_path / "abs", storage="/abs")))).entrypoint[-1] == "/abs"
    with pytest.raises(UsageError, match="storage .*relative"):
        submit.plan(parse("submit", str(spec)))  # the spec's default storage 'results' is relative
    with pytest.raises(UsageError, match="--storage 'out': relative"):
        submit.plan(parse("submit", str(spec), "--storage", "out"))
    with pytest.raises(UsageError, match="axes.data.sigm"):
        bad = write_spec(tmp_path, name="bad", axes={"data.sigm": [1.0]})
        submit.plan(parse("submit", str(bad), "--storage", "/s"))
    with pytest.raises(UsageError, match="--workers: only for studies"):
        submit.plan(parse("submit", str(spec), "--storage", "/s", "--workers", "2"))
    with pytest.raises(UsageError, match="secrets"):
        submit.plan(parse("submit", str(spec), "--storage", "/s", "--env", "RAY_AUTH_TOKEN=x"))
    env_plan = submit.plan(parse("submit", str(spec), "--storage", "/s", "--env", "A=1", "--pip", "scipy"))
    assert env_plan.runtime_env == {"pip": ["scipy"], "env_vars": {"A": "1"}}


def test_plan_passes_report_every_to_the_jobs_run_only_when_given(tmp_path):
    spec = write_spec(tmp_path)
    given = submit.plan(parse("submit", str(spec), "--storage", "/s", "--report-every", "0"))
    assert given.entrypoint[-2:] == ["--report-every", "0"]  # the job's run rebuilds its report where it runs
    assert "--report-every" not in submit.plan(parse("submit", str(spec), "--storage", "/s")).entrypoint
    with pytest.raises(UsageError, match="--report-every: must be >= 0"):
        submit.plan(parse("submit", str(spec), "--storage", "/s", "--report-every", "-5"))


def test_plan_detects_a_study(tmp_path):
    studies = sorted((ROOT / "studies").glob("*.yaml")) if (ROOT / "studies").is_dir() else []
    if not studies:
        pytest.skip("no study spec in studies/ yet")
    raw = yaml.safe_load(studies[0].read_text())
    assert submit.is_study(raw) and not submit.is_study(MICRO)
    plan = submit.plan(parse("submit", str(studies[0]), "--results", "/mnt/shared", "--workers", "3"))
    assert plan.kind == "study" and plan.results == f"/mnt/shared/studies/{raw['name']}"
    assert plan.entrypoint[:4] == ["python", "-m", "sweep", "study"] and plan.entrypoint[-2:] == ["--workers", "3"]
    with pytest.raises(UsageError, match="--results: required"):
        submit.plan(parse("submit", str(studies[0])))


def test_stage_ships_packages_and_spec_only(tmp_path):
    spec = write_spec(tmp_path)
    plan = submit.plan(parse("submit", str(spec), "--storage", "/s"))
    staged = submit.stage(plan, tmp_path / "stage")
    names = {p.name for p in staged.iterdir()}
    assert {"model", "sweep", "cluster", "submitted"} <= names and not names & {".venv", ".git", "results", "runs"}
    assert (staged / "submitted" / spec.name).read_text() == spec.read_text()
    assert (staged / "sweep" / "__main__.py").is_file() and not list(staged.rglob("__pycache__"))
    only_spec = submit.stage(plan, tmp_path / "stage2", ship_code=False)
    assert {p.name for p in only_spec.iterdir()} == {"submitted"}


def test_unreachable_address_is_one_line_exit_2_fast(tmp_path):
    spec = write_spec(tmp_path)
    port = free_port()  # nothing listens there
    for args in (["submit", str(spec), "--storage", "/tmp/x"], ["jobs"], ["jobs", "--logs", "x"]):
        start = time.monotonic()
        result = submit_cli(*args, "--address", f"http://127.0.0.1:{port}", "--timeout", "3")
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "no Ray jobs API" in lines[0] and f"127.0.0.1:{port}" in lines[0]
        assert time.monotonic() - start < 20


def test_bad_input_fails_before_connecting(tmp_path):
    result = submit_cli("submit", str(tmp_path / "missing.yaml"), "--address", "http://127.0.0.1:9")
    assert result.returncode == 2 and "spec file not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = submit_cli("submit", str(write_spec(tmp_path)), "--address", "http://127.0.0.1:9")
    assert result.returncode == 2 and "relative" in result.stderr
    result = submit_cli("jobs")
    assert result.returncode == 2 and "--address: required" in result.stderr


def test_down_stops_exactly_the_marked_processes(tmp_path):
    root = tmp_path / "c"
    env = {**os.environ, MARKER: str(root)}
    marked = [subprocess.Popen(["sleep", "300"], env=env, start_new_session=True) for _ in range(2)]
    stubborn = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                                 "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"], env=env)
    other = subprocess.Popen(["sleep", "300"], env={**os.environ, MARKER: str(root) + "-other"})
    # Like Ray's agents on the head node: no marker, no folder in the command line, but in a session up() started.
    unmarked = {k: v for k, v in os.environ.items() if k != MARKER}
    leader = subprocess.Popen(["sh", "-c", "sleep 300 & wait"], env=unmarked, start_new_session=True)
    try:
        time.sleep(0.3)
        in_session = {int(pid) for pid in subprocess.run(["ps", "-o", "pid=", "-s", str(leader.pid)],
                                                         capture_output=True, text=True).stdout.split()}
        assert len(in_session) == 2  # the shell and its sleep
        assert {p.pid for p in find_processes(root)} == {p.pid for p in (*marked, stubborn)}
        cluster = LocalCluster(root)
        cluster.sessions = [leader.pid]
        found = {p.pid for p in find_processes(root, cluster.sessions)}
        assert found == {p.pid for p in (*marked, stubborn)} | in_session
        stopped = cluster.down(grace=1)
        assert set(stopped) == found and not find_processes(root, [leader.pid])
        for p in (*marked, stubborn, leader):
            assert p.wait(timeout=5) in (-signal.SIGTERM, -signal.SIGKILL)
        assert other.poll() is None  # not ours: untouched
    finally:
        for p in (*marked, stubborn, other, leader):
            p.kill()
            p.wait()


def test_port_check_ignores_closed_connections_but_not_listeners():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    assert not _port_free(port)  # listening
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    conn.close()  # the server side closes first, so its end of the connection waits in TIME_WAIT
    client.close()
    server.close()
    time.sleep(0.2)
    assert _port_free(port)  # what a cluster just stopped leaves behind: Ray could bind it, so up must not refuse


def test_local_cluster_refuses_bad_settings(tmp_path):
    short = tempfile.mkdtemp(prefix="psr-", dir="/tmp")  # Ray's unix socket paths need a short root
    long_root = "/tmp/" + "x" * 60
    result = subprocess.run([sys.executable, "-m", "cluster.local", "up", "--root", long_root], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "too long" in result.stderr and not Path(long_root).exists()
    busy = free_port()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", busy))
        s.listen()
        result = subprocess.run([sys.executable, "-m", "cluster.local", "up", "--root", short,
                                 "--dashboard-port", str(busy)], cwd=ROOT, capture_output=True, text=True,
                                timeout=60)
    assert result.returncode == 2 and f"--dashboard-port {busy}" in result.stderr, result.stderr
    shutil.rmtree(short)
    result = subprocess.run([sys.executable, "-m", "cluster.local", "status", "--root", str(tmp_path / "none")],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "no local cluster" in result.stdout


# --- configuration files: parse, and check the keys the tools need ----------------------------------------


def _docs(name):
    return [d for d in yaml.safe_load_all((CLUSTER / name).read_text()) if d]


def test_cluster_launcher_yaml():
    (config,) = _docs("aws-gpu.yaml")
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(dict(config)))  # Ray's own schema and checks for `ray up`
    assert config["provider"]["type"] == "aws" and config["provider"]["region"]
    types = config["available_node_types"]
    assert config["head_node_type"] in types and types[config["head_node_type"]]["resources"] == {"CPU": 0}
    gpu = [t for t in types.values() if t.get("resources", {}).get("GPU", 0) >= 1]
    assert gpu and all(t["node_config"]["InstanceType"] and t["max_workers"] >= 1 for t in gpu)
    mount = " ".join(config["initialization_commands"])  # EFS on the host, bound into the container
    assert "efs" in mount and "/mnt/shared" in mount and "--volume /mnt/shared:/mnt/shared" in config["docker"][
        "run_options"]
    head = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-port=8265" in head and "RAY_AUTH_MODE=token" in head
    assert any("ray start --address=$RAY_HEAD_IP:6379" in c for c in config["worker_start_ray_commands"])
    assert "auth_token" in " ".join(config["setup_commands"])


def test_kuberay_manifests():
    docs = {d["kind"]: d for d in _docs("kuberay.yaml")}
    assert set(docs) == {"RayCluster", "RayJob", "PersistentVolumeClaim"}
    for doc in docs.values():
        assert doc["apiVersion"] and doc["metadata"]["name"]
    assert docs["RayCluster"]["apiVersion"] == docs["RayJob"]["apiVersion"] == "ray.io/v1"
    cluster = docs["RayCluster"]["spec"]
    pvc = docs["PersistentVolumeClaim"]
    assert "ReadWriteMany" in pvc["spec"]["accessModes"]
    job = docs["RayJob"]["spec"]
    assert job["entrypoint"].startswith("python -m sweep run ") and "--storage /mnt/shared" in job["entrypoint"]
    assert job["clusterSelector"]["ray.io/cluster"] == docs["RayCluster"]["metadata"]["name"]
    groups = [("head", cluster["headGroupSpec"])] + [(g["groupName"], g) for g in cluster["workerGroupSpecs"]]
    for _, group in groups:
        pod = group["template"]["spec"]
        (container,) = [c for c in pod["containers"] if c["name"].startswith("ray")]
        assert container["image"] and "/mnt/shared" in {m["mountPath"] for m in container["volumeMounts"]}
        assert any(v.get("persistentVolumeClaim", {}).get("claimName") == pvc["metadata"]["name"]
                   for v in pod["volumes"])
    gpu_groups = [g for _, g in groups[1:]
                  if "nvidia.com/gpu" in g["template"]["spec"]["containers"][0]["resources"]["limits"]]
    assert gpu_groups and all("num-gpus" in g["rayStartParams"] for g in gpu_groups)
    assert cluster["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    env = {e["name"]: e for e in cluster["headGroupSpec"]["template"]["spec"]["containers"][0].get("env", [])}
    assert env["RAY_AUTH_MODE"]["value"] == "token" and "secretKeyRef" in env["RAY_AUTH_TOKEN"]["valueFrom"]


def test_dockerfile():
    text = (CLUSTER / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert lines[0].startswith(("FROM ", "ARG "))
    assert any(line.startswith("FROM ") and "rayproject/ray" in line for line in lines)
    assert "ray[default" in text and "pip install" in text and "torch" in text
    assert any(line.startswith("COPY ") for line in lines) and "WORKDIR" in text
    ignored = (CLUSTER / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv", "results", "runs"} <= set(ignored)
    for line in lines:  # everything COPY'd exists in the build context (the repository root)
        if line.startswith("COPY "):
            for source in [w for w in line.split()[1:-1] if not w.startswith("--")]:
                assert (ROOT / source).exists(), source
