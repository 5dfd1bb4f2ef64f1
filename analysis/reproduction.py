"""The reproduction report: per claim of the papers, its statement, verdict, the numbers behind it, an evidence figure
and what differs from the paper's setting; written as reproduction.md and a self-contained reproduction.html.

Reads only results tables and verdicts (analysis/claims.py); ``sweep/reproduce.py`` runs the sweeps and calls it.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.claims import Verdict, final_rows, finished_trials, lesion_width
from analysis.page import figure, page
from model.definitions import PHASE_NUMBER

MARK = {"holds": "✓ holds", "fails": "✗ fails", "inconclusive": "? inconclusive"}  # glyphs every system font has


@dataclass
class ClaimResult:
    """One claim's outcome for the report: what the claim says, its verdict and how it was obtained."""

    claim_id: str
    title: str
    statement: str
    reference: str
    check: str
    params: dict[str, Any]
    verdict: Verdict
    table: pd.DataFrame
    wall_s: float  # wall seconds of this run (sweeps and check)
    train_s: float  # summed training seconds of its trials (time_s of their last evaluations)
    differs: list[str] = field(default_factory=list)
    sweeps: list[str] = field(default_factory=list)
    figure: Path | None = None


def train_seconds(table: pd.DataFrame) -> float:
    """The summed wall seconds of the trials' training (their last ``time_s``)."""
    if "time_s" not in table.columns or table.empty:
        return 0.0
    return float(pd.to_numeric(table.groupby("trial_id")["time_s"].max(), errors="coerce").fillna(0).sum())


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "never" if math.isinf(value) else "n/a" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
    return str(value)


def _curves(ax: Any, table: pd.DataFrame, column: str, by: str | None = None, label: str = "") -> None:
    done, _ = finished_trials(table)
    keys = sorted({str(e[by].iloc[0]) for e in done.values()}) if by else [""]
    colours = dict(zip(keys, ["C0", "C1", "C2", "C3", "C4", "C5", "C6"] * 3, strict=False))
    seen = set()
    for evals in done.values():
        if column not in evals.columns:
            continue
        key = str(evals[by].iloc[0]) if by else ""
        name = f"{by} {key}" if by else label
        ax.plot(evals["step"], pd.to_numeric(evals[column], errors="coerce"), color=colours[key], alpha=0.8,
                label=None if name in seen else name)
        seen.add(name)
    ax.set_xlabel("training step")
    ax.set_ylabel(column)
    if seen and any(seen):
        ax.legend(fontsize=7)


