"""Landscape numbers on small hand-built results tables with known answers."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis import ReportError
from analysis.landscape import (
    axis_values,
    choose_axes,
    landscape,
    modal_phase,
    phase_boundary,
    phase_timeline,
    sweep_axes,
    swept_key,
    trial_summary,
)
from analysis.onsets import COUPLED, DENSE_NEVER, NEITHER, SEQUENTIAL, SPARSE_FIRST, SPARSE_NEVER, learning_order
from analysis.results import check_table, spacing_ratio
from model.definitions import CEILING_MIN

X, Y = "density", "overlap"


def trial(trial_id, cell, phases, seed=0, acc=None, acc_x=None, acc_y=None, status="COMPLETED", spacing=(1.0, 1.0),
          lattice=None, gt=None, sigma=None):
    """Rows of one trial, evaluated every 100 steps (10 s apart); phases is a string like 'ABC'.

    Optional newer columns: ``lattice`` = (lattice_acc_x, lattice_acc_y) lists, ``gt`` = the trial's ceiling
    (gt_acc, repeated in every row), ``sigma`` = data.sigma; left out, the rows look like an older table's."""
    n = len(phases)
    acc = acc or [0.9 if p == "C" else 0.1 for p in phases]
    rows = [{"trial_id": trial_id, "status": status, "seed": seed, "error": "", X: cell[0], Y: cell[1],
             "data.spacing_x": spacing[0], "data.spacing_y": spacing[1], "step": 100 * (i + 1),
             "time_s": 10.0 * (i + 1), "frac_single": 0.2 if p == "A" else 0.9, "acc": acc[i],
             "acc_x": (acc_x or [0.0] * n)[i], "acc_y": (acc_y or [0.0] * n)[i], "phase": p}
            for i, p in enumerate(phases)]
    for i, row in enumerate(rows):
        if lattice is not None:
            row["lattice_acc_x"], row["lattice_acc_y"] = lattice[0][i], lattice[1][i]
        if gt is not None:
            row.update(gt_frac_single=1.0, gt_acc=gt, gt_acc_x=min(1.0, gt + 0.02), gt_acc_y=min(1.0, gt + 0.02))
        if sigma is not None:
            row["data.sigma"] = sigma
    return rows


def failed(trial_id, cell, error="TrainingDiverged: loss became nan"):
    return [{"trial_id": trial_id, "status": "ERROR", "seed": 0, "error": error, X: cell[0], Y: cell[1],
             "data.spacing_x": 1.0, "data.spacing_y": 1.0, "step": np.nan, "time_s": np.nan, "frac_single": np.nan,
             "acc": np.nan, "acc_x": np.nan, "acc_y": np.nan, "phase": None}]


def table(*trials):
    return pd.DataFrame([row for rows in trials for row in rows])


def cell(cells, d, o):
    return cells[(cells[X] == d) & (cells[Y] == o)].iloc[0]


def test_modal_phase_ties_go_to_the_less_advanced_phase():
    assert modal_phase(["C", "C", "B"]) == "C"
    assert modal_phase(["B", "C"]) == "B"
    assert modal_phase(["A", "C", "B", "C", "A"]) == "A"
    assert math.isnan(modal_phase([None, np.nan]))


def test_final_phase_and_share_in_c_over_seeds():
    df = table(trial("a", (0.5, 0.1), "ABC", 0), trial("b", (0.5, 0.1), "ABC", 1), trial("c", (0.5, 0.1), "ABB", 2),
               trial("d", (1.0, 0.1), "AB", 0), trial("e", (1.0, 0.1), "BC", 1))
    cells = landscape(df, X, Y)
    assert list(cells[X]) == [0.5, 1.0]
    three, tie = cell(cells, 0.5, 0.1), cell(cells, 1.0, 0.1)
    assert (three["phase"], three["n_C"], three["n_B"]) == ("C", 2, 1)
    assert three["share_C"] == pytest.approx(2 / 3)
    assert (tie["phase"], tie["share_C"]) == ("B", 0.5)


