"""Studies end to end on real Ray and real storages: a driver killed mid-way resumes by name, Optuna's own
client and dashboard read the study, two worker processes share one study, bad input exits with status 2."""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from sweep.procs import PROCESS_GROUP, SESSION, alive, stat_fields
from sweep.study.liveness import worker_alive
from sweep.study.storage import open_storage

pytestmark = pytest.mark.slow  # real studies: Ray workers, killed drivers, servers

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
MICRO = {
    "name": "micro_budget", "base": "micro", "set": {"train.steps": 20, "eval.every": 10}, "budget": 16,
    "policy": {"fill": [0.3, 1.0], "aspect": [-1.0, 1.0], "sigma": [0.7, 1.5]}, "objectives": ["acc"],
    "sampler": {"name": "tpe", "seed": 0, "n_startup_trials": 3}, "pruner": {"name": "median", "n_startup_trials": 2},
    "n_trials": 8, "workers": 2, "heartbeat": {"interval": 1, "grace_period": 15, "max_retry": 3},
}
KILLED_SET = {"train.steps": 120, "eval.every": 30}  # the killed-and-resumed study's trials (see its fixture)
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(ROOT)}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sweep", *args]  # the phasescape command line


def write_spec(folder: Path, **changes) -> Path:
    path = folder / f"{changes.get('name', MICRO['name'])}.yaml"
    path.write_text(yaml.safe_dump({**MICRO, **changes}))
    return path


