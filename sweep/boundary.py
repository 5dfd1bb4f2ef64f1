"""Boundary search (``search: boundary``): train a coarse sub-grid, then only the cells where the phase changes.

Each axis (a list of at least 3 values, sorted when they are numbers) has levels of index sets: level 0 is
every 2nd value (every 4th for 9 values or more), its last value always included, so the corners of the grid are
always trained; each next level adds the midpoint of every gap, until the full list is reached. At level L + 1 a
cell that is new to the level's lattice is trained only when the cells of level L that enclose it (the ends of its
gap along each axis where it sits in one: 2 on an edge, 4 in a square) do not all have the same final phase;
otherwise it is **inferred**: it takes the phase they agree on, without training. A cell's phase is the most
common final phase over its seeds (ties to the less advanced phase, as in the landscape); a cell whose trials all
failed has no phase, and cells next to it are trained.

``BoundaryPlan`` is the rule on index grids (pure, tested on synthetic phases); ``BoundarySearcher``
(sweep/boundary_searcher.py) is the Ray Tune ``Searcher`` that runs it level by level.
``plan_from_disk`` replays the rule on what the trial folders hold: the trials still needed and
the inferred cells, which the driver writes into the manifest for the report.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from model.config import Config
from model.definitions import FINISHED, most_common_phase
from model.geometry import derived_quantities
from sweep.spec import SweepSpec
from sweep.store import evaluations, read_status, trial_folder

Cell = tuple[int, ...]


def coarse_stride(n: int) -> int:
    """Every 2nd value of an axis of up to 8 values, every 4th of a longer one."""
    return 4 if n >= 9 else 2


def axis_levels(n: int, stride: int | None = None) -> list[list[int]]:
    """Index sets of an axis of ``n`` values, coarse to full: level 0 every ``stride``-th index and the last one,
    each next level adding the midpoint of every gap."""
    levels = [sorted(set(range(0, n, stride or coarse_stride(n))) | {n - 1})]
    while len(levels[-1]) < n:
        current = levels[-1]
        levels.append(sorted(set(current) | {(a + b) // 2 for a, b in itertools.pairwise(current) if b - a > 1}))
    return levels


class BoundaryPlan:
    """The refinement rule on a grid of ``sizes`` (values per axis), cells as index tuples."""

    def __init__(self, sizes: list[int]) -> None:
        self.axes = [axis_levels(n) for n in sizes]
        self.depth = max(len(levels) for levels in self.axes)

    def indices(self, level: int) -> list[list[int]]:
        """Each axis' index set at ``level``."""
        return [levels[min(level, len(levels) - 1)] for levels in self.axes]

    def lattice(self, level: int) -> list[Cell]:
        """Every cell of the level's lattice."""
        return list(itertools.product(*self.indices(level)))

    def corners(self, cell: Cell, level: int) -> list[Cell]:
        """The cells of lattice ``level - 1`` that enclose ``cell``: along each axis its own index if that is on
        the coarser lattice, else the two ends of the gap it sits in."""
        sides = []
        for i, coarse in zip(cell, self.indices(level - 1), strict=True):
            if i in coarse:
                sides.append((i,))
            else:
                sides.append((max(c for c in coarse if c < i), min(c for c in coarse if c > i)))
        return list(itertools.product(*sides))

    def step(self, level: int, known: dict[Cell, str | None]) -> tuple[list[Cell], dict[Cell, str]]:
        """The cells of ``level`` to train and those inferred, given the phases ``known`` (trained or inferred)
        of every cell of the coarser levels. Level 0 trains its whole lattice."""
        if level == 0:
            return self.lattice(0), {}
        train, inferred = [], {}
        for cell in self.lattice(level):
            if cell in known:
                continue
            phases = {known[c] for c in self.corners(cell, level)}
            if len(phases) == 1 and None not in phases:
                inferred[cell] = phases.pop()
            else:
                train.append(cell)
        return train, inferred

    def certain(self, level: int, known: dict[Cell, str | None]) -> list[Cell]:
        """The cells that ``step(level + 1, ...)`` will train whatever the cells of ``level`` not yet in ``known``
        turn out to be: those whose enclosing cells already show two different phases, or a failed one (None). A
        searcher can start them while the last trials of ``level`` still run."""
        if level + 1 >= self.depth:
            return []
        current = set(self.lattice(level))
        out = []
        for cell in self.lattice(level + 1):
            if cell in current or cell in known:
                continue
            phases = {known[c] for c in self.corners(cell, level + 1) if c in known}
            if None in phases or len(phases) > 1:
                out.append(cell)
        return out

    def replay(self, trained: dict[Cell, str | None]) -> tuple[list[Cell], dict[Cell, str], int]:
        """Run the rule on the phases of the cells trained so far: (cells still to train at the first level that
        needs one, every inferred cell up to that level, that level); level == depth when the search is done."""
        known: dict[Cell, str | None] = {}
        inferred_all: dict[Cell, str] = {}
        for level in range(self.depth):
            train, inferred = self.step(level, known)
            known.update(inferred)
            inferred_all.update(inferred)
            missing = [c for c in train if c not in trained]
            if missing:
                return missing, inferred_all, level
            known.update({c: trained[c] for c in train})
        return [], inferred_all, self.depth


