"""The density-versus-phase landscape: results table -> one row per trial -> one row per grid cell.

A grid has two axes (x, y) or, for a sweep that varies one key, one (x, with y None): a cell is then one value of
that key. Definitions (docs/definitions.md), over the seeds of a cell:
- final phase: the most common final phase; a tie goes to the less advanced phase (A before B before C), so a
  cell is called C only when C wins outright. ``share_C`` is the share of its seeds whose final phase is C.
- steps (seconds) to C: per trial the first evaluation in phase C, +inf when it never got there; per cell the
  median over seeds with "never" counted as infinite, so a cell reads "never" once half its seeds never did.
- acc, acc_x, acc_y, lattice_*, r2_x, r2_y, additivity, orthogonality and the headline probe metrics
  (HEADLINE_PROBE): value at the last evaluation; mean and sample standard deviation (``*_std``, NaN for one seed)
  over seeds. For each headline metric also ``<m>_init`` (its value at step 0, the untrained network) and
  ``<m>_learned`` (final − init), per trial and as mean and std over seeds (analysis/representation.py).
- onsets, coupling and learning order: analysis/onsets.py; medians over seeds, the learning order most common.
- ceiling ``gt_acc``: mean over the cell's trials of the detector's score on the true images (with sampler-level
  noise, model/ceiling.py) of their evaluation conditions (NaN when not recorded); the cell is ``measurable``
  unless gt_acc < CEILING_MIN. Unmeasurable cells
  keep their numbers but are no side of a phase boundary.
- ``sigma_min``/``sigma_max`` (and density, overlap, ratio when they are no axis): the span of the quantity over
  the cell's trials, equal unless the cell pools different configs.
Failed trials (status ERROR) are counted per cell but neither vote nor average: their last evaluation is not a
final state. Trials stopped early (STOPPED, by a scheduler or by the spec's ``stop`` once settled in a phase) count
like completed ones. Cells of a boundary search's grid that it never trained (the manifest's ``boundary``) are added
with state ``inferred`` and the phase their trained neighbours agree on; they have no trials and no metrics.
Running (or pending) trials count with their latest evaluation, and their cells are marked partial.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import yaml

from analysis import ReportError
from analysis.onsets import ONSET_COLUMNS, first_step, modal_learning, onset_basis, trial_learning
from analysis.representation import BASELINE_COLUMNS, trial_baseline
from analysis.results import ANALYSIS_DERIVED, CEILING_COLUMNS, LATTICE_COLUMNS, check_table, tidy
from model.definitions import (
    CEILING_MIN,
    CONFIG_SECTIONS,
    DERIVED,
    ERROR,
    FINISHED,
    HEADLINE_PROBE,
    ONSET,
    PHASES,
    UNFINISHED,
    most_common_phase,
)

FINAL_METRICS = tuple(dict.fromkeys(("acc", "acc_x", "acc_y", "frac_single", *LATTICE_COLUMNS, "r2_x", "r2_y",
                                     "additivity", "orthogonality", *HEADLINE_PROBE)))
MEAN_OVER_SEEDS = (*FINAL_METRICS, *BASELINE_COLUMNS)  # each also gets <column>_std
MEDIAN_OVER_SEEDS = ("steps_to_C", "seconds_to_C", *ONSET_COLUMNS, "coupling", "coupling_off")
NOT_AXES = ("train.seed",)  # replicate seeds are aggregated, never mapped
DEFAULT_AXES = ("density", "overlap")
ARCHITECTURE = "model."  # architecture keys: facets by default, never a default axis
# Quantities a cell shows beside its axes (name -> column): density and overlap set sigma, and a one-axis sweep
# labels its key's values with the density, overlap and spacing ratio that follow from them.
SECONDARY = {"sigma": "data.sigma", "density": "density", "overlap": "overlap", "ratio": "ratio"}


def modal_phase(phases: Iterable[Any]) -> str | float:
    """Most common phase, ties to the less advanced one (``most_common_phase``); NaN when there is none."""
    phase = most_common_phase(phases)
    return math.nan if phase is None else phase


def axis_values(values: pd.Series) -> list[Any]:
    """Distinct values of an axis in plotting order: sorted (inf last among numbers), NaN at the end."""
    unique = list(pd.unique(values))
    present = [v for v in unique if not pd.isna(v)]
    try:
        present.sort()
    except TypeError:
        present.sort(key=str)
    return present + [math.nan] * (len(present) < len(unique))


def position(order: Sequence[Any], value: Any) -> int:
    """Index of ``value`` in an ``axis_values`` list (NaN matches NaN)."""
    return next(i for i, v in enumerate(order) if v == value or (pd.isna(v) and pd.isna(value)))


def cell_keys(x: str, y: str | None = None) -> list[str]:
    """The columns that name a cell: [x, y], or [x] for a one-axis landscape (y None)."""
    return [x] if y is None else [x, y]


def cell_values(row: pd.Series, x: str, y: str | None = None) -> list[Any]:
    """A cell's (or trial's) values of the cell keys."""
    return [row[k] for k in cell_keys(x, y)]


def cell_orders(cells: pd.DataFrame, x: str, y: str | None = None) -> list[list[Any]]:
    """``axis_values`` of each cell key, in ``cell_keys`` order."""
    return [axis_values(cells[k]) for k in cell_keys(x, y)]


def cell_position(orders: list[list[Any]], values: Sequence[Any]) -> tuple[int, ...]:
    """Index of each of a cell's key ``values`` in its axis order (``cell_orders``)."""
    return tuple(position(o, v) for o, v in zip(orders, values, strict=True))


