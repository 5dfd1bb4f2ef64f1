"""What a live report costs: one rebuild of report.html, and the trials' throughput with and without live rebuilds.

    .venv/bin/python -m bench.live_report [--quick] [--grid 4] [--steps 300] [--every 30] [--rounds 2] [--repeats 3]

Writes a micro density x overlap spec (``--grid`` values per axis, one seed, 1 CPU per trial) and runs it with
``phasescape run`` into fresh storage, once with ``--report-every 0`` (off) and once with ``--report-every EVERY``
(on), over ``--rounds`` rounds with the order alternating (off/on, then on/off, ...), and compares the two runs of
each round, so load that drifts on a shared machine hits both sides of a ratio alike. Per run it reads from the
results table the trials' own speed (training steps per second of trial time, ``time_s``, summed over trials:
what a rebuild would slow) and from the driver's output the sweep's time ("sweep finished in"), the live rebuilds,
their median time and the CPU seconds they took (also as a share of the sweep's CPU time: its seconds x the
cores), and the final build (from the status to the last line). Then it times rebuilds of the first finished
sweep's live page (its manifest marked unfinished), ``--repeats`` times each: cold, in a fresh process as the final
build runs (``python -m analysis.live SWEEP 0``: interpreter, imports, table, figures, page) at nice 19 and 0, and
warm, in this process once imported, as the driver's long-lived child rebuilds. Prints each run, the per-round
on/off ratios and the rebuild times (wall and CPU seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

CPUS = os.cpu_count() or 1
DENSITY = [0.1, 0.25, 0.5, 1.0, 1.5, 2.0]  # micro (8 x 8) lattices
OVERLAP = [0.2, 0.35, 0.5, 0.6, 0.7, 0.8]


def write_spec(folder: Path, grid: int, steps: int) -> Path:
    """A grid x grid micro landscape spec in ``folder``."""
    spec = {"name": "live_bench", "base": "micro", "axes": {"density": DENSITY[:grid], "overlap": OVERLAP[:grid]},
            "seeds": [0], "steps": steps, "eval_every": max(steps // 6, 1), "resources": {"cpu": 1}}
    path = folder / "live_bench.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def run(spec: Path, storage: Path, every: int) -> dict[str, float]:
    """Run the sweep with ``--report-every every``; the trials' steps per second, the sweep's and the final build's
    seconds, the live rebuilds, their median seconds and their CPU seconds in all."""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1"}  # lines as they are printed
    command = [sys.executable, "-m", "sweep", "run", str(spec), "--storage", str(storage), "--accept-unmeasurable",
               "--report-every", str(every)]
    began = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    lines: list[tuple[float, str]] = [(time.perf_counter() - began, line) for line in proc.stdout]
    if proc.wait() != 0:
        sys.exit("".join(line for _, line in lines[-30:]))
    text = "".join(line for _, line in lines)
    table = pd.read_parquet(storage / "live_bench" / "results.parquet")
    last = table.sort_values("step").groupby("trial_id").tail(1)
    results_at = next(t for t, line in lines if line.startswith("results: "))
    live = re.search(r"\((\d+) live rebuild\(s\)(?:, (\d+) s each \(median\), (\d+) CPU s in all)?\)", text)
    rebuilds, rebuild_s, rebuild_cpu = live.groups() if live else ("0", None, None)
    return {"steps_per_s": last["step"].sum() / last["time_s"].sum(),
            "sweep_s": float(re.search(r"sweep finished in (\d+)s", text).group(1)),
            "final_s": lines[-1][0] - results_at if live else 0.0,
            "rebuilds": int(rebuilds), "rebuild_s": float(rebuild_s or "nan"), "rebuild_cpu": float(rebuild_cpu or 0)}


def time_cold(sweep_dir: Path, nice: int) -> tuple[float, float]:
    """Wall and CPU seconds of a rebuild in a fresh process at ``nice`` (interpreter and imports included), as the
    driver's final build runs (``python -m analysis.live SWEEP 0``)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "analysis.live", str(sweep_dir), "0"], check=True,
                   env={**os.environ, "OMP_NUM_THREADS": "1"}, preexec_fn=lambda: os.nice(nice))
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def time_warm(sweep_dir: Path) -> tuple[float, float]:
    """Wall and CPU seconds of a live rebuild in this process once everything is imported, as the driver's
    long-lived child does each rebuild after its first (this process: nice 0, one thread)."""
    from analysis.live import build

    began, cpu = time.perf_counter(), time.process_time()
    build(sweep_dir, 30)
    return time.perf_counter() - began, time.process_time() - cpu