def sorted_axes(spec: SweepSpec) -> dict[str, list[Any]]:
    """The spec's grid axes, each sorted when its values are all numbers (neighbours are neighbours in value)."""
    out = {}
    for key, values in spec.grid_axes().items():
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        out[key] = sorted(values) if numeric else list(values)
    return out


def cell_configs(spec: SweepSpec, axes: dict[str, list[Any]], cell: Cell) -> list[Config]:
    """The trials of one cell: its point of the axes with every seed."""
    point = {key: axes[key][i] for key, i in zip(axes, cell, strict=True)}
    return [spec.config_for(point, seed) for seed in spec.seeds]


def final_phase(folder: Path) -> str | None:
    """The phase of a finished trial's last evaluation (None when it failed or has none)."""
    if read_status(folder)["status"] not in FINISHED:
        return None
    history = evaluations(folder)
    return history[-1].get("phase") if history else None


def cell_phase(sweep_dir: Path, configs: list[Config]) -> str | None:
    """A trained cell's phase: most common final phase over its seeds that finished."""
    phases = [final_phase(trial_folder(sweep_dir, c.hash())) for c in configs]
    return most_common_phase(p for p in phases if p)


def _replay_disk(spec: SweepSpec, sweep_dir: Path, settled: bool, failed: frozenset[str]) -> tuple[Any, ...]:
    """Replay the search on the trial folders up to the first level with unfinished trials: (plan, axes, ids of
    the trials done, phases of the cells known so far (trained or inferred), that level's cells to train, every
    inferred cell so far, the level; level == plan.depth when the search is complete)."""
    from sweep.store import finished_trial_ids

    axes = sorted_axes(spec)
    plan = BoundaryPlan([len(v) for v in axes.values()])
    done = (finished_trial_ids(sweep_dir, settled) if Path(sweep_dir).exists() else set()) | set(failed)
    trained: dict[Cell, str | None] = {}
    while True:
        missing, inferred, level = plan.replay(trained)
        unfinished = [cell for cell in missing if any(c.hash() not in done for c in cell_configs(spec, axes, cell))]
        if level == plan.depth or unfinished:
            known: dict[Cell, str | None] = {**trained, **inferred}
            known.update({cell: cell_phase(sweep_dir, cell_configs(spec, axes, cell))
                          for cell in missing if cell not in unfinished})
            return plan, axes, done, known, missing, inferred, level
        for cell in missing:
            trained[cell] = cell_phase(sweep_dir, cell_configs(spec, axes, cell))


def plan_from_disk(spec: SweepSpec, sweep_dir: Path, settled: bool = True,
                   failed: frozenset[str] = frozenset()) -> tuple[list[Config], dict[Cell, str], bool]:
    """Replay the search on the trial folders: (the trials it needs next that have not finished, the inferred
    cells so far, whether the search is complete). Trials in ``failed`` (ids) count as done, without a phase;
    ``settled`` as for ``finished_trial_ids``."""
    plan, axes, done, _, missing, inferred, level = _replay_disk(spec, sweep_dir, settled, failed)
    pending = [c for cell in missing for c in cell_configs(spec, axes, cell) if c.hash() not in done]
    return pending, inferred, level == plan.depth


def next_trials(spec: SweepSpec, sweep_dir: Path, settled: bool = True,
                failed: frozenset[str] = frozenset()) -> tuple[list[Config], list[Config], bool]:
    """What the searcher may start, from one replay of the trial folders: (the current level's trials not
    finished, the next level's trials it will need whatever the unfinished ones end in (``BoundaryPlan.certain``)
    not finished, whether the search is complete). Started early, the second fill the CPUs a level's last trials
    leave idle, and the cells trained are the ones waiting for the level would give."""
    plan, axes, done, known, missing, _, level = _replay_disk(spec, sweep_dir, settled, failed)
    pending = [c for cell in missing for c in cell_configs(spec, axes, cell) if c.hash() not in done]
    certain = [c for cell in plan.certain(level, known) for c in cell_configs(spec, axes, cell) if c.hash() not in done]
    return pending, certain, level == plan.depth


def grid_record(spec: SweepSpec, inferred: dict[Cell, str]) -> dict[str, Any]:
    """What the manifest stores of a boundary search for the report: every cell of the full grid with its value
    of each varying config column and derived quantity (as the results table has them), and for the cells it
    did not train the inferred phase."""
    axes = sorted_axes(spec)
    cells = []
    for cell in itertools.product(*(range(len(v)) for v in axes.values())):
        config = cell_configs(spec, axes, cell)[0]
        flat = config.flat()
        values = {k: v for k, v in flat.items() if k != "train.seed"}
        values.update({k: float(v) for k, v in derived_quantities(config.data, config.train.seed).items()})
        cells.append({"values": values, "inferred": inferred.get(cell)})
    # only the columns that vary over the grid: the cells' coordinates
    keys = [k for k in cells[0]["values"] if len({json.dumps(c["values"][k]) for c in cells}) > 1]
    return {"axes": list(axes), "cells": [{"values": {k: c["values"][k] for k in keys},
                                           "trained": c["inferred"] is None, "phase": c["inferred"]} for c in cells]}
