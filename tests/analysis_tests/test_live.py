"""Live reports on a sweep folder written as a running sweep writes it: real micro trials, some finished, one
running with two evaluations, one left RUNNING by an interrupted run, the rest not started."""

import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, phasescape

from analysis.live import build
from analysis.progress import DONE, PENDING, RUNNING, read_progress
from model.train import Trainer
from sweep.artifacts import TrialWriter
from sweep.spec import parse_spec
from sweep.store import mark_started, trial_folder, write_manifest, write_results, write_status

REFRESH = '<meta http-equiv="refresh"'
SPEC = {"name": "live", "base": "micro", "axes": {"data.sigma": [1.0, 1.2, 1.4, 1.6]}, "seeds": [0, 1],
        "resources": {"cpu": 1}}


def train(sweep_dir, config, status, evaluations=None):
    """Train ``config`` into its trial folder as the sweep's trainable does (all of it, or its first
    ``evaluations``) and record ``status``."""
    folder = trial_folder(sweep_dir, config.hash())
    trainer, writer = Trainer(config), TrialWriter(folder, plot=False, checkpoint=False)
    writer.start(trainer)
    write_status(folder, RUNNING, restored_from_step=0)
    trainer.run(writer, None if evaluations is None else (lambda history: len(history) >= evaluations))
    write_status(folder, status)


def finish(sweep_dir, spec):
    """What the driver does at the end: the table rebuilt, the manifest marked finished."""
    write_results(sweep_dir, spec.name)
    write_manifest(sweep_dir, spec.to_dict(), spec.hash(), list(spec.axes), len(spec.trials()), finished=True)


@pytest.fixture
def partial(tmp_path):
    """4 cells x 2 seeds: cell 1 done (both seeds), cell 2 running (seed 0 done, seed 1 at its second evaluation),
    cell 3 pending (seed 0 RUNNING since before this run started: an interrupted run's, not restarted yet), cell 4
    not started. Returns (sweep folder, spec)."""
    spec = parse_spec({**SPEC, "set": {"train.threads": 1}, "storage": str(tmp_path)})
    sweep_dir = spec.folder()
    sweep_dir.mkdir()
    configs = spec.trials()  # cell by cell, seed 0 then seed 1
    write_manifest(sweep_dir, spec.to_dict(), spec.hash(), list(spec.axes), len(configs), finished=False)
    mark_started(sweep_dir)
    for config in configs[:3]:
        train(sweep_dir, config, "COMPLETED")
    train(sweep_dir, configs[3], RUNNING, evaluations=2)
    train(sweep_dir, configs[4], RUNNING, evaluations=1)
    leftover = trial_folder(sweep_dir, configs[4].hash()) / "status.json"
    leftover.write_text(json.dumps({**json.loads(leftover.read_text()), "updated": time.time() - 3600}))
    write_results(sweep_dir, spec.name)
    return sweep_dir, spec


def test_progress_counts_cells_and_trials_of_a_partial_sweep(partial):
    sweep_dir, _ = partial
    progress = read_progress(sweep_dir)
    assert dict(progress.trials) == {DONE: 3, RUNNING: 1, PENDING: 4}
    assert dict(progress.cells) == {DONE: 1, RUNNING: 1, PENDING: 2}
    assert progress.steps_total == 8 * 30 and progress.steps_done == 3 * 30 + 15 + 0
    assert progress.left_s is not None and progress.left_s > 0 and not progress.finished


def test_live_report_of_a_partial_sweep_shows_progress_and_reloads(partial):
    sweep_dir, _ = partial
    path, _ = build(sweep_dir, 30)
    page = path.read_text()
    assert f'{REFRESH} content="30">' in page
    assert "Cells: 1 done, 1 running, 2 pending (of 4)" in page
    assert "Trials: 3 done, 1 running, 4 pending (of 8)" in page
    assert "left at this run's rate so far" in page
    assert "phase_map.png" in page and "Partial results" in page  # the whole report under the progress