def by_cell(frame: pd.DataFrame, cells: pd.DataFrame, x: str, y: str | None = None) -> dict[tuple[int, ...],
                                                                                             pd.DataFrame]:
    """Rows of ``frame`` grouped by cell, keyed by the cell's ``cell_position`` in ``cells``' axis orders."""
    orders = cell_orders(cells, x, y)
    return {cell_position(orders, key): g for key, g in frame.groupby(cell_keys(x, y), dropna=False, sort=False)}


def config_columns(df: pd.DataFrame) -> list[str]:
    """Columns of a results table that can be axes: flattened config keys and derived data
    quantities (n_positions, density, overlap, ratio), ``train.seed`` excluded."""
    derived = (*DERIVED, *ANALYSIS_DERIVED)
    return [c for c in df.columns if (c.startswith(CONFIG_SECTIONS) or c in derived) and c not in NOT_AXES]


def varying(df: pd.DataFrame) -> list[str]:
    """Config columns with more than one distinct value: what a sweep actually changed."""
    return [c for c in config_columns(df) if df[c].nunique(dropna=False) > 1]


def _check_axis_names(df: pd.DataFrame, x: str | None, y: str | None) -> None:
    """ReportError unless ``x`` and ``y`` (each may be None) are distinct config columns of ``df``."""
    allowed = config_columns(df)
    for flag, name in (("--x", x), ("--y", y)):
        if name is not None and name not in allowed:
            raise ReportError(f"{flag} {name}: not a config column of this sweep; choose one of "
                              f"{', '.join(varying(df) or allowed)}")
    if x is not None and x == y:
        raise ReportError(f"--x/--y: both are {x}; choose two different axes")


def choose_axes(
    df: pd.DataFrame, swept: Sequence[str] = (), x: str | None = None, y: str | None = None
) -> tuple[str, str]:
    """The two grid axes: those given, else density x overlap when both vary, else the sweep's swept axes, else
    whatever varies (constant density/overlap fill in for a one-axis sweep). Architecture keys (``model.*``) are
    never chosen by default: they become facets (``facet_keys``)."""
    _check_axis_names(df, x, y)
    allowed = config_columns(df)
    varies = [c for c in varying(df) if not c.startswith(ARCHITECTURE)]
    if all(a in varies for a in DEFAULT_AXES):
        candidates = list(DEFAULT_AXES)
    else:
        candidates = ([a for a in swept if a in allowed and not a.startswith(ARCHITECTURE)] + varies
                      + [a for a in DEFAULT_AXES if a in allowed])
    chosen = [x, y]
    for i in (0, 1):
        if chosen[i] is None:
            chosen[i] = next((c for c in candidates if c not in chosen), None)
    if chosen[0] is None or chosen[1] is None:
        raise ReportError("axes: the results table has fewer than two config columns to map; pass --x and --y")
    return chosen[0], chosen[1]


def swept_key(df: pd.DataFrame, swept: Sequence[str] = ()) -> str | None:
    """The one key a sweep varies, or None. With the manifest's swept axes (``swept``): its only axis, when there is
    one and it varies. Without them: the only varying config column that is not derived from others (else the only
    varying derived one)."""
    swept = [a for a in swept if not a.startswith(ARCHITECTURE)]  # architecture keys are facets
    if swept:
        return swept[0] if len(swept) == 1 and swept[0] in varying(df) else None
    varies = [c for c in varying(df) if not c.startswith(ARCHITECTURE)]
    primary = [c for c in varies if c not in (*DERIVED, *ANALYSIS_DERIVED)]
    candidates = primary or varies
    return candidates[0] if len(candidates) == 1 else None


