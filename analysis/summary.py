"""The findings of a sweep report in words: Markdown lines, each derived from the tables it summarizes.

Every sentence states only what the trials, cells and boundary passed in show: counts name their denominators, a
missing phase boundary says why it is missing, an axis that was never learned is said so with the step it was
last evaluated at, and unmeasurable cells (detector ceiling below CEILING_MIN) are counted apart and left out of
every verdict. tests/analysis_tests/test_analysis_summary.py checks the sentences against their tables.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pandas as pd

from analysis.landscape import axis_values, by_cell, cell_orders, cell_position, cell_values, voting
from analysis.onsets import (
    COUPLED,
    DENSE_NEVER,
    LATTICE,
    LEARNING_ORDERS,
    NEITHER,
    OFF_LATTICE,
    SEQUENTIAL,
    SPARSE_FIRST,
    SPARSE_NEVER,
    onset_basis,
)
from analysis.plots import row_label
from analysis.representation import (
    BETTER,
    FACTOR,
    ORDER,
    UNKNOWN,
    WITHIN,
    WORSE,
    direction,
    fmt_metric,
    has_baseline,
    has_probe,
    init_column,
    kind,
    learned_column,
    moved,
)
from analysis.style import fmt_span, fmt_steps, fmt_value, secondary_names
from model.definitions import (
    CEILING_MIN,
    COUPLED_MAX,
    ERROR,
    HEADLINE_PROBE,
    ONSET,
    PHASES,
    STOP_REASON,
    UNFINISHED,
)

LEARNING_WORDS = {COUPLED: "coupled", SEQUENTIAL: "sequential (sparse axis later)", SPARSE_FIRST: "sparse axis first",
                  SPARSE_NEVER: "sparse axis never learned", DENSE_NEVER: "dense axis never learned",
                  NEITHER: "neither axis learned", "mixed": "seeds disagree"}
BASIS_WORDS = {
    LATTICE: "onsets on the training lattice",
    OFF_LATTICE: "onsets off the lattice only: this table has no on-lattice scores, so a sparse axis can look "
                 "unlearned merely because the test points fall between its training rows",
    "mixed": "onsets on the training lattice where recorded, off it elsewhere",
}
MAX_LISTED = 12  # cells listed one per line before the rest is left to landscape.csv


def _n(count: int, noun: str) -> str:
    """'1 cell', '2 cells'."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _join(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return " and ".join(words) if len(words) < 3 else f"{', '.join(words[:-1])} and {words[-1]}"


