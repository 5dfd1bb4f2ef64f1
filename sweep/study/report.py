"""The report of a study: Optuna's own figures as static PNGs, the best policies as a table and as ready-to-run
sweep specs, and one self-contained HTML page.

    report/
      history*.png, importances*.png   optimization history and fANOVA parameter importances (per objective)
      pareto.png                       Pareto front (several objectives)
      contour.png                      the two most important knobs (first objective)
      intermediate.png                 the curves reported for pruning (one objective)
      best_policies.csv, .md           best trials (one objective) or the Pareto set, with their data sets
      specs/<study>-best<k>.yaml       each best policy as a sweep spec, to confirm it over several seeds
      report.html                      all of the above, PNGs embedded (base64)

Example::

    import optuna
    from sweep.study.report import write_report
    from sweep.study.spec import load_spec
    from sweep.study.storage import open_storage, storage_url

    spec = load_spec("studies/budget_tiny.yaml")
    study = optuna.load_study(study_name=spec.name, storage=open_storage(storage_url(spec, "results")))
    print(write_report(study, spec, "results/studies/budget_tiny/report"))
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display (before pyplot loads)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from optuna.trial import FrozenTrial, TrialState  # noqa: E402
from optuna.visualization import matplotlib as ovm  # noqa: E402

from analysis.page import figure, page  # noqa: E402
from model.definitions import CEILING_MIN  # noqa: E402
from sweep.study.spec import OBJECTIVES, StudySpec  # noqa: E402

DPI = 110
RESULT_ATTRS = ("n_positions", "phase", "acc", "steps_to_c", "code_overlap", "orthogonality", "continuity",
                "additivity", "r2")


def _save(path: Path, draw: Callable[[], Any]) -> str | None:
    """Draw one Optuna figure into ``path``; returns why it was skipped (too few trials, ...) or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            ax = draw()
        except Exception as error:  # any figure Optuna cannot draw yet must not sink the whole report
            plt.close("all")
            return f"{path.name} skipped: {error}"
    fig = (np.ravel(ax)[0] if isinstance(ax, np.ndarray) else ax).figure
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return None


def figures(study: optuna.Study, spec: StudySpec, out: Path) -> tuple[list[Path], list[str]]:
    """Optuna's matplotlib figures for this study: (written PNGs, notes on skipped ones)."""
    jobs: dict[str, Callable[[], Any]] = {}
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    several = len(spec.objectives) > 1
    for i, name in enumerate(spec.objectives):
        target = (lambda t, i=i: t.values[i]) if several else None
        suffix = f"_{name}" if several else ""
        jobs[f"history{suffix}.png"] = lambda target=target, name=name: ovm.plot_optimization_history(
            study, target=target, target_name=name)
        jobs[f"importances{suffix}.png"] = lambda target=target, name=name: ovm.plot_param_importances(
            study, evaluator=evaluator, target=target, target_name=name)
    if several:
        jobs["pareto.png"] = lambda: ovm.plot_pareto_front(study, target_names=list(spec.objectives))
    else:
        jobs["intermediate.png"] = lambda: ovm.plot_intermediate_values(study)
    if len(spec.policy.searched) >= 2:
        def contour() -> Any:
            target = (lambda t: t.values[0]) if several else None
            ranked = optuna.importance.get_param_importances(study, evaluator=evaluator, target=target)
            return ovm.plot_contour(study, params=list(ranked)[:2], target=target, target_name=spec.objectives[0])
        jobs["contour.png"] = contour
    written, notes = [], []
    for file, draw in jobs.items():
        note = _save(out / file, draw)
        if note:
            notes.append(note)
        else:
            written.append(out / file)
    return written, notes


