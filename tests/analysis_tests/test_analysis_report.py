"""The full report from a realistic sweep folder: real micro trials written in the results contract."""

import base64
import contextlib
import io
import json
import math

import numpy as np
import pandas as pd
import pytest
from test_analysis_landscape import X, Y, failed, imbalance_trial, table, trial

from analysis import ReportError
from analysis.report import write_report
from analysis.results import load_results
from sweep.cli import main

FIGURES = ("phase_map.png", "acc_map.png", "steps_to_C_map.png", "phase_strips.png", "learning_curves.png")


def _flat(config) -> dict:
    """Config keys as result columns: lists become JSON strings, as the sweep store writes them."""
    return {k: json.dumps(v) if isinstance(v, list) else v for k, v in config.flat().items()}


# (overrides, seed): two seeds of an imbalanced lattice (density 0.5), then continuous data (density inf).
TRAININGS = (({"data.spacing_x": 1, "data.spacing_y": 2}, 0), ({"data.spacing_x": 1, "data.spacing_y": 2}, 1),
             ({"data.spacing_x": 0, "data.spacing_y": 0}, 0))


def build_sweep(folder):
    """Train micro trials (the last one reported as still RUNNING) plus one trial that failed before any
    evaluation, and write results.parquet/csv, manifest.json and the per-trial evals as a sweep does."""
    from model.config import from_preset
    from model.train import Trainer

    rows = []
    for k, (overrides, seed) in enumerate(TRAININGS):
        settings = {"train.threads": 1, "train.steps": 10, "eval.every": 5, **overrides}
        config = from_preset("micro", {**settings, "train.seed": seed})
        config_hash = from_preset("micro", settings).hash()  # the config without its seed: replicates share it
        trial_id, trainer = config.hash(), Trainer(config)
        trial_dir = folder / "trials" / trial_id
        (trial_dir / "evals").mkdir(parents=True)
        base = {"sweep": "fixture", "trial_id": trial_id, "config_hash": config_hash,
                "status": "RUNNING" if k == len(TRAININGS) - 1 else "COMPLETED", "error": "", "seed": seed,
                **_flat(config), **trainer.data.derived()}

        def on_eval(step, metrics, t, base=base, trial_dir=trial_dir):
            t.evaluation.save(trial_dir / "evals" / f"step_{step:07d}.npz")
            rows.append({**base, **metrics, "node_id": "n0", "hostname": "test",
                         "trial_dir": f"trials/{base['trial_id']}"})

        trainer.run(on_eval)
    failed = from_preset("micro", {"data.spacing_x": 2, "data.spacing_y": 2, "data.sigma": 1.5})
    rows.append({"sweep": "fixture", "trial_id": failed.hash(), "config_hash": failed.hash(), "status": "ERROR",
                 "error": "TrainingDiverged: loss became nan by step 10; lower train.lr", "seed": 0, **_flat(failed),
                 "n_positions": 16.0, "density": 0.25, "overlap": math.exp(-4 / 9), "step": np.nan,
                 "trial_dir": f"trials/{failed.hash()}"})
    df = pd.DataFrame(rows)
    df.to_parquet(folder / "results.parquet")
    df.to_csv(folder / "results.csv", index=False)
    manifest = {"name": "fixture", "spec": {}, "spec_hash": "abc123", "axes": ["data.spacing_x", "data.spacing_y"],
                "finished": False, "trials_total": 5, "version": "0.1.0", "git_commit": None, "created": "today"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    return build_sweep(tmp_path_factory.mktemp("sweep"))


def _cli(argv):
    """The real ``phasescape`` entry in this process (it maps a ReportError to one line and exit status 2)."""
    return main(argv)


@pytest.fixture(scope="module")
def report(sweep):
    """One full report through the CLI entry, shared by the tests that read it: (exit status, stdout)."""
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = _cli(["report", str(sweep)])
    return status, stdout.getvalue()


def test_cli_writes_report_to_the_default_folder_and_prints_summary(sweep, report):
    status, stdout = report
    assert status == 0
    assert "Sweep report: fixture" in stdout and f"report: {sweep / 'report' / 'report.html'}" in stdout


def test_report_writes_every_figure_and_embeds_it(sweep, report):
    out = sweep / "report"
    pngs = sorted(out.glob("*.png"))
    names = {p.name for p in pngs}
    assert set(FIGURES) <= names
    assert any(n.startswith("latents_") for n in names) and any(n.startswith("samples_") for n in names)
    html = (out / "report.html").read_text()
    for png in pngs:
        assert png.stat().st_size > 2000, png.name
        assert base64.b64encode(png.read_bytes()).decode() in html, f"{png.name} not embedded"
    assert "src=\"http" not in html and "<link" not in html  # self-contained: nothing to fetch


def test_report_marks_partial_results_failed_cells_and_continuous_data(sweep, report):
    cells = pd.read_csv(sweep / "report" / "landscape.csv")
    assert len(cells) == 3  # lattice (2 seeds), continuous, failed: none dropped
    lattice = cells[cells["density"] == 0.5].iloc[0]
    assert lattice["n_trials"] == 2 and lattice["n_configs"] == 1 and lattice["state"] == "done"
    assert cells.loc[np.isinf(cells["density"]), "state"].item() == "partial"
    assert cells.loc[cells["density"] == 0.25, "state"].item() == "failed"
    summary = (sweep / "report" / "summary.md").read_text()
    assert "Partial results" in summary and "4/5 trials reported" in summary and "1 trial running or pending" in summary
    assert "TrainingDiverged" in summary and "Final phase C in" in summary
    assert "x/y learning under imbalanced data" in summary  # spacing_x != spacing_y: an imbalanced sweep
    assert "Detector ceiling not recorded" in summary  # the micro trials write no gt_* columns yet
    html = (sweep / "report" / "report.html").read_text()
    assert "∞ (continuous)" in html and "Failed trials" in html


def test_results_are_read_from_the_csv_when_parquet_is_missing(sweep, tmp_path):
    for name in ("results.csv", "manifest.json"):
        (tmp_path / name).write_bytes((sweep / name).read_bytes())
    df, manifest = load_results(tmp_path)
    parquet, _ = load_results(sweep)
    assert manifest["name"] == "fixture" and len(df) == len(parquet)
    assert np.isinf(df["density"]).sum() == np.isinf(parquet["density"]).sum() > 0
    assert (df["error"] != "").sum() == 1


def test_cli_missing_column_is_one_line_and_status_2(sweep, tmp_path, capsys):
    df = pd.read_parquet(sweep / "results.parquet").drop(columns=["acc_x"])
    df.to_parquet(tmp_path / "results.parquet")
    (tmp_path / "manifest.json").write_bytes((sweep / "manifest.json").read_bytes())
    assert _cli(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'acc_x'" in err


def test_cli_unknown_axis_and_missing_folder(sweep, tmp_path, capsys):
    assert _cli(["report", str(sweep), "--x", "data.nope", "-o", str(tmp_path)]) == 2
    assert "--x data.nope" in capsys.readouterr().err
    assert _cli(["report", str(tmp_path / "absent")]) == 2
    with pytest.raises(ReportError, match="manifest.json"):
        write_report(tmp_path)


def test_summary_states_the_findings_of_a_hand_built_sweep(tmp_path):
    grid = {(0.25, 0.1): "AAA", (1.0, 0.1): "AAB", (math.inf, 0.1): "ABC",
            (0.25, 0.5): "ABB", (1.0, 0.5): "ABC", (math.inf, 0.5): "BCC"}
    rows = [trial(f"t{k}", c, p, acc_x=[0.2, 0.6, 0.9], acc_y=[0.1, 0.6, 0.8], spacing=(1, 3))
            for k, (c, p) in enumerate(grid.items())]
    df = table(*rows, failed("f", (1.0, 0.5)))
    df["data.spacing_y"] = 3.0  # the failed trial's config is the others' (a different one would be a facet)
    df.to_parquet(tmp_path / "results.parquet")
    (tmp_path / "manifest.json").write_text(json.dumps({"name": "grid", "axes": [X, Y], "finished": True,
                                                        "trials_total": 7}))
    write_report(tmp_path, tmp_path / "out")  # no evaluation files: the landscape figures alone
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "Complete: 7/7 trials reported" in summary and "6 cells, 1–2 trials each" in summary
    assert "Final phase C in 3 of 6 measurable cells with results (A 1, B 2, C 3)." in summary
    assert ("Boundary to phase C: along density ≈ 0.625 and between 1 and ∞ (continuous); along overlap ≈ 0.3 "
            "(3 neighbouring cell pairs)") in summary
    assert "coupled in 6 of 6 imbalanced measurable cells" in summary  # onsets 200 and 200 everywhere
    assert "Failed: 1 trial in 1 cell" in summary
    assert {p.name for p in (tmp_path / "out").glob("*.png")} == {*FIGURES, "onset_scatter.png"}


def write_sweep(folder, df, name, axes, trials_total=None):
    """A sweep folder from a synthetic results table: results.parquet and a finished manifest (no evals files)."""
    folder.mkdir(parents=True, exist_ok=True)
    df.to_parquet(folder / "results.parquet")
    manifest = {"name": name, "axes": axes, "finished": True, "trials_total": trials_total or df["trial_id"].nunique()}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def grid_with_unmeasurable_cell():
    """density x overlap, 3 x 2, two seeds per cell, sigma per cell as density and overlap set it; the narrowest
    bump (σ 0.4) has a detector ceiling of 0.46 and one cell's trials all failed."""
    rows = []
    for k, ((d, o), (phases, sigma, gt)) in enumerate({
            (0.25, 0.1): ("AAB", 1.2, 0.99), (0.5, 0.1): ("ABC", 0.4, 0.46), (1.0, 0.1): ("ABC", 0.6, 0.98),
            (0.25, 0.5): ("ABB", 2.0, 0.99), (0.5, 0.5): ("BCC", 1.0, 0.97), (1.0, 0.5): ("ABC", 0.8, 0.99)}.items()):
        for seed in (0, 1):
            rows.append(trial(f"t{k}{seed}", (d, o), phases, seed, gt=gt, sigma=sigma, acc_x=[0.2, 0.6, 0.9],
                              acc_y=[0.1, 0.5, 0.8], lattice=([0.3, 0.7, 0.9], [0.2, 0.6, 0.9])))
    return table(*rows, failed("f", (2.0, 0.1)), failed("g", (2.0, 0.1)))


def imbalance_sweep_table():
    """A one-axis sweep of data.spacing_y (1, 2, 4, 8) at data.spacing_x 0.5, two seeds each, with lattice scores
    and a ceiling: coupled, coupled, sequential (never right between the rows), sparse axis never learned."""
    onsets = {1.0: ((200, 200), (200, 300)), 2.0: ((200, 300), (300, 500)), 4.0: ((100, 500), (100, 700)),
              8.0: ((100, None), (200, None))}
    return table(*(imbalance_trial(f"s{sy}-{seed}", sy, seed, ox, oy, off=(ox, None) if sy >= 4 else None, gt=0.99)
                   for sy, pair in onsets.items() for seed, (ox, oy) in enumerate(pair)))


def test_report_of_a_grid_hatches_the_unmeasurable_cell_and_shows_sigma(tmp_path):
    sweep = write_sweep(tmp_path / "grid", grid_with_unmeasurable_cell(), "grid", [X, Y])
    write_report(sweep)
    out = sweep / "report"
    assert {p.name for p in out.glob("*.png")} == set(FIGURES)
    cells = pd.read_csv(out / "landscape.csv")
    assert cells.loc[~cells["measurable"], ["density", "overlap", "gt_acc"]].values.tolist() == [[0.5, 0.1, 0.46]]
    assert {"sigma_min", "sigma_max", "lattice_acc_x", "onset_x_off", "coupling_min"} <= set(cells.columns)
    summary = (out / "summary.md").read_text()
    assert "1 cell unmeasurable" in summary and "density 0.5, overlap 0.1 (σ 0.4, ceiling 0.46)" in summary
    html = (out / "report.html").read_text()
    assert "<th>σ</th>" in html and "<th>ceiling</th>" in html and "C (unmeasurable)" in html


def test_report_of_a_one_axis_imbalance_sweep_is_drawn_along_its_key(tmp_path):
    sweep = write_sweep(tmp_path / "imbalance", imbalance_sweep_table(), "imbalance", ["data.spacing_y"])
    write_report(sweep)
    out = sweep / "report"
    assert {p.name for p in out.glob("*.png")} == {"phase_map.png", "acc_along.png", "onsets_along.png",
                                                   "steps_to_C_map.png", "phase_strips.png", "learning_curves.png",
                                                   "onset_scatter.png"}
    cells = pd.read_csv(out / "landscape.csv")
    assert list(cells["data.spacing_y"]) == [1, 2, 4, 8] and list(cells["ratio_min"]) == [2, 4, 8, 16]
    assert list(cells["learning"]) == ["coupled", "coupled", "sequential", "sparse never"]
    summary = (out / "summary.md").read_text()
    assert "- One swept key, data.spacing_y: 4 cells (one per value), 2 trials each" in summary
    assert "sparse axis (y) never reached acc 0.5 on its own training rows by step 800 (2 of 2 seeds)" in summary
    html = (out / "report.html").read_text()
    assert "<th>coupling (seeds)</th>" in html and "<th>ratio</th>" in html