def test_steps_and_seconds_to_c_with_never():
    df = table(trial("a", (0.5, 0.1), "ABCC", 0), trial("b", (0.5, 0.1), "AACC", 1),  # C at 300 and 300
               trial("c", (1.0, 0.1), "ABC", 0), trial("d", (1.0, 0.1), "AAB", 1), trial("e", (1.0, 0.1), "AA", 2),
               trial("f", (2.0, 0.1), "BC", 0), trial("g", (2.0, 0.1), "BBBC", 1))  # C at 200 and 400
    trials = trial_summary(df, X, Y).set_index("trial_id")
    assert trials.loc["a", "steps_to_C"] == 300 and trials.loc["a", "seconds_to_C"] == 30
    assert trials.loc["d", "steps_to_C"] == math.inf
    cells = landscape(df, X, Y)
    assert cell(cells, 0.5, 0.1)["steps_to_C"] == 300
    never = cell(cells, 1.0, 0.1)  # one of three seeds reached C: the median is "never"
    assert never["steps_to_C"] == math.inf and never["reached_C"] == 1
    assert cell(cells, 2.0, 0.1)["steps_to_C"] == 300 and cell(cells, 2.0, 0.1)["seconds_to_C"] == 30


def test_final_metrics_are_mean_and_sample_std_over_seeds():
    df = table(trial("a", (0.5, 0.1), "BC", 0, acc=[0.2, 0.6]), trial("b", (0.5, 0.1), "BC", 1, acc=[0.3, 0.8]),
               trial("c", (1.0, 0.1), "BC", 0, acc=[0.1, 0.7]))
    cells = landscape(df, X, Y)
    two = cell(cells, 0.5, 0.1)
    assert two["acc"] == pytest.approx(0.7) and two["acc_std"] == pytest.approx(math.sqrt(0.02))
    assert math.isnan(cell(cells, 1.0, 0.1)["acc_std"])
    assert two["step"] == 200 and two["n_trials"] == 2


def test_failed_and_running_trials_are_marked_never_dropped():
    df = table(failed("f1", (0.25, 0.1)), failed("f2", (0.25, 0.1)),
               trial("ok", (0.5, 0.1), "ABC"), failed("f3", (0.5, 0.1)),
               trial("r", (1.0, 0.1), "AB", status="RUNNING"))
    cells = landscape(df, X, Y)
    assert len(cells) == 3
    dead, mixed, running = cell(cells, 0.25, 0.1), cell(cells, 0.5, 0.1), cell(cells, 1.0, 0.1)
    assert dead["state"] == "failed" and dead["n_error"] == 2 and pd.isna(dead["phase"])
    assert mixed["state"] == "done" and mixed["n_error"] == 1 and mixed["phase"] == "C" and mixed["share_C"] == 1
    assert running["state"] == "partial" and running["phase"] == "B"
    trials = trial_summary(df, X, Y).set_index("trial_id")
    assert trials.loc["f1", "error"].startswith("TrainingDiverged") and trials.loc["f1", "n_evals"] == 0


def test_error_after_evaluations_fails_the_trial():
    rows = trial("t", (0.5, 0.1), "ABC")
    rows[-1]["status"] = "ERROR"
    trials = trial_summary(table(rows), X, Y)
    assert trials["status"].item() == "ERROR"
    assert landscape(table(rows), X, Y)["state"].item() == "failed"


def test_stopped_trials_count_as_finished_and_pending_ones_as_running():
    df = table(trial("s", (0.5, 0.1), "ABC", status="STOPPED"), trial("p", (1.0, 0.1), "A", status="PENDING"))
    cells = landscape(df, X, Y)
    assert list(cells["state"]) == ["done", "partial"] and list(cells["n_completed"]) == [1, 0]
    assert cells["n_running"].tolist() == [0, 1]


def test_a_table_before_any_evaluation_gives_pending_cells():
    df = pd.DataFrame({"trial_id": ["a", "b"], "status": ["RUNNING", "ERROR"], "error": ["", "boom"],
                       X: [0.5, 1.0], Y: [0.1, 0.1]})  # the store writes no metric columns yet
    cells = landscape(df, X, Y)
    assert list(cells["state"]) == ["pending", "failed"] and cells["phase"].isna().all()


def test_float_noise_in_axis_values_shares_a_cell():
    df = table(trial("a", (0.5, 0.2), "C", 0), trial("b", (0.5, 0.19999999999999998), "C", 1))
    cells = landscape(df, X, Y)
    assert len(cells) == 1 and cells["n_trials"].item() == 2