def best_trials(study: optuna.Study, spec: StudySpec, top: int) -> list[FrozenTrial]:
    """One objective: the ``top`` best completed trials. Several: the Pareto set, by the first objective."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(spec.objectives) > 1:
        complete = study.best_trials
    sign = -1 if spec.directions[0] == "maximize" else 1
    ranked = sorted(complete, key=lambda t: sign * t.values[0])
    return ranked if len(spec.objectives) > 1 else ranked[:top]


def policy_table(trials: list[FrozenTrial], spec: StudySpec) -> pd.DataFrame:
    """One row per trial, ranked in the given order: objective values, policy knobs, lattice
    spacings, number of held-out rectangles, the other recorded results and the artifacts folder."""
    rows = []
    for rank, trial in enumerate(trials, 1):
        data = trial.user_attrs.get("data", {})
        rows.append({
            "rank": rank, "trial": trial.number, **dict(zip(spec.objectives, trial.values, strict=True)),
            **trial.user_attrs.get("policy", {}),
            "spacing_x": data.get("data.spacing_x"), "spacing_y": data.get("data.spacing_y"),
            "held_out_rects": len(data.get("data.holdout", [])),
            **{k: trial.user_attrs.get(k) for k in RESULT_ATTRS if k not in spec.objectives},
            "artifacts": trial.user_attrs.get("artifacts"),
        })
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    """``table`` as a Markdown table: floats to 4 significant digits, None as an empty cell."""
    def cell(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else "" if v is None else str(v)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def sweep_spec(trial: FrozenTrial, spec: StudySpec, rank: int, seeds: int) -> dict[str, Any]:
    """A best policy as a sweep spec (name, base, set, seeds, steps, eval_every): its data set, several seeds."""
    fixed = {**spec.set, **trial.user_attrs.get("data", {})}
    config = spec.config()
    steps = fixed.pop("train.steps", config.train.steps)
    eval_every = fixed.pop("eval.every", config.eval.every)
    return {"name": f"{spec.name[:90]}-best{rank}", "base": spec.base, "set": fixed,
            "seeds": list(range(spec.seed, spec.seed + seeds)), "steps": steps, "eval_every": eval_every}


def write_report(study: optuna.Study, spec: StudySpec, out: str | Path, top: int = 5, seeds: int = 3) -> Path:
    """Write the report folder; returns the path of report.html."""
    out = Path(out)
    (out / "specs").mkdir(parents=True, exist_ok=True)
    for stale in (out / "specs").glob("*.yaml"):  # the best policies of an earlier report may have changed
        stale.unlink()
    pngs, notes = figures(study, spec, out)
    best = best_trials(study, spec, top)
    table = policy_table(best, spec)
    table.to_csv(out / "best_policies.csv", index=False)
    (out / "best_policies.md").write_text(markdown(table) if len(table) else "No completed trial yet.\n")
    specs = []
    for rank, trial in enumerate(best, 1):
        path = out / "specs" / f"{spec.name[:90]}-best{rank}.yaml"
        path.write_text(yaml.safe_dump(sweep_spec(trial, spec, rank, seeds), sort_keys=False))
        specs.append(path)
    path = out / "report.html"
    path.write_text(_html(study, spec, pngs, notes, table, specs))
    return path


def _html(study: optuna.Study, spec: StudySpec, pngs: list[Path], notes: list[str], table: pd.DataFrame,
          specs: list[Path]) -> str:
    trials = study.get_trials(deepcopy=False)
    counts = ", ".join(f"{sum(t.state == s for t in trials)} {s.name.lower()}" for s in TrialState
                       if any(t.state == s for t in trials))
    goals = "; ".join(f"{n} ({OBJECTIVES[n].direction}: {OBJECTIVES[n].doc})" for n in spec.objectives)
    failed = [f"<li>trial {t.number}: {html.escape(str(t.user_attrs.get('fail_reason', 'no reason recorded')))}</li>"
              for t in trials if t.state == TrialState.FAIL]
    ignored = [f"<li>trial {t.number}: {html.escape(str(t.user_attrs['unmeasurable']))}</li>"
               for t in trials if "unmeasurable" in t.user_attrs]
    best = table.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}") if len(table) else "<p>none yet</p>"
    return page(f"study {spec.name}", [
        f"<h1>Study {html.escape(spec.name)}</h1>",
        f"<p>Budget {spec.budget} images per trial, base preset {html.escape(spec.base)}; {len(trials)} trials "
        f"({counts}).</p>",
        f"<p>Objectives: {html.escape(goals)}.</p>",
        "<h2>Best policies</h2>", f'<div class="scroll">{best}</div>',
        f"<p>Sweep specs to confirm them over several seeds: {', '.join(html.escape(p.name) for p in specs) or 'none'}"
        " (in specs/).</p>",
        "<h2>Figures (Optuna)</h2>",
        *[figure(p, p.stem, "small") for p in pngs],
        f"<ul>{''.join(f'<li>{html.escape(n)}</li>' for n in notes)}</ul>",
        "<h2>Failed trials</h2>", f"<ul>{''.join(failed) or '<li>none</li>'}</ul>",
        "<h2>Policies ignored as unmeasurable</h2>",
        "<p>A perfect model would score below the phase thresholds under these policies (the bump detector's ceiling "
        f"is below {CEILING_MIN:g}), so they were pruned before training and rank nowhere.</p>",
        f"<ul>{''.join(ignored) or '<li>none</li>'}</ul>",
    ])
