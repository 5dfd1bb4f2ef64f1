"""The representation against its step-0 baseline: directions, per-trial and per-cell init/learned columns, the
summary's probe sentences, the latent atlas, and the report's probe figures, on synthetic tables and sweep folders."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_analysis_landscape import X, Y, table, trial
from test_analysis_summary import NO_PROBE, summary_of

from analysis.atlas import align, checkpoints, embed, grid_edges, grid_indices, plot_atlas, standardize
from analysis.landscape import landscape, trial_summary
from analysis.report import write_report
from analysis.representation import (
    BETTER,
    FACTOR,
    HIGHER,
    LOWER,
    ORDER,
    PROBE_DIRECTION,
    UNKNOWN,
    WITHIN,
    WORSE,
    direction,
    fmt_metric,
    init_column,
    kind,
    learned_column,
    moved,
)
from analysis.results import check_table
from model.definitions import HEADLINE_PROBE, PROBE_METRICS, probe_column

ROOT = Path(__file__).resolve().parents[2]
# The synthetic numbers and sentences below are written for a headline of two ordering metrics (higher = better),
# then a factorization metric whose lower values are better and one whose higher values are. The sentence machinery
# is generic over the headline, so these tests run it with this one (``written_headline``), whatever the chosen
# HEADLINE_PROBE is; test_every_probe_metric_has_a_direction... checks the chosen one.
WRITTEN = T, K, OV, CG = ("trust", "knn_r2_x", "code_overlap", "ccgen_x")


@pytest.fixture(autouse=True)
def written_headline(monkeypatch):
    """The analysis modules read with WRITTEN as their headline, and their derived column lists to match."""
    import analysis.atlas
    import analysis.landscape
    import analysis.probe_plots
    import analysis.report
    import analysis.representation
    import analysis.summary

    baseline = tuple(c for m in WRITTEN for c in (init_column(m), learned_column(m)))
    final = tuple(dict.fromkeys(("acc", "acc_x", "acc_y", "frac_single", *analysis.landscape.LATTICE_COLUMNS, "r2_x",
                                 "r2_y", "additivity", "orthogonality", *WRITTEN)))
    import test_analysis_summary  # its checker re-derives the probe sentences from the headline

    modules = (analysis.atlas, analysis.probe_plots, analysis.report, analysis.representation, analysis.summary,
               test_analysis_summary)
    for module in modules:
        monkeypatch.setattr(module, "HEADLINE_PROBE", WRITTEN)
    monkeypatch.setattr(analysis.representation, "BASELINE_COLUMNS", baseline)
    monkeypatch.setattr(analysis.landscape, "BASELINE_COLUMNS", baseline)
    monkeypatch.setattr(analysis.landscape, "FINAL_METRICS", final)
    monkeypatch.setattr(analysis.landscape, "MEAN_OVER_SEEDS", (*final, *baseline))


def named(text):
    """An expected sentence (or list of them); the names are written as they read."""
    return text


HEAD = ("- Representation against the untrained network at step 0 (medians over cells of the means over seeds; a "
        "cell's change counts when it exceeds its seed spread, the std of the change over seeds):")


def probe_trial(trial_id, cell, phases, seed, probe, **kwargs):
    """``trial`` rows (steps 100, 200, ...) after a step-0 row of the untrained network (phase A, loss NaN), with
    each headline metric going linearly from ``probe[m][0]`` at step 0 to ``probe[m][1]`` at the last evaluation."""
    rows = trial(trial_id, cell, phases, seed, **kwargs)
    zero = {**rows[0], "step": 0, "time_s": 0.0, "frac_single": 0.0, "acc": 0.0, "acc_x": 0.0, "acc_y": 0.0,
            "phase": "A"}
    rows = [zero, *rows]
    for i, row in enumerate(rows):
        for m, (init, final) in probe.items():
            row[m] = init + (final - init) * i / (len(rows) - 1)
    return rows


def seeds(cell, phases, values, name="t"):
    """One probe_trial per seed: ``values`` maps each headline metric to a list of (init, final) per seed."""
    n = len(next(iter(values.values())))
    return [probe_trial(f"{name}{cell[0]}-{s}", cell, phases, s, {m: v[s] for m, v in values.items()})
            for s in range(n)]


# Two cells end in C; both ordered (trust, knn_r2_x) and lost code overlap; ccgen_x rose in one only. The cell in B
# moved within its seed spread on every metric.
ORDERED_C = {
    T: [(0.84, 0.95), (0.86, 0.97)], K: [(0.50, 0.90), (0.52, 0.92)], OV: [(0.08, 0.004), (0.08, 0.006)],
    CG: [(0.40, 0.90), (0.42, 0.94)]}
ORDERED_C2 = {
    T: [(0.82, 0.94), (0.84, 0.94)], K: [(0.46, 0.88), (0.52, 0.90)], OV: [(0.07, 0.003), (0.09, 0.005)],
    CG: [(0.36, 0.40), (0.42, 0.40)]}
FLAT = {
    T: [(0.86, 0.90), (0.88, 0.86)], K: [(0.30, 0.35), (0.34, 0.31)], OV: [(0.10, 0.09), (0.10, 0.11)],
    CG: [(0.30, 0.32), (0.34, 0.30)]}
FLAT_LINE = ("(within the seed spread in 1 of 1 cell); knn_r2_x rose from 0.32 at init to 0.33 (within the seed spread "
             "in 1 of 1 cell); code_overlap stayed at 0.10, as at init (within the seed spread in 1 of 1 cell); "
             "ccgen_x fell from 0.32 at init to 0.31 (within the seed spread in 1 of 1 cell).")


def _lines(df):
    """The summary's representation lines (the head line and its sub-bullets), checked against the tables."""
    lines = summary_of(df, swept=[X, Y])
    start = next(i for i, line in enumerate(lines) if line.startswith("- Representation"))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  - ")), len(lines))
    return lines[start:end]