def test_phase_boundary_between_neighbouring_cells():
    #            density: 0.25  1.0   inf
    # overlap 0.5:        B     C     C
    # overlap 0.1:        A     A     C
    grid = {(0.25, 0.1): "AAA", (1.0, 0.1): "AAA", (math.inf, 0.1): "ABC",
            (0.25, 0.5): "ABB", (1.0, 0.5): "ABC", (math.inf, 0.5): "BCC"}
    df = table(*(trial(f"t{k}", c, p) for k, (c, p) in enumerate(grid.items())))
    cells = landscape(df, X, Y)
    assert list(zip(cells[X], cells[Y], cells["phase"], strict=True)) == [
        (0.25, 0.1, "A"), (1.0, 0.1, "A"), (math.inf, 0.1, "C"), (0.25, 0.5, "B"), (1.0, 0.5, "C"),
        (math.inf, 0.5, "C")]
    edges = phase_boundary(cells, X, Y)
    got = {(e.along, e.at, e.low, e.high, e.phase_low, e.phase_high) for e in edges.itertuples()}
    assert got == {(X, 0.1, 1.0, math.inf, "A", "C"), (X, 0.5, 0.25, 1.0, "B", "C"),
                   (Y, 0.25, 0.1, 0.5, "A", "B"), (Y, 1.0, 0.1, 0.5, "A", "C")}
    mids = dict(zip(zip(edges["along"], edges["at"], strict=True), edges["mid"], strict=True))
    assert mids[(X, 0.5)] == 0.625 and math.isnan(mids[(X, 0.1)]) and mids[(Y, 0.25)] == pytest.approx(0.3)


def test_phase_boundary_skips_failed_cells_and_is_empty_for_one_phase():
    df = table(trial("a", (0.25, 0.1), "A"), failed("f", (0.5, 0.1)), trial("c", (1.0, 0.1), "C"))
    edges = phase_boundary(landscape(df, X, Y), X, Y)
    assert list(zip(edges["low"], edges["high"], strict=True)) == [(0.25, 1.0)]
    same = table(trial("a", (0.25, 0.1), "C"), trial("c", (1.0, 0.1), "C"))
    assert phase_boundary(landscape(same, X, Y), X, Y).empty


def test_onsets_and_coupling_under_imbalance():
    df = table(
        # y sparse (spacing 4 > 1): onset_x 200, onset_y 400 -> coupling 400 / 200 = 2
        trial("ys", (0.5, 0.1), "BBCC", acc_x=[0.2, 0.6, 0.9, 0.9], acc_y=[0, 0, 0.3, 0.5], spacing=(1, 4)),
        # x sparse: onset_x 300, onset_y 100 -> coupling 3
        trial("xs", (1.0, 0.1), "BBCC", acc_x=[0, 0.1, 0.5, 0.9], acc_y=[0.5, 0.6, 0.9, 1], spacing=(4, 1)),
        # continuous x (spacing 0) is the dense axis; y never reaches 0.5 -> infinite coupling
        trial("inf", (2.0, 0.1), "BB", acc_x=[0.7, 0.9], acc_y=[0.1, 0.2], spacing=(0, 2)),
        # balanced: no coupling
        trial("eq", (4.0, 0.1), "BB", acc_x=[0.7, 0.9], acc_y=[0.6, 0.9], spacing=(2, 2)))
    t = trial_summary(df, X, Y).set_index("trial_id")
    assert (t.loc["ys", "onset_x"], t.loc["ys", "onset_y"], t.loc["ys", "sparse"]) == (200, 400, "y")
    assert t.loc["ys", "coupling"] == 2.0 and t.loc["xs", "coupling"] == 3.0
    assert t.loc["inf", "sparse"] == "y" and t.loc["inf", "coupling"] == math.inf
    assert t.loc["eq", "sparse"] == "" and math.isnan(t.loc["eq", "coupling"])
    cells = landscape(df, X, Y)
    assert cell(cells, 0.5, 0.1)["onset_y"] == 400 and cell(cells, 1.0, 0.1)["coupling"] == 3.0


def test_phase_timeline_is_modal_over_seeds_at_each_step():
    df = table(trial("a", (0.5, 0.1), "ABC", 0), trial("b", (0.5, 0.1), "BBC", 1), failed("f", (0.5, 0.1)))
    timeline = phase_timeline(df, X, Y)
    assert list(timeline["step"]) == [100, 200, 300]
    assert list(timeline["phase"]) == ["A", "B", "C"] and list(timeline["n_seeds"]) == [2, 2, 2]


