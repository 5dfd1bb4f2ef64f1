"""The sweep part of bench/gpu_check.sh: one spec through ``phasescape run`` three ways on one GPU, timed.

    python3 -m bench.gpu_sweep SPEC [--storage DIR] [--modes packed whole fraction] [--cap MODE=SECONDS ...]
                               [--steps N] [--eval-every N] [--micro] [--plan]

Modes, each in its own storage folder (STORAGE/MODE/NAME) so that none reuses another's finished trials:

- packed: the spec as written (``pack`` trials per Ray trial, one vmapped network on the GPU);
- whole: one trial per GPU (``pack: 1``, ``gpu: 1``), so the trials run one after another;
- fraction: every trial at once on a share of the GPU (``pack: 1``, ``gpu: 1/n``).

A mode's ``phasescape run`` gets SIGINT (Ctrl-C) once its cap has passed: what it trained so far is measured and
its results table written. The derived specs are written to STORAGE/specs/; ``--plan`` only writes them and shows
``run --dry-run`` of each. ``--micro`` swaps the spec's base for the ``micro`` preset on CPUs (``gpu: 0``,
``cpu: 1``, 60 steps unless ``--steps``): the same commands and paths, end to end, on a machine without a GPU.

Per mode, from the progress lines of ``run`` (timestamped as they arrive) and ``nvidia-smi dmon`` running beside it
(raw samples in STORAGE/MODE/dmon.txt):

- first report: launch to the first evaluation line (the untrained network's, step 0), and to the first one with
  step > 0;
- throughput: trial-steps per second, training and evaluations together, from each Ray trial's first to last
  report (a packed Ray trial counts its members), summed, over the time in which any of them ran; trials per
  hour at the spec's step count follow from it, start-up left out;
- GPU: mean SM utilisation and largest memory use while trials ran.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

MODES = ("packed", "whole", "fraction")
GRACE_S = 30.0  # after SIGINT: Tune stops its trials and the driver writes the table; then a second SIGINT, a kill
LINE = re.compile(r"^\[\s*[\d.]+s\] (start|eval|done)\s+(\S+) \[[^\]]*\](?: \+(\d+) packed)?(?: step (\d+))?")
MICRO_STEPS = 60
MICRO_SET = {"data.image_size": 16}  # the micro preset's 8 x 8 image holds no lattice as sparse as a paper spec's


def mode_spec(raw: dict, mode: str, n_trials: int, micro: bool, steps: int | None, every: int | None) -> dict:
    """The spec ``raw`` (as read from YAML) as ``mode`` runs it; the name stays, the storage folder differs."""
    spec = {**raw, "resources": dict(raw.get("resources") or {})}
    res = spec["resources"]
    if mode == "whole":
        spec["pack"], res["gpu"] = 1, 1
    elif mode == "fraction":
        spec["pack"], res["gpu"] = 1, math.floor(1e4 / n_trials) / 1e4  # Ray counts GPU shares to 1e-4
    if micro:
        spec["base"], res["gpu"], res["cpu"] = "micro", 0, 1
        spec["set"] = {**(spec.get("set") or {}), **MICRO_SET}
        steps = steps or MICRO_STEPS
    if steps:
        spec["steps"] = steps
        spec["eval_every"] = every or max(1, steps // 3)
    elif every:
        spec["eval_every"] = every
    return spec


@dataclass
class Run:
    """What one mode's ``phasescape run`` printed, with arrival times (seconds after launch)."""

    mode: str
    cap: float | None
    wall: float = 0.0
    status: int = 0
    capped: bool = False
    reports: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # Ray trial -> (time, step)
    members: dict[str, int] = field(default_factory=dict)
    starts: list[float] = field(default_factory=list)
    done: int = 0  # trials finished (packed members counted)
    gpu: list[tuple[float, dict[str, str]]] = field(default_factory=list)

    def add(self, t: float, line: str) -> None:
        match = LINE.match(line)
        if not match:
            return
        kind, trial, packed, step = match.groups()
        self.members[trial] = int(packed or 0) + 1
        if kind == "start":
            self.starts.append(t)
        elif kind == "eval" and step is not None:
            self.reports.setdefault(trial, []).append((t, int(step)))
        elif kind == "done":
            self.done += self.members[trial]

    def first_report(self, trained: bool = False) -> float:
        times = [t for reports in self.reports.values() for t, step in reports if step > 0 or not trained]
        return min(times, default=math.nan)

    def throughput(self) -> float:
        """Trial-steps per second over the union of the Ray trials' first-to-last-report intervals."""
        spans = sorted((r[0][0], r[-1][0], (r[-1][1] - r[0][1]) * self.members[k])
                       for k, r in self.reports.items() if len(r) > 1)
        busy, end = 0.0, -math.inf
        for lo, hi, _ in spans:
            busy += max(0.0, hi - max(lo, end))
            end = max(end, hi)
        return sum(s for *_, s in spans) / busy if busy > 0 else math.nan

    def gpu_summary(self) -> str:
        if not self.gpu:
            return "no nvidia-smi"
        lo, hi = min(self.starts, default=0.0), max((r[-1][0] for r in self.reports.values()), default=self.wall)
        inside = [s for t, s in self.gpu if lo <= t <= hi] or [s for _, s in self.gpu]
        sm = [float(s["sm"]) for s in inside if s.get("sm", "-").replace(".", "").isdigit()]
        fb = [float(s["fb"]) for s in inside if s.get("fb", "-").replace(".", "").isdigit()]
        mean_sm = f"{sum(sm) / len(sm):.0f}%" if sm else "-"
        return f"SM {mean_sm} mean over {len(inside)} samples, memory {max(fb, default=math.nan):.0f} MiB max"