def sweep_axes(
    df: pd.DataFrame, swept: Sequence[str] = (), x: str | None = None, y: str | None = None
) -> tuple[str, str | None]:
    """The landscape's axes: (key, None) for a sweep that varies one key (``swept_key``; a given ``x`` replaces
    the key), unless ``y`` is given; else the two of ``choose_axes``."""
    _check_axis_names(df, x, y)
    key = swept_key(df, swept) if y is None else None
    if key is not None:
        return x or key, None
    return choose_axes(df, swept, x, y)


def parse_value(text: str) -> Any:
    """A ``--where`` value read as a spec (and ``--set``) would read it: ``"1e-4"`` -> 0.0001, ``"[1, 2]"`` -> [1, 2],
    ``"abc"`` -> "abc"."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value)  # YAML 1.1 reads 1e-4 as text
        except ValueError:
            return value
    return value


def _matches(values: pd.Series, wanted: Any, text: str) -> pd.Series:
    """Rows whose value equals ``wanted`` (lists are stored as JSON text; numbers compare as numbers)."""
    def same(v: Any) -> bool:
        if isinstance(wanted, list):
            return v == json.dumps(wanted) or v == wanted
        if isinstance(wanted, bool) or not isinstance(wanted, numbers.Real):
            return str(v) == str(wanted) or str(v) == text
        try:
            return math.isclose(float(v), float(wanted), rel_tol=1e-9)
        except (TypeError, ValueError):
            return str(v) == text
    return values.map(same).astype(bool)


def where(df: pd.DataFrame, clauses: Sequence[str] = ()) -> pd.DataFrame:
    """The rows of a results table whose config keys take the given values (``--where KEY=VALUE``, each clause
    kept); ReportError naming the key or the values it takes when a clause is malformed, unknown or matches none."""
    allowed = [*config_columns(df), *(k for k in NOT_AXES if k in df.columns)]
    for clause in clauses:
        key, sep, text = clause.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ReportError(f"--where {clause!r}: expected KEY=VALUE, e.g. --where model.cond=concat")
        if key not in allowed:
            raise ReportError(f"--where {key}: not a config column of this sweep; choose one of "
                              f"{', '.join(varying(df) or allowed)}")
        keep = _matches(df[key], parse_value(text.strip()), text.strip())
        if not keep.any():
            present = ", ".join(str(v) for v in axis_values(df[key]))
            raise ReportError(f"--where {key}={text.strip()}: no trial has that value; {key} takes {present}")
        df = df[keep]
    return df


def facet_keys(df: pd.DataFrame, x: str, y: str | None = None, forced: Sequence[str] = (),
               averaged: Sequence[str] = ()) -> list[str]:
    """The keys that split the landscape into facets (one panel per value or combination), never pooled in a cell.

    A varying config column is a facet when it takes more than one value within one map cell (a key that moves only
    with an axis is not); derived quantities (density, overlap, ...) only when their config keys do not already
    explain them. ``train.seed`` never is; ``forced`` keys (``--facet``) always are; ``averaged`` keys (``--average``)
    never are: their cells pool them. ReportError for an unknown key or one that is an axis."""
    allowed = config_columns(df)
    axes = cell_keys(x, y)
    for flag, keys in (("--facet", forced), ("--average", averaged)):
        for k in keys:
            if k not in allowed:
                raise ReportError(f"{flag} {k}: not a config column of this sweep; choose one of "
                                  f"{', '.join(varying(df) or allowed)}")
            if k in axes:
                raise ReportError(f"{flag} {k}: it is a map axis; choose another key or other axes")
    both = set(forced) & set(averaged)
    if both:
        raise ReportError(f"--facet/--average: {', '.join(sorted(both))} given as both; choose one")
    derived = (*DERIVED, *ANALYSIS_DERIVED)
    candidates = [c for c in varying(df) if c not in axes and c not in averaged]
    keys = list(forced)

    def splits(column: str, by: list[str]) -> bool:
        return bool((df.groupby(by, dropna=False)[column].nunique(dropna=False) > 1).any())

    for derived_pass in (False, True):
        for c in candidates:
            if c not in keys and (c in derived) == derived_pass and splits(c, [*axes, *keys]):
                keys.append(c)
    return keys


def facet_label(keys: Sequence[str], values: Sequence[Any]) -> str:
    """'model.cond=concat, model.base_channels=12'; '' without facet keys."""
    return ", ".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))


def facet_groups(df: pd.DataFrame, keys: Sequence[str]) -> list[tuple[str, dict[str, Any], pd.DataFrame]]:
    """(label, {key: value}, rows) per facet, in the order of each key's values; one ('', {}, df) without keys."""
    if not keys:
        return [("", {}, df)]
    orders = [axis_values(df[k]) for k in keys]
    groups = []
    for values, rows in df.groupby(list(keys), dropna=False, sort=False):
        values = values if isinstance(values, tuple) else (values,)
        groups.append((tuple(position(o, v) for o, v in zip(orders, values, strict=True)),
                       facet_label(keys, values), dict(zip(keys, values, strict=True)), rows))
    return [(label, values, rows) for _, label, values, rows in sorted(groups, key=lambda g: g[0])]