def test_axis_values_put_inf_last_and_nan_at_the_end():
    values = axis_values(pd.Series([math.inf, 0.5, np.nan, 0.25, 0.5]))
    assert values[:3] == [0.25, 0.5, math.inf] and math.isnan(values[3])


def test_choose_axes_defaults_and_fallbacks():
    df = table(trial("a", (0.5, 0.1), "A"), trial("b", (1.0, 0.2), "A"))
    assert choose_axes(df) == (X, Y)
    df["data.sigma"] = [1.0, 2.0]
    df["data.keep"] = [0.5, 1.0]
    df[Y] = 0.1  # overlap no longer varies: the manifest's swept axes win
    assert choose_axes(df, swept=["data.keep", "data.sigma"]) == ("data.keep", "data.sigma")
    assert choose_axes(df) == ("density", "data.sigma")  # whatever varies, in column order
    assert choose_axes(df, x="data.sigma") == ("data.sigma", "density")
    one = table(trial("a", (0.5, 0.1), "A"))
    assert choose_axes(one) == (X, Y)  # a single trial still maps onto one cell


def test_bad_axes_and_missing_columns_raise_report_error_naming_them():
    df = table(trial("a", (0.5, 0.1), "A"))
    with pytest.raises(ReportError, match="--x data.nope"):
        choose_axes(df, x="data.nope")
    with pytest.raises(ReportError, match="--x/--y"):
        choose_axes(df, x=X, y=X)
    with pytest.raises(ReportError, match="'acc_x'"):
        landscape(df.drop(columns=["acc_x"]), X, Y)
    with pytest.raises(ReportError, match="'overlap'"):
        landscape(df.drop(columns=[Y]), X, Y)
    with pytest.raises(ReportError, match="status: unknown value 'DONE'"):
        landscape(df.assign(status="DONE"), X, Y)


KEY = "data.spacing_y"  # the swept key of a one-axis imbalance sweep (sweeps/imbalance_tiny.yaml)


def imbalance_trial(trial_id, spacing_y, seed, onset_x, onset_y, off=None, steps=8, lattice=True, spacing_x=0.5,
                    sigma=1.0, gt=None, status="COMPLETED"):
    """Rows of one trial of a one-axis sweep of data.spacing_y at fixed data.spacing_x (16 px images), evaluated
    every 100 steps up to 100 * ``steps``. acc_x (acc_y) on the lattice jumps from 0.1 to 0.9 at step ``onset_x``
    (``onset_y``; None: never); off the lattice at ``off`` = (onset_x_off, onset_y_off), by default the same.
    Without ``lattice`` the rows carry no lattice columns (an older table). Phase C once both off-lattice axes are
    right (acc is their minimum), else B. density and overlap follow from the spacings as the model derives them."""
    off = off or (onset_x, onset_y)
    hit = lambda onset, s: 0.9 if onset is not None and s >= onset else 0.1  # noqa: E731
    n_positions = (math.floor(15 / spacing_x) + 1) * (math.floor(15 / spacing_y) + 1)
    base = {"trial_id": trial_id, "config_hash": f"c{spacing_y}", "status": status, "seed": seed, "error": "",
            "data.spacing_x": spacing_x, "data.spacing_y": spacing_y, "data.sigma": sigma, "n_positions": n_positions,
            "density": n_positions / 256, "overlap": math.exp(-((spacing_x + spacing_y) / 2) ** 2 / (4 * sigma**2))}
    rows = []
    for step in range(100, 100 * steps + 1, 100):
        acc_x, acc_y = hit(off[0], step), hit(off[1], step)
        row = {**base, "step": step, "time_s": step / 10, "frac_single": 0.9, "acc_x": acc_x, "acc_y": acc_y,
               "acc": min(acc_x, acc_y), "phase": "C" if min(acc_x, acc_y) >= 0.5 else "B"}
        if lattice:
            row.update(lattice_frac_single=0.9, lattice_acc_x=hit(onset_x, step), lattice_acc_y=hit(onset_y, step),
                       lattice_acc=min(hit(onset_x, step), hit(onset_y, step)))
        if gt is not None:
            row.update(gt_frac_single=1.0, gt_acc=gt, gt_acc_x=gt, gt_acc_y=gt)
        rows.append(row)
    return rows


