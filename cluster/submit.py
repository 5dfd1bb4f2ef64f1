"""``phasescape submit`` and ``phasescape jobs``: run sweeps and studies on an existing Ray cluster (Ray Jobs API).

    phasescape submit SPEC.yaml --address http://HEAD:8265 [--storage DIR] [--follow]
    phasescape jobs --address http://HEAD:8265 [--logs ID [--follow]] [--stop ID]

``submit`` validates the spec here (the same checks as ``phasescape validate``), packs the phasescape packages and
the spec into a staging folder that Ray uploads as the job's ``working_dir`` (nothing else of the work tree
travels: no .venv, results, runs or .git), and submits ``python -m sweep run submitted/SPEC --storage ...`` (or
``python -m sweep study ...`` for a study spec: one with ``objectives``/``policy``/``budget`` keys, or ``--study``)
with ``ray.job_submission.JobSubmissionClient``. It prints the job id on the first line of stdout. With
``--follow`` it streams the job's logs and exits 0 if the job succeeded, 1 if it failed or was stopped.

Results must land where every node sees them: ``--storage`` (or the spec's ``storage``) must be an absolute path
on a shared file system; a relative path would resolve inside the job's temporary
working_dir on the head node, and is refused.

A study's storage URL must not carry a password (the entrypoint is shown to everyone who can list jobs): ``submit``
refuses it; the password goes to the nodes (PGPASSWORD, ~/.pgpass, or PHASESCAPE_STORAGE on the head). Whatever
``submit`` and ``jobs`` print passes through ``shown`` (the token and, with ``hide_password``, any password masked).

Token authentication: the token is sent as ``Authorization: Bearer`` and read from ``--token-file``,
``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token`` (see cluster/auth.py); never from the command
line, never printed, never put in the job's runtime_env.

Exit status: 0 done; 1 the job failed or was stopped (``--follow``), or the cluster answered with an error;
2 bad input or the cluster could not be used (bad spec, unreachable address, missing or rejected token).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import os
import secrets
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from analysis.cli import LIVE_EVERY_S, check_report_every
from cluster.auth import Token, find_token, redact
from model.errors import PhasescapeError, UsageError
from sweep.masking import has_password, hide_password
from sweep.specfile import load_yaml

PACKAGES = ("model", "sweep", "analysis", "cluster")  # what `python -m sweep` needs on the cluster
SUBMITTED = "submitted"  # folder of the staged working_dir that holds the spec
STUDY_KEYS = ("study", "objectives", "policy", "budget")
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
ADDRESS_HELP = "the head node's Ray jobs API (dashboard), e.g. http://HEAD:8265 (default: $RAY_API_SERVER_ADDRESS)"


class JobError(PhasescapeError):
    """The cluster was reached, but the job failed or the cluster refused a request: one line, exit status 1."""

    exit_status = 1


# --- addresses and the client ---------------------------------------------------------------------------------


def resolve_address(address: str | None, environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    address = address or env.get("RAY_API_SERVER_ADDRESS") or ""
    if not address and env.get("RAY_ADDRESS", "").startswith(("http://", "https://")):
        address = env["RAY_ADDRESS"]
    if not address:
        raise UsageError(f"--address: required: {ADDRESS_HELP}")
    if "://" not in address:
        address = "http://" + address
    if not address.startswith(("http://", "https://")):
        raise UsageError(f"--address {address}: the jobs API is plain HTTP(S), e.g. http://HEAD:8265; "
                         f"ray:// (Ray Client) and GCS addresses (port 6379) are not it")
    return address.rstrip("/")


def probe(address: str, token: Token | None, timeout: float) -> str:
    """Check that ``address`` is a Ray jobs API that accepts ``token``; returns its Ray version. Fast failure."""
    import requests

    headers = token.headers() if token else {}
    try:
        r = requests.get(f"{address}/api/version", headers=headers, timeout=(timeout, timeout))
    except requests.exceptions.Timeout:
        raise UsageError(f"--address {address}: no answer within {timeout:g}s; check the host, the port "
                         f"(the dashboard's, default 8265) and firewalls, or raise --timeout") from None
    except requests.exceptions.RequestException as error:
        reason = type(error).__name__
        if isinstance(error, requests.exceptions.ConnectionError):
            reason = "connection refused or host unreachable"
        raise UsageError(f"--address {address}: no Ray jobs API there ({reason}); is the cluster up and is this "
                         f"the dashboard port (default 8265)?") from None
    if r.status_code == 401:
        raise UsageError(f"--address {address}: the cluster requires a token and none was found; set "
                         f"RAY_AUTH_TOKEN_PATH (or RAY_AUTH_TOKEN) or pass --token-file")
    if r.status_code == 403:
        raise UsageError(f"--address {address}: the cluster rejected the token from {token.source if token else '?'}; "
                         f"use the cluster's token")
    try:
        version = r.json()["ray_version"]
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"--address {address}: answered HTTP {r.status_code} but is not a Ray jobs API; give the "
                         f"head's dashboard address (default port 8265)") from None
    return version


@contextlib.contextmanager
def _without(*names: str):
    """JobSubmissionClient prefers RAY_API_SERVER_ADDRESS / RAY_ADDRESS over its address argument: hide them."""
    saved = {n: os.environ.pop(n) for n in names if n in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def connect(address: str | None, token_file: str | None = None, timeout: float = 10):
    """A JobSubmissionClient for the cluster, after a fast probe (address, token). Returns (client, address, token)."""
    address = resolve_address(address)
    if timeout <= 0:
        raise UsageError(f"--timeout: must be > 0, got {timeout:g}")
    token = find_token(token_file)
    probe(address, token, timeout)
    from ray.job_submission import JobSubmissionClient

    for name in ("ray", "ray.dashboard.modules.dashboard_sdk", "ray.dashboard.modules.job.sdk",
                 "ray._private.runtime_env.packaging"):  # Ray sets these to INFO: no lines about uploads, websockets
        logging.getLogger(name).setLevel(logging.WARNING)

    with _without("RAY_API_SERVER_ADDRESS", "RAY_ADDRESS"):
        try:
            client = JobSubmissionClient(address, headers=token.headers() if token else None)
        except Exception as error:  # the probe passed, so this is rare: keep it to one line
            raise UsageError(f"--address {address}: {_line(error, token)}") from None
    return client, address, token


def shown(text: str, token: Token | None) -> str:
    """``text`` as it may be printed: the cluster's token and any password (``hide_password``) masked."""
    return hide_password(redact(text, token))