def median_line(what: str, times: list[tuple[float, float]]) -> str:
    """'WHAT: 7.6 s wall, 4.9 s CPU (median of 3)' of (wall, CPU) pairs."""
    wall, cpu = (statistics.median(t[i] for t in times) for i in (0, 1))
    return f"{what}: {wall:.1f} s wall, {cpu:.1f} s CPU (median of {len(times)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=4, help="values per axis (at most 6)")
    parser.add_argument("--steps", type=int, default=300, help="training steps per trial")
    parser.add_argument("--every", type=int, default=30, help="--report-every of the 'on' runs (seconds)")
    parser.add_argument("--rounds", type=int, default=2, help="off/on pairs, the order alternating")
    parser.add_argument("--repeats", type=int, default=3, help="timed rebuilds at each nice level")
    parser.add_argument("--quick", action="store_true", help="2 x 2 grid, 150 steps, one round, one repeat")
    args = parser.parse_args()
    if args.quick:
        args.grid, args.steps, args.rounds, args.repeats = 2, 150, 1, 1
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load}; {args.grid}x{args.grid} micro sweep, {args.steps} steps per "
          f"trial, 2 trials at a time; live rebuilds every {args.every} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="live_bench-") as tmp:
        spec = write_spec(Path(tmp), args.grid, args.steps)
        ratios: dict[str, list[float]] = {"steps_per_s": [], "sweep_s": []}
        for r in range(args.rounds):
            seen = {}
            for mode in ("off", "on") if r % 2 == 0 else ("on", "off"):
                seen[mode] = run(spec, Path(tmp) / f"run{r}{mode}", args.every if mode == "on" else 0)
                s = seen[mode]
                print(f"round {r + 1} {mode:>3}: trials {s['steps_per_s']:6.1f} steps/s of trial time, sweep "
                      f"{s['sweep_s']:4.0f} s, {s['rebuilds']} live rebuilds of {s['rebuild_s']:.0f} s each taking "
                      f"{s['rebuild_cpu']:.0f} CPU s in all ({s['rebuild_cpu'] / (s['sweep_s'] * CPUS):.1%} of the "
                      f"sweep's CPU time), final report {s['final_s']:.1f} s; load average now "
                      f"{os.getloadavg()[0]:.1f}", flush=True)
            for key in ratios:
                ratios[key].append(seen["on"][key] / seen["off"][key])
        for key, what in (("steps_per_s", "trial throughput"), ("sweep_s", "sweep time")):
            print(f"{what}, live on / off, per round: {' '.join(f'{v:.3f}' for v in ratios[key])} (median "
                  f"{statistics.median(ratios[key]):.3f})")
        sweep_dir = Path(tmp) / "run0off" / "live_bench"
        manifest = json.loads((sweep_dir / "manifest.json").read_text())
        # Marked unfinished, the finished sweep gets the live page (progress, reload) rather than the final one.
        (sweep_dir / "manifest.json").write_text(json.dumps({**manifest, "finished": False}))
        for nice in (19, 0):
            print(median_line(f"cold rebuild, nice {nice}", [time_cold(sweep_dir, nice) for _ in range(args.repeats)]),
                  flush=True)
        os.environ["OMP_NUM_THREADS"] = "1"
        time_warm(sweep_dir)  # imports
        print(median_line("warm rebuild, nice 0", [time_warm(sweep_dir) for _ in range(args.repeats)])
              + f"; page {(sweep_dir / 'report' / 'report.html').stat().st_size / 1e6:.1f} MB", flush=True)

if __name__ == "__main__":
    main()