def test_spacing_ratio_counts_continuous_as_densest():
    assert spacing_ratio(0.5, 4.0) == 8.0 and spacing_ratio(4.0, 0.5) == 8.0
    assert spacing_ratio(0.0, 2.0) == math.inf and spacing_ratio(0.0, 0.0) == 1.0 and spacing_ratio(1.0, 1.0) == 1.0
    assert math.isnan(spacing_ratio(math.nan, 1.0))


def test_learning_order_from_sparse_and_dense_onsets():
    assert learning_order(300, 200) == COUPLED and learning_order(200, 300) == COUPLED  # within x2 either way
    assert learning_order(400, 200) == COUPLED  # the cut-off itself counts as coupled
    assert learning_order(700, 200) == SEQUENTIAL and learning_order(100, 700) == SPARSE_FIRST
    assert learning_order(math.inf, 200) == SPARSE_NEVER and learning_order(200, math.inf) == DENSE_NEVER
    assert learning_order(math.inf, math.inf) == NEITHER


def test_onsets_come_from_the_training_lattice_and_keep_the_off_lattice_ones():
    df = table(
        # y sparse, learned on its rows at 300 but never between them: coupled on the lattice, never off it
        imbalance_trial("on", 4.0, 0, onset_x=200, onset_y=300, off=(200, None)),
        # the same trial in an older table (no lattice scores): onsets fall back to the off-lattice ones
        imbalance_trial("old", 2.0, 0, onset_x=200, onset_y=None, lattice=False),
        # lattice scores recorded but the sparse axis comes late: sequential
        imbalance_trial("seq", 8.0, 0, onset_x=100, onset_y=700))
    t = trial_summary(df, KEY).set_index("trial_id")
    on = t.loc["on"]
    assert (on["onset_x"], on["onset_y"], on["onset_basis"]) == (200, 300, "lattice")
    assert on["onset_y_off"] == math.inf and on["coupling"] == 1.5 and on["coupling_off"] == math.inf
    assert (on["sparse"], on["learning"], on["ratio"]) == ("y", COUPLED, 8.0)
    old = t.loc["old"]
    assert old["onset_basis"] == "off-lattice" and old["onset_y"] == math.inf and old["learning"] == SPARSE_NEVER
    assert t.loc["seq", "learning"] == SEQUENTIAL and t.loc["seq", "coupling"] == 7.0


def test_cells_learning_order_is_modal_over_seeds_with_the_coupling_spread():
    df = table(imbalance_trial("a", 4.0, 0, 200, 300), imbalance_trial("b", 4.0, 1, 200, 200),
               imbalance_trial("c", 8.0, 0, 200, 300), imbalance_trial("d", 8.0, 1, 200, None))
    cells = landscape(df, KEY).set_index(KEY)
    assert cells.loc[4.0, "learning"] == COUPLED and cells.loc[4.0, "onset_basis"] == "lattice"
    assert (cells.loc[4.0, "coupling_min"], cells.loc[4.0, "coupling_max"]) == (1.0, 1.5)
    assert cells.loc[8.0, "learning"] == "mixed"  # one coupled, one never: a tie says so
    assert cells.loc[8.0, "coupling_max"] == math.inf


def test_ceiling_marks_cells_unmeasurable_and_they_break_the_boundary():
    #            density: 0.25  0.5            1.0
    # overlap 0.1:        A     C (ceiling .46)  C
    df = table(trial("a", (0.25, 0.1), "A", gt=0.99, sigma=1.0), trial("u", (0.5, 0.1), "C", gt=0.46, sigma=0.4),
               trial("c", (1.0, 0.1), "C", gt=0.98, sigma=1.0))
    cells = landscape(df, X, Y)
    assert list(cells["measurable"]) == [True, False, True]
    assert cell(cells, 0.5, 0.1)["gt_acc"] == 0.46 and cell(cells, 0.5, 0.1)["phase"] == "C"  # kept, not read
    assert phase_boundary(cells, X, Y).empty  # A and C are not compared across the unmeasurable cell
    assert CEILING_MIN == 0.95
    older = landscape(table(trial("a", (0.25, 0.1), "A")), X, Y)
    assert older["measurable"].item() and math.isnan(older["gt_acc"].item())  # not recorded: treated as measurable


