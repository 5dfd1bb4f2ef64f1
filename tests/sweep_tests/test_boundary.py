"""Adaptive landscapes: the boundary search's refinement rule (pure), the stop option and bad specs (fast), and
micro sweeps on a local Ray: boundary search with stop, and resume after SIGKILL during a refinement level.

At micro scale every trial stays in phase A or B, so the tests draw the boundary with the phase thresholds: with
eval.phase_single 0.1 a micro trial (frac_single 0.125-0.19, acc < 0.1) is in phase B from step 0; with 0.3 or more
it is in phase A. The other axis (eval.phase_acc >= 0.5) changes no phase: the boundary is one straight line. The
data's sigma is 1.3 px (WIDE) so the detector's shape test lets the untrained network's blobs count as single bumps
on the 8 x 8 frame (its widest bump, 2 x 2.355 sigma + 2 px, then exceeds the frame); at sigma 1 it calls them
smears and every micro trial has frac_single 0.
"""

import hashlib
import itertools
import json

import pandas as pd
import pytest
import yaml
from conftest import phasescape
from test_sweep_run import kill_when_then_resume, statuses, steps_per_trial, write_spec

from model.config import Config, from_preset
from model.train import Trainer, settled
from sweep.boundary import BoundaryPlan, axis_levels
from sweep.cli import main
from sweep.spec import load_spec

WIDE = {"data.sigma": 1.3}  # see the module docstring


def test_axis_levels_coarse_then_midpoints_corners_always():
    assert axis_levels(3) == [[0, 2], [0, 1, 2]]
    assert axis_levels(4) == [[0, 2, 3], [0, 1, 2, 3]]
    assert axis_levels(6) == [[0, 2, 4, 5], [0, 1, 2, 3, 4, 5]]
    assert axis_levels(9) == [[0, 4, 8], [0, 2, 4, 6, 8], list(range(9))]


def run_plan(sizes, truth):
    """Drive BoundaryPlan as the searcher does, with the phases of ``truth(cell)``: trained cells per level and
    the inferred ones."""
    plan = BoundaryPlan(sizes)
    known, trained_by_level, inferred_all = {}, [], {}
    for level in range(plan.depth):
        train, inferred = plan.step(level, known)
        known.update(inferred)
        inferred_all.update(inferred)
        known.update({c: truth(c) for c in train})
        trained_by_level.append(sorted(train))
    return trained_by_level, inferred_all


def test_refinement_adds_exactly_the_cells_between_differing_neighbours():
    # 5 x 3, phase C where x == 0, B elsewhere: the boundary is the line between x = 0 and x = 1.
    levels, inferred = run_plan([5, 3], lambda c: "C" if c[0] == 0 else "B")
    assert levels[0] == [(0, 0), (0, 2), (2, 0), (2, 2), (4, 0), (4, 2)]
    assert levels[1] == [(1, 0), (1, 1), (1, 2)]  # between C at x=0 and B at x=2, in every row of the box
    assert inferred == {(0, 1): "C", (2, 1): "B", (3, 0): "B", (3, 1): "B", (3, 2): "B", (4, 1): "B"}


def test_next_level_cells_start_early_only_when_certain():
    # 5 x 3 as above, level 0 half done: (0, 0) is C, (2, 0) is B, the other coarse cells still run.
    plan = BoundaryPlan([5, 3])
    known = {(0, 0): "C", (2, 0): "B"}
    assert sorted(plan.certain(0, known)) == [(1, 0), (1, 1)]  # their enclosing cells already differ
    assert plan.certain(0, {**known, (4, 0): "B"}) == plan.certain(0, known)  # one phase alone decides nothing
    assert (3, 0) in plan.certain(0, {**known, (4, 0): None})  # a failed corner means training, as in step
    # whatever the rest turns out to be, the cells started early are among those level 1 trains
    for rest in itertools.product("BC", repeat=4):
        full = {**known, **dict(zip([(0, 2), (2, 2), (4, 0), (4, 2)], rest, strict=True))}
        train, _ = plan.step(1, full)
        assert set(plan.certain(0, known)) <= set(train)


