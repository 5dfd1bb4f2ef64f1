"""A real two-node Ray cluster on this machine, on 127.0.0.1, for tests and demos.

    python -m cluster.local up [--root DIR] [--port 6390] [--dashboard-port 8265] [--auth token|disabled]
    python -m cluster.local status [--root DIR]
    python -m cluster.local down [--root DIR]

``up`` runs ``ray start --head`` and ``ray start --address`` (a second raylet joining the head), each with its own
``--temp-dir`` under ROOT, its own worker-port range and one CPU, and a custom resource naming the node
(``node_head`` / ``node_worker``) so that placement can be checked. The jobs API (dashboard) listens on
127.0.0.1:DASHBOARD_PORT. With ``--auth token`` (the default, as in Ray) a fresh token is written to
ROOT/auth_token (mode 600) and the cluster requires it; ``--auth disabled`` starts an open cluster.
ROOT/shared is a folder for results that every node of this cluster sees.

Every process of the cluster carries ``PHASESCAPE_LOCAL_CLUSTER=ROOT`` in its environment (Ray passes its
environment on to agents, job drivers and workers). ``down`` signals exactly those processes (TERM, then KILL) and
checks that none is left. It never runs ``ray stop``, which would stop every Ray process on the machine, other
people's too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from model.errors import UsageError
from sweep.procs import PARENT, SESSION, alive, stat_fields

MARKER = "PHASESCAPE_LOCAL_CLUSTER"
STATE_FILE = "cluster.json"
TOKEN_FILE = "auth_token"
DEFAULT_ROOT = "/tmp/phasescape-ray"
NODES = (("head", "node_head"), ("worker", "node_worker"))
# Ray puts unix sockets at ROOT/<node>/session_<date>_<time>_<usec>_<pid>/sockets/<name>; Linux allows 107 bytes.
_SOCKET_SUFFIX = len("/worker/session_2026-01-01_00-00-00_000000_4194304/sockets/plasma_store")
_SOCKET_LIMIT = 107


def default_root() -> str:
    return os.environ.get("PHASESCAPE_CLUSTER_ROOT", DEFAULT_ROOT)


@dataclass
class Proc:
    pid: int
    name: str
    cmdline: str


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As Ray's servers bind: a just-stopped cluster's connections (TIME_WAIT) do not hold the port, a listener does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (Ray binds it a moment later; tests use it to avoid fixed ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        fields = stat_fields(pid)
        if fields is None:
            break
        pid = int(fields[PARENT])
    return pids


def find_processes(root: str | Path, sessions: list[int] | None = None) -> list[Proc]:
    """Live (non-zombie) processes of the cluster at ``root``: marker in the environment, a session that
    ``up`` started, or ``root`` in the command line."""
    root = str(Path(root))
    marker = f"{MARKER}={root}".encode() + b"\0"
    sessions = set(sessions or [])
    found, skip = [], _ancestors()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        pid = int(entry)
        fields = stat_fields(pid)
        if not alive(fields):
            continue
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = b"\0" + Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if b"\0" + marker in environ or int(fields[SESSION]) in sessions or f"{root}/" in cmdline:
            found.append(Proc(pid, name, cmdline.strip()))
    return found


class LocalCluster:
    """Start, inspect and stop the local two-node cluster whose files live under ``root``."""

    def __init__(self, root: str | Path | None = None, port: int = 6390, dashboard_port: int = 8265,
                 auth: str = "token", cpus: int = 1, object_store_mb: int = 128):
        self.root = Path(root or default_root()).expanduser().absolute()
        self.port, self.dashboard_port, self.auth, self.cpus = port, dashboard_port, auth, cpus
        self.object_store_mb = object_store_mb
        self.sessions: list[int] = []

    # -- where things are
    @property
    def state_file(self) -> Path:
        return self.root / STATE_FILE

    @property
    def token_file(self) -> Path:
        return self.root / TOKEN_FILE

    @property
    def storage(self) -> Path:
        return self.root / "shared"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def gcs_address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def load(cls, root: str | Path | None = None) -> LocalCluster:
        """The cluster recorded under ``root`` by ``up`` (ports, auth), or a default one if none was recorded."""
        cluster = cls(root)
        if cluster.state_file.is_file():
            state = json.loads(cluster.state_file.read_text())
            cluster.port, cluster.dashboard_port = state["port"], state["dashboard_port"]
            cluster.auth, cluster.cpus, cluster.sessions = state["auth"], state["cpus"], state["sessions"]
        return cluster

    def headers(self) -> dict[str, str]:
        if self.auth == "token" and self.token_file.is_file():
            return {"Authorization": f"Bearer {self.token_file.read_text().strip()}"}
        return {}

    def processes(self) -> list[Proc]:
        return find_processes(self.root, self.sessions)

    # -- up
    def _check(self) -> None:
        if self.auth not in ("token", "disabled"):
            raise UsageError(f"--auth: must be token or disabled, got {self.auth!r}")
        if self.cpus < 1:
            raise UsageError(f"--cpus: must be >= 1, got {self.cpus}")
        if len(str(self.root)) + _SOCKET_SUFFIX > _SOCKET_LIMIT:
            raise UsageError(f"--root {self.root}: too long for Ray's unix sockets (at most "
                             f"{_SOCKET_LIMIT - _SOCKET_SUFFIX} characters); choose a shorter folder, e.g. /tmp/psr")
        if self.processes():
            raise UsageError(f"a cluster is already running under {self.root}; "
                             f"run 'python -m cluster.local down --root {self.root}' first")
        for option, port in (("--port", self.port), ("--dashboard-port", self.dashboard_port)):
            if not _port_free(port):
                raise UsageError(f"{option} {port}: 127.0.0.1:{port} is in use; choose another port")

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_JOB_ID")}
        bin_dir = str(Path(sys.executable).parent)  # drivers and workers run `python` from this venv
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        env[MARKER] = str(self.root)
        env["RAY_AUTH_MODE"] = self.auth
        if self.auth == "token":
            env["RAY_AUTH_TOKEN_PATH"] = str(self.token_file)
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        env["DASHBOARD_METRIC_PORT"] = str(free_port())  # Ray's fixed default (44227) would clash between clusters
        return env

    def _ray_start(self, node: str, args: list[str], env: dict[str, str], timeout: float) -> None:
        log = self.root / f"{node}.log"
        command = [sys.executable, "-m", "cluster._raystart", "start", *args]
        with open(log, "w") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.root,
                                    start_new_session=True)
        self.sessions.append(proc.pid)  # ray start's children keep its session id (except job drivers)
        self._save()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise RuntimeError(f"ray start ({node}) did not finish in {timeout:.0f}s; see {log}") from None
        if code != 0:
            lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
            raise RuntimeError(f"ray start ({node}) failed with exit code {code}: "
                               f"{lines[-1].strip() if lines else 'no output'} (log: {log})")

    def _save(self) -> None:
        state = {"root": str(self.root), "port": self.port, "dashboard_port": self.dashboard_port, "auth": self.auth,
                 "cpus": self.cpus, "sessions": self.sessions, "dashboard_url": self.dashboard_url,
                 "gcs_address": self.gcs_address, "storage": str(self.storage),
                 "token_file": str(self.token_file) if self.auth == "token" else None}
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")

    def up(self, timeout: float = 180) -> dict[str, Any]:
        """Start head and worker; wait until the jobs API answers and both nodes are alive. Cleans up on failure."""
        self._check()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.storage.mkdir(exist_ok=True)
        if self.auth == "token":
            self.token_file.touch(mode=0o600)
            self.token_file.chmod(0o600)
            self.token_file.write_text(secrets.token_hex(32))
        env, deadline = self.environment(), time.monotonic() + timeout
        common = ["--node-ip-address", "127.0.0.1", "--num-cpus", str(self.cpus), "--num-gpus", "0",
                  "--object-store-memory", str(self.object_store_mb * 2**20), "--disable-usage-stats",
                  "--dashboard-agent-listen-port", "0"]
        try:
            for i, (node, resource) in enumerate(NODES):
                low = 20000 + 1000 * (self.port % 10) + 400 * i  # own worker-port range per node, below ephemeral
                args = [*common, "--resources", json.dumps({resource: 1}), "--temp-dir", str(self.root / node),
                        "--min-worker-port", str(low), "--max-worker-port", str(low + 399)]
                if node == "head":
                    args = ["--head", "--port", str(self.port), "--dashboard-host", "127.0.0.1",
                            "--dashboard-port", str(self.dashboard_port), "--include-dashboard", "true",
                            "--ray-client-server-port", str(free_port()), *args]
                else:
                    args = ["--address", self.gcs_address, *args]
                self._ray_start(node, args, env, max(deadline - time.monotonic(), 1))
                self.wait(i + 1, max(deadline - time.monotonic(), 1))
        except BaseException:
            self.down()
            raise
        return self.status()

    # -- inspect
    def nodes(self, timeout: float = 5) -> list[dict[str, Any]]:
        """Alive nodes as the head's state API lists them (node_id, is_head_node, resources_total, ...)."""
        r = requests.get(f"{self.dashboard_url}/api/v0/nodes", headers=self.headers(), timeout=timeout,
                         params={"detail": "1", "limit": "100"})
        r.raise_for_status()
        return [n for n in r.json()["data"]["result"]["result"] if n.get("state") == "ALIVE"]

    def wait(self, n_nodes: int, timeout: float) -> None:
        deadline, last = time.monotonic() + timeout, "no answer"
        while time.monotonic() < deadline:
            try:
                alive = self.nodes(timeout=5)
                if len(alive) >= n_nodes:
                    return
                last = f"{len(alive)} of {n_nodes} nodes alive"
            except (requests.RequestException, KeyError, ValueError) as error:
                last = type(error).__name__
            time.sleep(1)
        raise RuntimeError(f"cluster under {self.root} not ready after {timeout:.0f}s ({last}); "
                           f"logs in {self.root}/*/session_latest/logs")

    def status(self) -> dict[str, Any]:
        procs = self.processes()
        state: dict[str, Any] = {"root": str(self.root), "running": bool(procs), "processes": len(procs),
                                 "dashboard_url": self.dashboard_url, "gcs_address": self.gcs_address,
                                 "auth": self.auth, "storage": str(self.storage), "nodes": []}
        if self.auth == "token":
            state["token_file"] = str(self.token_file)
        if procs:
            try:
                state["nodes"] = [{"node_id": n["node_id"], "head": n.get("is_head_node", False),
                                   "resources": {k: v for k, v in n.get("resources_total", {}).items()
                                                 if k in ("CPU", "GPU", "node_head", "node_worker")}}
                                  for n in self.nodes()]
            except (requests.RequestException, KeyError, ValueError) as error:
                state["nodes_error"] = f"jobs API at {self.dashboard_url} did not answer ({type(error).__name__})"
        return state

    # -- down
    def down(self, grace: float = 5, timeout: float = 30) -> list[int]:
        """Stop every process of this cluster (TERM, then KILL after ``grace`` s); returns their pids.
        Raises RuntimeError if some are still alive after ``timeout`` s."""
        deadline, stopped = time.monotonic() + timeout, set()
        sig, term_sent = signal.SIGTERM, time.monotonic()
        while True:
            procs = self.processes()
            if not procs:
                break
            if time.monotonic() > deadline:
                left = ", ".join(f"{p.pid} ({p.name})" for p in procs)
                raise RuntimeError(f"processes of the cluster under {self.root} still alive: {left}")
            if sig == signal.SIGTERM and time.monotonic() - term_sent > grace:
                sig = signal.SIGKILL
            for p in procs:
                if p.pid not in stopped or sig == signal.SIGKILL:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(p.pid, sig)
                stopped.add(p.pid)
            time.sleep(0.5)
        if self.state_file.exists():
            self.state_file.unlink()
        self.sessions = []
        return sorted(stopped)


