"""Where a study lives: its results folder and its Optuna storage.

    default                  sqlite:///<results>/studies/<name>/study.db
    any SQLAlchemy URL       e.g. postgresql+psycopg2://user@host/db (clusters)
    journal://PATH           Optuna's journal file, e.g. journal:///shared/studies/a.log (absolute: 3 slashes)

The URL is ``--storage``, else ``$PHASESCAPE_STORAGE`` (read where the study runs, so a password need not be on
any command line), else the spec's ``storage``, else the default. A URL without a password lets the database
client find it (``PGPASSWORD``, ``~/.pgpass`` for psycopg2). Relative file paths are made absolute, since workers
may start in another folder. Whatever shows a URL shows ``hide_password(url)`` (sweep/masking.py).
"""

from __future__ import annotations

import functools
import os
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy

from model.errors import UsageError
from sweep.masking import hide_password
from sweep.study.liveness import retry
from sweep.study.spec import Heartbeat, StudySpec

JOURNAL = "journal://"
ENV = "PHASESCAPE_STORAGE"  # a storage URL (password included) in the environment of the node that runs the study


def study_folder(results: str | Path, name: str) -> Path:
    """``<results>/studies/<name>``; spec names are validated, so this never leaves ``results``."""
    return Path(results).expanduser().resolve() / "studies" / name


def storage_url(spec: StudySpec, results: str | Path, override: str | None = None,
                environ: dict[str, str] | None = None) -> str:
    """The study's storage URL (``override``, else ``$PHASESCAPE_STORAGE``, else the spec's, else SQLite in the
    results folder) with relative file paths made absolute (workers may start elsewhere)."""
    env = os.environ if environ is None else environ
    url = override or env.get(ENV) or spec.storage or f"sqlite:///{study_folder(results, spec.name) / 'study.db'}"
    if url.startswith(JOURNAL):
        return JOURNAL + str(Path(url[len(JOURNAL):]).expanduser().resolve())
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise UsageError(f"--storage: {hide_password(url)!r} is neither a SQLAlchemy URL (sqlite:///file.db, "
                         f"postgresql://...) nor journal://PATH") from None
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        parsed = parsed.set(database=str(Path(parsed.database).expanduser().resolve()))
    return parsed.render_as_string(hide_password=False)


def _begin_immediate(engine: sqlalchemy.engine.Engine) -> None:
    """Start every SQLite transaction with BEGIN IMMEDIATE (SQLAlchemy's recipe for pysqlite).

    SQLite ignores the SELECT ... FOR UPDATE with which Optuna claims a WAITING trial, so two workers could both
    read it as waiting and both run it; the second then fails with "Cannot tell a COMPLETE trial". Taking the
    write lock when a transaction begins makes Optuna's read-check-write atomic across processes; the
    connection's timeout bounds the wait.
    """

    @sqlalchemy.event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite would otherwise open its own (deferred) transactions

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin(connection: sqlalchemy.engine.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened before the listeners (to create the tables) would begin the old way


def open_storage(url: str, heartbeat: Heartbeat | None = None) -> optuna.storages.BaseStorage:
    """Optuna storage for ``url``; with ``heartbeat``, SQL storages also run Optuna's own heartbeat."""
    if url.startswith(JOURNAL):
        path = Path(url[len(JOURNAL):])
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    beat: dict[str, Any] = {}
    if heartbeat is not None:  # a longer grace than ours: phasescape fails (with a reason) and retries first
        beat = {"heartbeat_interval": heartbeat.interval,
                "grace_period": heartbeat.grace_period + 2 * heartbeat.interval,
                "heartbeat_stale_trial_callback": functools.partial(retry, max_retry=heartbeat.max_retry)}
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}  # several writers wait
    for attempt in range(3):
        try:
            with warnings.catch_warnings():  # Optuna still calls its heartbeat arguments experimental
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(url, engine_kwargs=engine, **beat)
            if url.startswith("sqlite"):
                _begin_immediate(storage.engine)
            return storage
        except ImportError as error:
            raise UsageError(f"--storage: {url.split(':')[0]} needs a database driver ({error}); install it") from None
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError) as error:
            if attempt < 2:
                time.sleep(1 + attempt)  # workers started together on a new database: one of them made the tables
            elif isinstance(error, sqlalchemy.exc.OperationalError) and not url.startswith("sqlite"):
                raise UsageError(f"storage {hide_password(url)}: cannot connect ({_first_line(error)}); check the "
                                 f"server, the user and the password ({ENV}, PGPASSWORD or ~/.pgpass)") from None
            else:
                raise


def _first_line(error: BaseException) -> str:
    """The first non-empty line of a database error, password masked (a driver may echo its connection string)."""
    lines = [line.strip() for line in str(getattr(error, "orig", None) or error).splitlines() if line.strip()]
    return hide_password(lines[0]) if lines else type(error).__name__


