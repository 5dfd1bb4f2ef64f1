"""A real PostgreSQL server for the study tests: a throwaway cluster on 127.0.0.1, a user with a password and a
database, started and stopped by ``running_postgres`` (test_study_secrets.py's ``postgres`` fixture, one per module).
Not a conftest.py: other test modules import ``conftest`` by name, and a second one would shadow tests/conftest.py.

The server binaries come from Debian's ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``; scripts/test.sh
installs it where it is missing and apt-get can). The test is skipped, saying why, only where they are absent.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVER_USER = "postgres"  # the Debian package's user; the server refuses to run as root
SKIP_HOW = "apt-get install postgresql (scripts/test.sh does so as root where apt-get exists)"


@dataclass(frozen=True)
class Postgres:
    """A running test server: ``user`` owns ``database`` and logs in with ``password`` over TCP."""

    port: int
    user: str = "ps"
    database: str = "psdb"
    password: str = ""
    host: str = "127.0.0.1"

    def url(self, with_password: bool = True) -> str:
        """The SQLAlchemy URL of the database; without the password, libpq looks in PGPASSWORD or ~/.pgpass."""
        login = f"{self.user}:{self.password}" if with_password else self.user
        return f"postgresql+psycopg2://{login}@{self.host}:{self.port}/{self.database}"


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: the newest Debian installation, else the one on PATH."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found and shutil.which("pg_ctl") else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user() -> tuple[list[str], int | None]:
    """The command prefix that runs the server's tools, and the uid that must own its files (None: ours)."""
    if os.geteuid() != 0:
        return [], None
    try:
        user = pwd.getpwnam(SERVER_USER)
    except KeyError:
        pytest.skip(f"running as root and there is no {SERVER_USER!r} user to run the PostgreSQL server as "
                    f"(initdb refuses root): {SKIP_HOW}")
    return ["runuser", "-u", SERVER_USER, "--"], user.pw_uid


def _chown(path: Path, uid: int | None) -> None:
    if uid is not None:
        os.chown(path, uid, -1)


@contextlib.contextmanager
def running_postgres() -> Iterator[Postgres]:
    """Start a PostgreSQL server on a free port of 127.0.0.1 with user ``ps`` (a random password) owning database
    ``psdb``; stop it and delete its files afterwards."""
    bindir = server_binaries()
    if bindir is None:
        pytest.skip(f"no PostgreSQL server binaries (initdb, pg_ctl): {SKIP_HOW}")
    psycopg2 = pytest.importorskip("psycopg2", reason="the PostgreSQL driver is missing: pip install -e '.[dev]'")
    prefix, uid = _as_server_user()
    # Not under tmp_path: pytest makes its folders for root alone (mode 700), and the server runs as another user.
    root = Path(tempfile.mkdtemp(prefix="phasescape-pg-"))
    _chown(root, uid)
    admin_password = secrets.token_hex(12)
    (root / "admin.pw").write_text(admin_password + "\n")
    _chown(root / "admin.pw", uid)

    def tool(*args: str) -> None:
        done = subprocess.run([*prefix, *args], cwd=root, capture_output=True, text=True, timeout=120)
        log = root / "server.log"
        assert done.returncode == 0, (f"{Path(args[0]).name} failed: {done.stdout}{done.stderr}"
                                      f"{log.read_text() if log.exists() else ''}")

    server = Postgres(port=free_port(), password=f"Pw{secrets.token_hex(10)}")
    data = root / "data"
    try:
        tool(str(bindir / "initdb"), "-D", str(data), "-U", "admin", f"--pwfile={root / 'admin.pw'}",
             "--auth=scram-sha-256", "-E", "UTF8", "--no-sync")
        # TCP on 127.0.0.1 only, no Unix socket (its default folder may not exist or belong to the package).
        options = f"-c listen_addresses=127.0.0.1 -p {server.port} -c unix_socket_directories='' -c fsync=off"
        tool(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-o", options, "-w",
             "-t", "60", "start")
        with contextlib.closing(psycopg2.connect(host=server.host, port=server.port, user="admin",
                                                 password=admin_password, dbname="postgres")) as admin:
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(f"CREATE ROLE {server.user} LOGIN PASSWORD %s", (server.password,))
                cursor.execute(f"CREATE DATABASE {server.database} OWNER {server.user}")
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            tool(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop")
        shutil.rmtree(root, ignore_errors=True)