def test_failed_cells_with_a_ceiling_still_count_it():
    rows = failed("f", (0.5, 0.1))
    rows[0]["gt_acc"] = 0.5
    cells = landscape(table(rows, trial("a", (1.0, 0.1), "C", gt=0.99)), X, Y)
    assert list(cells["measurable"]) == [False, True] and cells["state"].iloc[0] == "failed"


def test_cells_carry_their_sigma_and_a_range_when_trials_differ():
    df = table(trial("a", (0.5, 0.1), "C", 0, sigma=1.0), trial("b", (0.5, 0.1), "C", 1, sigma=1.5),
               trial("c", (1.0, 0.1), "C", 0, sigma=2.0))
    cells = landscape(df, X, Y)
    assert (cell(cells, 0.5, 0.1)["sigma_min"], cell(cells, 0.5, 0.1)["sigma_max"]) == (1.0, 1.5)
    assert cell(cells, 1.0, 0.1)["sigma_min"] == cell(cells, 1.0, 0.1)["sigma_max"] == 2.0
    assert "density_min" not in cells.columns  # an axis is not repeated as a secondary quantity
    assert "sigma_min" not in landscape(table(trial("a", (0.5, 0.1), "C")), X, Y).columns


def test_a_sweep_of_one_key_is_mapped_along_it():
    df = check_table(table(*(imbalance_trial(f"t{k}{s}", sy, s, 200, 300) for k, sy in enumerate((1.0, 2.0, 4.0))
                             for s in (0, 1))))  # as load_results gives it: with the ratio column
    assert swept_key(df, [KEY]) == KEY and swept_key(df) == KEY  # density, overlap and ratio follow from it
    assert sweep_axes(df, [KEY]) == (KEY, None)
    assert sweep_axes(df, [KEY], x="ratio") == ("ratio", None)  # drawn along another column when asked
    assert sweep_axes(df, [KEY], y="density") == choose_axes(df, [KEY], None, "density")  # a y asks for a grid
    cells = landscape(df, KEY)
    assert list(cells[KEY]) == [1.0, 2.0, 4.0] and list(cells["n_trials"]) == [2, 2, 2]
    assert list(cells["ratio_min"]) == [2.0, 4.0, 8.0] and cells["density_min"].is_monotonic_decreasing
    timeline = phase_timeline(df, KEY)
    assert list(timeline.columns) == [KEY, "step", "phase", "n_seeds"] and len(timeline) == 3 * 8


def test_two_swept_keys_or_none_make_a_grid():
    df = table(trial("a", (0.5, 0.1), "A"), trial("b", (1.0, 0.2), "A"))
    assert swept_key(df, [X, Y]) is None and sweep_axes(df, [X, Y]) == (X, Y)
    assert swept_key(table(trial("a", (0.5, 0.1), "A"))) is None  # nothing varies: one cell on a grid


def test_phase_boundary_along_one_key():
    df = table(imbalance_trial("a", 1.0, 0, 100, 100), imbalance_trial("b", 2.0, 0, 100, 200),
               imbalance_trial("c", 4.0, 0, 100, None))
    edges = phase_boundary(landscape(df, KEY), KEY)
    assert list(zip(edges["low"], edges["high"], edges["phase_low"], edges["phase_high"], strict=True)) == [
        (2.0, 4.0, "C", "B")]
    assert edges["mid"].item() == 3.0 and math.isnan(edges["at"].item())


def test_a_cell_is_unmeasurable_on_its_lattice_ceiling_too():
    # As model/ceiling.unmeasurable (which `run` refuses by): the lower of gt_acc and gt_lattice_acc decides.
    rows = trial("a", (0.5, 0.1), "ABC", gt=1.0)
    for row in rows:
        row["gt_lattice_acc"] = 0.5
    cells = landscape(table(rows, trial("b", (1.0, 0.1), "ABC", gt=1.0)), X, Y)
    assert not cell(cells, 0.5, 0.1)["measurable"] and cell(cells, 0.5, 0.1)["gt_lattice_acc"] == 0.5
    assert cell(cells, 1.0, 0.1)["measurable"]  # no lattice ceiling recorded: gt_acc alone
