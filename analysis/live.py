"""Live reports of a running sweep: its progress, read from the trial folders, and report.html rebuilt while it runs.

Three entry points share ``build``, one rebuild of report.html:

- ``LiveReport``: ``phasescape run`` and ``resume`` (and ``submit --follow``) rebuild the report every N seconds in
  a child process at the lowest CPU priority, so the trials keep the CPU; the child is ``main`` below
  (``python -m analysis.live SWEEP REFRESH_S``).
- ``watch``: ``phasescape report --watch`` rebuilds it in its own process until the sweep has finished, for a
  sweep running elsewhere (shared storage).

While the sweep runs, the page reloads itself (a meta refresh) and opens with the progress: cells and trials done,
running and pending, the elapsed time and an estimate of the time left. Once the sweep has finished, a build is the
ordinary report: no progress, no reload. The figures come from results.parquet, which the driver rewrites every
20 s; the progress comes straight from the trial folders (status.json, metrics.jsonl, trial.json), which the trials
write as they go. Like the rest of ``analysis`` this reads files only: no Ray, no ``sweep``.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from analysis import ReportError
from analysis.progress import DONE, PENDING, RESULTS, RUNNING, Progress, progress_html, read_json, read_progress

NICE = 19  # the lowest CPU priority: Ray runs its trial workers at nice 15, so they win the CPU over a rebuild
TICK_S = 1.0  # how often LiveReport looks whether a rebuild is due (a stat and a poll: free)


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
    its path. Runs at the lowest CPU priority. ``log`` gets a line per rebuild. Ctrl-C raises KeyboardInterrupt
    between or during rebuilds; report.html stays whole (written atomically)."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise ReportError(f"{sweep_dir}: not a folder; pass the sweep folder (STORAGE/NAME)")
    os.nice(NICE)
    # A Ctrl-C that lands in a finalizer (matplotlib frees its figures through weakref callbacks) is swallowed there
    # with an "Exception ignored" message; the hook remembers it instead, and the loop stops after this rebuild.
    swallowed: list[BaseException] = []
    hook = sys.unraisablehook
    sys.unraisablehook = lambda u: (swallowed.append(u.exc_value) if isinstance(u.exc_value, KeyboardInterrupt)
                                    else hook(u))
    try:
        while True:
            begun = time.monotonic()
            path, progress = build(sweep_dir, every_s, out_dir, **options)
            if path is None:
                log(f"waiting for {sweep_dir / 'manifest.json'} (the sweep has not started)")
            elif progress.finished:
                return path
            else:
                c = progress.cells
                log(f"{time.strftime('%H:%M:%S')} report: {path} (cells {c[DONE]} done, {c[RUNNING]} running, "
                    f"{c[PENDING]} pending)")
            if swallowed:
                raise KeyboardInterrupt
            time.sleep(max(every_s - (time.monotonic() - begun), 0.0))
    finally:
        sys.unraisablehook = hook


# --- rebuilding in a child process while the driver runs ----------------------------------------------------------


class LiveReport:
    """A ``with`` block around a running sweep: every ``every_s`` seconds its report.html is rebuilt in a child
    process (``python -m analysis.live``) at the lowest CPU priority and with one thread, one rebuild at a time (one
    that falls due while the previous still runs is skipped); the first once the sweep has written its manifest. On
    leaving the block, the final report is built and waited for (for an interrupted run: the progress, no reload).
    ``every_s`` 0 does nothing. ``log`` gets the report's path and the error of a failed rebuild. ``runs_sweep``
    False (``submit --follow``): this process only follows a sweep that runs elsewhere, so a Ctrl-C here does not
    stop it, and the report is left as it is instead of being marked stopped.
    """

    def __init__(self, sweep_dir: Path, every_s: int, log: Any = None, runs_sweep: bool = True) -> None:
        self.sweep_dir, self.every_s, self.runs_sweep = Path(sweep_dir), int(every_s), runs_sweep
        self.log = log or (lambda line: print(line, flush=True))
        self.builds, self.skipped = 0, 0  # rebuilds started, rebuilds skipped (the previous still ran)
        self.seconds: list[float] = []  # how long each finished rebuild took (to the tick, TICK_S)
        self._child: subprocess.Popen | None = None
        self._since = 0.0
        self._stderr: Any = None
        self._errors: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="live-report", daemon=True)

    def __enter__(self) -> LiveReport:
        if self.every_s > 0:
            self.log(f"report: {self.sweep_dir / 'report' / 'report.html'} (rebuilt every {self.every_s} s while the "
                     f"sweep runs; --report-every 0 turns it off)")
            self._thread.start()
        return self

    def __exit__(self, kind: type | None, *exc: Any) -> None:
        if self.every_s <= 0:
            return
        self._stop.set()
        self._thread.join()
        if self._child is not None and self._child.poll() is None:
            self._child.terminate()  # the final build below replaces what it was writing
        self._reap(wait=True)
        stopped_following = kind is not None and issubclass(kind, KeyboardInterrupt) and not self.runs_sweep
        if stopped_following or not (self.sweep_dir / "manifest.json").exists():
            return  # we stopped following a sweep that goes on, or it never started (bad input): nothing to add
        try:
            self._spawn(0, nice=False)  # the final report: the trials are over, it need not yield to them
            self._reap(wait=True)
        finally:
            if self._child is not None and self._child.poll() is None:
                self._child.kill()  # a second Ctrl-C during the final build
                self._child.wait()
        self.log(f"report: {self.sweep_dir / 'report' / 'report.html'} ({self.builds - 1} live rebuild(s), "
                 f"{self.skipped} skipped while the previous one ran)")

    def _loop(self) -> None:
        """Start a rebuild whenever one is due; runs in a thread that sleeps between looks."""
        due = 0.0
        while True:
            if time.monotonic() >= due and (self.sweep_dir / "manifest.json").exists():
                if self._child is not None and self._child.poll() is None:
                    self.skipped += 1
                else:
                    self._reap()
                    self._spawn(self.every_s, nice=True)
                due = time.monotonic() + self.every_s
            if self._child is not None and self._child.poll() is not None:
                self._reap()
            if self._stop.wait(TICK_S):
                return

    def _spawn(self, refresh_s: int, nice: bool) -> None:
        """Start one rebuild; stdout is dropped, stderr kept for the error line of a failed one."""
        # A file, not a pipe: a pipe nobody reads until the end could fill and stall the child. Closed in _reap.
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one core at most, whatever numpy and scikit-learn would take
        self._child = subprocess.Popen([sys.executable, "-m", "analysis.live", str(self.sweep_dir), str(refresh_s)],
                                       stdout=subprocess.DEVNULL, stderr=self._stderr, env=env)
        if nice:
            # Set from here, at once: the interpreter has not started its threads yet, and they inherit it.
            os.setpriority(os.PRIO_PROCESS, self._child.pid, NICE)
        self._since = time.monotonic()
        self.builds += 1

    def _reap(self, wait: bool = False) -> None:
        """Collect a rebuild that has ended: its duration, and its error line (each distinct one logged once)."""
        child, self._child = self._child, None
        if child is None:
            return
        code = child.wait() if wait else child.poll()
        if code is None:  # still running: keep it
            self._child = child
            return
        if code == 0:
            self.seconds.append(time.monotonic() - self._since)
        elif code > 0:  # below 0 it was ended by a signal (our terminate, a Ctrl-C): nothing to say then
            self._stderr.seek(0)
            lines = [line for line in self._stderr.read().splitlines() if line.strip()]
            why = lines[-1] if lines else f"exit status {code}"
            if why not in self._errors:
                self._errors.add(why)
                self.log(f"live report: rebuild failed: {why}")
        self._stderr.close()


def main(argv: list[str] | None = None) -> int:
    """One rebuild, in LiveReport's child process: ``python -m analysis.live SWEEP_DIR REFRESH_S``. Returns 0, or 2
    with one line on stderr for a ReportError."""
    sweep_dir, refresh_s = (argv if argv is not None else sys.argv[1:])
    try:
        build(Path(sweep_dir), int(refresh_s))
    except ReportError as error:
        print(f"phasescape: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
