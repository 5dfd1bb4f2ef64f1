"""The report's drill-down: the landscape as a grid of linked HTML cells, and one section per cell.

The grid repeats the phase map (analysis/heatmaps.py) in HTML, one table per facet on the common axis values:
each cell is coloured by its final phase (analysis/style.py colours), carries the same marks as the PNG (dotted:
inferred by a boundary search; crossed: failed; single diagonals: unmeasurable; '*': still running; '✗n': n trials
failed) and links to its section. A section shows, for the cell's trials (one row per seed), the generated
samples at each evaluation (analysis/sample_tiles.py: small inline PNGs read from the trials' evals/*.npz, which
every trial writes, sweeps included), acc, acc_x, acc_y and the headline probe metrics over training (inline SVG,
analysis/svgchart.py), and relative links to the trial folders. Everything is inline: the page still opens from
disk with no network.
"""

from __future__ import annotations

import html
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from analysis.landscape import cell_orders, cell_position, cell_values
from analysis.plots import row_label
from analysis.results import eval_files, trial_folder
from analysis.sample_tiles import montage, png_data_uri
from analysis.style import (
    FAILED_HATCH,
    PHASE_COLOURS,
    SECONDARY_SYMBOLS,
    UNMEASURABLE_HATCH,
    X_COLOUR,
    Y_COLOUR,
    axis_label,
    cell_extras,
    cell_hatch,
    fmt_steps,
    fmt_value,
)
from analysis.svgchart import Line, line_chart
from model.definitions import CEILING_MIN, ERROR, HEADLINE_PROBE, ONSET, PHASE_ACC

MAX_STRIP = 12  # evaluations shown per trial (evenly spread, first and last kept): a long run stays one row
SAMPLES_SHOWN = 16  # samples per evaluation: a 4 x 4 montage of the first evaluation conditions
TILE_WIDTH = 120  # display width (px) a montage is scaled up to, in whole pixels
SEED_DASHES = ("", "5 2", "1.5 2", "6 2 1.5 2")  # a cell's seeds, in the order of its rows
NO_PHASE, BLANK = "#e8e8e8", "#ffffff"  # pending (no evaluation yet); failed or unmeasurable (hatched)
PROBE_COLOUR = "#7B3294"

STYLE = """<style>
table.drill-grid { border-collapse: separate; border-spacing: 2px; font-size: 0.8em; margin: 0.3em 0; }
table.drill-grid td, table.drill-grid th { border: none; padding: 0; background: none; }
table.drill-grid th { font-weight: normal; color: #444; padding: 0 4px; text-align: center; }
table.drill-grid tr th:first-child { text-align: right; }
.grid-block { display: inline-block; vertical-align: top; margin-right: 2em; }
p.grid-title { font-weight: bold; font-size: 0.8em; margin: 1em 0 0; }
a.cell { display: block; margin: 0 auto; width: 52px; height: 34px; padding-top: 3px; box-sizing: border-box;
  text-align: center; font-size: 12px; line-height: 14px; text-decoration: none; border: 1px solid #777; }
a.cell span { display: inline-block; padding: 0 2px; } a.cell small { font-size: 9px; }
a.cell:hover, a.cell:focus { outline: 2px solid #000; }
a.cell.inferred { background-image: radial-gradient(#333 1px, transparent 1.5px); background-size: 5px 5px; }
a.cell.failed { background-image: repeating-linear-gradient(45deg, #555 0 1px, transparent 1px 6px),
  repeating-linear-gradient(-45deg, #555 0 1px, transparent 1px 6px); }
a.cell.unmeasurable { background-image: repeating-linear-gradient(45deg, #555 0 1px, transparent 1px 6px); }
a.cell.inferred span, a.cell.failed span, a.cell.unmeasurable span { background: rgba(255, 255, 255, 0.85); }
section.drill { border-top: 1px solid #ddd; padding: 0.3em 0 0.6em; }
section.drill:target { background: #fffbe6; }
section.drill h3 { font-size: 1em; margin: 0.4em 0; } section.drill h3 a { font-weight: normal; font-size: 0.85em; }
section.drill p { margin: 0.2em 0; font-size: 0.9em; }
.charts svg { margin-right: 6px; }
.trial { display: flex; align-items: flex-start; gap: 6px; margin: 4px 0; font-size: 0.75em; }
.trial .who { flex: 0 0 9em; overflow-wrap: anywhere; } .trial .evals { display: flex; flex-wrap: wrap; gap: 4px; }
.trial .evals div { text-align: center; } img.tiles { image-rendering: pixelated; display: block; }
b.phase { padding: 0 3px; border-radius: 2px; }
</style>"""