def _first_value(values: pd.Series) -> float:
    """The first non-NaN number of a column (a per-trial constant repeated in its rows); NaN if none."""
    present = values.dropna()
    return float(present.iloc[0]) if len(present) else math.nan


def _final(evals: pd.DataFrame) -> dict[str, Any]:
    """Last-evaluation metrics and steps/seconds to C of one trial's evaluations (NaN when there are none)."""
    if evals.empty:
        return {**dict.fromkeys(("step", "time_s", *FINAL_METRICS, *BASELINE_COLUMNS, "steps_to_C", "seconds_to_C"),
                                math.nan), "phase": math.nan}
    last = evals.iloc[-1]
    in_c = evals["phase"] == "C"
    return {"step": last["step"], "time_s": last["time_s"], "phase": last["phase"],
            **{m: last[m] for m in FINAL_METRICS}, **trial_baseline(evals),
            "steps_to_C": first_step(evals, in_c), "seconds_to_C": first_step(evals, in_c, "time_s")}


def trial_summary(df: pd.DataFrame, x: str, y: str | None = None, onset: float = ONSET) -> pd.DataFrame:
    """One row per trial: its cell, status, error, secondary quantities (sigma, ...), ceiling (gt_*), last
    evaluation, the headline probe metrics at step 0 and their change since (``<m>_init``, ``<m>_learned``),
    steps/seconds to C, onsets, coupling and learning order (analysis/onsets.py)."""
    keys = cell_keys(x, y)
    df = check_table(df, tuple(keys))
    secondary = {name: column for name, column in SECONDARY.items() if column in df.columns}
    rows = []
    for trial_id, t in df.groupby("trial_id", sort=False):
        t = t.sort_values("step", na_position="first", kind="stable")
        evals = t[t["step"].notna()]
        first = t.iloc[0]
        row: dict[str, Any] = {
            "trial_id": trial_id, **{k: first[k] for k in keys}, "seed": first["seed"],
            "stop_reason": t["stop_reason"].iloc[-1] if "stop_reason" in t.columns else "",
            "config_hash": first["config_hash"],
            # An error may be recorded after evaluations: it decides the trial's status.
            "status": ERROR if (t["status"] == ERROR).any() else t["status"].iloc[-1],
            "error": next((e for e in t["error"] if e), ""), "trial_dir": first["trial_dir"], "n_evals": len(evals),
            "probe_layer": first.get("eval.probe_layer", ""),  # the layer the plain probe names are read at
            **{name: first[column] for name, column in secondary.items()},
            **{c: _first_value(t[c]) for c in CEILING_COLUMNS},
            **_final(evals),
        }
        row.update(trial_learning(evals, first.get("data.spacing_x", math.nan), first.get("data.spacing_y", math.nan),
                                  onset))
        rows.append(row)
    return pd.DataFrame(rows)


def _spans(c: pd.DataFrame, keys: list[str]) -> dict[str, float]:
    """``<name>_min``/``<name>_max`` over a cell's trials of each SECONDARY quantity that is not a cell key."""
    out = {}
    for name, column in SECONDARY.items():
        if name in c.columns and column not in keys:
            values = c[name].astype(float)
            out[f"{name}_min"], out[f"{name}_max"] = values.min(), values.max()
    return out


def _learning(vote: pd.DataFrame) -> dict[str, Any]:
    """A cell's learning order (most common over seeds), onset basis and the seed spread of its coupling."""
    coupling = vote["coupling"].astype(float) if len(vote) else pd.Series(dtype=float)
    return {"learning": modal_learning(vote["learning"]), "onset_basis": onset_basis(vote["onset_basis"]),
            "coupling_min": coupling.min(), "coupling_max": coupling.max()}