def test_every_probe_metric_has_a_direction_and_the_headline_ones_a_kind():
    assert set(PROBE_DIRECTION) == set(PROBE_METRICS)
    assert direction("code_overlap") == LOWER and kind("code_overlap") == FACTOR
    assert direction("trust") == HIGHER and kind("trust") == ORDER
    assert direction("eff_dim") is None and direction("tuning_width_x") is None
    assert all(PROBE_DIRECTION[m] is not None for m in HEADLINE_PROBE), "a headline metric needs a direction"


def test_a_change_counts_only_beyond_the_seed_spread_and_in_the_metrics_direction():
    assert moved("trust", 0.1, 0.02) == BETTER and moved("trust", -0.1, 0.02) == WORSE
    assert moved("code_overlap", -0.05, 0.01) == BETTER and moved("code_overlap", 0.05, 0.01) == WORSE
    assert moved("trust", 0.01, 0.02) == WITHIN and moved("trust", 0.1, float("nan")) == UNKNOWN
    assert fmt_metric(0.004) == "0.004" and fmt_metric(0.95) == "0.95" and fmt_metric(0.1) == "0.10"
    assert fmt_metric(-0.24) == "−0.24"


def test_probe_columns_of_every_layer_are_numbers_and_older_tables_still_read():
    df = table(probe_trial("a", (0.5, 0.1), "ABC", 0, {T: (0.8, 0.9)}))
    df[probe_column("up0", "trust")] = [None, "0.5", 0.6, np.nan]  # JSON nulls and text
    df["gt_acc"] = [None] * len(df)
    checked = check_table(df)
    assert checked[probe_column("up0", "trust")].dtype.kind == "f" and checked["gt_acc"].dtype.kind == "f"
    assert checked[probe_column("up0", "trust")].tolist()[1:3] == [0.5, 0.6]
    older = check_table(table(trial("b", (0.5, 0.1), "ABC")))
    assert older[list(HEADLINE_PROBE)].isna().all().all()


def test_init_learned_and_their_means_over_seeds():
    df = table(*seeds((0.5, 0.1), "ABC", ORDERED_C))
    trials = trial_summary(df, X, Y).set_index("trial_id")
    first = trials.iloc[0]
    assert first[f"{T}_init"] == pytest.approx(0.84) and first[T] == pytest.approx(0.95)
    assert first[f"{T}_learned"] == pytest.approx(0.95 - 0.84)
    assert first["steps_to_C"] == 300 and first["n_evals"] == 4  # the step-0 row is an evaluation like the others
    cells = landscape(df, X, Y)
    c = cells.iloc[0]
    assert c[f"{T}_init"] == pytest.approx(0.85) and c[T] == pytest.approx(0.96)
    assert c[f"{T}_learned"] == pytest.approx(0.11) and c[f"{T}_learned_std"] == pytest.approx(0, abs=1e-12)
    assert c[f"{T}_init_std"] == pytest.approx(np.std([0.84, 0.86], ddof=1))
    no_zero = landscape(table(trial("old", (0.5, 0.1), "ABC")), X, Y).iloc[0]  # no step-0 row: no baseline
    assert np.isnan(no_zero[f"{T}_init"]) and np.isnan(no_zero[f"{T}_learned"])


