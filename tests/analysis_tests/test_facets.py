"""Facets: every varying config key that is not a map axis splits the landscape; no cell pools two configs."""

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