def _line(error: BaseException, token: Token | None = None) -> str:
    text = shown(str(error), token).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


# --- the spec and what travels with it ------------------------------------------------------------------------


@dataclass
class Plan:
    kind: str  # sweep | study
    name: str
    spec_path: Path
    entrypoint: list[str]
    results: str  # where the results land, as the cluster sees it
    runtime_env: dict[str, Any] = field(default_factory=dict)


def is_study(raw: dict[str, Any]) -> bool:
    return any(key in raw for key in STUDY_KEYS)


def shared_location(value: str, option: str) -> str:
    """An absolute path on a shared file system mounted on every node; relative paths and URIs are refused
    (trials write their folders with plain file I/O, so an object store must be mounted, e.g. with s3fs)."""
    if "://" in value:
        raise UsageError(f"{option} {hide_password(value)!r}: URIs are not supported for results; mount the bucket "
                         f"on every node (e.g. s3fs, gcsfuse) and pass its absolute path")
    if not Path(value).expanduser().is_absolute() or value.startswith("~"):
        raise UsageError(f"{option} {hide_password(value)!r}: relative; on a cluster results must go to a folder "
                         f"every node sees (an absolute path on a shared file system, e.g. /mnt/shared/results); "
                         f"pass {option}")
    return value


def study_storage(args: argparse.Namespace, raw: dict[str, Any]) -> str | None:
    """The study's storage URL for the entrypoint, or None (the job then uses $PHASESCAPE_STORAGE or SQLite).

    The entrypoint and the staged spec are shown to (or downloadable by) everyone with access to the cluster, so a
    URL with a password is refused, in ``--storage`` and in the spec's ``storage`` alike.
    """
    from sweep.study.storage import ENV

    for option, url in (("--storage", args.storage), ("storage (in the spec)", raw.get("storage"))):
        if isinstance(url, str) and has_password(url):
            raise UsageError(f"{option} {hide_password(url)}: a password must not travel in the job (its entrypoint "
                             f"and spec are shown to everyone who can list jobs); give the URL without ':***' and the "
                             f"password in PGPASSWORD or ~/.pgpass on the cluster's nodes, or leave the URL out and "
                             f"set {ENV} in the nodes' environment")
    return args.storage or raw.get("storage")


