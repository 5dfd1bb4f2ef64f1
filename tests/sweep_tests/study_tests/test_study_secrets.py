"""Storage passwords are never shown: not in what a study prints, its results folder or its trials' attributes, and
not in a submitted job. The commands a study prints to inspect it work without the password on the line. Studies run
on a real PostgreSQL server (conftest.py), on SQLite and on a journal file."""

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import sqlalchemy
import yaml
from postgres_server import running_postgres

from cluster import submit
from model.errors import UsageError
from sweep.masking import has_password, hide_password
from sweep.study.spec import parse_spec
from sweep.study.storage import ENV, open_storage, storage_url

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
MICRO = {
    "name": "secret_micro", "base": "micro", "set": {"train.steps": 20, "eval.every": 10}, "budget": 16,
    "policy": {"fill": [0.3, 1.0], "sigma": [0.7, 1.5]}, "objectives": ["acc"],
    "sampler": {"name": "tpe", "seed": 0, "n_startup_trials": 2}, "pruner": "none", "n_trials": 4, "workers": 2,
}
URL = "postgresql+psycopg2://ps:Sup3rS3cret@db.example:5432/psdb"
TEXT = (".yaml", ".json", ".jsonl", ".csv", ".md", ".html", ".txt", ".log")  # files a password pattern is looked for in