@pytest.mark.parametrize("n", [4, 6, 8, 12, 16])
def test_straight_boundary_is_found_with_fewer_trials_and_every_inferred_phase_right(n):
    def truth(c):
        return "C" if c[0] + c[1] >= n else "B"  # a diagonal boundary

    levels, inferred = run_plan([n, n], truth)
    trained = [c for level in levels for c in level]
    assert len(trained) + len(inferred) == n * n and not set(trained) & set(inferred)
    assert all(phase == truth(c) for c, phase in inferred.items())
    if n >= 6:
        assert len(trained) < n * n


def test_uniform_grid_trains_only_the_coarse_level():
    levels, inferred = run_plan([6, 6], lambda c: "C")
    assert levels[0] == [(i, j) for i in (0, 2, 4, 5) for j in (0, 2, 4, 5)] and levels[1] == []
    assert len(inferred) == 20


def test_settled_needs_patience_consecutive_evaluations():
    history = [{"phase": p} for p in "ABCBC"]
    assert settled(history, "C", 1) and not settled(history, "C", 2)
    assert settled(history + [{"phase": "C"}], "C", 2)


def test_trainer_stops_once_settled():
    config = from_preset("micro", {**WIDE, "train.threads": 1, "eval.phase_single": 0.1, "train.steps": 60})
    history = Trainer(config).run(until=lambda h: settled(h, "B", 2))
    assert [m["step"] for m in history] == [0, 15] and {m["phase"] for m in history} == {"B"}


def test_packed_member_leaves_the_pack_once_settled_the_others_go_on():
    from model.packed import PackedTrainer

    configs = [from_preset("micro", {**WIDE, "train.threads": 1, "eval.phase_single": s, "train.steps": 60})
               for s in (0.1, 0.5)]
    left = []
    histories = PackedTrainer(configs).run(until=lambda h: settled(h, "B", 2), on_settled=left.append)
    assert [m.config.eval.phase_single for m in left] == [0.1]
    assert [m["step"] for m in histories[0]] == [0, 15] and [m["step"] for m in histories[1]] == [0, 15, 30, 45, 60]


GOOD = {"name": "ok", "base": "micro", "seeds": [0], "search": "boundary",
        "axes": {"data.sigma": [1.0, 1.2, 1.4], "eval.phase_acc": [0.5, 0.6, 0.7]}}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"axes": {"data.sigma": {"uniform": [1.0, 2.0]}, "eval.phase_acc": [0.5, 0.6, 0.7]}}, "axes.data.sigma"),
        ({"axes": {"data.sigma": [1.0, 1.2], "eval.phase_acc": [0.5, 0.6, 0.7]}}, "axes.data.sigma"),
        ({"axes": {}}, "axes"),
        ({"stop": {"phase": "D"}}, "stop.phase"),
        ({"stop": {"patience": 0}}, "stop.patience"),
        ({"stop": {"phase": "C", "wait": 2}}, "stop.wait"),
        ({"stop": {"patience": 1.5}}, "stop.patience"),
        ({"search": {"type": "random", "num_samples": 2}, "stop": "C"}, "stop"),
    ],
)
def test_bad_boundary_or_stop_spec_is_one_line_exit_2(tmp_path, capsys, change, field):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**GOOD, "storage": str(tmp_path / "r"), **change}))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{field}:" in err, err
    assert not (tmp_path / "r").exists()  # refused before anything was created or started


def test_stop_is_optional_and_leaves_the_spec_hash_alone(tmp_path):
    path = tmp_path / "spec.yaml"
    plain = {k: v for k, v in GOOD.items() if k != "search"}
    path.write_text(yaml.safe_dump({**plain, "storage": str(tmp_path)}))
    before = load_spec(path)
    as_before = {k: v for k, v in before.to_dict().items() if k not in ("pack", "stop")}  # the hash before stop
    assert before.stop is None
    assert before.hash() == hashlib.sha256(json.dumps(as_before, sort_keys=True).encode()).hexdigest()[:16]
    path.write_text(yaml.safe_dump({**plain, "storage": str(tmp_path), "stop": {"phase": "B", "patience": 3}}))
    stopped = load_spec(path)
    assert stopped.stop.phase == "B" and stopped.stop.patience == 3 and stopped.hash() != before.hash()


