"""The embedded local Ray that ``phasescape run`` and ``study`` start: every socket of it on 127.0.0.1, and Ray's
token authentication as Ray sets it up, without its notice on every run."""

import os
import subprocess
import sys

import pytest
from conftest import ROOT

LISTENERS = r"""
import json, time
import psutil, ray
from sweep.ray_session import connect

connect(None, num_cpus=1)

@ray.remote
def task():
    return 1

@ray.remote(runtime_env={"env_vars": {"PHASESCAPE_TEST": "1"}})  # Tune's trial actors carry an env of their own
class Actor:
    def ping(self):
        return 1

assert ray.get(task.remote()) == 1
actor = Actor.remote()
assert ray.get(actor.ping.remote()) == 1
time.sleep(3)  # the agents open their servers after the node is up
node = ray._private.worker._global_node
session = node.get_session_dir_path()
pids = {p.process.pid for procs in node.all_processes.values() for p in procs}
for pid in list(pids):
    pids.update(c.pid for c in psutil.Process(pid).children(recursive=True))
for proc in psutil.process_iter(["pid", "cmdline"]):
    if session in " ".join(proc.info["cmdline"] or []):
        pids.add(proc.info["pid"])
listening = []
for pid in pids:
    try:
        proc = psutil.Process(pid)
        listening += [(proc.name(), c.laddr.ip, c.laddr.port) for c in proc.net_connections(kind="inet")
                      if c.status == psutil.CONN_LISTEN]
    except psutil.Error:
        pass
print(json.dumps({"node_ip": node.node_ip_address, "listening": listening}))
ray.shutdown()
"""


@pytest.mark.slow
def test_embedded_ray_listens_on_loopback_only():
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}  # Ray's default: token authentication
    out = subprocess.run([sys.executable, "-c", LISTENERS], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Token authentication is enabled" not in out.stderr + out.stdout
    import json

    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["node_ip"] == "127.0.0.1"
    names = {name for name, _, _ in found["listening"]}
    assert {"gcs_server", "raylet"} <= names, found  # the servers were seen, so the check can fail
    outside = [entry for entry in found["listening"] if entry[1] not in ("127.0.0.1", "::ffff:127.0.0.1", "::1")]
    assert outside == [], f"listening beyond 127.0.0.1: {outside}"
