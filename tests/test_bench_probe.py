"""bench/probe.py's summary of a history: phase means leave out step 0, directions, the A -> C list, saved runs."""

from __future__ import annotations

import json
import math

from bench.probe import DIRECTION, compact_history, jsonable, read_history, summarize
from model.definitions import PROBE_METRICS


def history() -> list[dict]:
    """Step 0 (init) then A, A, B, C, C; trust rises, code_overlap falls, r2_x peaks in B; one layer."""
    phases = ["A", "A", "A", "B", "C", "C"]
    trust = [0.5, 0.6, 0.6, 0.7, 0.9, 0.9]
    overlap = [0.1, 0.1, 0.09, 0.05, 0.01, 0.01]
    r2 = [0.3, 0.5, 0.6, 0.9, 0.2, 0.2]
    acc = [0.0, 0.0, 0.1, 0.3, 0.8, 0.9]
    rows = []
    for i, phase in enumerate(phases):
        row = {"step": 100 * i, "phase": phase, "acc": acc[i], "loss": math.nan}
        row |= {f"probe.mid.{m}": 0.5 for m in PROBE_METRICS}
        row |= {"probe.mid.trust": trust[i], "probe.mid.code_overlap": overlap[i], "probe.mid.r2_x": r2[i]}
        rows.append(row)
    return rows


def test_every_metric_has_a_direction():
    assert set(DIRECTION) == set(PROBE_METRICS)


def test_summary_means_directions_and_moves():
    summary = summarize(history())
    assert summary["counts"] == {"A": 2, "B": 1, "C": 2}  # step 0 is init, not phase A
    rows = {e["metric"]: e for e in summary["rows"]}
    assert math.isclose(rows["trust"]["init"], 0.5) and math.isclose(rows["trust"]["A"], 0.6)
    assert math.isclose(rows["trust"]["C"], 0.9) and math.isclose(rows["trust"]["c_minus_init"], 0.4)
    assert rows["trust"]["spearman_acc"] > 0.9
    assert math.isnan(rows["additivity"]["spearman_acc"])  # constant: no rank correlation
    moved = summary["moves"]["mid"]
    assert "trust" in moved and "code_overlap" in moved  # rises / falls in its better direction
    assert "r2_x" not in moved and "additivity" not in moved


def test_saved_history_reads_back(tmp_path):
    rows = history()
    path = tmp_path / "run.json"
    path.write_text(json.dumps(jsonable({"config": {}, "history": compact_history(rows)})))
    back, _ = read_history(path)
    again = {e["metric"]: e for e in summarize(back)["rows"]}
    assert math.isclose(again["trust"]["C"], 0.9) and math.isclose(again["r2_x"]["B"], 0.9)
    assert back[0]["loss"] is None and back[3]["phase"] == "B"