def _measured(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells with a final phase whose detector ceiling allows reading it: the ones every verdict is about."""
    return cells[cells["phase"].notna() & cells["measurable"].astype(bool)]


def _steps_range(steps: pd.Series) -> str:
    """'step 1,200' or 'steps 800–1,200' (the last evaluations of a group of trials)."""
    low, high = steps.astype(float).min(), steps.astype(float).max()
    return f"step {fmt_steps(low)}" if low == high else f"steps {fmt_steps(low)}–{fmt_steps(high)}"


def stopped_lines(trials: pd.DataFrame) -> list[str]:
    """How many trials the spec's ``stop`` ended early, settled in a phase (they count as finished in it)."""
    if "stop_reason" not in trials.columns:
        return []
    early = trials[trials["stop_reason"] == STOP_REASON]
    if early.empty:
        return []
    phases = ", ".join(f"{p} {n}" for p, n in early["phase"].value_counts().sort_index().items())
    return [f"- Stopped early: {_n(len(early), 'trial')} of {len(trials)} ended once settled in their phase "
            f"({phases}; the spec's stop); each counts with that final phase and its true steps to C."]


def progress(manifest: dict[str, Any], trials: pd.DataFrame) -> list[str]:
    """Whether the sweep is complete: trials reported of the total, and how many still run."""
    total = manifest.get("trials_total") or len(trials)
    running = int(trials["status"].isin(UNFINISHED).sum())
    if not manifest.get("finished", False) or running:
        return [f"- **Partial results**: the sweep is not finished (manifest finished="
                f"{str(manifest.get('finished', False)).lower()}; {_n(running, 'trial')} running or pending; "
                f"{len(trials)}/{total} trials reported). Cells marked * hold running trials."]
    return [f"- Complete: {len(trials)}/{total} trials reported."]


def grid_line(cells: pd.DataFrame, x: str, y: str | None) -> list[str]:
    """What the cells are: the axes (or the one swept key and what follows from it) and trials per cell."""
    seeds = cells.loc[cells["state"] != "inferred", "n_trials"]
    per_cell = _n(seeds.min(), "trial") if seeds.min() == seeds.max() else f"{seeds.min()}–{seeds.max()} trials"
    rule = "a cell's phase is the most common final phase over its seeds (ties go to the less advanced phase)."
    if y is None:
        differ, same = secondary_names(cells)
        verb = "changes" if len(differ) == 1 else "change"
        follows = f"; {_join(differ)} {verb} with it (shown beside each value)" if differ else ""
        fixed = [fmt_span(n, cells[f"{n}_min"].min(), cells[f"{n}_max"].max()) for n in same]
        fixed_text = f"; {', '.join(fixed)} throughout" if fixed else ""
        return [f"- One swept key, {x}: {_n(len(cells), 'cell')} (one per value), {per_cell} each"
                f"{follows}{fixed_text}; {rule}"]
    size = len(axis_values(cells[x])) * len(axis_values(cells[y]))
    of = f" on a {len(axis_values(cells[x]))} × {len(axis_values(cells[y]))} grid" if len(cells) < size else ""
    return [f"- Grid: x = {x}, y = {y}; {_n(len(cells), 'cell')}{of}, {per_cell} each; {rule}"]


def _unmeasurable_entry(c: pd.Series, x: str, y: str | None) -> str:
    """'density 0.05, overlap 0.2 (σ 0.6, ceiling 0.46)': an unmeasurable cell and why."""
    sigma = fmt_span("sigma", c["sigma_min"], c["sigma_max"]) if "sigma_min" in c.index else ""
    return f"{row_label(c, x, y)} ({sigma + ', ' if sigma else ''}ceiling {c['gt_acc']:.2f})"


def ceiling_lines(cells: pd.DataFrame, x: str, y: str | None) -> list[str]:
    """The detector ceiling: not recorded, all measurable, or which cells are unmeasurable and their ceilings."""
    cells = cells[cells["state"] != "inferred"]  # untrained: no ceiling was recorded for them
    recorded = cells["gt_acc"].notna()
    if not recorded.any():
        return ["- Detector ceiling not recorded in this table (an older sweep): every cell is treated as measurable."]
    bad = cells[~cells["measurable"].astype(bool)]
    if len(bad):
        listing = "; ".join(_unmeasurable_entry(c, x, y) for _, c in bad.head(MAX_LISTED).iterrows())
        more = f"; and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        they = "It is" if len(bad) == 1 else "They are"
        lines = [f"- {_n(len(bad), 'cell')} unmeasurable (the detector scores perfect samples below {CEILING_MIN:g} "
                 f"there: too narrow / too wide for the image): {listing}{more}. {they} left out of the phase counts, "
                 "the boundary, the fastest cell and the coupling."]
    else:
        lines = [f"- Detector ceiling ≥ {CEILING_MIN:g} in all {_n(int(recorded.sum()), 'cell')} that recorded it "
                 f"(lowest {cells['gt_acc'].min():.2f}): measurable."]
    if (~recorded).any():
        unknown = _n(int((~recorded).sum()), "cell")
        lines.append(f"- Detector ceiling not recorded for {unknown} (treated as measurable).")
    return lines


def phase_lines(cells: pd.DataFrame) -> list[str]:
    """Final phases of the measurable cells with results, and what was not counted (unmeasurable, failed,
    pending cells)."""
    measured = _measured(cells)
    measurable = cells[cells["measurable"].astype(bool)]
    states = measurable["state"].value_counts()
    unmeasurable = int((~cells["measurable"].astype(bool)).sum())
    notes = [text for k, text in ((unmeasurable, f"{_n(unmeasurable, 'unmeasurable cell')} not counted"),
                                  (states.get("failed", 0), _n(states.get("failed", 0), "failed cell")),
                                  (states.get("pending", 0), _n(states.get("pending", 0), "pending cell"))) if k]
    if measured.empty:
        return [f"- No measurable cell has a final phase yet{' (' + '; '.join(notes) + ')' if notes else ''}."]
    counts = measured["phase"].value_counts()
    line = (f"- Final phase C in {counts.get('C', 0)} of {_n(len(measured), 'measurable cell')} with results "
            f"(A {counts.get('A', 0)}, B {counts.get('B', 0)}, C {counts.get('C', 0)})")
    line += f"; {'; '.join(notes)}." if notes else "."
    inferred = measured[measured["state"] == "inferred"]
    if len(inferred):
        split = ", ".join(f"{p} {n}" for p, n in inferred["phase"].value_counts().sort_index().items())
        line += (f" {_n(len(inferred), 'cell')} of them {'is' if len(inferred) == 1 else 'are'} **inferred** by the "
                 f"boundary search, not trained ({split}): the phase their trained neighbours agree on.")
    running = int((measured["state"] == "partial").sum())
    if running:
        line += (f" {running} of them {'holds' if running == 1 else 'hold'} running trials: their phase is the latest "
                 "evaluation's.")
    return [line]


def _where(edges: pd.DataFrame, axis: str) -> str:
    """Where the crossed axis changes phase: '≈ midpoint(s)', or 'between a and b' where no midpoint exists."""
    parts = []
    mids = edges["mid"].astype(float).dropna()
    if len(mids):
        lo, hi = mids.min(), mids.max()
        parts.append(f"≈ {lo:.3g}" if math.isclose(lo, hi, rel_tol=0.05) else f"≈ {lo:.3g}–{hi:.3g}")
    open_ended = edges[edges["mid"].isna()]
    parts += list(dict.fromkeys(f"between {fmt_value(axis, a)} and {fmt_value(axis, b)}"
                                for a, b in zip(open_ended["low"], open_ended["high"], strict=True)))[:3]
    return " and ".join(parts)


def boundary_lines(cells: pd.DataFrame, boundary: pd.DataFrame, y: str | None) -> list[str]:
    """Where the final phase changes between neighbouring measurable cells, or why no boundary exists."""
    measured = _measured(cells)
    counts = measured["phase"].value_counts().sort_index()
    if len(cells) == 1:
        return ["- A single cell: no phase boundary to look for."]
    if len(measured) < 2:
        return [f"- No phase boundary: {'only one' if len(measured) else 'no'} measurable cell has results."]
    if len(counts) == 1:
        every = "both" if len(measured) == 2 else f"all {len(measured)}"
        return [f"- No phase boundary: {every} measurable cells with results end in phase {counts.index[0]}."]
    if boundary.empty:
        listed = ", ".join(f"{p} {n}" for p, n in counts.items())
        where = "in a row or column of the grid" if y is not None else "along the key"
        broken = " (unmeasurable cells break the lines)" if (~cells["measurable"].astype(bool)).any() else ""
        return [f"- No phase boundary can be placed: the final phases differ ({listed}), but no two measurable "
                f"cells of different phase are neighbours {where}{broken}."]
    to_c = boundary[(boundary["phase_low"] == "C") != (boundary["phase_high"] == "C")]
    if len(to_c):
        edges, kind = to_c, "to phase C"
    else:
        pairs = sorted(set(boundary["phase_low"]) | set(boundary["phase_high"]))
        edges, kind = boundary, f"between phases {' and '.join(pairs)}"
    parts = [f"along {axis} {_where(e, axis)}" for axis, e in edges.groupby("along", sort=False)]
    return [f"- Boundary {kind}: {'; '.join(parts)} ({_n(len(edges), 'neighbouring cell pair')})."]


def fastest_line(cells: pd.DataFrame, x: str, y: str | None) -> list[str]:
    """The measurable cell(s) that reached phase C in the fewest steps (median over seeds); none if no cell did."""
    measured = _measured(cells)
    steps = measured["steps_to_C"].astype(float)
    reached = measured[steps.apply(math.isfinite)]
    if reached.empty:
        return []
    best = reached[reached["steps_to_C"] == reached["steps_to_C"].min()]
    labels = " and ".join(row_label(c, x, y) for _, c in best.iterrows())
    seconds = f"; {best['seconds_to_C'].iloc[0]:.0f} s" if len(best) == 1 else ""
    return [f"- Fastest to C: {labels} after {fmt_steps(best['steps_to_C'].iloc[0])} steps "
            f"(median over seeds{seconds})."]


def _onset_text(seeds: pd.DataFrame, column: str) -> str:
    """A median onset over seeds in words: 'step 300'; 'never by step 1,200' when no seed got there; 'never in 1 of
    2 seeds' when the median is never but some seed did get there."""
    values = seeds[column].astype(float)
    value = values.median()
    if math.isfinite(value):
        return f"step {fmt_steps(value)}"
    never = seeds[values.apply(math.isinf)]
    if len(never) < len(seeds):
        return f"never in {len(never)} of {len(seeds)} seeds"
    return f"never by {_steps_range(never['step'])}"


def _never_sentence(order: str, seeds: pd.DataFrame, sparse: str, basis: str, n: int) -> str:
    """Words for seeds where an axis never reached ONSET: which axis, on which conditions, by which step."""
    dense = "y" if sparse == "x" else "x"
    where = "on its own training rows" if basis == LATTICE else "at the off-lattice test points"
    of = f" ({len(seeds)} of {n} seeds)" if n > 1 else ""
    by = _steps_range(seeds["step"])
    median = " (median)" if len(seeds) > 1 else ""
    if order == SPARSE_NEVER:
        return (f"the sparse axis ({sparse}) never reached acc {ONSET:g} {where} by {by}{of}, while the dense axis "
                f"({dense}) did at {_onset_text(seeds, f'onset_{dense}')}{median}")
    if order == DENSE_NEVER:
        return (f"the dense axis ({dense}) never reached acc {ONSET:g} {where} by {by}{of}, while the sparse axis "
                f"({sparse}) did at {_onset_text(seeds, f'onset_{sparse}')}{median}")
    return f"neither axis reached acc {ONSET:g} {where} by {by}{of}"


def _coupling_text(seeds: pd.DataFrame) -> str:
    """'coupling 1.5 (seeds 1.2–1.8)' over the seeds where both axes were learned; '' when none was."""
    values = seeds["coupling"].astype(float)
    finite = values[values.apply(math.isfinite) & (values > 0)]
    if finite.empty:
        return ""
    spread = f" (seeds {finite.min():.2g}–{finite.max():.2g})" if len(finite) > 1 else ""
    return f"coupling {finite.median():.2g}{spread}"


def _cell_learning(c: pd.Series, seeds: pd.DataFrame, x: str, y: str | None) -> str:
    """One sub-bullet: a cell's spacing ratio, sparse axis, learning order over seeds, coupling with its seed
    spread, and where an axis was never learned, in words; then the off-lattice onsets."""
    sparse = seeds["sparse"].iloc[0]
    ratio = f"ratio {fmt_value('ratio', seeds['ratio'].iloc[0])}" if "ratio" in seeds.columns else ""
    head = f"  - {row_label(c, x, y)} ({ratio + ', ' if ratio else ''}{sparse} sparse): "
    basis = onset_basis(seeds["onset_basis"])
    n = len(seeds)
    orders = Counter(seeds["learning"])
    parts = []
    learned = [o for o in LEARNING_ORDERS[:3] if orders[o]]
    if learned:
        split = ", ".join(f"{LEARNING_WORDS[o]} in {orders[o]} of {n} seeds" if n > 1 else LEARNING_WORDS[o]
                          for o in learned)
        coupling = _coupling_text(seeds[seeds["learning"].isin(learned)])
        parts.append(f"{coupling} → {split}" if coupling else split)
    for order in (SPARSE_NEVER, DENSE_NEVER, NEITHER):
        if orders[order]:
            parts.append(_never_sentence(order, seeds[seeds["learning"] == order], sparse, basis, n))
    if learned:  # the never-sentences already name the onsets they have
        parts.append(f"median onsets x {_onset_text(seeds, 'onset_x')}, y {_onset_text(seeds, 'onset_y')}")
    if basis == LATTICE:  # between the training rows: interpolation, a finding of its own
        parts.append(f"off the lattice x {_onset_text(seeds, 'onset_x_off')}, y {_onset_text(seeds, 'onset_y_off')}")
    return head + "; ".join(parts) + "."


def _balanced_cell(c: pd.Series, seeds: pd.DataFrame, x: str, y: str | None) -> str:
    """One sub-bullet for a balanced cell shown beside imbalanced ones: its onsets, for reference."""
    return (f"  - {row_label(c, x, y)} (ratio 1, balanced): median onsets x {_onset_text(seeds, 'onset_x')}, "
            f"y {_onset_text(seeds, 'onset_y')} (no sparse axis).")


def learning_lines(trials: pd.DataFrame, cells: pd.DataFrame, x: str, y: str | None) -> list[str]:
    """Per-axis learning under imbalanced data: how many measurable cells learned x and y coupled, sequentially or
    not at all (most common over seeds), then one line per cell, sorted by spacing ratio."""
    if not (trials["sparse"] != "").any():
        return []
    votes = voting(trials)
    groups = by_cell(votes, cells, x, y)
    orders = cell_orders(cells, x, y)
    rows = []
    for _, c in _measured(cells).iterrows():
        seeds = groups.get(cell_position(orders, cell_values(c, x, y)), votes.iloc[:0])
        if len(seeds):
            rows.append((seeds["ratio"].max() if "ratio" in seeds.columns else 0.0, c, seeds))
    imbalanced = [(c, s[s["sparse"] != ""]) for _, c, s in rows if (s["sparse"] != "").any()]
    if not imbalanced:
        return ["- x/y learning: imbalanced trials exist, but none has been evaluated in a measurable cell yet."]
    verdicts = Counter(c["learning"] for c, _ in imbalanced)
    split = ", ".join(f"{LEARNING_WORDS[o]} in {verdicts[o]}" for o in (*LEARNING_ORDERS, "mixed") if verdicts[o])
    basis = onset_basis(pd.concat([s["onset_basis"] for _, s in imbalanced]))
    lines = [f"- x/y learning under imbalanced data ({BASIS_WORDS[basis]}; coupling = sparse onset / dense onset, "
             f"coupled when within ×{COUPLED_MAX:g} either way): {split} of "
             f"{_n(len(imbalanced), 'imbalanced measurable cell')} (most common over seeds; per cell below)."]
    rows.sort(key=lambda r: (math.isnan(r[0]), r[0]))  # by spacing ratio, unknown ones last
    for _, c, seeds in rows[:MAX_LISTED]:
        mine = seeds[seeds["sparse"] != ""]
        lines.append(_cell_learning(c, mine, x, y) if len(mine) else _balanced_cell(c, seeds, x, y))
    if len(rows) > MAX_LISTED:
        lines.append(f"  - … and {_n(len(rows) - MAX_LISTED, 'more cell')} (landscape.csv).")
    return lines


def _verdict_words(metric: str, verdict: str) -> str:
    """A cell's change in words: 'more ordered', 'less factorized', 'rose' (no direction), 'within the seed
    spread', 'one seed, no spread'."""
    if verdict == WITHIN:
        return "within the seed spread"
    if verdict == UNKNOWN:
        return "one seed (no spread)"
    if direction(metric) is None:
        return "rose beyond the seed spread" if verdict == BETTER else "fell beyond the seed spread"
    return f"{'more' if verdict == BETTER else 'less'} {kind(metric)} beyond the seed spread"


def _metric_change(group: pd.DataFrame, metric: str) -> tuple[str, str]:
    """One headline metric over a group of cells: its words ('continuity rose from 0.86 at init to 0.97 (more ordered
    beyond the seed spread in 3 of 3 cells)', medians over cells) and its status: BETTER when more than half the
    cells moved in the metric's direction beyond their seed spread, WORSE when more than half moved against it,
    WITHIN otherwise; with no cell's spread known (one seed each), the direction of the median change."""
    learned = learned_column(metric)
    cells = group[group[learned].notna()]
    init, final = cells[init_column(metric)].median(), cells[metric].median()
    if fmt_metric(init) == fmt_metric(final):
        change = f"{metric} stayed at {fmt_metric(final)}, as at init"
    else:
        change = f"{metric} {'rose' if final > init else 'fell'} from {fmt_metric(init)} at init to {fmt_metric(final)}"
    verdicts = Counter(moved(metric, c[learned], c[f"{learned}_std"]) for _, c in cells.iterrows())
    n = len(cells)
    parts = [f"{_verdict_words(metric, v)} in {verdicts[v]}" for v in (BETTER, WORSE, WITHIN, UNKNOWN) if verdicts[v]]
    if verdicts[UNKNOWN] == n:
        median = cells[learned].median() * (direction(metric) or 1)
        status = BETTER if median > 0 else WORSE if median < 0 else WITHIN
    else:
        status = BETTER if verdicts[BETTER] > n / 2 else WORSE if verdicts[WORSE] > n / 2 else WITHIN
    return f"{change} ({', '.join(parts)} of {_n(n, 'cell')})", status


def _became(kind_: str, better: list[str], metrics: list[str]) -> str:
    """'factorized', 'did not factorize', 'factorized by code_overlap but not by orthogonality' (``better``: the
    metrics of this kind that moved its way)."""
    verb = {ORDER: ("ordered", "did not order"), FACTOR: ("factorized", "did not factorize")}[kind_]
    if len(better) == len(metrics):
        return verb[0]
    if not better:
        return verb[1]
    return f"{verb[0]} by {_join(better)} but not by {_join([m for m in metrics if m not in better])}"


def _group_line(group: pd.DataFrame, label: str) -> str:
    """One sub-bullet: whether a group of cells ordered and factorized (by the headline metrics that have a
    direction), then each headline metric's change from init, medians over the cells."""
    metrics = [m for m in HEADLINE_PROBE if group[learned_column(m)].notna().any()]
    changes = {m: _metric_change(group, m) for m in metrics}
    verdicts = []
    for kind_ in (ORDER, FACTOR):
        mine = [m for m in metrics if kind(m) == kind_]
        if mine:
            verdicts.append(_became(kind_, [m for m in mine if changes[m][1] == BETTER], mine))
    if verdicts == ["did not order", "did not factorize"]:
        verdicts = ["neither ordered nor factorized"]
    joint = ", and " if any(" but not by " in v for v in verdicts) else " and "
    spread = ("; one seed per cell, so no seed spread to judge by: the verdict follows the direction of the median "
              "change" if all(group[f"{learned_column(m)}_std"].isna().all() for m in metrics) else "")
    verdict = f", it {joint.join(verdicts)}{spread}" if verdicts else ""
    return f"  - {label}{verdict}: {'; '.join(words for words, _ in changes.values())}."


def representation_lines(trials: pd.DataFrame, cells: pd.DataFrame) -> list[str]:
    """Whether the representation ordered and factorized against the untrained network (step 0), over the
    measurable cells that end in phase C and over those that do not, by the headline probe metrics
    (HEADLINE_PROBE, with their directions: analysis/representation.py); or why that cannot be said."""
    if not has_probe(cells):
        return ["- Representation probe not recorded in this table (an older sweep): nothing to say about the "
                "representation."]
    if not has_baseline(cells):
        return ["- Representation: this table has no evaluation of the untrained network (step 0), so the probe "
                "metrics have no baseline to be read against; their final values are in landscape.csv."]
    learned = [learned_column(m) for m in HEADLINE_PROBE]
    measured = _measured(cells)
    measured = measured[measured[learned].notna().any(axis=1)]
    if measured.empty:
        return ["- Representation: no measurable cell with results has a step-0 baseline of the probe metrics."]
    layers = sorted({str(v) for v in trials.get("probe_layer", pd.Series(dtype=str)) if isinstance(v, str) and v})
    layer = f"probe layer {_join(layers)}; " if layers else ""
    lines = [f"- Representation against the untrained network at step 0 ({layer}medians over cells of the means over "
             "seeds; a cell's change counts when it exceeds its seed spread, the std of the change over seeds):"]
    in_c, rest = measured[measured["phase"] == "C"], measured[measured["phase"] != "C"]
    if in_c.empty:
        lines.append("  - No measurable cell ends in phase C: there is no cell with right samples to read the "
                     "representation of.")
    else:
        lines.append(_group_line(in_c, f"In the {_n(len(in_c), 'cell')} that end{'s' if len(in_c) == 1 else ''} in "
                                       "phase C"))
    if len(rest):
        counts = rest["phase"].value_counts()
        split = ", ".join(f"{p} {counts[p]}" for p in PHASES if counts.get(p, 0))
        that = ("that does not" if len(rest) == 1 else "that do not") if len(in_c) else "with results"
        lines.append(_group_line(rest, f"In the {_n(len(rest), 'cell')} {that} (final phase {split})"))
    return lines


def failure_lines(trials: pd.DataFrame, cells: pd.DataFrame, x: str, y: str | None) -> list[str]:
    """Failed trials (the first five with their errors) and cells that pool different configs."""
    lines = []
    failed = trials[trials["status"] == ERROR]
    if len(failed):
        n_cells = failed.groupby([x] if y is None else [x, y], dropna=False).ngroups
        lines.append(f"- Failed: {_n(len(failed), 'trial')} in {_n(n_cells, 'cell')} "
                     "(hatched or ✗ in the figures; listed at the end of report.html):")
        for _, t in failed.head(5).iterrows():
            lines.append(f"  - {t['trial_id'][:8]} ({row_label(t, x, y)}): {t['error'][:160] or 'no reason'}")
    pooled = cells[cells["n_configs"] > 1]
    if len(pooled):
        lines.append(f"- Note: trials of different configs (not just seeds) share a cell in {_n(len(pooled), 'cell')}; "
                     "pass --facet KEY for the key that differs, or --x/--y to map it.")
    return lines


def findings(trials: pd.DataFrame, cells: pd.DataFrame, boundary: pd.DataFrame, x: str,
             y: str | None = None) -> list[str]:
    """The lines about one landscape (a whole sweep, or one facet): grid, detector ceiling, final phases, boundary,
    fastest cell, per-axis learning, the representation against its step-0 baseline, failures."""
    return [*grid_line(cells, x, y), *ceiling_lines(cells, x, y), *phase_lines(cells),
            *boundary_lines(cells, boundary, y), *fastest_line(cells, x, y), *learning_lines(trials, cells, x, y),
            *representation_lines(trials, cells), *failure_lines(trials, cells, x, y)]


def selection_lines(where: list[str] | tuple[str, ...] = (), average: list[str] | tuple[str, ...] = ()) -> list[str]:
    """What the report was asked to keep (``--where``) and to pool (``--average``)."""
    lines = []
    if where:
        lines.append(f"- Only trials with {_join(list(where))} (--where).")
    if average:
        lines.append(f"- **Averaged over {_join(list(average))}** (--average): a cell pools the values of "
                     f"{'this key' if len(average) == 1 else 'these keys'} as if they were seeds (n_configs in "
                     "landscape.csv counts the configs per cell).")
    return lines


def facets_line(keys: list[str], labels: list[str]) -> list[str]:
    """The facet keys and how many facets they make: no cell pools two of them."""
    if not keys:
        return []
    verb = "varies" if len(keys) == 1 else "vary"
    return [f"- Facets: {_join(keys)} {verb} within the map's cells, so the landscape is split into "
            f"{_n(len(labels), 'facet')} (one panel each, own boundary); no cell pools two of them."]


def _seed_steps(trials: pd.DataFrame, x: str, y: str | None) -> dict[tuple, list[float]]:
    """Steps to C of each voting seed, per cell (keyed by its cell values)."""
    keys = [x] if y is None else [x, y]
    return {k if isinstance(k, tuple) else (k,): list(g["steps_to_C"].astype(float))
            for k, g in voting(trials).groupby(keys, dropna=False)}


def _facet_entry(label: str, cells: pd.DataFrame, x: str, y: str | None) -> str:
    """'label: C in 2 of 4 cells, median steps to C 400 (lowest density in C 0.25)'."""
    measured = _measured(cells)
    steps = measured["steps_to_C"].astype(float)
    text = (f"{label}: C in {int((measured['phase'] == 'C').sum())} of {_n(len(measured), 'measurable cell')}, "
            f"median steps to C {fmt_steps(steps.median()) or 'unknown'}")
    if "density" in (x, y):
        dens = measured.loc[measured["phase"] == "C", "density"].astype(float)
        text += f", lowest density in C {dens.min():.3g}" if len(dens) else ", no density in C"
    return text


def architecture_lines(trials: pd.DataFrame, cells: pd.DataFrame, x: str, y: str | None = None) -> list[str]:
    """Which architecture (facet) reaches C with less data: fewest training steps to C (median over its cells,
    'never' counted as infinite), tested against the seed spread cell by cell; ``trials`` and ``cells`` carry
    ``facet``."""
    labels = list(dict.fromkeys(cells["facet"]))
    if len(labels) < 2:
        return []
    per = {f: _measured(cells[cells["facet"] == f]) for f in labels}
    reached = {f: int((c["phase"] == "C").sum()) for f, c in per.items()}
    lines = [f"- Architectures side by side ({_n(len(labels), 'facet')}; steps to C per cell in the table "
             "'Steps to C per architecture'):"]
    lines += [f"  - {_facet_entry(f, cells[cells['facet'] == f], x, y)}" for f in labels]
    if not any(reached.values()):
        return [*lines, "- No architecture reached phase C: none reaches it with less data."]
    median = {f: c["steps_to_C"].astype(float).median() for f, c in per.items()}
    ranked = sorted(labels, key=lambda f: (-reached[f], median[f]))
    best, second = ranked[0], ranked[1]
    seeds = {f: _seed_steps(trials[trials["facet"] == f], x, y) for f in labels}
    numbers = (f"{best}: C in {_n(reached[best], 'cell')}, median {fmt_steps(median[best])} steps; next {second}: "
               f"C in {reached[second]}, median {fmt_steps(median[second])}")
    if max((len(v) for f in labels for v in seeds[f].values()), default=0) < 2:
        return [*lines, f"- Fewest steps to C: {numbers}. One seed per cell: the seed spread is unknown, so this "
                        "difference is not tested against it."]

    def beats(a: str, b: str) -> bool:  # in every shared cell where either reached C, a's slowest seed is faster
        shared = [k for k in seeds[a] if k in seeds[b]]
        contested = [k for k in shared if any(math.isfinite(v) for v in seeds[a][k] + seeds[b][k])]
        return bool(contested) and all(max(seeds[a][k]) < min(seeds[b][k]) for k in contested)

    if all(beats(best, other) for other in labels if other != best):
        return [*lines, f"- **{best} reaches C with less data** (fewer training steps) than every other "
                        f"architecture, beyond the seed spread in every shared cell ({numbers})."]
    return [*lines, f"- No architecture reaches C with less data beyond the seed spread: the seed ranges of steps "
                    f"to C overlap in some shared cell ({numbers})."]


def summarize(manifest: dict[str, Any], trials: pd.DataFrame, cells: pd.DataFrame, boundary: pd.DataFrame,
              x: str, y: str | None = None, where: list[str] | tuple[str, ...] = (),
              average: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The findings in words, as Markdown lines: progress, grid, detector ceiling, final phases, boundary,
    fastest cell, per-axis learning, the representation against its step-0 baseline, failures.
    ``trials``/``cells``/``boundary`` come from trial_summary, landscape and phase_boundary on the axes ``x`` and
    ``y`` (None for a one-axis sweep). ``where``/``average``: the report's --where and --average."""
    return [f"# Sweep report: {manifest.get('name', 'sweep')}", "",
            *progress(manifest, trials), *stopped_lines(trials), *selection_lines(where, average),
            *findings(trials, cells, boundary, x, y)]


def summarize_facets(manifest: dict[str, Any], trials: pd.DataFrame, cells: pd.DataFrame, boundary: pd.DataFrame,
                     x: str, y: str | None, keys: list[str], where: list[str] | tuple[str, ...] = (),
                     average: list[str] | tuple[str, ...] = ()) -> list[str]:
    """summarize for a faceted landscape (``trials``, ``cells``, ``boundary`` carry ``facet``): the sweep's
    progress, the facets, the architectures side by side when a facet key is ``model.*``, then each facet's
    findings under its label."""
    labels = list(dict.fromkeys(cells["facet"]))
    lines = [f"# Sweep report: {manifest.get('name', 'sweep')}", "", *progress(manifest, trials),
             *stopped_lines(trials), *selection_lines(where, average), *facets_line(keys, labels)]
    if any(k.startswith("model.") for k in keys):
        lines += architecture_lines(trials, cells, x, y)
    for label in labels:
        mine = cells[cells["facet"] == label]
        lines += [f"- **Facet {label}**:",
                  *findings(trials[trials["facet"] == label], mine, boundary[boundary["facet"] == label], x, y)]
    return lines