def seconds_of_day(hms: str) -> int:
    h, m, sec = (int(v) for v in hms.split(":"))
    return 3600 * h + 60 * m + sec


def sample_gpu(run: Run, log: Path) -> Callable[[], None]:
    """Start ``nvidia-smi dmon`` (utilisation and memory, every second) into ``run.gpu`` and ``log``; returns
    the function that stops it (and does nothing without nvidia-smi).
    Into a pipe its output is block-buffered, and lost when it is stopped: stdbuf makes it line-buffered, and each
    sample is placed by its own time of day in case it still arrives in bursts."""
    if shutil.which("nvidia-smi") is None:
        return lambda: None
    line_buffered = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
    proc = subprocess.Popen([*line_buffered, "nvidia-smi", "dmon", "-s", "um", "-d", "1", "-o", "T"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    start = seconds_of_day(time.strftime("%H:%M:%S"))

    def read() -> None:
        names: list[str] = []
        with open(log, "w") as f:
            for line in proc.stdout:  # type: ignore[union-attr]
                f.write(line)
                values = line.split()
                if line.startswith("#"):
                    names = names or line[1:].split()  # the first header names the columns, the second their units
                elif len(values) == len(names) and ":" in values[0]:
                    t = (seconds_of_day(values[0]) - start) % 86400
                    run.gpu.append((t, dict(zip(names, values, strict=True))))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def stop() -> None:
        proc.terminate()
        proc.wait()
        reader.join(timeout=5)

    return stop


def run_mode(spec_path: Path, storage: Path, mode: str, cap: float | None) -> Run:
    """``phasescape run`` of one mode's spec, its lines echoed with the mode and seconds since launch."""
    run = Run(mode, cap)
    storage.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    stop_sampling = sample_gpu(run, storage / "dmon.txt")
    proc = subprocess.Popen([sys.executable, "-m", "sweep", "run", str(spec_path), "--storage", str(storage)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def interrupt() -> None:  # Ctrl-C, as a user would; Tune ends the experiment and the driver writes the table
        run.capped = True
        for wait in (GRACE_S, GRACE_S):
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
        proc.kill()

    timer = threading.Timer(cap, interrupt) if cap else None
    if timer:
        timer.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        t = time.perf_counter() - start
        print(f"[{mode} {t:6.1f}s] {line}", end="", flush=True)
        run.add(t, line)
    run.status = proc.wait()
    run.wall = time.perf_counter() - start
    if timer:
        timer.cancel()
    stop_sampling()
    return run


def seconds(t: float) -> str:
    return "-" if math.isnan(t) else f"{t:.1f}s"


def table(runs: list[Run], n_trials: int, steps: int) -> str:
    """The modes side by side, then the ratios of packed to the others ("-": no such report arrived)."""
    head = (f"{'mode':9} {'first report':>12} {'first trained':>13} {'wall':>7} {'trials done':>11} "
            f"{'trial-steps/s':>13} {f'trials/h at {steps} steps':>24}  GPU")
    rows = [head]
    for r in runs:
        rate = r.throughput()
        capped = f" (stopped at its {r.cap:.0f}s cap)" if r.capped else ""
        first, trained = seconds(r.first_report()), seconds(r.first_report(trained=True))
        rows.append(f"{r.mode:9} {first:>12} {trained:>13} {r.wall:6.0f}s {f'{r.done}/{n_trials}':>11} {rate:13.1f} "
                    f"{3600 * rate / steps:24.0f}  {r.gpu_summary()}{capped}")
    by_mode = {r.mode: r.throughput() for r in runs}
    if "packed" in by_mode:
        rows += [f"packed / {m}: {by_mode['packed'] / rate:.2f}x trial-steps/s" for m, rate in by_mode.items()
                 if m != "packed" and rate > 0]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec")
    parser.add_argument("--storage", default="/tmp/gpu_sweep", help="STORAGE/MODE/NAME per mode (emptied first)")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--cap", nargs="*", default=[], metavar="MODE=SECONDS", help="stop a mode's run after this")
    parser.add_argument("--steps", type=int, help="override the spec's steps (eval_every: a third unless given)")
    parser.add_argument("--eval-every", type=int)
    parser.add_argument("--micro", action="store_true", help="micro preset on CPUs: test the commands and paths")
    parser.add_argument("--plan", action="store_true", help="write the mode specs and dry-run them; train nothing")
    args = parser.parse_args()
    caps = {mode: float(s) for mode, _, s in (c.partition("=") for c in args.cap)}

    from sweep.spec import load_spec  # validates the spec as written before anything is derived from it

    n_trials = len(load_spec(args.spec).trials())
    raw = yaml.safe_load(Path(args.spec).read_text())
    storage = Path(args.storage)
    if not args.plan:
        shutil.rmtree(storage, ignore_errors=True)
    (storage / "specs").mkdir(parents=True, exist_ok=True)
    runs, steps = [], 0
    for mode in args.modes:
        spec = mode_spec(raw, mode, n_trials, args.micro, args.steps, args.eval_every)
        steps = spec["steps"]
        path = storage / "specs" / f"{mode}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        print(f"== {mode}: pack {spec.get('pack', 1)}, resources {spec['resources']}, {spec['steps']} steps, "
              f"eval every {spec['eval_every']}" + (f", cap {caps[mode]:.0f}s" if mode in caps else ""), flush=True)
        if args.plan:
            subprocess.run([sys.executable, "-m", "sweep", "run", str(path), "--storage", str(storage / mode),
                            "--dry-run"], check=True)
            continue
        runs.append(run_mode(path, storage / mode, mode, caps.get(mode)))
    if runs:
        print(table(runs, n_trials, steps), flush=True)
    if any(r.status not in (0, 130) for r in runs):  # 130: a capped run, interrupted as intended
        sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
