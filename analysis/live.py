"""Live reports of a running sweep: its progress, read from the trial folders, and report.html rebuilt while it runs.

Two ways to keep it fresh, both through ``build`` (one rebuild of report.html):

- ``LiveReport``: ``phasescape run`` and ``resume`` (also a job's run on a cluster, which ``submit --follow``
  follows) rebuild the report every N seconds in a child process at the lowest CPU priority, so the trials keep
  the CPU; the child is ``main`` below (``python -m analysis.live SWEEP REFRESH_S``).
- ``watch``: ``phasescape report --watch`` rebuilds it in its own process until the sweep has finished, for a
  sweep running elsewhere (shared storage).

While the sweep runs, the page reloads itself (a meta refresh) and opens with the progress: cells and trials done,
running and pending, the elapsed time and an estimate of the time left. Once the sweep has finished, a build is the
ordinary report: no progress, no reload. The figures come from results.parquet, which the driver rewrites every
20 s; the progress comes straight from the trial folders (status.json, metrics.jsonl, trial.json), which the trials
write as they go. Like the rest of ``analysis`` this reads files only: no Ray, no ``sweep``.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from analysis import ReportError
from analysis.progress import DONE, PENDING, RESULTS, RUNNING, Progress, progress_html, read_json, read_progress

NICE = 19  # the lowest nice value; Ray runs its trial workers at nice 15
TICK_S = 1.0  # how often LiveReport looks after its child (a poll and a stat: free)


def lowest_priority(pid: int = 0) -> None:
    """Give process ``pid`` (0: this one) the least CPU: nice 19 and, on Linux, the SCHED_IDLE policy, which weighs it
    5 times less than nice 19 against the trials (Ray's workers run at nice 15), so a rebuild takes the CPU time
    they leave rather than a share of theirs. Threads started later inherit both."""
    os.setpriority(os.PRIO_PROCESS, pid, NICE)
    if hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):  # a kernel or sandbox that refuses it: nice 19 stays
            os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))


# --- one rebuild ---------------------------------------------------------------------------------------------------


def _has_rows(sweep_dir: Path) -> bool:
    """Whether the sweep's results table exists and holds a row (the driver writes an empty one at first)."""
    import pandas as pd

    for name, read in zip(RESULTS, (pd.read_parquet, pd.read_csv), strict=True):
        if (sweep_dir / name).exists():
            try:
                return len(read(sweep_dir / name)) > 0
            except (OSError, ValueError):
                return False
    return False


def build(sweep_dir: Path, refresh_s: int, out_dir: Path | None = None,
          **options: Any) -> tuple[Path | None, Progress]:
    """Rebuild report.html of a sweep that may be running; returns its path (None before the sweep has written its
    manifest: nothing to show yet) and the progress it showed.

    Unfinished: the report opens with the progress and reloads itself every ``refresh_s`` seconds (0: never: the
    last report of an interrupted run); before the results table has a row, a page with the progress alone. Finished:
    the ordinary report. ``options``: ``write_report``'s (x, y, facets, where_, average). Raises ReportError as
    ``write_report`` does once the table has rows.
    """
    from analysis.report import write_report  # pandas and matplotlib load only when there is a report to make

    sweep_dir = Path(sweep_dir)
    if not (sweep_dir / "manifest.json").exists():
        return None, Progress()
    progress = read_progress(sweep_dir)
    if progress.finished:
        return write_report(sweep_dir, out_dir, **options), progress
    box = progress_html(progress, refresh_s, sweep_dir)
    try:
        return write_report(sweep_dir, out_dir, progress=box, refresh_s=refresh_s, **options), progress
    except ReportError as error:
        if _has_rows(sweep_dir):
            raise
        return _waiting_page(sweep_dir, out_dir, box, refresh_s, str(error)), progress


def _waiting_page(sweep_dir: Path, out_dir: Path | None, box: str, refresh_s: int, why: str) -> Path:
    """report.html before the first results: the progress and why there is nothing else yet."""
    from analysis.page import page, write_page

    name = read_json(sweep_dir / "manifest.json").get("name", sweep_dir.name)
    out = Path(out_dir) if out_dir is not None else sweep_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    body = [f"<h1>phasescape sweep report: {html.escape(str(name))}</h1>", box,
            f"<p>No results to draw yet: {html.escape(why)}.</p>"]
    return write_page(out / "report.html", page(f"phasescape report: {name}", body, refresh_s))


# --- phasescape report --watch ----------------------------------------------------------------------------------


def watch(sweep_dir: Path, every_s: int, out_dir: Path | None = None, log: Any = print, **options: Any) -> Path:
    """Rebuild a sweep's report every ``every_s`` seconds until the sweep has finished (its manifest says so, or
    every trial has ended and the table is newer than the last of them), then build the final report and return
    its path. Runs at the lowest CPU priority (``lowest_priority``). ``log`` gets a line per rebuild. Ctrl-C
    raises KeyboardInterrupt between or during rebuilds; report.html stays whole (written atomically)."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise ReportError(f"{sweep_dir}: not a folder; pass the sweep folder (STORAGE/NAME)")
    lowest_priority()
    # A Ctrl-C that lands in a finalizer (matplotlib frees its figures through weakref callbacks) is swallowed there
    # with an "Exception ignored" message; the hook remembers it instead, and the loop stops after this rebuild.
    swallowed: list[BaseException] = []
    hook = sys.unraisablehook
    sys.unraisablehook = lambda u: (swallowed.append(u.exc_value) if isinstance(u.exc_value, KeyboardInterrupt)
                                    else hook(u))
    try:
        while True:
            begun, cpu = time.monotonic(), time.process_time()
            path, progress = build(sweep_dir, every_s, out_dir, **options)
            if path is None:
                log(f"waiting for {sweep_dir / 'manifest.json'} (the sweep has not started)")
            elif progress.finished:
                return path
            else:
                c, wall, cpu = progress.cells, time.monotonic() - begun, time.process_time() - cpu
                log(f"{time.strftime('%H:%M:%S')} report: {path} (cells {c[DONE]} done, {c[RUNNING]} running, "
                    f"{c[PENDING]} pending; built in {wall:.1f} s, {cpu:.1f} s CPU)")
            if swallowed:
                raise KeyboardInterrupt
            time.sleep(max(every_s - (time.monotonic() - begun), 0.0))
    finally:
        sys.unraisablehook = hook


# --- rebuilding in a child process while the driver runs ----------------------------------------------------------

BUILT = re.compile(r"; built in ([\d.]+) s, ([\d.]+) s CPU\)$")  # the end of watch's line per rebuild


class LiveReport:
    """A ``with`` block around a running sweep: a child process (``python -m analysis.live SWEEP EVERY_S``: ``watch``)
    rebuilds its report.html every ``every_s`` seconds, at the lowest CPU priority and on one thread, from the moment
    the sweep has written its manifest. One long-lived child imports pandas, matplotlib and scikit-learn once, not
    at every rebuild; a rebuild that takes longer than ``every_s`` delays the next one, so there is never more than
    one. A child that died is started again ``every_s`` later. On leaving the block, the child is stopped and the
    final report built and waited for (for an interrupted run: the progress, no reload). ``every_s`` 0 does nothing.
    ``log`` gets the report's path, how many live rebuilds there were, and the error of a failed child.
    """

    def __init__(self, sweep_dir: Path, every_s: int, log: Any = None) -> None:
        self.sweep_dir, self.every_s = Path(sweep_dir), int(every_s)
        self.log = log or (lambda line: print(line, flush=True))
        self.seconds: list[tuple[float, float]] = []  # wall and CPU seconds of each live rebuild, as the child said
        self._child: subprocess.Popen | None = None
        self._output: Any = None
        self._errors: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="live-report", daemon=True)

    def __enter__(self) -> LiveReport:
        if self.every_s > 0:
            self.log(f"report: {self.sweep_dir / 'report' / 'report.html'} (rebuilt every {self.every_s} s while the "
                     f"sweep runs; --report-every 0 turns it off)")
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.every_s <= 0:
            return
        self._stop.set()
        self._thread.join()
        if self._child is not None and self._child.poll() is None:
            self._child.terminate()  # the final build below replaces what it was writing
        self._reap(wait=True)
        if not (self.sweep_dir / "manifest.json").exists():
            return  # the sweep never started (bad input, no cluster): no report
        try:
            self._spawn(0, nice=False)  # the final report: the trials are over, it need not yield to them
            self._reap(wait=True)
        finally:
            if self._child is not None and self._child.poll() is None:
                self._child.kill()  # a second Ctrl-C during the final build
                self._child.wait()
        took = (f", {statistics.median(w for w, _ in self.seconds):.0f} s each (median), "
                f"{sum(c for _, c in self.seconds):.0f} CPU s in all" if self.seconds else "")
        self.log(f"report: {self.sweep_dir / 'report' / 'report.html'} ({len(self.seconds)} live rebuild(s){took})")

    def _loop(self) -> None:
        """Keep a child rebuilding while the sweep runs; a thread that mostly sleeps."""
        due = 0.0
        while True:
            self._reap()
            if self._child is None and time.monotonic() >= due and (self.sweep_dir / "manifest.json").exists():
                self._spawn(self.every_s, nice=True)
                due = time.monotonic() + self.every_s  # when to start another if this one ends
            if self._stop.wait(TICK_S):
                return

    def _spawn(self, every_s: int, nice: bool) -> None:
        """Start the child; its output goes to a file (a pipe nobody reads until the end could fill and stall it)."""
        self._output = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in _reap)
        # One core at most, whatever numpy and scikit-learn would take; each line written at once, so a child we
        # terminate has told us its rebuilds.
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self._child = subprocess.Popen([sys.executable, "-m", "analysis.live", str(self.sweep_dir), str(every_s)],
                                       stdout=self._output, stderr=subprocess.STDOUT, env=env)
        if nice:  # from here, at once: the child's own imports then yield to the trials too
            lowest_priority(self._child.pid)

    def _reap(self, wait: bool = False) -> None:
        """Collect a child that has ended: the durations of its rebuilds, and its error (each distinct one logged
        once; none when a signal ended it: our terminate, a Ctrl-C)."""
        child = self._child
        if child is None or (child.wait() if wait else child.poll()) is None:
            return
        self._child = None
        self._output.seek(0)
        lines = [line for line in self._output.read().splitlines() if line.strip()]
        self._output.close()
        self.seconds += [(float(m.group(1)), float(m.group(2))) for m in map(BUILT.search, lines) if m]
        if child.returncode > 0:
            why = lines[-1] if lines else f"exit status {child.returncode}"
            if why not in self._errors:
                self._errors.add(why)
                self.log(f"live report: rebuild failed: {why}")


def exit_with_parent() -> None:
    """End this process once its parent has died (it is then reparented): a driver killed with SIGKILL cannot stop
    its live-report child, which would otherwise watch a sweep that never finishes. report.html is written
    atomically, so leaving mid-rebuild loses nothing."""
    parent = os.getppid()

    def poll() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=poll, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """LiveReport's child process: ``python -m analysis.live SWEEP_DIR EVERY_S`` rebuilds the report every
    ``EVERY_S`` seconds until the sweep has finished (``watch``); ``EVERY_S`` 0 builds it once, without reload.
    Returns 0, or 2 with one line for a ReportError."""
    sweep_dir, every_s = (argv if argv is not None else sys.argv[1:])
    try:
        if int(every_s) > 0:
            exit_with_parent()
            watch(Path(sweep_dir), int(every_s))
        else:
            build(Path(sweep_dir), 0)
    except ReportError as error:
        print(f"phasescape: error: {error}", flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