def evidence_figure(result: ClaimResult, path: Path) -> Path | None:
    """Draw the claim's evidence figure into ``path`` (PNG); None when the table has no evaluation."""
    import matplotlib.pyplot as plt

    table, check = result.table, result.check
    if "step" not in table.columns or table["step"].isna().all():
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    if check == "phases":
        done, _ = finished_trials(table)
        for evals in done.values():
            axes[0].step(evals["step"], evals["phase"].map(PHASE_NUMBER), where="post", alpha=0.8)
        axes[0].set_yticks([0, 1, 2], ["A", "B", "C"])
        axes[0].set_xlabel("training step")
        axes[0].set_title("phase of each trial")
        _curves(axes[1], table, result.params.get("probe_metric", "trust"), label="probe")
    elif check == "density":
        _curves(axes[0], table, "acc", by="density")
        _curves(axes[1], table, "frac_single", by="density")
    elif check == "coupling":
        column = "lattice_acc_{}" if "lattice_acc_x" in table.columns else "acc_{}"
        sparse = "x" if float(table["data.spacing_x"].max()) > float(table["data.spacing_y"].max()) else "y"
        for ax, axis in zip(axes, "xy", strict=True):
            _curves(ax, table, column.format(axis), label=f"{axis} ({'sparse' if axis == sparse else 'dense'} axis)")
    elif check == "percolation":
        metric = result.params.get("metric", "acc")
        finals = final_rows(table)
        curves = getattr(result.verdict, "curves", {})
        twin = axes[0].twinx()
        for i, (sigma, group) in enumerate(finals.groupby("data.sigma")):
            colour = f"C{i}"
            means = group.groupby("data.keep")[metric].apply(lambda s: pd.to_numeric(s).mean())
            axes[0].plot(means.index, means.values, "o-", color=colour, label=f"final {metric}, sigma {sigma:g}")
            axes[0].scatter(group["data.keep"], pd.to_numeric(group[metric]), color=colour, s=8, alpha=0.5)
            if float(sigma) in curves:
                curve = curves[float(sigma)]
                twin.plot(curve["lambda"], curve["share"], "--", color=colour, alpha=0.7)
        twin.set_ylabel("largest component share (dashed)")
        axes[0].set_xlabel("kept fraction lambda")
        axes[0].set_ylabel(f"final {metric}")
        axes[0].legend(fontsize=7)
        _curves(axes[1], table, metric, by="data.keep")
    elif check in ("composition", "lesion"):
        metric = result.params.get("metric", "holdout_acc")
        if check == "composition":
            by = "data.stripes"
            _curves(axes[0], table, metric, by=by)
            _curves(axes[1], table, "acc", by=by)
        else:
            finals = final_rows(table)
            finals["width"] = finals["data.holdout"].map(lesion_width)
            axes[0].scatter(finals["width"], pd.to_numeric(finals[metric]), s=14)
            means = finals.groupby("width")[metric].apply(lambda s: pd.to_numeric(s).mean())
            axes[0].plot(means.index, means.values, "o-")
            axes[0].set_xlabel("lesion width (px)")
            axes[0].set_ylabel(f"final {metric}")
            _curves(axes[1], table, "acc", label="in-distribution acc")
    elif check == "factorized":
        _curves(axes[0], table, result.params.get("metric", "orthogonality"), label="probe")
        _curves(axes[1], table, "acc", label="acc")
    else:
        _curves(axes[0], table, "acc")
        _curves(axes[1], table, "frac_single")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(f"{result.claim_id}: {result.verdict.verdict}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _evidence_md(evidence: pd.DataFrame) -> str:
    if evidence.empty:
        return ""
    shown = evidence.head(20).copy()
    for column in shown.columns:
        shown[column] = shown[column].map(_fmt)
    head = "| " + " | ".join(map(str, shown.columns)) + " |"
    rule = "|" + "---|" * len(shown.columns)
    return "\n".join([head, rule, *("| " + " | ".join(row) + " |" for row in shown.astype(str).to_numpy())])


def markdown(results: list[ClaimResult], scale: str) -> str:
    """reproduction.md: a summary table (claim, verdict, wall time), then one section per claim."""
    lines = [f"# Reproduction of Liang, Liu & Fiete (arXiv 2402.03305) and Liang, Liu, Ostrow & Fiete "
             f"(arXiv 2408.13256), scale `{scale}`", "",
             "| claim | verdict | reason | wall time (this run) | training time (its trials) |",
             "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.claim_id} | {MARK[r.verdict.verdict]} | {r.verdict.reason} | {r.wall_s:.0f} s | "
                     f"{r.train_s:.0f} s |")
    for r in results:
        lines += ["", f"## {r.claim_id}: {r.title}", "", f"**Paper.** {r.statement} ({r.reference})", "",
                  f"**Verdict: {MARK[r.verdict.verdict]}.** {r.verdict.reason}.", "",
                  f"**Check** `{r.check}` with {_fmt(r.params) if r.params else 'default thresholds'}; sweeps: "
                  + ", ".join(f"`{s}`" for s in r.sweeps) + ".", "", "**Numbers.**", ""]
        lines += [f"- {k}: {_fmt(v)}" for k, v in r.verdict.numbers.items()]
        table = _evidence_md(r.verdict.evidence)
        if table:
            lines += ["", table]
        if r.figure:
            lines += ["", f"![evidence]({r.figure.name})"]
        if r.differs:
            lines += ["", "**Differs from the paper.**", ""] + [f"- {d}" for d in r.differs]
    return "\n".join(lines) + "\n"


def html_page(results: list[ClaimResult], scale: str) -> str:
    """reproduction.html: the same content, figures embedded (analysis/page.py)."""
    body = [f"<h1>Reproduction, scale {html.escape(scale)}</h1>",
            "<table><tr><th>claim</th><th>verdict</th><th>reason</th><th>wall s</th><th>training s</th></tr>"
            + "".join(f"<tr><td>{html.escape(r.claim_id)}</td><td>{MARK[r.verdict.verdict]}</td>"
                      f"<td style='text-align:left;white-space:normal'>{html.escape(r.verdict.reason)}</td>"
                      f"<td>{r.wall_s:.0f}</td><td>{r.train_s:.0f}</td></tr>" for r in results) + "</table>"]
    for r in results:
        body += [f"<h2>{html.escape(r.claim_id)}: {html.escape(r.title)}</h2>",
                 f"<p><b>Paper.</b> {html.escape(r.statement)} ({html.escape(r.reference)})</p>",
                 f"<p><b>Verdict: {MARK[r.verdict.verdict]}.</b> {html.escape(r.verdict.reason)}.</p>",
                 f"<p class='meta'>check <code>{html.escape(r.check)}</code> {html.escape(_fmt(r.params))}; sweeps "
                 f"{html.escape(', '.join(r.sweeps))}</p>",
                 "<ul>" + "".join(f"<li>{html.escape(str(k))}: {html.escape(_fmt(v))}</li>"
                                  for k, v in r.verdict.numbers.items()) + "</ul>"]
        if not r.verdict.evidence.empty:
            shown = r.verdict.evidence.head(20).to_html(index=False, float_format=lambda v: f"{v:.3g}")
            body.append(f"<div class='scroll'>{shown}</div>")
        if r.figure:
            body.append(figure(r.figure, f"Evidence for {r.claim_id}"))
        if r.differs:
            body.append("<p><b>Differs from the paper.</b></p><ul>"
                        + "".join(f"<li>{html.escape(d)}</li>" for d in r.differs) + "</ul>")
    return page(f"phasescape reproduction ({scale})", body)


def write_reproduction(results: list[ClaimResult], out_dir: Path, scale: str) -> tuple[Path, Path]:
    """Draw each claim's figure into ``out_dir`` and write reproduction.md and reproduction.html there."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for r in results:
        r.figure = evidence_figure(r, out_dir / f"{r.claim_id}.png")
    md, page_path = out_dir / "reproduction.md", out_dir / "reproduction.html"
    md.write_text(markdown(results, scale))
    page_path.write_text(html_page(results, scale))
    return md, page_path


def seeds_of(table: pd.DataFrame) -> int:
    """Distinct seeds in a results table."""
    return int(np.unique(table["seed"].dropna()).size) if "seed" in table.columns else 0
