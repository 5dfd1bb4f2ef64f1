"""A sweep folder -> report: landscape.csv, PNG figures, summary.md and a self-contained report.html.

The HTML embeds every figure as a base64 data URI, so it opens from disk with no server. Unfinished sweeps and
failed trials are reported as such: partial cells carry '*', failed ones are hatched and listed, none dropped.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.atlas import plot_atlas
from analysis.drilldown import Drilldown, drilldown
from analysis.heatmaps import (
    plot_boundary_overlay,
    plot_learned_map,
    plot_metric_map,
    plot_phase_map,
    plot_steps_map,
)
from analysis.landscape import (
    ARCHITECTURE,
    cell_keys,
    facet_groups,
    facet_keys,
    landscape,
    phase_boundary,
    phase_timeline,
    sweep_axes,
    trial_summary,
    where,
)
from analysis.learning_plots import has_imbalance, plot_acc_along, plot_onset_scatter, plot_onsets_along
from analysis.page import figure, page, write_page
from analysis.plots import plot_latents, plot_learning_curves, plot_phase_strips, plot_samples, row_label
from analysis.probe_plots import plot_probe_along, plot_probe_curves
from analysis.representation import direction_words, fmt_metric, has_baseline, has_probe, init_column
from analysis.results import load_evals, load_results
from analysis.style import SECONDARY_SYMBOLS, axis_label, fmt_span, fmt_steps, fmt_value, secondary_names
from analysis.summary import summarize, summarize_facets
from model.definitions import CEILING_MIN, COUPLED_MAX, ERROR, HEADLINE_PROBE

# A figure of the report: (PNG, caption) or (PNG, caption, CSS class, e.g. "small"), or a section heading (str).
Entry = tuple[Path, str] | tuple[Path, str, str] | str


def example_trials(trials: pd.DataFrame) -> list[pd.Series]:
    """One trial per final phase present (C, B, A order): the one with the highest final acc."""
    examples = []
    for phase in ("C", "B", "A"):
        mine = trials[(trials["phase"] == phase) & (trials["status"] != ERROR)]
        if len(mine):
            examples.append(mine.loc[mine["acc"].astype(float).idxmax()])
    return examples


PHASE_CAPTION = ("Final phase per cell (most common over seeds; ties go to the less advanced phase), with the share "
                 f"of seeds in C and the phase boundary. Hatched: failed, or unmeasurable (the detector scores "
                 f"true images below {CEILING_MIN:g} there; ceiling printed).")
STEPS_CAPTION = ("Training steps until an evaluation first found phase C (median over seeds; 'never' once half "
                 "never did).")
STRIPS_CAPTION = "Phase at each evaluation, one row per cell."
CURVES_CAPTION = ("acc_x and acc_y over training with their onsets, on the training lattice (solid/dashed) and off "
                  "it (dotted) where recorded; under imbalanced data a coupling near 1 means x and y are learned "
                  "together.")


ACC_CAPTION = "Final accuracy: share of samples with one bump within tol of its target (off-lattice conditions)."


def _grid_figures(out: Path, cells: pd.DataFrame, boundary: pd.DataFrame, x: str, y: str,
                  title: str = "") -> list[tuple[Path, str]]:
    """The maps of a two-axis landscape: final phase, final acc, steps to C (``title``: a line over each title,
    e.g. what the cells average over)."""
    return [(plot_phase_map(cells, boundary, x, y, out / "phase_map.png", facet=title),
             PHASE_CAPTION + " Each cell shows its σ."),
            (plot_metric_map(cells, boundary, x, y, "acc", out / "acc_map.png", "final acc", facet=title),
             ACC_CAPTION),
            (plot_steps_map(cells, boundary, x, y, out / "steps_to_C_map.png", facet=title), STEPS_CAPTION)]


def _along_figures(out: Path, trials: pd.DataFrame, cells: pd.DataFrame, boundary: pd.DataFrame,
                   x: str) -> list[tuple[Path, str]]:
    """The figures of a one-axis landscape, drawn along its key: final phase strip, final accuracies, onsets and
    coupling, steps to C."""
    return [(plot_phase_map(cells, boundary, x, None, out / "phase_map.png"),
             PHASE_CAPTION + " Below each value: the density, overlap, spacing ratio and σ that follow from it."),
            (plot_acc_along(cells, x, out / "acc_along.png"),
             "Final acc, acc_x and acc_y along the key (mean ± std over seeds): on the training lattice and off it "
             "(random points between the training rows), with the detector's ceiling."),
            (plot_onsets_along(trials, cells, x, out / "onsets_along.png"),
             "When each axis was learned (first step with acc ≥ 0.5), per seed, on the lattice and off it; below, the "
             f"coupling per seed (about 1: learned together; the band: within ×{COUPLED_MAX:g})."),
            (plot_steps_map(cells, boundary, x, None, out / "steps_to_C_map.png"), STEPS_CAPTION)]


REPRESENTATION = "Representation against the untrained network (step 0)"
EXAMPLES = "Example trials, one per final phase"
ATLAS_CAPTION = ("Latent atlas of the same trial: the probe activations (top principal components of the default "
                 "layer) over the grid of (x, y), embedded in 2D by Isomap (k = 8 neighbours) at step 0 and at the "
                 "last evaluation in each phase the trial reached; each panel turned onto the one before it by a "
                 "Procrustes fit (the first onto the grid), so they read alike. Coloured by x (top) and y (bottom); "
                 "grey lines join grid neighbours. An ordered sheet, x and y varying smoothly across it, is what "
                 "phase C should show.")


def _representation_figures(out: Path, df: pd.DataFrame, trials: pd.DataFrame, cells: pd.DataFrame,
                            boundary: pd.DataFrame, x: str, y: str | None) -> list[Entry]:
    """Each headline probe metric against its step-0 baseline: per cell (heatmaps of the change, or along a
    one-axis key) and over training for the example trials; nothing for a table without the probe."""
    if not has_probe(df):
        return []
    figures: list[Entry] = [REPRESENTATION]
    if has_baseline(cells):
        if y is None:
            figures.append((plot_probe_along(cells, x, out / "probe_along.png"),
                            "Headline probe metrics at step 0 (hollow, dashed) and at the end (filled), mean ± std "
                            "over seeds along the key, with the change printed above each value: purple when it "
                            "moved towards order or factorization by more than its seed spread, orange when away, "
                            "grey within it (or one seed). "
                            + "; ".join(f"{m}: {direction_words(m)}" for m in HEADLINE_PROBE) + "."))
        else:
            figures += [(plot_learned_map(cells, boundary, x, y, m, out / f"probe_{m}_map.png"),
                         f"{m} ({direction_words(m)}): colour = change since step 0, mean over seeds; each cell "
                         "prints the change ± its std over seeds, the final value and the value at step 0.",
                         "small")  # side by side, two to a row
                        for m in HEADLINE_PROBE]
    examples = [t for t in example_trials(trials) if t["n_evals"] > 0]
    if examples:
        figures.append((plot_probe_curves(df, examples, x, y, out / "probe_curves.png"),
                        "Headline probe metrics over training for the example trials (one row each), the dashed line "
                        "at their value at step 0 and each interval between evaluations shaded by the phase found at "
                        "its end."))
    return figures


def _example_figures(sweep_dir: Path, out: Path, df: pd.DataFrame, trials: pd.DataFrame, x: str,
                     y: str | None) -> list[Entry]:
    """Probe latents (PCA), latent atlas (Isomap) and samples of one example trial per final phase (from their
    saved evaluations)."""
    figures: list[Entry] = []
    for t in example_trials(trials):
        evals = load_evals(sweep_dir, t)
        if not evals:
            continue
        phase = t["phase"]
        rows = df[(df["trial_id"] == t["trial_id"]) & df["step"].notna()]
        notes = {int(r["step"]): f"{r['phase']}, R² x {r['r2_x']:.2f} y {r['r2_y']:.2f}" for _, r in rows.iterrows()}
        title = f"trial {t['trial_id'][:8]} ({row_label(t, x, y)}), final phase {phase}"
        figures.append((plot_latents(evals, out / f"latents_{phase}.png", f"probe latents (PCA): {title}", notes),
                        f"Representation of an example trial ending in phase {phase}: PC1/PC2 of the probe "
                        "activations over a grid of (x, y), coloured by x (top) and y (bottom)."))
        atlas = plot_atlas(evals, rows, out / f"atlas_{phase}.png", f"latent atlas (Isomap): {title}")
        if atlas is not None:
            figures.append((atlas, ATLAS_CAPTION + _wrap_note(rows)))
        last = evals[-1]
        figures.append((plot_samples(last["samples"], last["targets"], out / f"samples_{phase}.png",
                                     f"samples at step {int(last['step'])}: {title}"),
                        "Generated samples of the same trial at its last evaluation; red crosses mark the targets."))
    return [EXAMPLES, *figures] if figures else []


def _wrap_note(rows: pd.DataFrame) -> str:
    """The atlas caption's note for periodic data (``rows``: the trial's rows), whose wrap-around neighbours are not
    joined."""
    periodic = "data.boundary" in rows.columns and (rows["data.boundary"] == "periodic").any()
    return (" The data is periodic: the wrap-around neighbours (an axis' last value and its first) are not joined."
            if periodic else "")


def _figures(sweep_dir: Path, out: Path, df: pd.DataFrame, trials: pd.DataFrame, cells: pd.DataFrame,
             boundary: pd.DataFrame, x: str, y: str | None, maps: bool = True, title: str = "") -> list[Entry]:
    """Write every figure; returns (path, caption) in reading order, with section headings (str) between.
    ``maps`` False leaves out the landscape maps (a facet's are drawn as small multiples); ``title``: a line over
    the maps' titles."""
    figures: list[Entry] = []
    if maps:
        figures += (_along_figures(out, trials, cells, boundary, x) if y is None
                    else _grid_figures(out, cells, boundary, x, y, title))
    figures += [(plot_phase_strips(phase_timeline(df, x, y), cells, x, y, out / "phase_strips.png"), STRIPS_CAPTION),
                (plot_learning_curves(df, trials, cells, x, y, out / "learning_curves.png"), CURVES_CAPTION)]
    if has_imbalance(trials):
        figures.append((plot_onset_scatter(trials, cells, x, y, out / "onset_scatter.png"),
                        "onset_y against onset_x per trial, coloured by spacing ratio: on the diagonal x and y were "
                        f"learned at the same step (coupled within the grey band, ×{COUPLED_MAX:g}); above it y was "
                        "learned later, below it x. Left: on the training lattice (the onsets used); right: off it."))
    return (figures + _representation_figures(out, df, trials, cells, boundary, x, y)
            + _example_figures(sweep_dir, out, df, trials, x, y))


MAP_KINDS = ("phase_map", "acc_map", "steps_to_C_map")


def _facet_maps(out: Path, cells: pd.DataFrame, boundary: pd.DataFrame, x: str, y: str | None,
                labels: list[str], note: str = "") -> list[Entry]:
    """Small multiples: each landscape map once per facet (one PNG per panel, facet_NN/<map>.png, shown two to a
    row), all on the common grid of every facet's cells and one colour scale, each with its own boundary."""
    figures: list[Entry] = ["Landscape per facet (small multiples: shared ticks and colour scales)"]
    captions = {"phase_map": PHASE_CAPTION, "acc_map": ACC_CAPTION, "steps_to_C_map": STEPS_CAPTION}
    for kind in MAP_KINDS:
        for i, label in enumerate(labels):
            folder = out / f"facet_{i:02d}"
            folder.mkdir(exist_ok=True)
            mine, edges = cells[cells["facet"] == label], boundary[boundary["facet"] == label]
            title = label + (f"; {note}" if note else "")
            path = folder / f"{kind}.png"
            if kind == "phase_map":
                plot_phase_map(mine, edges, x, y, path, facet=title, common=cells)
            elif kind == "acc_map":
                plot_metric_map(mine, edges, x, y, "acc", path, "final acc", facet=title, common=cells)
            else:
                plot_steps_map(mine, edges, x, y, path, facet=title, common=cells)
            figures.append((path, f"{label}. {captions[kind]}", "small"))
    return figures


def steps_by_facet(cells: pd.DataFrame, x: str, y: str | None) -> pd.DataFrame:
    """Steps to C per cell (rows) per facet (columns): the median over seeds with the seeds that reached C."""
    keys = cell_keys(x, y)
    table: dict[tuple, dict[str, str]] = {}
    for _, c in cells.iterrows():
        row = table.setdefault(tuple(c[k] for k in keys), {})
        voters = c["n_A"] + c["n_B"] + c["n_C"]
        steps = f"{fmt_steps(c['steps_to_C'])} ({c['reached_C']}/{voters})"
        row[c["facet"]] = "" if pd.isna(c["steps_to_C"]) else steps
    labels = list(dict.fromkeys(cells["facet"]))
    rows = [{**{axis_label(k): fmt_value(k, v) for k, v in zip(keys, key, strict=True)},
             **{f: table[key].get(f, "") for f in labels}} for key in table]
    return pd.DataFrame(rows)


def _md_to_html(lines: list[str]) -> str:
    """The summary's own Markdown subset: bullets, nested bullets and **bold**."""
    items = []
    for line in lines:
        if line.startswith(("- ", "  - ")):
            text = html.escape(line.split("- ", 1)[1])
            parts = text.split("**")
            text = "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
            items.append(f'<li class="{"sub" if line.startswith("  ") else ""}">{text}</li>')
    return "<ul>" + "".join(items) + "</ul>"


def _mean_std(cells: pd.DataFrame, m: str) -> list[str]:
    """'0.70 ± 0.14' per cell ('' when unknown, no ± for one seed)."""
    return ["" if pd.isna(c[m]) else f"{c[m]:.2f}" + ("" if pd.isna(c[f"{m}_std"]) else f" ± {c[f'{m}_std']:.2f}")
            for _, c in cells.iterrows()]


def _coupling_cell(c: pd.Series) -> str:
    """A cell's median coupling with its seed range, e.g. '1.5 (1.2–1.8)'."""
    if pd.isna(c["coupling"]):
        return ""
    spread = "" if c["coupling_min"] == c["coupling_max"] else f" ({c['coupling_min']:.2g}–{c['coupling_max']:.2g})"
    return f"{c['coupling']:.2g}{spread}"


def _from_init(c: pd.Series, m: str) -> str:
    """'0.84 → 0.95' (means over seeds), the final value alone without a step-0 value, '' when unknown."""
    if pd.isna(c[m]):
        return ""
    return fmt_metric(c[m]) if pd.isna(c[init_column(m)]) else f"{fmt_metric(c[init_column(m)])} → {fmt_metric(c[m])}"


def _table(cells: pd.DataFrame, x: str, y: str | None) -> pd.DataFrame:
    """The landscape as shown in report.html: cell keys, secondary quantities (σ, ...), state and phase (noting
    unmeasurable cells), ceiling, seeds, final metrics ± std, steps to C, onsets on and off the lattice, coupling."""
    differ, same = secondary_names(cells)
    table = {axis_label(k): [fmt_value(k, v) for v in cells[k]] for k in cell_keys(x, y)}
    if "facet" in cells.columns and (cells["facet"] != "").any():
        table = {"facet": list(cells["facet"]), **table}
    for name in (n for n in SECONDARY_SYMBOLS if n in differ or (n == "sigma" and n in same)):  # σ always
        table[SECONDARY_SYMBOLS[name]] = [fmt_span(name, lo, hi, symbol=False)
                                          for lo, hi in zip(cells[f"{name}_min"], cells[f"{name}_max"], strict=True)]
    table |= {
        "state": cells["state"],
        "phase": [("" if pd.isna(p) else p) + ("" if m else " (unmeasurable)")
                  for p, m in zip(cells["phase"], cells["measurable"], strict=True)],
        "ceiling": cells["gt_acc"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}"),
        "seeds in C": [f"{c} / {a + b + c}" for a, b, c in zip(cells["n_A"], cells["n_B"], cells["n_C"], strict=True)],
        "trials (failed)": [f"{n} ({e})" for n, e in zip(cells["n_trials"], cells["n_error"], strict=True)],
    }
    metrics = ["acc", "acc_x", "acc_y"]
    if cells["lattice_acc_x"].notna().any():
        metrics += ["lattice_acc_x", "lattice_acc_y"]
    table |= {m: _mean_std(cells, m) for m in metrics}
    table |= {"steps to C": cells["steps_to_C"].map(fmt_steps), "seconds to C": cells["seconds_to_C"].map(fmt_steps)}
    table |= {m: _mean_std(cells, m) for m in ("r2_x", "r2_y", "additivity", "orthogonality")}
    if has_probe(cells):  # each headline probe metric from step 0 to the end (means over seeds)
        table |= {f"{m} init → final": [_from_init(c, m) for _, c in cells.iterrows()] for m in HEADLINE_PROBE}
    table |= {m.replace("_off", " off lattice"): cells[m].map(fmt_steps)
              for m in ("onset_x", "onset_y", "onset_x_off", "onset_y_off")}
    table |= {"coupling (seeds)": [_coupling_cell(c) for _, c in cells.iterrows()], "learning": cells["learning"]}
    return pd.DataFrame(table)


def render_html(manifest: dict[str, Any], summary: list[str], figures: list[Entry],
                cells: pd.DataFrame, trials: pd.DataFrame, x: str, y: str | None,
                tables: list[tuple[str, pd.DataFrame]] = (), drill: Drilldown | None = None, progress: str = "",
                refresh_s: int = 0) -> str:
    """The self-contained HTML page of a sweep report: manifest details, the ``summary`` lines,
    ``figures`` (``Entry``: PNG path and caption, or a section heading), the landscape table of ``cells`` on axes
    ``x`` and ``y``, failed ``trials``; ``tables``: (heading, table) shown before the landscape table; ``drill``:
    the linked landscape grid (after the summary) and a section per cell (after the figures); ``progress``: HTML
    shown under the title, ``refresh_s`` > 0: the page reloads itself (analysis/live.py)."""
    name = html.escape(str(manifest.get("name", "sweep")))
    meta = " · ".join(f"{k} {html.escape(str(manifest[k]))}" for k in ("spec_hash", "git_commit", "version", "created")
                      if manifest.get(k))
    partial = any(line.startswith("- **Partial") for line in summary)
    body = [f"<h1>phasescape sweep report: {name}</h1>", f'<p class="meta">{meta}</p>', progress,
            f'<div class="{"partial" if partial else "summary"}">{_md_to_html(summary)}</div>']
    body += [drill.grid] if drill else []
    body += [f"<h2>{html.escape(item)}</h2>" if isinstance(item, str)
             else figure(item[0], f"{item[0].name}: {item[1]}", *item[2:]) for item in figures]
    body += [drill.sections] if drill else []  # before the tables: the failed trials stay at the end
    for heading, extra in tables:
        body += [f"<h2>{html.escape(heading)}</h2>",
                 f'<div class="scroll">{extra.to_html(index=False, escape=True)}</div>']
    body += ["<h2>Landscape (landscape.csv)</h2>",
             f'<div class="scroll">{_table(cells, x, y).to_html(index=False, escape=True)}</div>']
    failed = trials[trials["status"] == ERROR]
    if len(failed):
        keys = {axis_label(k): [fmt_value(k, v) for v in failed[k]] for k in cell_keys(x, y)}
        if "facet" in failed.columns and (failed["facet"] != "").any():
            keys = {"facet": list(failed["facet"]), **keys}
        listing = pd.DataFrame({"trial": failed["trial_id"], **keys, "error": failed["error"]})
        body += ["<h2>Failed trials</h2>", listing.to_html(index=False, escape=True, classes="failed")]
    return page(f"phasescape report: {manifest.get('name', 'sweep')}", body, refresh_s)


def write_report(sweep_dir: Path, out_dir: Path | None = None, x: str | None = None, y: str | None = None,
                 facets: list[str] | tuple[str, ...] = (), where_: list[str] | tuple[str, ...] = (),
                 average: list[str] | tuple[str, ...] = (), progress: str = "", refresh_s: int = 0) -> Path:
    """Write report.html, the PNGs, landscape.csv and summary.md for a sweep folder; returns report.html's path.

    A sweep that varies one key is drawn along it (``--x`` may name another column to draw along); otherwise the
    axes default to density x overlap when both vary, else the manifest's swept axes, else whatever varies
    (architecture keys, ``model.*``, never by default). ``where_`` (``--where KEY=VALUE``) keeps only the matching
    trials first. Every other key that varies within a map cell is a facet (``facet_keys``; ``facets`` forces
    keys in, ``average`` lets cells pool them, said in the titles and the summary): the maps become small
    multiples, one panel per facet, and the rest of the report is written per facet; with an architecture key
    among the facets, one figure overlays every facet's boundary and a table gives steps to C per facet.
    ``progress`` and ``refresh_s``: a live report's progress (HTML) and reload period (analysis/live.py).
    Raises ReportError for bad input (missing files or columns, unknown axes, keys or values).
    """
    sweep_dir = Path(sweep_dir)
    df, manifest = load_results(sweep_dir)
    df = where(df, where_)
    x, y = sweep_axes(df, manifest.get("axes") or (), x, y)
    keys = facet_keys(df, x, y, facets, average)
    note = f"averaged over {', '.join(average)}" if average else ""
    out = Path(out_dir) if out_dir is not None else sweep_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    if keys:
        return _write_faceted(sweep_dir, out, df, manifest, x, y, keys, where_, average, note, progress, refresh_s)
    trials = trial_summary(df, x, y)
    cells = landscape(df, x, y, grid=manifest.get("boundary"))
    boundary = phase_boundary(cells, x, y)
    cells.to_csv(out / "landscape.csv", index=False)
    figures = _figures(sweep_dir, out, df, trials, cells, boundary, x, y, title=note)
    summary = summarize(manifest, trials, cells, boundary, x, y, where_, average)
    (out / "summary.md").write_text("\n".join(summary) + "\n")
    drill = drilldown(sweep_dir, out, df, trials, cells, x, y)
    return write_page(out / "report.html", render_html(manifest, summary, figures, cells, trials, x, y, (), drill,
                                                       progress, refresh_s))


def _write_faceted(sweep_dir: Path, out: Path, df: pd.DataFrame, manifest: dict[str, Any], x: str, y: str | None,
                   keys: list[str], where_: list[str] | tuple[str, ...], average: list[str] | tuple[str, ...],
                   note: str, progress: str = "", refresh_s: int = 0) -> Path:
    """write_report for a landscape split by the facet ``keys``."""
    groups = facet_groups(df, keys)
    labels = [label for label, _, _ in groups]
    trials = pd.concat([trial_summary(rows, x, y).assign(facet=label) for label, _, rows in groups],
                       ignore_index=True)
    cells = landscape(df, x, y, facets=keys)
    boundary = phase_boundary(cells, x, y)
    cells.to_csv(out / "landscape.csv", index=False)
    figures = _facet_maps(out, cells, boundary, x, y, labels, note)
    tables = []
    if any(k.startswith(ARCHITECTURE) for k in keys):
        figures.append((plot_boundary_overlay(cells, boundary, x, y, out / "boundary_overlay.png"),
                        "The phase boundary of every facet (architecture) on one landscape, each in its own colour "
                        "and line style (slightly offset where they share an edge); grey: cells some facet has."))
        steps = steps_by_facet(cells, x, y)
        steps.to_csv(out / "steps_to_C_by_facet.csv", index=False)
        tables.append(("Steps to C per architecture (median over seeds; seeds that reached C)", steps))
    for i, (label, _, rows) in enumerate(groups):
        folder = out / f"facet_{i:02d}"
        folder.mkdir(exist_ok=True)
        mine = trials[trials["facet"] == label]
        figures.append(f"Facet {label}")
        figures += _figures(sweep_dir, folder, rows, mine, cells[cells["facet"] == label],
                            boundary[boundary["facet"] == label], x, y, maps=False)
    summary = summarize_facets(manifest, trials, cells, boundary, x, y, keys, where_, average)
    (out / "summary.md").write_text("\n".join(summary) + "\n")
    drill = drilldown(sweep_dir, out, df, trials, cells, x, y)
    return write_page(out / "report.html", render_html(manifest, summary, figures, cells, trials, x, y, tables,
                                                       drill, progress, refresh_s))