@pytest.fixture(scope="module")
def postgres():
    with running_postgres() as server:
        yield server


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without any storage settings of the developer's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in (ENV, "PGPASSWORD", "PGPASSFILE")}
    return {**env, "OMP_NUM_THREADS": "1", "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(ROOT), **extra}


def phasescape(*args: str, env: dict[str, str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweep", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def leaks(folder: Path, secret: str) -> list[str]:
    """Files under ``folder`` holding ``secret`` (any file) or a password pattern (text files)."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if secret.encode() in data or (path.suffix in TEXT and has_password(data.decode(errors="replace"))):
            found.append(str(path.relative_to(folder)))
    return found


def stored_attributes(url: str, name: str) -> str:
    """Every attribute of the stored study and its trials, as one JSON text."""
    study = optuna.load_study(study_name=name, storage=open_storage(url))
    return json.dumps([study.user_attrs,
                       [[t.user_attrs, t.system_attrs] for t in study.get_trials(deepcopy=False)]], default=str)


# --- the helper -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, shown", [
    (URL, "postgresql+psycopg2://ps:***@db.example:5432/psdb"),
    ("postgresql://ps:p%40ss@h/db", "postgresql://ps:***@h/db"),
    ("postgresql://ps:p@ss@h/db", "postgresql://ps:***@h/db"),  # SQLAlchemy would show 'ss'
    ("postgresql://:pw@h/db", "postgresql://:***@h/db"),
    ("ps:pw@127.0.0.1/db", "ps:***@127.0.0.1/db"),  # no scheme: not a URL SQLAlchemy parses
    ("postgresql://ps@h/db?sslmode=require&password=pw", "postgresql://ps@h/db?sslmode=require&password=***"),
    ("dbname=psdb user=ps password=pw host=h", "dbname=psdb user=ps password=*** host=h"),
    ("PGPASSWORD=pw", "PGPASSWORD=***"),
    ("{'password': 'pw', 'user': 'ps'}", "{'password': ***, 'user': 'ps'}"),
    ("error: --storage 'mysql://u:pw@h/db': bad", "error: --storage 'mysql://u:***@h/db': bad"),
    ("storage postgresql://u:pw@h/db, 2 workers", "storage postgresql://u:***@h/db, 2 workers"),
])
def test_hide_password_masks_every_form(text, shown):
    assert hide_password(text) == shown
    assert hide_password(shown) == shown and has_password(text) and not has_password(shown)


@pytest.mark.parametrize("text", [
    "sqlite:////tmp/results/studies/s/study.db", "sqlite:////tmp/me@home/s.db", "journal:///shared/s.log",
    "postgresql+psycopg2://ps@127.0.0.1:5432/psdb", "http://127.0.0.1:8265", "mail a@b.com", "trial 3: x@y",
    'FATAL:  password authentication failed for user "ps"', 'optuna trials --storage "$PHASESCAPE_STORAGE"',
])
def test_hide_password_leaves_text_without_one_alone(text):
    assert hide_password(text) == text and not has_password(text)


def test_hide_password_agrees_with_sqlalchemy():
    for url in (URL, "postgresql://ps:p%40ss@h/db", "mysql+pymysql://u:x@h:3306/d?charset=utf8"):
        assert hide_password(url) == sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)


def test_storage_url_order_and_masked_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = parse_spec({**MICRO, "storage": "journal:///spec/s.log"})
    env = {ENV: URL}
    assert storage_url(spec, "r", "sqlite:///x.db", env) == f"sqlite:///{tmp_path}/x.db"  # --storage first
    assert storage_url(spec, "r", None, env) == URL  # then the environment, password kept for connecting
    assert storage_url(spec, "r", None, {}) == "journal:///spec/s.log"  # then the spec
    assert storage_url(parse_spec(MICRO), "r", None, {}).endswith("/r/studies/secret_micro/study.db")
    with pytest.raises(UsageError) as error:
        storage_url(spec, "r", "ps:Sup3rS3cret@db/psdb")
    assert "Sup3rS3cret" not in str(error.value) and "ps:***@db/psdb" in str(error.value)


def test_a_database_that_refuses_the_login_is_one_line_without_the_password(postgres):
    wrong = postgres.url().replace(postgres.password, "Wr0ngPassw0rd")
    with pytest.raises(UsageError) as error:
        open_storage(wrong)
    message = str(error.value)
    assert "Wr0ngPassw0rd" not in message and "\n" not in message
    assert "password authentication failed" in message and "ps:***@127.0.0.1" in message


# --- submit -----------------------------------------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="phasescape")
    submit.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


class FakeJobs:
    """A JobSubmissionClient that keeps what ``submit_job`` was given, and the files of its working_dir."""

    def __init__(self) -> None:
        self.submitted: dict = {}
        self.files: dict[str, bytes] = {}

    def submit_job(self, **kwargs) -> str:
        self.submitted = kwargs
        folder = Path(kwargs["runtime_env"]["working_dir"])
        self.files = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        return kwargs["submission_id"]


def test_submit_refuses_a_password_and_ships_none(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(MICRO))
    common = ("submit", str(spec), "--address", "http://127.0.0.1:9", "--results", "/mnt/shared/r")
    with pytest.raises(UsageError, match=f"--storage .*ps:\\*\\*\\*@db.example.*PGPASSWORD.*{ENV}") as error:
        submit.plan(parse(*common, "--storage", URL))
    assert "Sup3rS3cret" not in str(error.value)
    in_spec = tmp_path / "in_spec.yaml"
    in_spec.write_text(yaml.safe_dump({**MICRO, "storage": URL}))
    for args in ((str(in_spec), "--results", "/r"), (str(in_spec), "--results", "/r", "--storage", "sqlite:////r/s.db"),
                 (str(spec), "--results", "/r", "--env", f"{ENV}={URL}")):
        with pytest.raises(UsageError) as error:
            submit.plan(parse("submit", *args))
        assert "Sup3rS3cret" not in str(error.value)

    result = phasescape(*common, "--storage", URL, env=environment(), cwd=ROOT, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Sup3rS3cret" not in result.stdout + result.stderr

    jobs = FakeJobs()  # without the password: the job goes, and nothing of it holds one
    monkeypatch.setattr(submit, "connect", lambda *args: (jobs, "http://head:8265", None))
    monkeypatch.setenv("PGPASSWORD", "Sup3rS3cret")  # the submitter's own settings stay here
    monkeypatch.setenv(ENV, URL)
    assert submit.cmd_submit(parse(*common, "--storage", hide_password(URL).replace(":***", ""))) == 0
    out = capsys.readouterr()
    entrypoint = jobs.submitted["entrypoint"]
    assert entrypoint.endswith("--storage postgresql+psycopg2://ps@db.example:5432/psdb") and entrypoint in out.err
    shipped = json.dumps({k: v for k, v in jobs.submitted.items() if k != "runtime_env"}) + json.dumps(
        {k: v for k, v in jobs.submitted["runtime_env"].items() if k != "working_dir"})
    assert "Sup3rS3cret" not in shipped + out.out + out.err
    assert jobs.files and not [name for name, data in jobs.files.items() if b"Sup3rS3cret" in data]


# --- a study on each kind of storage ----------------------------------------------------------------------------


@pytest.fixture(params=["postgres", "sqlite", "journal"])
def storage(request, tmp_path):
    """(options, secret, environment) of a study run. PostgreSQL: the password in --storage, as a new user would
    try it first, 2 Ray workers. SQLite and journal files: one worker in the process (--no-ray: the storage, not
    Ray, decides what is shown), with a password for another database in the environment."""
    if request.param == "postgres":
        server = request.getfixturevalue("postgres")
        return ["--storage", server.url()], server.password, {}
    decoy = "D3coyPassw0rd"
    option = [] if request.param == "sqlite" else ["--storage", f"journal://{tmp_path}/journal/s.log"]
    return [*option, "--no-ray"], decoy, {"PGPASSWORD": decoy}


def run_hint(output: str, env: dict[str, str]) -> list[dict]:
    """Run the printed ``inspect: optuna trials ...`` command as it stands (in bash); returns the trials it lists."""
    line = next(line for line in output.splitlines() if line.startswith("inspect:"))
    command = line.split("inspect:", 1)[1].strip().replace("optuna ", f"{shlex.quote(str(BIN / 'optuna'))} ", 1)
    done = subprocess.run(["bash", "-c", command + " -f json"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_nothing_shows(run: subprocess.CompletedProcess, secret: str, results: Path) -> None:
    """The command succeeded, and neither its output nor the results folder holds the secret or any password."""
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert secret not in output and not has_password(output), output
    assert not leaks(results, secret)


@pytest.mark.slow
def test_a_study_shows_no_password(storage, tmp_path):
    options, secret, extra = storage
    spec = tmp_path / "secret_micro.yaml"
    spec.write_text(yaml.safe_dump(MICRO))
    results = tmp_path / "results"
    env = environment(**extra)
    run = phasescape("study", str(spec), "--results", str(results), *options, env=env, cwd=tmp_path)
    assert_nothing_shows(run, secret, results)
    url = storage_url(parse_spec(MICRO), results, options[1] if options[0] == "--storage" else None, {})
    assert secret not in stored_attributes(url, MICRO["name"])
    if not has_password(url):
        assert len(run_hint(run.stdout, env)) >= MICRO["n_trials"]  # the URL as printed
        return
    assert f'--storage "${ENV}"' in run.stdout and "ps:***@127.0.0.1" in run.stdout
    assert "warning: --storage holds a password" in run.stderr
    assert len(run_hint(run.stdout, {**env, ENV: url})) >= MICRO["n_trials"]
    # The password off every command line: PHASESCAPE_STORAGE for phasescape, PGPASSWORD for a URL without it.
    report = phasescape("study-report", str(spec), "--results", str(results), env={**env, ENV: url}, cwd=tmp_path)
    assert_nothing_shows(report, secret, results)
    bare = url.replace(f":{secret}@", "@")
    listed = subprocess.run([str(BIN / "optuna"), "trials", "--storage", bare, "--study-name", MICRO["name"]],
                            env={**env, "PGPASSWORD": secret}, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "COMPLETE" in listed.stdout, listed.stderr