def test_final_report_has_no_refresh_and_no_progress(partial):
    sweep_dir, spec = partial
    stopped, _ = build(sweep_dir, 0)  # an interrupted run's last report: progress, no reload
    assert REFRESH not in stopped.read_text() and "Sweep stopped before it finished" in stopped.read_text()
    finish(sweep_dir, spec)
    path, progress = build(sweep_dir, 30)
    assert progress.finished
    assert REFRESH not in path.read_text() and 'class="live"' not in path.read_text()


def test_before_the_first_results_the_page_shows_the_progress_alone(tmp_path):
    spec = parse_spec({**SPEC, "storage": str(tmp_path)})
    sweep_dir = spec.folder()
    sweep_dir.mkdir()
    assert build(sweep_dir, 30)[0] is None  # no manifest: the sweep has not started
    write_manifest(sweep_dir, spec.to_dict(), spec.hash(), list(spec.axes), 8, finished=False)
    write_results(sweep_dir, spec.name)  # the driver's first table: no trial yet, no rows
    page = build(sweep_dir, 30)[0].read_text()
    assert REFRESH in page and "No results to draw yet" in page and "Cells: 0 done, 0 running, 4 pending" in page


def test_watch_of_a_finished_sweep_builds_once_and_exits_0(partial):
    sweep_dir, spec = partial
    finish(sweep_dir, spec)
    result = phasescape("report", str(sweep_dir), "--watch", "--every", "1", timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(cells" not in result.stdout  # no live rebuild line: straight to the final report
    assert REFRESH not in (sweep_dir / "report" / "report.html").read_text()


def watch(sweep_dir):
    """``report --watch`` on ``sweep_dir``, rebuilding every second, as a child process."""
    # SIGINT back to its default in the child: a test run started in the background by a non-interactive shell
    # ignores SIGINT, the child inherits that, and Python then installs no KeyboardInterrupt handler
    return subprocess.Popen([sys.executable, "-m", "sweep", "report", str(sweep_dir), "--watch", "--every", "1"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_until(condition, seconds: float = 240) -> None:
    """Poll ``condition()`` every half second until it holds or ``seconds`` have passed."""
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline:
        time.sleep(0.5)


def test_watch_rebuilds_until_the_sweep_finishes_then_writes_the_final_report(partial):
    sweep_dir, spec = partial
    page = sweep_dir / "report" / "report.html"
    watcher = watch(sweep_dir)
    try:
        wait_until(lambda: page.exists() and REFRESH in page.read_text())
        assert REFRESH in page.read_text() and watcher.poll() is None  # live, and still watching
        finish(sweep_dir, spec)
        out, err = watcher.communicate(timeout=240)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0, err[-2000:]
    assert "(cells 1 done, 1 running, 2 pending; built in" in out
    assert REFRESH not in page.read_text()


def test_ctrl_c_stops_watching_cleanly(partial):
    sweep_dir, _ = partial
    page = sweep_dir / "report" / "report.html"
    watcher = watch(sweep_dir)
    try:
        wait_until(page.exists)
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=120)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 130 and "Traceback" not in err, err[-2000:]
    assert page.read_text().rstrip().endswith("</html>")  # whole: written atomically


def test_report_every_and_every_refuse_bad_values(partial, capsys):
    from sweep.cli import main

    sweep_dir, _ = partial
    assert main(["report", str(sweep_dir), "--every", "5"]) == 2  # --every without --watch
    assert main(["report", str(sweep_dir), "--watch", "--every", "0"]) == 2
    assert main(["resume", str(sweep_dir), "--report-every", "-1"]) == 2
    assert "--report-every" in capsys.readouterr().err


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting for a reaper counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_live_child_exits_once_its_parent_is_killed(tmp_path):
    # A driver killed with SIGKILL cannot stop its live-report child; the child must not watch on forever.
    parent = subprocess.Popen(["bash", "-c", f"{sys.executable} -m analysis.live {tmp_path} 5 & echo $!; wait"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    child = int(parent.stdout.readline())
    time.sleep(3.0)  # the child is up, waiting for a manifest that never comes
    assert alive(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 30
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(child), "the live child outlived its killed parent"