def session_processes(session: int) -> list[int]:
    """Processes left of a session we started (a driver and the local Ray it launched)."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = stat_fields(int(entry.name))
        if alive(fields) and session in (int(fields[PROCESS_GROUP]), int(fields[SESSION])):
            pids.append(int(entry.name))
    return pids


def reap(session: int, wait: float) -> list[int]:
    """Wait for a session's processes to exit; kill (by pid) what is still there after ``wait`` seconds."""
    deadline = time.time() + wait
    while session_processes(session) and time.time() < deadline:
        time.sleep(1)
    left = session_processes(session)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def load(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(url))


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """A study of 8 micro trials, 2 Ray workers: its driver is SIGKILLed while trials run, then resumed."""
    tmp = tmp_path_factory.mktemp("study")
    # Trials of a few seconds: Ray notices a dead driver only after a moment, and a worker that finishes its trial
    # meanwhile would leave nothing RUNNING to resume (seen with 20-step trials on a loaded machine).
    spec = write_spec(tmp, set=KILLED_SET)
    results = tmp / "results"
    db = results / "studies" / MICRO["name"] / "study.db"
    url = f"sqlite:///{db}"
    args = command("study", str(spec), "--results", str(results))
    first = subprocess.Popen(args, cwd=tmp, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    victims: list[str] = []
    deadline = time.time() + 300
    study = None
    while not victims:
        assert first.poll() is None and time.time() < deadline, first.communicate()[0]
        time.sleep(0.5)
        if study is None:
            if (db.parent / "spec.yaml").exists():  # written once the driver has created the study
                study = load(url, MICRO["name"])
            continue
        trials = study.get_trials(deepcopy=False)
        if any(t.state in FINISHED for t in trials):
            victims = [t.user_attrs["worker"] for t in trials if t.state == TrialState.RUNNING and "worker" in
                       t.user_attrs]
    os.kill(first.pid, signal.SIGKILL)
    first_output = first.communicate()[0]
    # Ray fate-shares: the workers die with their driver, so their trials are left RUNNING.
    deadline = time.time() + 60
    while any(worker_alive(w) for w in victims) and time.time() < deadline:
        time.sleep(0.5)
    workers_died = not any(worker_alive(w) for w in victims)
    stopped = load(url, MICRO["name"]).get_trials(deepcopy=False)
    reap(first.pid, 5)  # what Ray leaves of a killed driver (its dashboard and runtime-env agents) ends in a minute

    second = subprocess.Popen(args, cwd=tmp, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        second_output = second.communicate(timeout=400)[0]
    finally:
        second.kill()
    yield {
        "url": url, "results": results, "victims": victims, "workers_died": workers_died, "stopped": stopped,
        "first": first_output, "second": second_output, "returncode": second.returncode,
        "left": reap(second.pid, 30),
    }


def test_killed_study_resumes_by_name_and_leaves_no_trial_running(killed_and_resumed):
    run = killed_and_resumed
    assert run["returncode"] == 0, run["second"]
    assert run["workers_died"], f"workers {run['victims']} outlived their killed driver"
    killed = [t.number for t in run["stopped"] if t.state == TrialState.RUNNING]
    assert killed, "the driver was killed with no trial running"
    assert "resuming study micro_budget" in run["second"]
    trials = load(run["url"], MICRO["name"]).get_trials()
    assert all(t.state in FINISHED for t in trials), [(t.number, t.state) for t in trials]
    assert all(t.user_attrs.get("fail_reason") for t in trials if t.state == TrialState.FAIL)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    for number in killed:  # failed as a dead worker's trial (at once, or after the grace period when it was
        trial = trials[number]  # killed before naming its worker), then retried with its parameters
        assert trial.state == TrialState.FAIL, trial.user_attrs
        assert re.match(r"(worker .* died|no heartbeat from worker)", trial.user_attrs["fail_reason"])
        assert f"trial {number:>4}  FAIL     " in run["second"] and number in retried
    last_retries = [t for t in trials if t.system_attrs.get("retry_history") and t.number not in retried]
    assert last_retries and all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in last_retries)
    for t in last_retries:  # the parameters drawn before the kill (all, unless it was killed while drawing them)
        assert trials[t.system_attrs["failed_trial"]].params.items() <= t.params.items()
    assert sum(t.number not in retried for t in trials) >= 8
    assert [t.number for t in trials] == list(range(len(trials)))
    def printed(output: str) -> set[int]:
        return {int(line.split()[1]) for line in output.splitlines() if line.startswith("trial ")}

    before = {t.number for t in run["stopped"] if t.state in FINISHED}
    assert printed(run["first"]) <= before  # one progress line per finished trial, by the driver that saw it end
    assert printed(run["second"]) == {t.number for t in trials} - before
    study_dir = run["results"] / "studies" / MICRO["name"]
    for trial in trials:
        if trial.state != TrialState.FAIL:
            assert (study_dir / trial.user_attrs["artifacts"] / "metrics.jsonl").is_file()
            assert trial.user_attrs["n_positions"] <= 16
    assert trials[0].params == {"fill": 1.0, "aspect": 0.0, "sigma": 1.0}  # the enqueued uniform baseline
    assert run["left"] == [], "the resumed driver left processes behind"


def test_optuna_cli_lists_the_study_unchanged(killed_and_resumed):
    url = killed_and_resumed["url"]
    out = subprocess.run([str(BIN / "optuna"), "trials", "--storage", url, "--study-name", MICRO["name"], "-f",
                          "json"], capture_output=True, text=True, timeout=120, env=ENV)
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    trials = load(url, MICRO["name"]).get_trials()
    assert sorted(row["number"] for row in listed) == [t.number for t in trials]
    assert {row["state"] for row in listed} <= {"COMPLETE", "PRUNED", "FAIL"}


def test_optuna_dashboard_serves_the_study(killed_and_resumed):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dashboard = subprocess.Popen([str(BIN / "optuna-dashboard"), killed_and_resumed["url"], "--host", "127.0.0.1",
                                  "--port", str(port), "--quiet"], env=ENV, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as response:
                    studies = json.load(response)["study_summaries"]
                break
            except OSError:
                assert dashboard.poll() is None and time.time() < deadline, dashboard.stderr.read()
                time.sleep(0.5)
        assert [s["study_name"] for s in studies] == [MICRO["name"]]
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=30)


def test_report_has_optuna_figures_best_policies_and_sweep_specs(killed_and_resumed):
    from sweep.spec import load_spec as load_sweep_spec

    report = killed_and_resumed["results"] / "studies" / MICRO["name"] / "report"
    html = (report / "report.html").read_text()
    assert "data:image/png;base64," in html and (report / "history.png").is_file()
    csv = (report / "best_policies.csv").read_text().splitlines()
    assert len(csv) >= 2 and {"acc", "fill", "aspect", "sigma", "spacing_x", "n_positions"} <= set(csv[0].split(","))
    assert (report / "best_policies.md").read_text().startswith("| rank | trial | acc |")
    specs = sorted((report / "specs").glob("*.yaml"))
    assert specs
    for path in specs:
        sweep = yaml.safe_load(path.read_text())
        assert set(sweep) == {"name", "base", "set", "seeds", "steps", "eval_every"}
        assert sweep["base"] == "micro" and sweep["steps"] == KILLED_SET["train.steps"] and len(sweep["seeds"]) == 3
        assert load_sweep_spec(path).name == sweep["name"]  # the sweep service accepts it as written


def test_two_worker_processes_share_one_study_without_losing_or_duplicating_trials(tmp_path):
    spec = write_spec(tmp_path, name="shared", n_trials=4)
    url = f"journal://{tmp_path}/shared.log"
    args = command("study", str(spec), "--results", str(tmp_path / "results"), "--storage", url, "--no-ray",
                   "--no-report")
    workers = [subprocess.Popen(args, cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True) for _ in range(2)]
    try:
        outputs = [w.communicate(timeout=300)[0] for w in workers]
    finally:
        for w in workers:
            w.kill()
    assert [w.returncode for w in workers] == [0, 0], outputs
    trials = load(url, "shared").get_trials()
    assert [t.number for t in trials] == list(range(len(trials))) and len(trials) >= 4
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials), [t.state for t in trials]
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both processes ran trials
    for trial in trials:
        assert (tmp_path / "results" / "studies" / "shared" / trial.user_attrs["artifacts"] / "trial.json").is_file()