def _print_status(state: dict[str, Any]) -> None:
    if not state["running"]:
        print(f"no local cluster running under {state['root']}")
        return
    print(f"local Ray cluster under {state['root']}: {len(state['nodes'])} node(s) alive, "
          f"{state['processes']} processes")
    for n in state["nodes"]:
        print(f"  {'head  ' if n['head'] else 'worker'} {n['node_id'][:12]}  {n['resources']}")
    if "nodes_error" in state:
        print(f"  {state['nodes_error']}")
    print(f"  jobs API (dashboard): {state['dashboard_url']}")
    print(f"  GCS address:          {state['gcs_address']}")
    if state["auth"] == "token":
        print(f"  auth:                 token in {state['token_file']}; "
              f"export RAY_AUTH_TOKEN_PATH={state['token_file']}")
    else:
        print("  auth:                 disabled (anyone on this machine can submit)")
    print(f"  shared storage:       {state['storage']}")
    print(f"  submit:  phasescape submit SPEC.yaml --address {state['dashboard_url']} --storage {state['storage']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster.local", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("up", "start head + worker"), ("down", "stop every process of the cluster"),
                       ("status", "nodes, addresses, token file")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--root", default=None, help=f"folder for state, logs, token, shared storage "
                                                    f"(default $PHASESCAPE_CLUSTER_ROOT or {DEFAULT_ROOT})")
        if name == "up":
            p.add_argument("--port", type=int, default=6390, help="GCS port (default 6390)")
            p.add_argument("--dashboard-port", type=int, default=8265, help="jobs API port (default 8265)")
            p.add_argument("--auth", default="token", choices=("token", "disabled"),
                           help="token (default; writes ROOT/auth_token) or disabled")
            p.add_argument("--cpus", type=int, default=1, help="CPUs per node (default 1)")
            p.add_argument("--timeout", type=float, default=180, help="seconds to wait for both nodes")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            cluster = LocalCluster(args.root, args.port, args.dashboard_port, args.auth, args.cpus)
            _print_status(cluster.up(timeout=args.timeout))
        elif args.command == "down":
            cluster = LocalCluster.load(args.root)
            pids = cluster.down()
            print(f"stopped {len(pids)} processes of the cluster under {cluster.root}; none left")
        else:
            state = LocalCluster.load(args.root).status()
            _print_status(state)
            return 0 if state["running"] else 1
    except UsageError as error:
        print(f"cluster.local: error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f"cluster.local: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