def test_summary_where_the_c_cells_ordered_and_the_rest_did_not():
    df = table(*seeds((0.5, 0.1), "ABC", ORDERED_C), *seeds((1.0, 0.1), "ABC", ORDERED_C2),
               *seeds((2.0, 0.1), "ABB", FLAT))
    assert _lines(df) == named([
        HEAD,
        "  - In the 2 cells that end in phase C, it ordered, and factorized by code_overlap but not by ccgen_x: trust "
        "rose from 0.84 at init to 0.95 (more ordered beyond the seed spread in 2 of 2 cells); knn_r2_x rose from "
        "0.50 at init to 0.90 (more ordered beyond the seed spread in 2 of 2 cells); code_overlap fell from 0.08 at "
        "init to 0.0045 (more factorized beyond the seed spread in 2 of 2 cells); ccgen_x rose from 0.40 at init to "
        "0.66 (more factorized beyond the seed spread in 1, within the seed spread in 1 of 2 cells).",
        "  - In the 1 cell that does not (final phase B 1), it neither ordered nor factorized: trust rose from 0.87 at "
        "init to 0.88 " + FLAT_LINE,
    ])


def test_summary_where_the_c_cells_did_not_order():
    # Right samples, but every probe metric moved within its seed spread, and trust fell beyond it in one cell.
    fell = {**FLAT, T: [(0.89, 0.80), (0.89, 0.80)]}
    df = table(*seeds((0.5, 0.1), "ABC", FLAT), *seeds((1.0, 0.1), "ABC", fell))
    lines = _lines(df)
    assert lines[1] == named(
        "  - In the 2 cells that end in phase C, it neither ordered nor factorized: trust fell from 0.88 at init to "
        "0.84 (less ordered beyond the seed spread in 1, within the seed spread in 1 of 2 cells); knn_r2_x rose from "
        "0.32 at init to 0.33 (within the seed spread in 2 of 2 cells); code_overlap stayed at 0.10, as at init "
        "(within the seed spread in 2 of 2 cells); ccgen_x fell from 0.32 at init to 0.31 (within the seed spread in "
        "2 of 2 cells).")
    assert len(lines) == 2  # no cell outside C


def test_summary_without_a_c_cell():
    # The same probe numbers as the C cells above, in two cells that end in B: the verdict reads the probe alone.
    df = table(*seeds((0.5, 0.1), "ABB", ORDERED_C), *seeds((1.0, 0.1), "AAB", ORDERED_C2))
    assert _lines(df) == named([
        HEAD,
        "  - No measurable cell ends in phase C: there is no cell with right samples to read the representation of.",
        "  - In the 2 cells with results (final phase B 2), it ordered, and factorized by code_overlap but not by "
        "ccgen_x: trust rose from 0.84 at init to 0.95 (more ordered beyond the seed spread in 2 of 2 cells); knn_r2_x "
        "rose from 0.50 at init to 0.90 (more ordered beyond the seed spread in 2 of 2 cells); code_overlap fell from "
        "0.08 at init to 0.0045 (more factorized beyond the seed spread in 2 of 2 cells); ccgen_x rose from 0.40 at "
        "init to 0.66 (more factorized beyond the seed spread in 1, within the seed spread in 1 of 2 cells).",
    ])


def test_summary_of_one_seed_per_cell_says_there_is_no_spread():
    df = table(probe_trial("a", (0.5, 0.1), "ABC", 0, {m: v[0] for m, v in ORDERED_C.items()}))
    line = _lines(df)[1]
    assert line.startswith("  - In the 1 cell that ends in phase C, it ordered and factorized; one seed per cell, so "
                           "no seed spread to judge by: the verdict follows the direction of the median change: ")
    assert named("trust rose from 0.84 at init to 0.95 (one seed (no spread) in 1 of 1 cell)") in line


def test_summary_of_an_older_table_without_the_probe_or_without_step_0():
    assert NO_PROBE in summary_of(table(trial("a", (0.5, 0.1), "ABC")))
    no_zero = table([{**row, T: 0.9} for row in trial("a", (0.5, 0.1), "ABC")])
    assert ("- Representation: this table has no evaluation of the untrained network (step 0), so the probe metrics "
            "have no baseline to be read against; their final values are in landscape.csv.") in summary_of(no_zero)