@dataclass(frozen=True)
class Drilldown:
    """The drill-down's two pieces of HTML: ``grid`` (the linked landscape, shown near the top of the report) and
    ``sections`` (one per cell, shown after the figures)."""

    grid: str
    sections: str


def cell_id(facet: int, ix: int, iy: int) -> str:
    """The HTML id of a cell's section: facet number and the cell's column and row in the common axis order."""
    return f"cell-{facet}-{ix}-{iy}"


def _text_colour(background: str) -> str:
    """Black on light backgrounds, white on dark ones (as the PNG maps choose)."""
    r, g, b = (int(background[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "#000" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "#fff"


def _marks(cell: pd.Series) -> str:
    """The CSS class of a cell's mark ('' for none): 'inferred' (dots), else the hatch that analysis/style.py
    cell_hatch gives the PNG maps, 'failed' (crosses) or 'unmeasurable' (single diagonals)."""
    if cell["state"] == "inferred":
        return "inferred"
    hatch = cell_hatch(cell["state"], bool(cell["measurable"]))
    return {FAILED_HATCH: "failed", UNMEASURABLE_HATCH: "unmeasurable"}.get(hatch, "")


def cell_colour(cell: pd.Series) -> str:
    """A grid cell's background: its phase colour when it has a phase (inferred cells too, under their dots), white
    when hatched (failed or unmeasurable, as on the PNG phase map), light grey when it has no phase yet."""
    if _marks(cell) in ("failed", "unmeasurable"):
        return BLANK
    return NO_PHASE if pd.isna(cell["phase"]) else PHASE_COLOURS[cell["phase"]]


def _cell_text(cell: pd.Series) -> tuple[str, str]:
    """The two lines a grid cell shows: its phase (with '*' while running) and a note (seeds in C, 'inferred',
    'failed', ...), with '✗n' for failed trials."""
    phase = "" if pd.isna(cell["phase"]) else cell["phase"]
    star = "*" if cell["state"] in ("partial", "pending") else ""
    voters = cell["n_A"] + cell["n_B"] + cell["n_C"]
    note = {"inferred": "inferred", "failed": "failed", "pending": "pending"}.get(
        cell["state"], f"{cell['n_C']}/{voters} C" if cell["measurable"] else "unmeas.")
    errors = f" ✗{cell['n_error']}" if cell["n_error"] and cell["state"] != "failed" else ""
    return phase + star, note + errors


def _raw(value: object) -> str:
    """An axis value as the data attribute holds it: a number in full precision (``repr`` of the float, as
    landscape.csv writes it), anything else as text."""
    return repr(float(value)) if isinstance(value, numbers.Real) and not isinstance(value, bool) else str(value)


def _link(cell: pd.Series, target: str, x: str, y: str | None) -> str:
    """One grid cell: an ``<a>`` to its section, coloured and marked, its cell values and phase as data
    attributes (what tests and scripts read back)."""
    colour, marks = cell_colour(cell), _marks(cell)
    top, note = _cell_text(cell)
    data = {"phase": "" if pd.isna(cell["phase"]) else cell["phase"], "state": cell["state"],
            "measurable": int(bool(cell["measurable"])), "facet": cell["facet"],
            "x": _raw(cell[x]), **({"y": _raw(cell[y])} if y is not None else {})}
    attributes = " ".join(f'data-{k}="{html.escape(str(v))}"' for k, v in data.items())
    title = f"{row_label(cell, x, y)}: {_headline(cell)}"
    ink = "#000" if marks else _text_colour(colour)  # on dots or hatching: black on a white label (CSS)
    return (f'<a class="cell {marks}" href="#{target}" style="background-color:{colour};color:{ink}"'
            f' {attributes} title="{html.escape(title)}"><span>{html.escape(top)}<br><small>{html.escape(note)}</small>'
            "</span></a>")


def _grid_table(cells: pd.DataFrame, ids: dict[int, str], orders: list[list], x: str, y: str | None,
                caption: str, anchor: str) -> str:
    """One facet's grid under its ``caption``: columns the x values, rows the y values (highest on top, as in the PNG
    maps); side by side with the other facets' grids."""
    ys = orders[1] if y is not None else [None]
    place = {cell_position(orders, cell_values(c, x, y)): i for i, c in cells.iterrows()}
    rows = []
    for iy in reversed(range(len(ys))):
        label = f"<th>{html.escape(fmt_value(y, ys[iy]))}</th>" if y is not None else "<th></th>"
        tds = []
        for ix in range(len(orders[0])):
            i = place.get((ix, iy) if y is not None else (ix,))
            tds.append("<td></td>" if i is None else f"<td>{_link(cells.loc[i], ids[i], x, y)}</td>")
        rows.append(f"<tr>{label}{''.join(tds)}</tr>")
    heads = "".join(f"<th>{html.escape(fmt_value(x, v))}</th>" for v in orders[0])
    return (f'<div class="grid-block" id="{anchor}"><p class="grid-title">{html.escape(caption)}</p>'
            f'<table class="drill-grid">{"".join(rows)}<tr><th></th>{heads}</tr></table></div>')


def _axes_note(x: str, y: str | None) -> str:
    """What the grids' columns and rows are."""
    axes = f"columns: {axis_label(x)}" + (f"; rows: {axis_label(y)} (highest on top)" if y is not None else "")
    return f'<p class="meta">{html.escape(axes)}</p>'


def _swatch(phase: str) -> str:
    """A phase letter on its phase colour."""
    colour = PHASE_COLOURS[phase]
    return f'<b class="phase" style="background:{colour};color:{_text_colour(colour)}">{phase}</b>'


LEGEND = ('<p class="drill-legend">' + " ".join(_swatch(p) for p in PHASE_COLOURS)
          + " final phase (most common over seeds) and the seeds in C; dotted: inferred by the boundary search (not "
          "trained), crossed: failed, single diagonals: unmeasurable (detector ceiling below "
          f"{CEILING_MIN:g}), *: still running, ✗n: n trials failed. Click a cell for its trials.</p>")


def _headline(cell: pd.Series) -> str:
    """One line about a cell: phase, seeds in C, state, final acc ± std, steps to C, ceiling when unmeasurable."""
    if cell["state"] == "inferred":
        return f"phase {cell['phase']} inferred by the boundary search from its trained neighbours (not trained)"
    voters = cell["n_A"] + cell["n_B"] + cell["n_C"]
    parts = [f"phase {'none yet' if pd.isna(cell['phase']) else cell['phase']}", f"{cell['n_C']}/{voters} seeds in C",
             f"state {cell['state']}", f"{cell['n_trials']} trial{'' if cell['n_trials'] == 1 else 's'} "
             f"({cell['n_error']} failed)"]
    if pd.notna(cell["acc"]):
        spread = "" if pd.isna(cell["acc_std"]) else f" ± {cell['acc_std']:.2f}"
        parts.append(f"final acc {cell['acc']:.2f}{spread}")
    if pd.notna(cell["steps_to_C"]):
        parts.append(f"steps to C {fmt_steps(cell['steps_to_C'])}")
    if not cell["measurable"]:
        parts.append(f"unmeasurable: detector ceiling {cell['gt_acc']:.2f} < {CEILING_MIN:g}")
    return ", ".join(parts)


def _spread(paths: list[Path], k: int = MAX_STRIP) -> list[Path]:
    """At most ``k`` of ``paths``, evenly spread, the first and the last always among them."""
    if len(paths) <= k:
        return paths
    return [paths[i] for i in sorted(set(np.linspace(0, len(paths) - 1, k).round().astype(int)))]


def _tiles(sweep_dir: Path, trial: pd.Series, phases: dict[int, str]) -> tuple[list[str], int]:
    """One ``<div>`` per shown evaluation of a trial (its sample montage, step and phase at that step) and how many
    evaluations it saved."""
    files = eval_files(sweep_dir, trial)
    cells = []
    for path in _spread(files):
        with np.load(path) as z:
            step, tiles = int(z["step"]), montage(z["samples"], z["targets"], SAMPLES_SHOWN)
        scale = max(1, round(TILE_WIDTH / tiles.shape[1]))
        phase = phases.get(step, "")
        badge = f" {_swatch(phase)}" if phase else ""
        cells.append(f'<div><img class="tiles" src="{png_data_uri(tiles)}" width="{tiles.shape[1] * scale}" '
                     f'height="{tiles.shape[0] * scale}" alt="samples at step {step}" loading="lazy">'
                     f"step {step:,}{badge}</div>")
    return cells, len(files)


def _who(sweep_dir: Path, out: Path, trial: pd.Series) -> str:
    """The head of a trial's row: seed, a relative link to its folder, status, final phase or error."""
    folder = trial_folder(sweep_dir, trial)
    name = html.escape(trial["trial_id"][:12])
    link = (f'<a href="{quote(Path(os.path.relpath(folder, out)).as_posix())}/">{name}</a>' if folder.is_dir()
            else f"{name} (no folder)")
    seed = "" if pd.isna(trial["seed"]) else f"seed {int(trial['seed'])}<br>"
    end = (f"<br>{html.escape(trial['error'])}" if trial["status"] == ERROR and trial["error"]
           else "" if pd.isna(trial["phase"]) else f", final {trial['phase']}")
    return f'<div class="who">{seed}{link}<br>{html.escape(str(trial["status"]))}{end}</div>'


def _charts(evals: list[pd.DataFrame]) -> str:
    """acc, acc_x, acc_y over training (one line per seed, dashed by seed), and each headline probe metric."""
    x_max = max((float(e["step"].max()) for e in evals if len(e)), default=1.0)
    dashes = [SEED_DASHES[i % len(SEED_DASHES)] for i in range(len(evals))]
    acc = [Line(list(e["step"]), list(e[m]), colour, dash, f"{m}, row {i + 1}")
           for m, colour in (("acc", "#222222"), ("acc_x", X_COLOUR), ("acc_y", Y_COLOUR))
           for i, (e, dash) in enumerate(zip(evals, dashes, strict=True)) if m in e]
    charts = [line_chart(acc, "acc, acc_x, acc_y", x_max, (0.0, 1.0), refs=sorted({ONSET, PHASE_ACC}))]
    for m in HEADLINE_PROBE:
        lines = [Line(list(e["step"]), list(e[m]), PROBE_COLOUR, dash, f"{m}, row {i + 1}")
                 for i, (e, dash) in enumerate(zip(evals, dashes, strict=True)) if m in e and e[m].notna().any()]
        if lines:
            charts.append(line_chart(lines, m, x_max))
    return f'<div class="charts">{"".join(charts)}</div>'


CHARTS_NOTE = (f'<p class="meta">acc (black), <span style="color:{X_COLOUR}">acc_x</span> and '
               f'<span style="color:{Y_COLOUR}">acc_y</span>, then the headline probe metrics (step 0: the untrained '
               "network), one line per trial, dashed in the order of the rows below (solid, dashed, dotted, "
               f"dash-dot); grey dashes at {PHASE_ACC:g} (phase C needs acc at least that; onsets: acc_x, acc_y). "
               f"Samples: the first {SAMPLES_SHOWN} evaluation conditions (the same at every step), targets marked "
               "red in the gaps above (x) and left (y) of each tile.</p>")


def _section(sweep_dir: Path, out: Path, cell: pd.Series, target: str, grid_anchor: str, mine: pd.DataFrame,
             rows: dict[str, pd.DataFrame], x: str, y: str | None) -> str:
    """A cell's section: heading, one-line summary, charts over training and one row of samples per trial."""
    extras = cell_extras(cell, [n for n in SECONDARY_SYMBOLS if f"{n}_min" in cell.index])  # those not axes
    facet = f" · {cell['facet']}" if cell["facet"] else ""
    head = (f'<section class="drill" id="{target}"><h3>{html.escape(row_label(cell, x, y) + facet)} '
            f'<a href="#{grid_anchor}">↑ grid</a></h3><p>{html.escape(_headline(cell))}'
            + (f" · {html.escape(', '.join(extras))}" if extras else "") + "</p>")
    if mine.empty:
        return head + "</section>"
    evals = [rows.get(t["trial_id"], pd.DataFrame(columns=["step", "phase", "acc"])) for _, t in mine.iterrows()]
    body = [_charts(evals)] if any(len(e) for e in evals) else []
    strip = []
    for (_, trial), e in zip(mine.iterrows(), evals, strict=True):
        phases = {int(s): p for s, p in zip(e["step"], e["phase"], strict=True) if isinstance(p, str)}
        tiles, saved = _tiles(sweep_dir, trial, phases)
        shown = "" if saved <= len(tiles) else f"<div>{len(tiles)} of {saved}<br>evaluations shown</div>"
        strip.append(f'<div class="trial">{_who(sweep_dir, out, trial)}<div class="evals">{"".join(tiles)}{shown}'
                     "</div></div>")
    return head + "".join(body) + "".join(strip) + "</section>"


def drilldown(sweep_dir: Path, out: Path, df: pd.DataFrame, trials: pd.DataFrame, cells: pd.DataFrame, x: str,
              y: str | None) -> Drilldown:
    """The drill-down of a report written to ``out`` for the sweep folder ``sweep_dir``: ``df`` the checked
    results table, ``trials`` its trial_summary (with ``facet`` when faceted), ``cells`` the landscape (with
    ``facet``, '' without facets) on axes ``x`` and ``y`` (None: one axis)."""
    labels = list(dict.fromkeys(cells["facet"]))
    orders = cell_orders(cells, x, y)

    def place(row: pd.Series) -> str:
        position = cell_position(orders, cell_values(row, x, y))
        return cell_id(labels.index(row.get("facet", "") or ""), position[0], position[1] if y is not None else 0)

    ids = {i: place(c) for i, c in cells.iterrows()}
    members = trials.assign(_cell=[place(t) for _, t in trials.iterrows()]).sort_values(["seed", "trial_id"])
    evaluated = df[df["step"].notna()].sort_values("step")
    rows = {tid: g for tid, g in evaluated.groupby("trial_id", sort=False)}
    grids, sections = [STYLE, LEGEND], ["<h2>Drill-down: every cell, its trials over training</h2>", CHARTS_NOTE]
    for f, label in enumerate(labels):
        mine = cells[cells["facet"] == label]
        anchor = f"drill-grid-{f}"
        grids.append(_grid_table(mine, ids, orders, x, y, label or "Final phase per cell", anchor))
        sections += [_section(sweep_dir, out, c, ids[i], anchor, members[members["_cell"] == ids[i]], rows, x, y)
                     for i, c in mine.iterrows()]
    return Drilldown("\n".join([*grids, _axes_note(x, y)]), "\n".join(sections))