# --- micro sweeps on a local Ray ---------------------------------------------------------------------------

AXES = {"eval.phase_single": [0.1, 0.3, 0.5, 0.7, 0.9], "eval.phase_acc": [0.5, 0.7, 0.9]}
# coarse level: phase_single 0.1, 0.5, 0.9 x phase_acc 0.5, 0.9 (6 trials); then the 3 cells at phase_single 0.3
TRAINED = {(s, a) for s in (0.1, 0.5, 0.9) for a in (0.5, 0.9)} | {(0.3, a) for a in (0.5, 0.7, 0.9)}


@pytest.mark.slow
def test_boundary_search_with_stop_trains_the_boundary_and_infers_the_rest(tmp_path):
    spec = write_spec(tmp_path, name="boundary", axes=AXES, set=WIDE, search="boundary", steps=60,
                      stop={"phase": "B", "patience": 2})
    result = phasescape("run", str(spec))
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_dir = tmp_path / "results" / "boundary"
    table = pd.read_parquet(sweep_dir / "results.parquet")
    last = table.sort_values("step").groupby("trial_id").tail(1)
    assert {(r["eval.phase_single"], r["eval.phase_acc"]) for _, r in last.iterrows()} == TRAINED
    b = last[last["eval.phase_single"] == 0.1]
    assert set(b["status"]) == {"STOPPED"} and set(b["stop_reason"]) == {"phase"} and set(b["step"]) == {15}
    assert set(b["phase"]) == {"B"}
    rest = last[last["eval.phase_single"] > 0.1]
    assert set(rest["status"]) == {"COMPLETED"} and set(rest["step"]) == {60} and set(rest["phase"]) == {"A"}
    manifest = json.loads((sweep_dir / "manifest.json").read_text())
    assert manifest["finished"] and manifest["trials_total"] == 9 and manifest["boundary"]["complete"]
    inferred = {(c["values"]["eval.phase_single"], c["values"]["eval.phase_acc"]): c["phase"]
                for c in manifest["boundary"]["cells"] if not c["trained"]}
    assert inferred == {(0.1, 0.7): "B", (0.5, 0.7): "A", (0.7, 0.5): "A", (0.7, 0.7): "A", (0.7, 0.9): "A",
                        (0.9, 0.7): "A"}

    report = phasescape("report", str(sweep_dir))
    assert report.returncode == 0, report.stderr[-3000:]
    cells = pd.read_csv(sweep_dir / "report" / "landscape.csv")
    assert len(cells) == 15 and (cells["state"] == "inferred").sum() == 6
    summary = (sweep_dir / "report" / "summary.md").read_text()
    assert "6 cells of them are **inferred**" in summary and "Stopped early: 2 trials of 9" in summary

    again = phasescape("run", str(spec), env={"RAY_ADDRESS": "127.0.0.1:9"})  # all done: Ray is not contacted
    assert again.returncode == 0 and "nothing to train" in again.stdout, again.stderr[-2000:]


@pytest.mark.slow
def test_sigkill_during_refinement_then_resume_loses_no_trial_and_trains_none_twice(tmp_path):
    spec = write_spec(tmp_path, name="killed_boundary", axes=AXES, set=WIDE, search="boundary", steps=60,
                      max_concurrent=1)
    sweep_dir = tmp_path / "results" / "killed_boundary"
    done_before: list[str] = []

    def refining() -> bool:  # the coarse level done and a level-1 trial past its first checkpoints
        s = statuses(sweep_dir)
        done = [t for t, v in s.items() if v["status"] == "COMPLETED"]
        running = [t for t, v in s.items() if v["status"] == "RUNNING"
                   and (sweep_dir / "trials" / t / "metrics.jsonl").read_text().count("\n") >= 2]
        done_before[:] = done
        return len(done) >= 6 and bool(running)

    table = kill_when_then_resume(spec, sweep_dir, refining, 400, "a running trial of the refinement level")
    last = table.sort_values("step").groupby("trial_id").tail(1)
    assert {(r["eval.phase_single"], r["eval.phase_acc"]) for _, r in last.iterrows()} == TRAINED  # none lost
    assert set(table["status"]) == {"COMPLETED"}
    assert all(steps == [0, 15, 30, 45, 60] for steps in steps_per_trial(table).values())
    final = statuses(sweep_dir)
    assert all(final[t]["attempts"] == 1 for t in done_before)  # finished before the kill: never trained again
    assert json.loads((sweep_dir / "manifest.json").read_text())["finished"]