def validate_sweep(raw: dict[str, Any], path: Path) -> None:
    """The checks of ``phasescape validate``; the storage folder is checked on the cluster, not here."""
    from sweep.spec import parse_spec

    parse_spec(dict(raw, storage=tempfile.gettempdir()), str(path))


def validate_study(raw: dict[str, Any], path: Path) -> None:
    """The checks of ``phasescape study``, before anything is submitted."""
    from sweep.study.spec import parse_spec

    parse_spec(raw, str(path))


def plan(args: argparse.Namespace) -> Plan:
    path = Path(args.spec)
    raw = load_yaml(path, "sweep or study spec", "see sweeps/ and studies/")
    kind = "study" if args.study or is_study(raw) else "sweep"
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise UsageError(f"{path}: name: missing; every spec needs a name")
    staged = f"{SUBMITTED}/{path.name}"
    if kind == "sweep":
        for option in ("results", "n_trials", "workers"):
            if getattr(args, option) is not None:
                raise UsageError(f"--{option.replace('_', '-')}: only for studies; {path} is a sweep spec")
        validate_sweep(raw, path)
        storage = shared_location(args.storage or raw.get("storage") or "results",
                                  "--storage" if args.storage else "storage (in the spec)")
        entry = ["python", "-m", "sweep", "run", staged, "--storage", storage]
        if args.max_concurrent is not None:
            if args.max_concurrent < 1:
                raise UsageError(f"--max-concurrent: must be >= 1, got {args.max_concurrent}")
            entry += ["--max-concurrent", str(args.max_concurrent)]
        if args.report_every is not None:  # else the job's run rebuilds at its own default
            check_report_every(args.report_every)
            entry += ["--report-every", str(args.report_every)]
        results = f"{storage.rstrip('/')}/{name}"
    else:
        if args.max_concurrent is not None:
            raise UsageError(f"--max-concurrent: only for sweeps; {path} is a study spec (use --workers)")
        if args.report_every is not None:
            raise UsageError(f"--report-every: only for sweeps; {path} is a study spec")
        validate_study(raw, path)
        if not args.results:
            raise UsageError("--results: required for a study on a cluster: a folder every node sees, "
                             "e.g. --results /mnt/shared/results")
        results_root = shared_location(args.results, "--results")
        entry = ["python", "-m", "sweep", "study", staged, "--results", results_root]
        storage = study_storage(args, raw)
        if storage:
            entry += ["--storage", storage]
        for option in ("n_trials", "workers"):
            value = getattr(args, option)
            if value is not None:
                if value < 1:
                    raise UsageError(f"--{option.replace('_', '-')}: must be >= 1, got {value}")
                entry += [f"--{option.replace('_', '-')}", str(value)]
        results = f"{results_root.rstrip('/')}/studies/{name}"
    runtime_env: dict[str, Any] = {}
    if args.pip:
        runtime_env["pip"] = list(args.pip)
    env_vars = {}
    for pair in args.env:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--env {pair!r}: expected KEY=VALUE")
        if "TOKEN" in key.upper() or "PASSWORD" in key.upper() or "SECRET" in key.upper() or has_password(value):
            raise UsageError(f"--env {key}: secrets must not travel in the job's runtime_env (it is shown by "
                             f"'ray job list'); give them to the cluster's nodes instead")
        env_vars[key] = value
    if env_vars:
        runtime_env["env_vars"] = env_vars
    return Plan(kind, name, path, entry, results, runtime_env)