@pytest.mark.parametrize("changes, message", [
    ({"policy": {"fill": [0.5, 1.5]}}, r"phasescape: error: policy.fill: \[0.5, 1.5\] must lie in \(0, 1\]"),
    ({"objectives": ["acc", "speed"]}, "phasescape: error: objectives: unknown objective 'speed'; choose from acc"),
])
def test_bad_input_prints_one_line_and_exits_2(tmp_path, changes, message):
    out = subprocess.run(command("study", str(write_spec(tmp_path, **changes)), "--results", str(tmp_path)),
                         capture_output=True, text=True, timeout=120, env=ENV)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert re.search(message, out.stderr), out.stderr
    assert not (tmp_path / "studies").exists()  # nothing created before the spec is valid


def test_a_trial_below_the_median_is_pruned_at_its_report(tmp_path):
    from sweep.study.driver import open_study
    from sweep.study.spec import parse_spec
    from sweep.study.storage import storage_url
    from sweep.study.worker import run_worker

    spec = parse_spec({**MICRO, "pruner": {"name": "median", "n_startup_trials": 1}, "n_trials": 2})
    url = storage_url(spec, tmp_path)
    study = open_study(spec, url)  # the uniform baseline waits as trial 0
    distributions = {k: optuna.distributions.FloatDistribution(*v) for k, v in MICRO["policy"].items()}
    study.add_trial(optuna.trial.create_trial(  # a trial perfect at every report: any micro trial falls below it
        params={"fill": 1.0, "aspect": 0.0, "sigma": 1.0}, distributions=distributions, value=1.0,
        intermediate_values={10: 1.0, 20: 1.0}))
    assert run_worker(spec, url, tmp_path / "studies" / spec.name) == 1
    pruned = study.trials[0]
    assert pruned.state == TrialState.PRUNED and pruned.last_step == 10
    assert pruned.user_attrs["acc"] == 0 and pruned.user_attrs["phase"] == "A"
    lines = (tmp_path / "studies" / spec.name / pruned.user_attrs["artifacts"] / "metrics.jsonl").read_text()
    steps = [json.loads(line)["step"] for line in lines.splitlines()]
    assert steps == [0, 10]  # the untrained baseline, then the first evaluation, where it stopped


def test_a_worker_whose_trial_was_failed_as_stale_elsewhere_goes_on(tmp_path):
    import threading

    from sweep.study.driver import open_study
    from sweep.study.liveness import fail_dead_trials
    from sweep.study.spec import Heartbeat, parse_spec
    from sweep.study.storage import storage_url
    from sweep.study.worker import run_worker

    spec = parse_spec({**MICRO, "pruner": "none", "n_trials": 2, "baselines": []})
    url = storage_url(spec, tmp_path)
    study = open_study(spec, url)
    impatient = Heartbeat(interval=1, grace_period=-1, max_retry=1)  # another process that finds every beat late

    def fail_the_first_running_trial() -> None:
        while not fail_dead_trials(study, impatient):
            time.sleep(0.05)

    thread = threading.Thread(target=fail_the_first_running_trial)
    thread.start()
    ran = run_worker(spec, url, tmp_path / "studies" / spec.name)
    thread.join()
    states = [t.state for t in study.trials]
    assert ran == 3 and states == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert "no heartbeat" in study.trials[0].user_attrs["fail_reason"]
    # The retry is enqueued by the other thread right after it fails trial 0; the worker may ask its next new
    # trial before or after that, so the retry is trial 1 or 2, and exactly one of them.
    assert [t.system_attrs.get("retry_history") for t in study.trials[1:]].count([0]) == 1


POP_WAITING = """import json, sys
import optuna
from sweep.study.storage import open_storage
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.load_study(study_name="race", storage=open_storage(sys.argv[1]))
claimed = []
while (trial := study.ask()).number < int(sys.argv[2]):  # waiting trials first, then a new one: stop
    claimed.append(trial.number)
study.tell(trial, state=optuna.trial.TrialState.FAIL)
print(json.dumps(claimed))
"""


def test_workers_on_sqlite_never_claim_the_same_waiting_trial(tmp_path):
    # Retries and baselines are WAITING trials; SQLite ignores Optuna's SELECT ... FOR UPDATE, so without
    # open_storage's BEGIN IMMEDIATE, 4 processes claimed 5-7 of 40 waiting trials twice in each of 3 runs.
    url, waiting = f"sqlite:///{tmp_path / 'race.db'}", 40
    study = optuna.create_study(study_name="race", storage=open_storage(url))
    x = optuna.distributions.FloatDistribution(0, 100)
    for i in range(waiting):
        study.add_trial(optuna.trial.create_trial(state=TrialState.WAITING, params={"x": i}, distributions={"x": x}))
    workers = [subprocess.Popen([sys.executable, "-c", POP_WAITING, url, str(waiting)], cwd=ROOT, env=ENV,
                                stdout=subprocess.PIPE, text=True) for _ in range(4)]
    claimed = [n for w in workers for n in json.loads(w.communicate(timeout=120)[0])]
    assert sorted(claimed) == list(range(waiting))  # each waiting trial run exactly once
