"""Facets: every varying config key that is not a map axis splits the landscape; no cell pools two configs."""

import pandas as pd
import pytest
from test_analysis_landscape import X, Y, table, trial

from analysis import ReportError
from analysis.landscape import facet_keys, landscape, phase_boundary, sweep_axes, trial_summary, where


def _with(rows, **config):
    """A trial's rows with extra config columns (and a config_hash that names its config without the seed)."""
    for row in rows:
        row.update(config)
        row["config_hash"] = "|".join(f"{k}={row[k]}" for k in (X, Y, *sorted(config)))
    return rows


def faceted_table():
    """A 2 x 1 grid (density) trained with two values of a third key, model.cond, two seeds each: concat learns at
    density 0.5 and 1.0, factorized only at 1.0."""
    rows = []
    for cond, phases in (("concat", {0.5: "ABC", 1.0: "ABC"}), ("factorized", {0.5: "AAB", 1.0: "ABC"})):
        for d, ph in phases.items():
            for seed in (0, 1):
                rows.append(_with(trial(f"{cond}-{d}-{seed}", (d, 0.1), ph, seed), **{"model.cond": cond}))
    return table(*rows)


def test_a_third_varying_key_is_a_facet_and_no_cell_mixes_configs():
    df = faceted_table()
    keys = facet_keys(df, X, Y)
    assert keys == ["model.cond"]
    cells = landscape(df, X, Y, facets=keys)
    assert len(cells) == 4 and (cells["n_configs"] == 1).all()
    assert set(cells["facet"]) == {"model.cond=concat", "model.cond=factorized"}
    trials = trial_summary(df, X, Y).merge(df[["trial_id", "model.cond"]].drop_duplicates(), on="trial_id")
    for _, c in cells.iterrows():  # every cell holds exactly the trials of its own config
        mine = trials[(trials[X] == c[X]) & (trials[Y] == c[Y]) & (trials["model.cond"] == c["model.cond"])]
        assert c["n_trials"] == len(mine) == 2
    low = cells[(cells[X] == 0.5)].set_index("model.cond")["phase"]
    assert low["concat"] == "C" and low["factorized"] == "B"
    boundary = phase_boundary(cells, X, Y)
    assert list(boundary["facet"]) == ["model.cond=factorized"]  # each facet its own boundary


def test_average_pools_a_key_explicitly_and_where_filters_first():
    df = faceted_table()
    assert facet_keys(df, X, Y, averaged=["model.cond"]) == []
    pooled = landscape(df, X, Y)
    assert (pooled["n_configs"] == 2).all()
    only = where(df, ["model.cond=concat"])
    assert set(only["model.cond"]) == {"concat"} and facet_keys(only, X, Y) == []
    assert len(where(df, [f"{X}=0.5"])) == len(df[df[X] == 0.5])


def test_a_key_that_moves_only_with_an_axis_is_no_facet():
    rows = [_with(trial(f"t{d}", (d, 0.1), "ABC"), **{"data.spacing_x": 2 / d}) for d in (0.5, 1.0)]
    assert facet_keys(table(*rows), X, Y) == []


@pytest.mark.parametrize("clause, words", [("model.cond=nope", "model.cond takes concat, factorized"),
                                           ("model.nothing=1", "not a config column"),
                                           ("model.cond", "expected KEY=VALUE")])
def test_where_refuses_unknown_keys_and_values(clause, words):
    with pytest.raises(ReportError, match=words):
        where(faceted_table(), [clause])


def test_facet_and_average_refuse_an_axis_or_unknown_key():
    df = faceted_table()
    with pytest.raises(ReportError, match="map axis"):
        facet_keys(df, X, Y, forced=[X])
    with pytest.raises(ReportError, match="not a config column"):
        facet_keys(df, X, Y, averaged=["model.width"])


