"""A sweep folder -> report: landscape.csv, PNG figures, summary.md and a self-contained report.html.

The HTML embeds every figure as a base64 data URI, so it opens from disk with no server. Unfinished sweeps and
failed trials are reported as such: partial cells carry '*', failed ones are hatched and listed, none dropped.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.heatmaps import plot_metric_map, plot_phase_map, plot_steps_map
from analysis.landscape import choose_axes, landscape, phase_boundary, phase_timeline, trial_summary
from analysis.page import figure, page
from analysis.plots import cell_label, plot_latents, plot_learning_curves, plot_phase_strips, plot_samples
from analysis.results import load_evals, load_results
from analysis.style import axis_label, fmt_steps, fmt_value
from model.definitions import COUPLED_MAX, ERROR, UNFINISHED


def example_trials(trials: pd.DataFrame) -> list[pd.Series]:
    """One trial per final phase present (C, B, A order): the one with the highest final acc."""
    examples = []
    for phase in ("C", "B", "A"):
        mine = trials[(trials["phase"] == phase) & (trials["status"] != ERROR)]
        if len(mine):
            examples.append(mine.loc[mine["acc"].astype(float).idxmax()])
    return examples


def _figures(sweep_dir: Path, out: Path, df: pd.DataFrame, trials: pd.DataFrame, cells: pd.DataFrame,
             boundary: pd.DataFrame, x: str, y: str) -> list[tuple[Path, str]]:
    """Write every figure; returns (path, caption) in reading order."""
    figures = [
        (plot_phase_map(cells, boundary, x, y, out / "phase_map.png"),
         "Final phase per cell (most common over seeds; ties go to the less advanced phase), with the share of "
         "seeds in C and the phase boundary."),
        (plot_metric_map(cells, boundary, x, y, "acc", out / "acc_map.png", "final acc"),
         "Final accuracy: share of samples with one bump within tol of its target."),
        (plot_steps_map(cells, boundary, x, y, out / "steps_to_C_map.png"),
         "Training steps until an evaluation first found phase C (median over seeds; 'never' once half never did)."),
        (plot_phase_strips(phase_timeline(df, x, y), cells, x, y, out / "phase_strips.png"),
         "Phase at each evaluation, one row per cell."),
        (plot_learning_curves(df, trials, cells, x, y, out / "learning_curves.png"),
         "acc_x and acc_y over training with their onsets; under imbalanced data a coupling near 1 means x and y "
         "are learned together (not factorized)."),
    ]
    for t in example_trials(trials):
        evals = load_evals(sweep_dir, t)
        if not evals:
            continue
        phase, label = t["phase"], cell_label(x, y, t[x], t[y])
        rows = df[(df["trial_id"] == t["trial_id"]) & df["step"].notna()]
        notes = {int(r["step"]): f"{r['phase']}, R² x {r['r2_x']:.2f} y {r['r2_y']:.2f}" for _, r in rows.iterrows()}
        title = f"trial {t['trial_id'][:8]} ({label}), final phase {phase}"
        figures.append((plot_latents(evals, out / f"latents_{phase}.png", f"probe latents (PCA): {title}", notes),
                        f"Representation of an example trial ending in phase {phase}: PC1/PC2 of the probe "
                        "activations over a grid of (x, y), coloured by x (top) and y (bottom)."))
        last = evals[-1]
        figures.append((plot_samples(last["samples"], last["targets"], out / f"samples_{phase}.png",
                                     f"samples at step {int(last['step'])}: {title}"),
                        "Generated samples of the same trial at its last evaluation; red crosses mark the targets."))
    return figures


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


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


def summarize(manifest: dict[str, Any], trials: pd.DataFrame, cells: pd.DataFrame, boundary: pd.DataFrame,
              x: str, y: str) -> list[str]:
    """The findings in words, as Markdown lines."""
    name = manifest.get("name", "sweep")
    total = manifest.get("trials_total") or len(trials)
    running = int(trials["status"].isin(UNFINISHED).sum())
    lines = [f"# Sweep report: {name}", ""]
    if not manifest.get("finished", False) or running:
        lines.append(f"- **Partial results**: the sweep is not finished (manifest finished="
                     f"{str(manifest.get('finished', False)).lower()}; {_n(running, 'trial')} running or pending; "
                     f"{len(trials)}/{total} trials reported). Cells marked * hold running trials.")
    else:
        lines.append(f"- Complete: {len(trials)}/{total} trials reported.")
    seeds = cells["n_trials"]
    per_cell = f"{seeds.min()}" if seeds.min() == seeds.max() else f"{seeds.min()}–{seeds.max()}"
    lines.append(f"- Grid: x = {x}, y = {y}; {len(cells)} cells, {per_cell} trials each; a cell's "
                 f"phase is the most common final phase over its seeds (ties go to the less advanced phase).")
    phases = cells["phase"].value_counts()
    counts = ", ".join(f"{p} {phases.get(p, 0)}" for p in ("A", "B", "C"))
    states = cells["state"].value_counts()
    lines.append(f"- Phase C reached in {phases.get('C', 0)}/{len(cells)} cells (final phases: {counts}; "
                 f"{_n(states.get('failed', 0), 'failed cell')}, {states.get('pending', 0)} pending).")

    to_c = boundary[(boundary["phase_low"] == "C") != (boundary["phase_high"] == "C")]
    edges, kind = (to_c, "to phase C") if len(to_c) else (boundary, "between phases")
    if len(edges):
        parts = [f"along {axis} {_where(e, axis)}" for axis, e in edges.groupby("along", sort=False)]
        lines.append(f"- Boundary {kind}: {'; '.join(parts)} ({len(edges)} neighbouring cell pairs).")
    else:
        lines.append("- No phase boundary: every cell with results ends in the same phase.")

    reached = cells[cells["steps_to_C"].astype(float).apply(math.isfinite)]
    if len(reached):
        best = reached.loc[reached["steps_to_C"].idxmin()]
        lines.append(f"- Fastest to C: {cell_label(x, y, best[x], best[y])} after {fmt_steps(best['steps_to_C'])} "
                     f"steps ({best['seconds_to_C']:.0f} s; median over seeds).")

    imbalanced = cells[cells["coupling"].notna()]
    if (trials["sparse"] != "").any():
        if len(imbalanced):
            c = float(imbalanced["coupling"].median())
            verdict = ("sparse axis not learned by the last evaluation" if math.isinf(c)
                       else "coupled" if c <= COUPLED_MAX else "factorized")
            lines.append(f"- x/y coupling {c:.2g} → {verdict} (onset of the sparse axis / onset of the dense axis, "
                         f"median over {_n(len(imbalanced), 'imbalanced cell')}; ≤ {COUPLED_MAX:g} counts as coupled).")
        else:
            lines.append("- x/y coupling: not measurable yet (neither axis reached acc ≥ 0.5).")

    failed = trials[trials["status"] == ERROR]
    if len(failed):
        n_cells = failed.groupby([x, y], dropna=False).ngroups
        lines.append(f"- Failed: {_n(len(failed), 'trial')} in {_n(n_cells, 'cell')} "
                     "(hatched or ✗ in the figures; listed at the end of report.html):")
        for _, t in failed.head(5).iterrows():
            lines.append(f"  - {t['trial_id'][:8]} ({cell_label(x, y, t[x], t[y])}): {t['error'][:160] or 'no reason'}")
    pooled = cells[cells["n_configs"] > 1]
    if len(pooled):
        lines.append(f"- Note: trials of different configs (not just seeds) share a cell in {_n(len(pooled), 'cell')}; "
                     "pass --x/--y to map the axes that differ.")
    return lines


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


def _table(cells: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    def pm(m: str) -> pd.Series:
        return cells.apply(lambda c: "" if pd.isna(c[m]) else f"{c[m]:.2f}" + (
            "" if pd.isna(c[f"{m}_std"]) else f" ± {c[f'{m}_std']:.2f}"), axis=1)

    return pd.DataFrame({
        axis_label(x): [fmt_value(x, v) for v in cells[x]], axis_label(y): [fmt_value(y, v) for v in cells[y]],
        "state": cells["state"], "phase": cells["phase"].fillna(""),
        "seeds in C": [f"{c} / {a + b + c}" for a, b, c in zip(cells["n_A"], cells["n_B"], cells["n_C"], strict=True)],
        "trials (failed)": [f"{n} ({e})" for n, e in zip(cells["n_trials"], cells["n_error"], strict=True)],
        "acc": pm("acc"), "acc_x": pm("acc_x"), "acc_y": pm("acc_y"),
        "steps to C": cells["steps_to_C"].map(fmt_steps), "seconds to C": cells["seconds_to_C"].map(fmt_steps),
        "r2_x": pm("r2_x"), "r2_y": pm("r2_y"), "additivity": pm("additivity"),
        "orthogonality": pm("orthogonality"),
        "coupling": cells["coupling"].map(lambda v: "" if pd.isna(v) else f"{v:.2g}"),
    })


def render_html(manifest: dict[str, Any], summary: list[str], figures: list[tuple[Path, str]], cells: pd.DataFrame,
                trials: pd.DataFrame, x: str, y: str) -> str:
    """The self-contained HTML page of a sweep report: manifest details, the ``summary`` lines,
    ``figures`` as (PNG path, caption), the landscape table of ``cells`` on axes ``x`` and ``y``, failed ``trials``."""
    name = html.escape(str(manifest.get("name", "sweep")))
    meta = " · ".join(f"{k} {html.escape(str(manifest[k]))}" for k in ("spec_hash", "git_commit", "version", "created")
                      if manifest.get(k))
    partial = any(line.startswith("- **Partial") for line in summary)
    body = [f"<h1>phasescape sweep report: {name}</h1>", f'<p class="meta">{meta}</p>',
            f'<div class="{"partial" if partial else "summary"}">{_md_to_html(summary)}</div>']
    body += [figure(path, f"{path.name}: {caption}") for path, caption in figures]
    body += ["<h2>Landscape (landscape.csv)</h2>",
             f'<div class="scroll">{_table(cells, x, y).to_html(index=False, escape=True)}</div>']
    failed = trials[trials["status"] == ERROR]
    if len(failed):
        listing = pd.DataFrame({"trial": failed["trial_id"], axis_label(x): failed[x].map(lambda v: fmt_value(x, v)),
                                axis_label(y): failed[y].map(lambda v: fmt_value(y, v)), "error": failed["error"]})
        body += ["<h2>Failed trials</h2>", listing.to_html(index=False, escape=True, classes="failed")]
    return page(f"phasescape report: {manifest.get('name', 'sweep')}", body)


def write_report(sweep_dir: Path, out_dir: Path | None = None, x: str | None = None, y: str | None = None) -> Path:
    """Write report.html, the PNGs, landscape.csv and summary.md for a sweep folder; returns report.html's path.

    Axes default to density x overlap when both vary, else the manifest's swept axes, else whatever varies.
    Raises ReportError for bad input (missing files or columns, unknown axes).
    """
    sweep_dir = Path(sweep_dir)
    df, manifest = load_results(sweep_dir)
    x, y = choose_axes(df, manifest.get("axes") or (), x, y)
    trials = trial_summary(df, x, y)
    cells = landscape(df, x, y)
    boundary = phase_boundary(cells, x, y)
    out = Path(out_dir) if out_dir is not None else sweep_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    cells.to_csv(out / "landscape.csv", index=False)
    figures = _figures(sweep_dir, out, df, trials, cells, boundary, x, y)
    summary = summarize(manifest, trials, cells, boundary, x, y)
    (out / "summary.md").write_text("\n".join(summary) + "\n")
    (out / "report.html").write_text(render_html(manifest, summary, figures, cells, trials, x, y))
    return out / "report.html"
