"""The Ray Tune ``Searcher`` of ``search: boundary`` (the rule: sweep/boundary.py).

It suggests the trials of one level at a time (packed into groups with ``pack``), which Tune runs concurrently.
Whenever a trial ends it replays the rule on the trial folders (``next_trials``: finished trials reused by their
config hash, final phases read from their metrics) and queues the level's trials not yet started, else the next
level's trials that are needed whatever the running ones end in, so a level's last trials do not leave
CPUs idle; None while nothing more can be decided, FINISHED when the full axis lists are reached. Its state (queue,
running, failed) is saved with Tune's experiment state, so ``phasescape resume`` continues where it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher

from model.config import Config
from model.definitions import FINISHED
from sweep.boundary import next_trials
from sweep.spec import SweepSpec, spec_from_dict
from sweep.store import read_status, trial_folder


class BoundarySearcher(Searcher):
    """Ray Tune searcher of ``search: boundary``: suggests one level's trials at a time (see module docstring)."""

    def __init__(self, spec: SweepSpec, sweep_dir: Path, settled: bool = True) -> None:
        super().__init__(metric=None, mode=None)
        self.spec_dict = spec.to_dict()
        self.sweep_dir = str(sweep_dir)
        self.settled = settled
        self.queue: list[dict[str, Any]] = []  # parameters of the current level's trials not yet suggested
        self.running: dict[str, list[str]] = {}  # Tune trial id -> the trial ids it trains
        self.failed: set[str] = set()  # trial ids that Tune gave up on in this run: done, without a phase
        self.finished = False
        self.stale = True  # a trial ended since the last replay: the folders may say more

    def _spec(self) -> SweepSpec:
        return spec_from_dict(self.spec_dict)

    def _fill(self) -> None:
        """Queue the trials the search needs next that neither finished on disk nor run now: the current level's,
        else the next level's that are certain (module docstring)."""
        from sweep.packed_trial import pack_groups

        spec = self._spec()
        running = {t for ids in self.running.values() for t in ids}
        pending, certain, complete = next_trials(spec, Path(self.sweep_dir), self.settled, frozenset(self.failed))
        if complete:
            self.finished = True
            return
        pending = [c for c in pending if c.hash() not in running] or [c for c in certain if c.hash() not in running]
        stop = self.spec_dict.get("stop")
        if spec.pack > 1:
            self.queue = [{"sweep_dir": self.sweep_dir, "configs": [c.to_dict() for c in group], "stop": stop}
                          for group in pack_groups(pending, spec.pack)]
        else:
            self.queue = [{"sweep_dir": self.sweep_dir, "config": c.to_dict(), "stop": stop} for c in pending]

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        """The next trial the search needs; None while nothing more can be decided; FINISHED at the end."""
        if not self.queue and not self.finished and (self.stale or not self.running):
            self.stale = False  # replay the folders once per ended trial, not at every call of Tune's loop
            self._fill()
        if self.finished:
            return self.FINISHED
        if not self.queue:
            return None
        params = self.queue.pop(0)
        configs = params["configs"] if "configs" in params else [params["config"]]
        self.running[trial_id] = [Config.from_dict(c).hash() for c in configs]
        return params

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """A trial ended (finished, stopped or failed for good): the level waits for one fewer; its trials that did
        not finish (ERROR) count as done without a phase, so the search goes on around them."""
        self.stale = True
        for tid in self.running.pop(trial_id, []):
            if read_status(trial_folder(Path(self.sweep_dir), tid))["status"] not in FINISHED:
                self.failed.add(tid)

    def save(self, checkpoint_path: str) -> None:
        """Write the searcher's state as JSON (Tune saves it with its experiment state; no pickle to load back)."""
        with open(checkpoint_path, "w") as f:
            json.dump({"queue": self.queue, "running": self.running, "failed": sorted(self.failed),
                       "finished": self.finished}, f)

    def restore(self, checkpoint_path: str) -> None:
        """Load a ``save``d state."""
        with open(checkpoint_path) as f:
            state = json.load(f)
        self.queue, self.running, self.failed = state["queue"], state["running"], set(state["failed"])
        self.finished = state["finished"]