def stage(plan: Plan, folder: Path, ship_code: bool = True) -> Path:
    """Fill ``folder`` with what the job's working_dir holds: the phasescape packages and submitted/SPEC."""
    if ship_code:
        for package in PACKAGES:
            spec = importlib.util.find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                continue  # e.g. analysis not installed: `phasescape run` does not need it
            source = Path(next(iter(spec.submodule_search_locations)))
            shutil.copytree(source, folder / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (folder / SUBMITTED).mkdir(parents=True, exist_ok=True)
    shutil.copy2(plan.spec_path, folder / SUBMITTED / plan.spec_path.name)
    return folder


def submission_id(name: str) -> str:
    return f"phasescape-{name}-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


# --- following a job ------------------------------------------------------------------------------------------


def follow(client: Any, job_id: str, token: Token | None, out=None) -> int:
    """Stream the job's logs to ``out`` until it ends; 0 if it succeeded, else a one-line JobError."""
    out = out or sys.stdout

    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            out.write(shown(chunk, token))
            out.flush()

    with contextlib.suppress(Exception):  # the log stream broke (e.g. the head restarted): poll the status
        asyncio.run(tail())
    return wait(client, job_id, token)


def wait(client: Any, job_id: str, token: Token | None, poll: float = 1.0, timeout: float | None = None) -> int:
    start = time.monotonic()
    while True:
        info = client.get_job_info(job_id)
        status = str(getattr(info.status, "value", info.status))
        if status in TERMINAL:
            break
        if timeout is not None and time.monotonic() - start > timeout:
            raise JobError(f"job {job_id} still {status} after {timeout:g}s")
        time.sleep(poll)
    if status == "SUCCEEDED":
        return 0
    raise JobError(f"job {job_id} {status}: {failure_reason(client, job_id, info, token)}")


def failure_reason(client: Any, job_id: str, info: Any, token: Token | None) -> str:
    status = str(getattr(info.status, "value", info.status))
    if status == "STOPPED":
        return "stopped on request ('phasescape jobs --stop' or 'ray job stop')"
    code = getattr(info, "driver_exit_code", None)
    try:
        lines = [line.strip() for line in client.get_job_logs(job_id).splitlines() if line.strip()]
    except Exception:
        lines = []
    last = shown(lines[-1], token) if lines else ""
    if code is not None:
        return f"the entrypoint exited with code {code}" + (f"; last log line: {last}" if last else "")
    message = shown(info.message or "", token).strip().splitlines()
    return message[0] if message else (last or "no reason given")


# --- commands -------------------------------------------------------------------------------------------------


def _ray_errors():
    from ray.exceptions import AuthenticationError

    return AuthenticationError


def cmd_submit(args: argparse.Namespace) -> int:
    the_plan = plan(args)  # bad input fails before any connection
    client, address, token = connect(args.address, args.token_file, args.timeout)
    job_id = args.submission_id or submission_id(the_plan.name)
    entrypoint = shlex.join(the_plan.entrypoint)
    metadata = {"phasescape": the_plan.kind, "spec": the_plan.name, "results": the_plan.results}
    with tempfile.TemporaryDirectory(prefix="phasescape-submit-") as tmp:
        runtime_env = dict(the_plan.runtime_env, working_dir=str(stage(the_plan, Path(tmp), not args.no_code)))
        try:
            job_id = client.submit_job(entrypoint=entrypoint, runtime_env=runtime_env, submission_id=job_id,
                                       metadata=metadata)
        except _ray_errors() as error:
            raise UsageError(f"--address {address}: {_line(error, token)}") from None
        except Exception as error:
            raise JobError(f"submitting to {address} failed: {_line(error, token)}") from None
    print(job_id, flush=True)
    print(f"submitted {the_plan.kind} {the_plan.name} to {address} as job {job_id}\n"
          f"  entrypoint: {entrypoint}\n  results:    {the_plan.results}\n"
          + (f"  report:     {the_plan.results}/report/report.html (rebuilt while the sweep runs)\n"
             if the_plan.kind == "sweep" and args.report_every != 0 else "")
          + f"  logs:       phasescape jobs --address {address} --logs {job_id} --follow\n"
          f"  stop:       phasescape jobs --address {address} --stop {job_id}", file=sys.stderr, flush=True)
    if not args.follow:
        return 0
    try:
        return follow(client, job_id, token)
    except KeyboardInterrupt:
        print(f"phasescape: stopped following; job {job_id} keeps running (stop it with "
              f"'phasescape jobs --address {address} --stop {job_id}')", file=sys.stderr)
        return 130


def _when(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S") if ms else "-"


def _duration(info: Any) -> str:
    if not info.start_time:
        return "-"
    seconds = ((info.end_time or time.time() * 1000) - info.start_time) / 1000
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def cmd_jobs(args: argparse.Namespace) -> int:
    if args.follow and not args.logs:
        raise UsageError("--follow: only with --logs ID")
    if args.stop and args.logs:
        raise UsageError("--stop and --logs: give one of them")
    client, address, token = connect(args.address, args.token_file, args.timeout)
    job_id = args.stop or args.logs
    if job_id:
        try:
            info = client.get_job_info(job_id)
        except Exception:
            raise UsageError(f"{job_id}: no such job at {address}; list them with 'phasescape jobs --address "
                             f"{address}'") from None
    if args.stop:
        status = str(getattr(info.status, "value", info.status))
        if status in TERMINAL:
            print(f"job {job_id} already {status}")
            return 0
        client.stop_job(job_id)
        print(f"stop requested for job {job_id} (was {status})")
        return 0
    if args.logs:
        if args.follow:
            return follow(client, job_id, token)
        sys.stdout.write(shown(client.get_job_logs(job_id), token))
        return 0
    jobs = sorted(client.list_jobs(), key=lambda j: j.start_time or 0)
    if not jobs:
        print(f"no jobs at {address}")
        return 0
    rows = [("SUBMISSION ID", "STATUS", "STARTED", "TIME", "ENTRYPOINT")]
    for j in jobs:
        entry = shown(j.entrypoint or "", token)
        rows.append((j.submission_id or j.job_id or "-", str(getattr(j.status, "value", j.status)),
                     _when(j.start_time), _duration(j), entry if len(entry) <= 70 else entry[:67] + "..."))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[4])
    return 0


def _guard(handler):
    """One line for every failure of a handler: errors the cluster answered with become a JobError (exit 1),
    a refused token or a lost connection a UsageError (exit 2); the command line prints them."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except PhasescapeError:
            raise
        except Exception as error:
            if type(error).__name__ == "AuthenticationError":
                raise UsageError(_line(error)) from None
            if type(error).__name__ in ("ConnectionError", "ConnectTimeout", "ReadTimeout"):
                raise UsageError(f"lost the cluster: {_line(error)}") from None
            raise JobError(_line(error)) from None

    run.__name__ = handler.__name__
    return run


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", help=ADDRESS_HELP)
    p.add_argument("--token-file", help="file holding the cluster's token (default: $RAY_AUTH_TOKEN, "
                                        "$RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token)")
    p.add_argument("--timeout", type=float, default=10, help="seconds to wait for the cluster to answer (default 10)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``submit`` and ``jobs`` to the phasescape command line."""
    p = subparsers.add_parser("submit", allow_abbrev=False, help="run a sweep or study on a Ray cluster (Ray Jobs API)",
                              description="Validate SPEC here, ship it with the phasescape packages as the job's "
                                          "working_dir and run it on the cluster; prints the job id.")
    p.add_argument("spec", help="sweep or study YAML")
    _common(p)
    p.add_argument("--storage", help="sweep: results folder every node sees (absolute path; default the "
                                     "spec's storage); study: Optuna storage URL (default: SQLite in --results)")
    p.add_argument("--results", help="study only: results folder every node sees (absolute path)")
    p.add_argument("--study", action="store_true", help="treat SPEC as a study spec (auto-detected from its "
                                                        "objectives/policy/budget keys)")
    p.add_argument("--max-concurrent", type=int, help="sweep: at most this many trials at once")
    p.add_argument("--n-trials", type=int, help="study: trials the study should hold")
    p.add_argument("--workers", type=int, help="study: Optuna workers at once")
    p.add_argument("--follow", action="store_true", help="stream the logs; exit 0 if the job succeeded, else 1")
    p.add_argument("--report-every", type=int, metavar="SECONDS",
                   help=f"sweep: the job's run rebuilds STORAGE/NAME/report/report.html every SECONDS while it runs "
                        f"(default {LIVE_EVERY_S}; 0 turns it off); watch it from any machine that mounts the storage")
    p.add_argument("--pip", action="append", default=[], metavar="REQ",
                   help="pip requirement to install on the cluster for this job (repeatable; default none: the "
                        "cluster's image provides the dependencies)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="environment variable for the job (repeatable; not for secrets)")
    p.add_argument("--no-code", action="store_true",
                   help="ship only the spec; use the phasescape installed in the cluster's image")
    p.add_argument("--submission-id", help="job id to use (default phasescape-NAME-DATE-TIME-XXXX)")
    p.set_defaults(func=_guard(cmd_submit))

    j = subparsers.add_parser("jobs", allow_abbrev=False, help="list the jobs of a Ray cluster, show logs, stop one")
    _common(j)
    j.add_argument("--logs", metavar="ID", help="print the logs of job ID")
    j.add_argument("--follow", action="store_true", help="with --logs: stream until the job ends (exit 1 if it "
                                                         "failed)")
    j.add_argument("--stop", metavar="ID", help="stop job ID")
    j.set_defaults(func=_guard(cmd_jobs))