def voting(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials (rows of trial_summary) that vote for their cell: evaluated at least once and not failed."""
    return trials[(trials["status"] != ERROR) & (trials["n_evals"] > 0)]


def measurable_trials(trials: pd.DataFrame, cells: pd.DataFrame, x: str, y: str | None = None) -> pd.DataFrame:
    """The voting trials of the measurable cells (landscape rows): the ones whose numbers every verdict reads."""
    keys = cell_keys(x, y)
    return voting(trials).merge(cells.loc[cells["measurable"].astype(bool), keys], on=keys, how="inner")


def inferred_cells(grid: dict[str, Any] | None, x: str, y: str | None, present: pd.DataFrame) -> list[dict[str, Any]]:
    """Landscape rows of the cells a boundary search did not train (``grid``: the manifest's ``boundary``), on the
    axes x, y, unless ``present`` (the trained cells) has them already; none when the axes are not the grid's."""
    keys = cell_keys(x, y)
    if not grid:
        return []
    seen = {tuple(v) for v in present[keys].itertuples(index=False)} if len(present) else set()
    rows: dict[tuple, dict[str, Any]] = {}
    for cell in grid["cells"]:
        values = cell["values"]
        if cell["trained"] or not all(k in values for k in keys):
            continue
        key = tuple(tidy(values[k]) if isinstance(values[k], float) else values[k] for k in keys)  # as the table's
        if key in seen or key in rows:
            continue
        spans = {f"{name}_{end}": values[column] for name, column in SECONDARY.items() if column in values
                 and column not in keys for end in ("min", "max")}
        rows[key] = {**dict(zip(keys, key, strict=True)), "state": "inferred", "n_trials": 0, "n_completed": 0,
                     "n_running": 0, "n_error": 0, "n_configs": 0, **spans, "measurable": True, "phase": cell["phase"],
                     **{f"n_{p}": 0 for p in PHASES}, "reached_C": 0, "learning": "", "onset_basis": ""}
    return list(rows.values())


def landscape(df: pd.DataFrame, x: str, y: str | None = None, onset: float = ONSET,
              grid: dict[str, Any] | None = None, facets: Sequence[str] = ()) -> pd.DataFrame:
    """One row per grid cell (x, y), or per value of x when y is None, seeds aggregated as the module docstring
    says, in axis order (y, then x).

    ``state``: done | partial (a trial still running or pending) | pending (no evaluation yet) | failed (every
    trial failed) | inferred (a cell of the boundary search's ``grid`` it did not train).
    ``n_completed`` counts COMPLETED or STOPPED trials, ``n_running`` RUNNING or PENDING ones,
    ``n_error`` failed ones. ``measurable``: False when the ceiling ``gt_acc`` is below CEILING_MIN.
    ``facets`` (``facet_keys``): one landscape per facet, stacked in facet order, each row carrying the facet keys'
    values and ``facet``, its label ('' without facets); a boundary search's ``grid`` is then left out.
    """
    if facets:
        parts = [landscape(rows, x, y, onset).assign(**values, facet=label)
                 for label, values, rows in facet_groups(df, facets)]
        return pd.concat(parts, ignore_index=True)
    keys = cell_keys(x, y)
    trials = trial_summary(df, x, y, onset)
    rows = []
    for values, c in trials.groupby(keys, dropna=False, sort=False):
        vote = voting(c)
        n_error, n_running = int((c["status"] == ERROR).sum()), int(c["status"].isin(UNFINISHED).sum())
        state = "failed" if n_error == len(c) else "pending" if vote.empty else "partial" if n_running else "done"
        # The ceiling belongs to the data and the evaluation conditions, not to training: every trial that
        # recorded one counts, failed ones included.
        ceiling = {m: c[m].astype(float).mean() for m in CEILING_COLUMNS}
        row: dict[str, Any] = {
            **dict(zip(keys, values, strict=True)), "state": state, "n_trials": len(c),
            "n_completed": int(c["status"].isin(FINISHED).sum()), "n_running": n_running, "n_error": n_error,
            "n_configs": c["config_hash"].nunique(), **_spans(c, keys), **ceiling,
            # as model/ceiling.unmeasurable: the lower of the two ceilings; one not recorded counts as 1
            "measurable": not np.nanmin([ceiling["gt_acc"], ceiling["gt_lattice_acc"], 1.0]) < CEILING_MIN,
            "phase": modal_phase(vote["phase"]),
            "share_C": float((vote["phase"] == "C").mean()) if len(vote) else math.nan,
            **{f"n_{p}": int((vote["phase"] == p).sum()) for p in PHASES},
            "step": vote["step"].max(), "reached_C": int(np.isfinite(vote["steps_to_C"].astype(float)).sum()),
            **_learning(vote),
        }
        for m in MEAN_OVER_SEEDS:
            row[m], row[f"{m}_std"] = vote[m].astype(float).mean(), vote[m].astype(float).std()
        for m in MEDIAN_OVER_SEEDS:
            row[m] = vote[m].astype(float).median()
        rows.append(row)
    rows += inferred_cells(grid, x, y, pd.DataFrame(rows))
    orders = cell_orders(pd.DataFrame(rows), x, y)
    rows.sort(key=lambda r: cell_position(orders, [r[k] for k in keys])[::-1])
    return pd.DataFrame(rows).assign(facet="")


def _midpoint(a: Any, b: Any) -> float:
    """(a + b) / 2 for two finite numbers; NaN otherwise (a boundary next to continuous data has no midpoint)."""
    numeric = all(isinstance(v, numbers.Real) and math.isfinite(v) for v in (a, b))
    return (a + b) / 2 if numeric else math.nan


def phase_boundary(cells: pd.DataFrame, x: str, y: str | None = None) -> pd.DataFrame:
    """Neighbouring measurable cells whose final phases differ, one row per pair.

    Neighbours are consecutive cells, in axis order, of one row (crossing x) or column (crossing y; none for a
    one-axis landscape) among the cells that have a phase or are unmeasurable. Failed or empty cells in between
    are skipped, so cells either side of them are compared; an unmeasurable cell breaks the line instead (its
    phase is not known to be what it reads, so neither side of it is compared with the other). Columns:
    ``along`` (the axis crossed), ``at`` (the other axis' value; NaN for one axis), ``low``/``high`` (crossed-axis
    values either side), ``phase_low``/``phase_high``, ``mid`` (midpoint of low and high; NaN unless both are
    finite numbers). A faceted landscape (``facet`` labels) gets a boundary per facet, labelled in ``facet``.
    """
    columns = ["along", "at", "low", "high", "phase_low", "phase_high", "mid"]
    if "facet" in cells.columns and (cells["facet"] != "").any():
        parts = [phase_boundary(c.drop(columns="facet"), x, y).assign(facet=label)
                 for label, c in cells.groupby("facet", sort=False)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*columns, "facet"])
    rows = []
    placed = cells[cells["phase"].notna() | ~cells["measurable"].astype(bool)]
    for along, other in ((x, y), (y, x)) if y is not None else ((x, None),):
        order = axis_values(cells[along])
        lines = placed.groupby(other, dropna=False, sort=False) if other is not None else [(math.nan, placed)]
        for at, line in lines:
            line = line.iloc[np.argsort([position(order, v) for v in line[along]], kind="stable")]
            for (_, a), (_, b) in zip(line.iloc[:-1].iterrows(), line.iloc[1:].iterrows(), strict=True):
                if a["measurable"] and b["measurable"] and a["phase"] != b["phase"]:
                    rows.append({"along": along, "at": at, "low": a[along], "high": b[along],
                                 "phase_low": a["phase"], "phase_high": b["phase"],
                                 "mid": _midpoint(a[along], b[along])})
    return pd.DataFrame(rows, columns=columns)


def phase_timeline(df: pd.DataFrame, x: str, y: str | None = None) -> pd.DataFrame:
    """Phase of each cell at each evaluation step (modal over its non-failed seeds): the cell keys, step, phase,
    n_seeds, in the landscape's cell order and then by step."""
    keys = cell_keys(x, y)
    df = check_table(df, tuple(keys))
    failed = set(df.loc[df["status"] == ERROR, "trial_id"])
    evals = df[df["step"].notna() & ~df["trial_id"].isin(failed)]
    out = (evals.groupby([*keys, "step"], dropna=False, sort=False)
           .agg(phase=("phase", modal_phase), n_seeds=("phase", "size")).reset_index())
    orders = cell_orders(df, x, y)
    order = [(*cell_position(orders, values)[::-1], step)
             for *values, step in zip(*(out[k] for k in keys), out["step"], strict=True)]
    return out.iloc[sorted(range(len(out)), key=order.__getitem__)].reset_index(drop=True)