# --- the latent atlas ---------------------------------------------------------------------------------------------

def grid_xy(g, spacing=1.0):
    """Probe conditions as the trainer writes them: row i*G + j holds (x_j, y_i)."""
    values = 2.0 + spacing * np.arange(g)
    return np.array([(x, y) for y in values for x in values])


def sheet_latents(xy, order, seed, dims=10):
    """Synthetic codes: a flat sheet of (x, y) in ``dims`` directions, mixed with a fixed random fold; ``order`` 1
    gives the sheet, 0 the fold alone."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(dims, dims)))[0][:, :2]
    sheet = (xy - xy.mean(axis=0)) @ basis.T
    fold = rng.normal(size=sheet.shape) * sheet.std() * 1.5
    return order * sheet + (1 - order) * fold


def test_grid_edges_join_right_and_up_neighbours_only():
    xy = grid_xy(5)
    edges = grid_edges(xy)
    assert len(edges) == 2 * 5 * 4
    ix, iy = grid_indices(xy)
    steps = {(int(abs(ix[a] - ix[b])), int(abs(iy[a] - iy[b]))) for a, b in edges}
    assert steps == {(1, 0), (0, 1)}


def test_isomap_and_procrustes_recover_an_ordered_sheet_in_the_grids_orientation():
    xy = grid_xy(8)
    z, method = embed(sheet_latents(xy, 1.0, 0))
    assert method == "Isomap"
    aligned = align(z, xy)
    target = standardize(xy)
    assert np.corrcoef(aligned[:, 0], target[:, 0])[0, 1] > 0.98
    assert np.corrcoef(aligned[:, 1], target[:, 1])[0, 1] > 0.98
    turned = z @ np.array([[0.0, -1.0], [1.0, 0.0]]) * 3.0  # a rotation and a scale are undone exactly
    assert np.allclose(align(turned, z), standardize(z), atol=1e-9)
    flat, method = embed(np.zeros((25, 10)))  # a collapsed code: no Isomap, the (zero) principal scores
    assert method == "PCA" and np.allclose(flat, 0)


def test_atlas_checkpoints_are_init_then_the_last_of_each_phase():
    evals = [{"step": np.array(s)} for s in (0, 100, 200, 300, 400, 500)]
    phases = {0: "A", 100: "A", 200: "B", 300: "A", 400: "C", 500: "C"}
    assert [(int(e["step"]), label) for e, label in checkpoints(evals, phases)] == [
        (0, "init"), (300, "last in A"), (200, "last in B"), (500, "last in C")]
    only_zero = {0: "A", 100: "B"}  # step 0 is never also 'last in A'
    assert [label for _, label in checkpoints(evals[:2], only_zero)] == ["init", "last in B"]


def write_evals(folder, trial_id, phases, g=8, seed=0, size=8):
    """evals/step_*.npz for one synthetic trial (steps 0, 100, ...): codes that order as the phases advance (A: a
    fold, B: half ordered, C: a sheet), random samples and targets."""
    evals = folder / "trials" / trial_id / "evals"
    evals.mkdir(parents=True)
    xy = grid_xy(g, spacing=(size - 4) / (g - 1))
    rng = np.random.default_rng(seed)
    for k, phase in enumerate(("A", *phases)):
        order = {"A": 0.15 * (k > 0), "B": 0.5, "C": 0.97}[phase]
        targets = rng.uniform(2, size - 2, (8, 2))
        np.savez(evals / f"step_{100 * k:07d}.npz", step=np.array(100 * k), latents=sheet_latents(xy, order, seed),
                 probe_xy=xy, samples=rng.uniform(0, 1, (8, size, size)).astype(np.float32), targets=targets)


def probe_sweep(folder, cells, axes, name="probe"):
    """A sweep folder of probe_trials (with evals files) for ``cells``: {cell: (phases, values)}; returns it."""
    rows = []
    for cell, (phases, values) in cells.items():
        for k, trial_rows in enumerate(seeds(cell, phases, values, name=f"{cell[0]}-{cell[1]}-")):
            trial_id = trial_rows[0]["trial_id"]
            for row in trial_rows:
                row.update(trial_dir=f"trials/{trial_id}", **{"eval.probe_layer": "bottleneck"})
            write_evals(folder, trial_id, phases, seed=k)
            rows += trial_rows
    folder.mkdir(parents=True, exist_ok=True)
    df = table(rows)
    df.to_parquet(folder / "results.parquet")
    (folder / "manifest.json").write_text(json.dumps({"name": name, "axes": axes, "finished": True,
                                                      "trials_total": df["trial_id"].nunique()}))
    return folder


GRID = {(0.5, 0.1): ("ABC", ORDERED_C), (1.0, 0.1): ("ABC", ORDERED_C2), (0.5, 0.5): ("ABB", FLAT),
        (1.0, 0.5): ("AAA", FLAT)}


def test_atlas_of_a_trial_that_reached_c(tmp_path):
    folder = probe_sweep(tmp_path / "s", {(0.5, 0.1): ("ABC", ORDERED_C)}, [X, Y])
    from analysis.results import load_evals, load_results

    df, _ = load_results(folder)
    t = trial_summary(df, X, Y).iloc[0]
    path = plot_atlas(load_evals(folder, t), df[df["trial_id"] == t["trial_id"]], tmp_path / "atlas.png", "t")
    assert path is not None and path.stat().st_size > 10_000
    assert plot_atlas([], df, tmp_path / "none.png") is None
    broken = [{**e, "latents": np.full_like(e["latents"], np.nan)} for e in load_evals(folder, t)]
    assert plot_atlas(broken, df[df["trial_id"] == t["trial_id"]], tmp_path / "nan.png") is None


def test_report_of_a_grid_shows_the_probe_against_its_baseline(tmp_path):
    folder = probe_sweep(tmp_path / "grid", GRID, [X, Y])
    write_report(folder)
    out = folder / "report"
    names = {p.name for p in out.glob("*.png")}
    assert {f"probe_{m}_map.png" for m in WRITTEN} | {"probe_curves.png", "atlas_C.png", "atlas_B.png",
                                                             "atlas_A.png"} <= names
    cells = pd.read_csv(out / "landscape.csv")
    for m in WRITTEN:
        assert {m, f"{m}_std", f"{m}_init", f"{m}_init_std", f"{m}_learned", f"{m}_learned_std"} <= set(cells.columns)
    html = (out / "report.html").read_text()
    assert "<h2>Representation against the untrained network (step 0)</h2>" in html
    assert f"<th>{T} init → final</th>" in html and "0.85 → 0.96" in html
    assert html.index("latents_C.png") < html.index("atlas_C.png") < html.index("samples_C.png")
    summary = (out / "summary.md").read_text()
    assert "(probe layer bottleneck; medians over cells" in summary and "In the 2 cells that end in phase C" in summary


def test_report_of_a_one_axis_sweep_draws_the_probe_along_its_key(tmp_path):
    cells = {(0.5, 0.1): ("ABC", ORDERED_C), (1.0, 0.1): ("ABB", FLAT)}
    folder = probe_sweep(tmp_path / "one", cells, [X])
    write_report(folder)
    names = {p.name for p in (folder / "report").glob("*.png")}
    assert "probe_along.png" in names and not any(n.startswith("probe_") and n.endswith("_map.png") for n in names)


def test_report_of_an_older_table_has_no_probe_figures(tmp_path):
    df = table(trial("a", (0.5, 0.1), "ABC"), trial("b", (1.0, 0.1), "ABB"))
    (tmp_path / "old").mkdir()
    df.to_parquet(tmp_path / "old" / "results.parquet")
    (tmp_path / "old" / "manifest.json").write_text(json.dumps({"name": "old", "finished": True}))
    write_report(tmp_path / "old")
    names = {p.name for p in (tmp_path / "old" / "report").glob("*.png")}
    assert not any(n.startswith(("probe_", "atlas_")) for n in names)
    assert "Representation against" not in (tmp_path / "old" / "report" / "report.html").read_text()


def test_scikit_learn_loads_only_when_an_atlas_is_drawn():
    """A trial imports analysis.plots (its samples figure) and the CLI imports analysis.cli: neither, nor even the
    report module, may load scikit-learn; embedding does."""
    code = ("import sys\nimport analysis.report, analysis.plots, analysis.cli\nprint('sklearn' in sys.modules)\n"
            "from analysis.atlas import embed\nimport numpy as np\n"
            "embed(np.random.default_rng(0).normal(size=(25, 3)))\nprint('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
