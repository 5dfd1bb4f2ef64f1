"""Adaptive landscapes: the full grid against early stopping, boundary search and both, on the same axes, seeds and
step budget.

    .venv/bin/python -m bench.landscape [--quick] [--n 6] [--steps 1500] [--eval-every 250] [--seeds 0]
                                        [--out DIR] [--from DIR] [--real] [--scaling]

Runs the full density x overlap grid (n x n, ``sweeps``-style spec, tiny preset, 1 CPU per trial) through
``python -m sweep run`` and times it. The three adaptive variants are then **replayed** on the full grid's own
trial histories with the real rules (``model.train.settled`` for ``stop``, ``sweep.boundary.BoundaryPlan`` for the
search): on a CPU a trial is reproducible bit for bit, so a trial stopped at step s has exactly the full trial's
history up to s, and the search's decisions depend only on final phases. Their trials run and trial-steps are
therefore exact; their wall time is estimated as the full grid's wall time x their share of its trial-seconds
(``time_s`` at each trial's last evaluation), unless ``--real`` runs them as real sweeps too (stop and boundary
search through ``phasescape run``) and measures it.

For each variant: trials run, trial-steps (and the share of the full grid's), trial-seconds, wall time, and the map
against the full grid's: cells whose phase differs, and every boundary segment (neighbouring cells of different
final phase, by row and column) of the full grid that the variant's map lacks. ``--from DIR`` replays a finished
full-grid folder without training. ``--quick``: a 4 x 4 grid at 900 steps (about 12 minutes on an idle 2-core
machine).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from model.definitions import most_common_phase
from model.train import settled
from sweep.boundary import BoundaryPlan
from sweep.spec import spec_from_dict

Cell = tuple[int, int]


def axes_for(n: int) -> dict[str, list[float]]:
    """n densities from 0.05 to 0.5 (geometric) and n overlaps from 0.2 to 0.7."""
    return {"density": [round(float(v), 4) for v in np.geomspace(0.05, 0.5, n)],
            "overlap": [round(float(v), 3) for v in np.linspace(0.2, 0.7, n)]}


def write_spec(folder: Path, name: str, args: argparse.Namespace, **extra: Any) -> Path:
    spec = {"name": name, "base": args.preset, "axes": axes_for(args.n), "seeds": args.seeds, "steps": args.steps,
            "eval_every": args.eval_every, "resources": {"cpu": 1}, "storage": str(folder / "results"), **extra}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def run(spec: Path) -> float:
    """Run a spec with ``python -m sweep run``; its wall seconds."""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "sweep", "run", str(spec)], env=env, capture_output=True,
                            text=True)
    if result.returncode != 0:
        sys.exit(f"sweep failed ({spec}):\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def histories(sweep_dir: Path, n: int) -> dict[Cell, list[list[dict[str, Any]]]]:
    """Per cell (index on the density and overlap axes, in spec order) the evaluation histories of its trials."""
    manifest = json.loads((sweep_dir / "manifest.json").read_text())
    spec = spec_from_dict(manifest["spec"])
    table = pd.read_parquet(sweep_dir / "results.parquet")
    out: dict[Cell, list[list[dict[str, Any]]]] = {}
    for cell in itertools.product(range(n), range(n)):
        point = {"density": spec.axes["density"][cell[0]], "overlap": spec.axes["overlap"][cell[1]]}
        out[cell] = []
        for seed in spec.seeds:
            rows = table[table["trial_id"] == spec.config_for(point, seed).hash()].sort_values("step")
            out[cell].append(rows[["step", "time_s", "phase"]].to_dict("records"))
    return out


def stopped(history: list[dict[str, Any]], phase: str, patience: int) -> list[dict[str, Any]]:
    """The history a trial with ``stop`` would have had: cut after the first evaluation at which it settled."""
    for k in range(len(history)):
        if settled(history[: k + 1], phase, patience):
            return history[: k + 1]
    return history


def variant(cells: dict[Cell, list[list[dict[str, Any]]]], n: int, stop: bool, search: bool, phase: str,
            patience: int) -> dict[str, Any]:
    """Replay one variant: trials run, trial-steps, trial-seconds and its phase map (trained and inferred)."""
    runs = {c: [stopped(h, phase, patience) if stop else h for h in hs] for c, hs in cells.items()}
    phase_of = {c: most_common_phase(h[-1]["phase"] for h in hs) for c, hs in runs.items()}
    if search:
        plan = BoundaryPlan([n, n])
        known: dict[Cell, str | None] = {}
        trained: list[Cell] = []
        inferred: dict[Cell, str] = {}
        for level in range(plan.depth):
            train, guessed = plan.step(level, known)
            known.update(guessed)
            inferred.update(guessed)
            known.update({c: phase_of[c] for c in train})
            trained += train
    else:
        trained, inferred = list(cells), {}
    chosen = [h for c in trained for h in runs[c]]
    return {"trials": len(chosen), "steps": sum(h[-1]["step"] for h in chosen),
            "seconds": sum(h[-1]["time_s"] for h in chosen),
            "map": {**{c: phase_of[c] for c in trained}, **inferred}, "n_inferred": len(inferred),
            "n_stopped": sum(len(h) < len(f) for c in trained for h, f in zip(runs[c], cells[c], strict=True))}


def segments(phase_map: dict[Cell, str | None], n: int) -> set[tuple[Cell, Cell]]:
    """Neighbouring cell pairs (by row and column) whose phases differ: the boundary segments."""
    out = set()
    for i, j in itertools.product(range(n), range(n)):
        for a in ((i + 1, j), (i, j + 1)):
            if a[0] < n and a[1] < n and phase_map[(i, j)] != phase_map[a]:
                out.add(((i, j), a))
    return out


def report(cells: dict[Cell, list[list[dict[str, Any]]]], n: int, wall: float, args: argparse.Namespace,
           walls: dict[str, float]) -> list[str]:
    full = variant(cells, n, False, False, args.phase, args.patience)
    truth = segments(full["map"], n)
    axes = axes_for(n)
    lines = [f"grid {n} x {n} (density {axes['density']} x overlap {axes['overlap']}), seeds {args.seeds}, "
             f"{args.steps} steps, eval every {args.eval_every}, preset {args.preset}; "
             f"stop: phase {args.phase}, patience {args.patience}",
             "full grid map (rows: overlap high to low; columns: density low to high):"]
    for j in reversed(range(n)):
        lines.append("  " + " ".join(full["map"][(i, j)] or "-" for i in range(n)))
    lines.append(f"full grid boundary segments: {len(truth)}")
    header = f"{'variant':<22}{'trials':>7}{'trial-steps':>13}{'share':>8}{'trial-s':>9}{'wall s':>10}  map vs full"
    lines.append(header)
    for name, stop, search in (("full grid", False, False), ("(a) early stopping", True, False),
                               ("(b) boundary search", False, True), ("(c) both", True, True)):
        v = variant(cells, n, stop, search, args.phase, args.patience)
        measured = walls.get(name)
        wall_text = f"{measured:.0f}" if measured is not None else f"~{wall * v['seconds'] / full['seconds']:.0f} est"
        differ = sorted(c for c in v["map"] if v["map"][c] != full["map"][c])
        lost = truth - segments(v["map"], n)
        verdict = ("every segment found" if not lost else f"{len(lost)} of {len(truth)} segments lost")
        verdict += f"; cells differing: {differ}" if differ else "; no cell differs"
        extra = f" ({v['n_inferred']} inferred)" if search else ""
        extra += f" ({v['n_stopped']} stopped early)" if stop else ""
        lines.append(f"{name:<22}{v['trials']:>7}{v['steps']:>13}{v['steps'] / full['steps']:>8.0%}"
                     f"{v['seconds']:>9.0f}{wall_text:>10}  {verdict}{extra}")
    return lines


def searched(n: int, truth: Any) -> tuple[int, int]:
    """(cells trained, inferred cells whose phase is wrong) of the boundary search on an n x n grid whose true
    final phase of cell c is ``truth(c)``."""
    plan = BoundaryPlan([n, n])
    known: dict[Cell, str | None] = {}
    trained = 0
    wrong = 0
    for level in range(plan.depth):
        train, guessed = plan.step(level, known)
        known.update(guessed)
        known.update({c: truth(c) for c in train})
        trained += len(train)
        wrong += sum(p != truth(c) for c, p in guessed.items())
    return trained, wrong


def scaling(sizes: list[int]) -> list[str]:
    """How the boundary search's share of trials falls with the grid: the rule replayed on synthetic maps with a
    straight boundary (C on the denser half) and a diagonal one, against the floor of any method that trains
    the cells on both sides of every segment of a straight boundary (2 per row: 2 / n of the grid)."""
    lines = [f"{'grid':>9}{'cells':>7}{'straight':>16}{'diagonal':>16}{'floor 2/n':>11}"]
    for n in sizes:
        straight, w1 = searched(n, lambda c, n=n: "C" if c[0] >= n // 2 else "B")
        diagonal, w2 = searched(n, lambda c, n=n: "C" if c[0] + c[1] >= n else "B")
        assert w1 == w2 == 0, "an inferred cell got the wrong phase"
        lines.append(f"{n:>4} x {n:<3}{n * n:>7}{straight:>8} ({straight / n / n:>4.0%}){diagonal:>9} "
                     f"({diagonal / n / n:>4.0%}){2 / n:>10.0%}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 x 4 grid, 900 steps, eval every 100")
    parser.add_argument("--n", type=int, default=6, help="values per axis (default 6)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--phase", default="C")
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--out", help="folder for specs and results (default: a temporary one)")
    parser.add_argument("--from", dest="source", help="a finished full-grid sweep folder to replay")
    parser.add_argument("--real", action="store_true", help="also run the three variants as real sweeps")
    parser.add_argument("--scaling", action="store_true",
                        help="the boundary search's trial share on synthetic 4 x 4 to 64 x 64 maps; trains nothing")
    args = parser.parse_args()
    if args.scaling:
        print("\n".join(scaling([4, 6, 8, 12, 16, 24, 32, 64])))
        return
    if args.quick:
        args.n, args.steps, args.eval_every = 4, 900, 100
    folder = Path(args.out or tempfile.mkdtemp(prefix="bench_landscape_"))
    folder.mkdir(parents=True, exist_ok=True)
    walls: dict[str, float] = {}
    if args.source:
        sweep_dir = Path(args.source)
        wall = math.nan
    else:
        wall = run(write_spec(folder, "full", args))
        walls["full grid"] = wall
        sweep_dir = folder / "results" / "full"
    if args.real:
        stop = {"phase": args.phase, "patience": args.patience}
        for name, extra in (("(a) early stopping", {"stop": stop}), ("(b) boundary search", {"search": "boundary"}),
                            ("(c) both", {"stop": stop, "search": "boundary"})):
            walls[name] = run(write_spec(folder, name[1], args, **extra))
    cells = histories(sweep_dir, args.n)
    lines = report(cells, args.n, wall, args, walls)
    print("\n".join(lines))
    (folder / "landscape_bench.txt").write_text("\n".join(lines) + "\n")
    print(f"results: {sweep_dir}; figures in {folder / 'landscape_bench.txt'}")


if __name__ == "__main__":
    main()