def test_architecture_keys_are_facets_not_default_axes():
    rows = [_with(trial(f"{c}{w}", (0.5, 0.1), "ABC"), **{"model.cond": c, "model.base_channels": w})
            for c in ("concat", "factorized") for w in (8, 12)]
    df = table(*rows)
    x, y = sweep_axes(df, ["model.base_channels", "model.cond"])
    assert (x, y) == (X, Y)
    keys = facet_keys(df, x, y)
    assert set(keys) == {"model.base_channels", "model.cond"}
    cells = landscape(df, x, y, facets=keys)
    assert len(cells) == 4 and (cells["n_configs"] == 1).all() and cells["facet"].nunique() == 4
    assert "model.cond=concat" in cells["facet"].iloc[0] and "model.base_channels=8" in cells["facet"].iloc[0]


def architecture_sweep(folder):
    """density 0.5 and 1.0 x two architectures (model.cond) x two widths (model.base_channels), two seeds each:
    concat reaches C at step 300 everywhere; factorized at 0.5 never, at 1.0 at step 300 or later."""
    from test_analysis_report import write_sweep

    rows = []
    for cond, phases in (("concat", {0.5: "ABC", 1.0: "ABC"}), ("factorized", {0.5: "AAB", 1.0: "ABBC"})):
        for width in (8, 12):
            for d, ph in phases.items():
                for seed in (0, 1):
                    rows.append(_with(trial(f"{cond}{width}-{d}-{seed}", (d, 0.1), ph, seed),
                                      **{"model.cond": cond, "model.base_channels": width}))
    return write_sweep(folder, table(*rows), "arch", ["model.base_channels", "model.cond"])


def test_report_of_architectures_has_a_panel_per_combination_an_overlay_and_a_verdict(tmp_path):
    from analysis.report import write_report

    sweep = architecture_sweep(tmp_path / "sweep")
    html = write_report(sweep, tmp_path / "out").read_text()
    out = tmp_path / "out"
    cells = pd.read_csv(out / "landscape.csv")
    assert cells["facet"].nunique() == 4 and (cells["n_configs"] == 1).all() and len(cells) == 8
    panels = sorted(p.relative_to(out).as_posix() for p in out.glob("facet_*/phase_map.png"))
    assert len(panels) == 4
    assert (out / "boundary_overlay.png").exists() and "boundary_overlay.png" in html
    steps = pd.read_csv(out / "steps_to_C_by_facet.csv")
    assert len(steps) == 2 and steps.shape[1] == 1 + 4  # along density (overlap is constant), one column per facet
    summary = (out / "summary.md").read_text()
    assert "Facets: " in summary and "no cell pools two of them" in summary
    assert summary.count("- **Facet ") == 4
    # the two widths of concat are alike: no architecture wins beyond the seed spread
    assert "No architecture reaches C with less data beyond the seed spread" in summary
    write_report(sweep, tmp_path / "w8", where_=["model.base_channels=8"])
    narrow = (tmp_path / "w8" / "summary.md").read_text()
    assert ("**model.cond=concat reaches C with less data** (fewer training steps) than every other architecture, "
            "beyond the seed spread in every shared cell (model.cond=concat: C in 2 cells, median 300 steps; next "
            "model.cond=factorized: C in 1, median never)") in narrow


def test_report_where_and_average(tmp_path):
    from analysis.report import write_report

    sweep = architecture_sweep(tmp_path / "sweep")
    write_report(sweep, tmp_path / "a", where_=["model.cond=concat"], average=["model.base_channels"])
    cells = pd.read_csv(tmp_path / "a" / "landscape.csv")
    assert len(cells) == 2 and (cells["n_configs"] == 2).all()  # pooled widths, said so
    summary = (tmp_path / "a" / "summary.md").read_text()
    assert "Averaged over model.base_channels" in summary and "Only trials with model.cond=concat" in summary


def test_cli_where_with_an_unknown_value_is_one_line_and_status_2(tmp_path, capsys):
    from sweep.cli import main

    sweep = architecture_sweep(tmp_path / "sweep")
    assert main(["report", str(sweep), "--where", "model.cond=film"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.cond takes concat, factorized" in err[0]