def saved_searcher(sweep_dir):
    """(path, state) of the searcher's newest saved state; (None, None) before Tune saved one or while Tune copies
    it from its staging folder (not atomic)."""
    paths = list((sweep_dir / "tune").glob("searcher-state-*.pkl"))
    if not paths:
        return None, None
    path = max(paths, key=lambda p: p.stat().st_mtime)
    try:
        return path, json.loads(path.read_text())
    except json.JSONDecodeError:
        return None, None


def resumable_refinement_trial(sweep_dir) -> tuple[str, str] | None:
    """(Tune trial id, trial id) of a trial in the searcher's saved ``running`` that Tune's saved trial list (written
    just before it) also holds and whose folder says RUNNING past its first checkpoints, once the coarse level is
    done; None while there is none."""
    s = statuses(sweep_dir)
    _, state = saved_searcher(sweep_dir)
    lists = list((sweep_dir / "tune").glob("experiment_state-*.json"))
    if state is None or not lists or sum(v["status"] == "COMPLETED" for v in s.values()) < 6:
        return None
    tune_list = max(lists, key=lambda p: p.stat().st_mtime).read_text()
    for tune_id, (trial_id, *_) in state["running"].items():
        metrics = sweep_dir / "trials" / trial_id / "metrics.jsonl"
        if (s.get(trial_id, {}).get("status") == "RUNNING" and metrics.read_text().count("\n") >= 2
                and tune_id in tune_list):
            return tune_id, trial_id
    return None


def roll_back_searcher(sweep_dir) -> str:
    """Make the searcher's saved state one suggestion older than Tune's trial list, as a kill between Tune's two
    writes (its trial list, then the searcher's state) leaves it: a trial both saved as running (and still RUNNING
    in its folder) goes back from the searcher's ``running`` to the head of its queue. Returns its trial id."""
    found = resumable_refinement_trial(sweep_dir)
    assert found is not None, "no trial running at the kill in both saved states: the trials ran too fast"
    tune_id, trial_id = found
    path, state = saved_searcher(sweep_dir)
    config = json.loads((sweep_dir / "trials" / trial_id / "trial.json").read_text())["config"]
    del state["running"][tune_id]
    state["queue"].insert(0, {"sweep_dir": str(sweep_dir), "config": config, "stop": None})
    path.write_text(json.dumps(state))
    return trial_id


@pytest.mark.slow
def test_searcher_state_older_than_tunes_trial_list_still_trains_each_trial_once(tmp_path):
    # 300 steps: the trial seen running is still running a second later, at the kill, on a fast machine too
    spec = write_spec(tmp_path, name="stale_searcher", axes=AXES, set=WIDE, search="boundary", steps=300,
                      max_concurrent=1)
    sweep_dir = tmp_path / "results" / "stale_searcher"
    rolled: list[str] = []
    table = kill_when_then_resume(spec, sweep_dir, lambda: resumable_refinement_trial(sweep_dir) is not None, 400,
                                  "a running trial of the refinement level in both saved states",
                                  before_resume=lambda: rolled.append(roll_back_searcher(sweep_dir)))
    last = table.sort_values("step").groupby("trial_id").tail(1)
    assert {(r["eval.phase_single"], r["eval.phase_acc"]) for _, r in last.iterrows()} == TRAINED
    assert all(steps == list(range(0, 301, 15)) for steps in steps_per_trial(table).values())
    # Tune resumed the trial from its checkpoint and the searcher suggested it again: two Tune trials of one config,
    # and it trained once more after the kill, not twice
    suggested = [Config.from_dict(json.loads(p.read_text())["config"]).hash()
                 for p in (sweep_dir / "tune").glob("*/params.json")]
    assert suggested.count(rolled[0]) == 2
    assert statuses(sweep_dir)[rolled[0]]["attempts"] == 2
    assert json.loads((sweep_dir / "manifest.json").read_text())["finished"]
