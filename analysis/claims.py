"""Checks that turn a claim's results table into a verdict: holds, fails or inconclusive, with the numbers behind it
and the reason in words.

Each check is a pure function ``check(table, **params) -> Verdict`` over the results table(s) of the claim's
sweeps (the tables concatenated; the ``sweep`` column tells them apart), registered in ``CHECKS`` under the name a
claim file (claims/*.yaml) gives. Only trials whose status is COMPLETED or STOPPED vote; failed and unfinished
trials are counted in the numbers. A check never passes a claim on too little evidence: where the seeds spread
more than the effect, no trial learned the task, or the evaluation interval cannot resolve the order, the verdict
is inconclusive and the reason says which.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis import ReportError
from analysis.onsets import COUPLED, NEITHER, SEQUENTIAL, SPARSE_NEVER, trial_learning
from analysis.percolation import THRESHOLD, crossing, percolation_curve
from model.config import DataConfig
from model.definitions import COUPLED_MAX, FINISHED

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE)


@dataclass
class Verdict:
    """The outcome of a check: ``verdict`` (holds | fails | inconclusive), ``reason`` (one or two sentences),
    ``numbers`` (name -> value, shown in the report) and ``evidence`` (a small table, one row per group)."""

    verdict: str
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)
    evidence: pd.DataFrame = field(default_factory=pd.DataFrame)


# --- shared helpers -------------------------------------------------------------------------------------------


def _evaluated(table: pd.DataFrame) -> pd.DataFrame:
    if "step" not in table.columns:
        raise ReportError("results table: no evaluations yet; run the claim's sweeps first")
    return table[table["step"].notna()].sort_values(["trial_id", "step"])


def finished_trials(table: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """The evaluations (rows in step order) of every finished trial, by trial id, and counts by status."""
    rows = _evaluated(table)
    status = table.groupby("trial_id")["status"].last()
    counts = {s: int((status == s).sum()) for s in sorted(set(status))}
    done = {tid: group for tid, group in rows.groupby("trial_id") if status.get(tid) in FINISHED}
    return done, counts


def final_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The last evaluation of every finished trial."""
    done, _ = finished_trials(table)
    if not done:
        return pd.DataFrame(columns=table.columns)
    return pd.DataFrame([group.iloc[-1] for group in done.values()]).reset_index(drop=True)


def _mean_std(values: pd.Series) -> tuple[float, float]:
    values = pd.to_numeric(values, errors="coerce").dropna()
    if values.empty:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan


def _spread(*stds: float) -> float:
    """The larger seed std of the groups compared (0 where a group has one seed)."""
    finite = [s for s in stds if not math.isnan(s)]
    return max(finite) if finite else 0.0


def _no_trials(counts: dict[str, int]) -> Verdict:
    return Verdict(INCONCLUSIVE, f"no finished trial to judge (trials by status: {counts or 'none'})",
                   {"trials": counts})


def _fmt_steps(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.0f}"


# --- claim 1: phases A -> B -> C, and the latent ordering ---------------------------------------------------


def check_phases(table: pd.DataFrame, min_share: float = 0.5, probe_metric: str = "trust",
                 min_gain: float = 0.02) -> Verdict:
    """Over training a trial passes phases A -> B -> C (first occurrences in that order) and its probe layer
    orders: ``probe_metric`` at the first phase-C evaluation exceeds its value on the untrained network (step 0)
    by at least ``min_gain``. Holds when at least ``min_share`` of the trials show the A -> B -> C order and the
    latent gain holds on average."""
    done, counts = finished_trials(table)
    if not done:
        return _no_trials(counts)
    rows, ordered, reached = [], 0, 0
    for tid, evals in done.items():
        phases = list(evals["phase"])
        first = {p: (phases.index(p) if p in phases else math.inf) for p in "ABC"}
        is_ordered = first["A"] < first["B"] < first["C"] < math.inf
        ordered += is_ordered
        reached += first["C"] < math.inf
        steps = list(evals["step"])
        metric = pd.to_numeric(evals.get(probe_metric, pd.Series(np.nan, index=evals.index)), errors="coerce")
        at = {p: (float(metric.iloc[first[p]]) if first[p] < math.inf else math.nan) for p in "ABC"}
        init = metric[evals["step"] == 0]  # the untrained network; a table without that row has no baseline
        rows.append({"trial": tid[:8], "seed": evals["seed"].iloc[0], "first_B": steps[first["B"]]
                     if first["B"] < math.inf else math.inf, "first_C": steps[first["C"]] if first["C"] < math.inf
                     else math.inf, "order": "".join(dict.fromkeys(phases)), f"{probe_metric}_init":
                     float(init.iloc[0]) if len(init) else math.nan, f"{probe_metric}_B": at["B"],
                     f"{probe_metric}_C": at["C"]})
    evidence = pd.DataFrame(rows)
    n = len(done)
    gain = float(np.nanmean(evidence[f"{probe_metric}_C"] - evidence[f"{probe_metric}_init"])) if reached else math.nan
    numbers = {"trials": n, "reached C": reached, "A->B->C in order": ordered, "share in order": ordered / n,
               f"{probe_metric} gain init->C": gain, "trials by status": counts}
    if reached == 0:
        last = int(max(e["step"].max() for e in done.values()))
        return Verdict(INCONCLUSIVE, f"no trial reached phase C by step {last}; train longer (the gpu scale)",
                       numbers, evidence)
    if ordered / n < min_share:
        skipped = int(sum(1 for r in rows if r["first_C"] < math.inf and r["first_B"] == math.inf))
        why = (f"{skipped} trial(s) went from A to C between two evaluations, so B was not resolved; evaluate "
               "more often"
               if skipped else f"only {ordered} of {n} trials passed A -> B -> C in order")
        return Verdict(INCONCLUSIVE if skipped else FAILS, why, numbers, evidence)
    if math.isnan(gain):
        return Verdict(INCONCLUSIVE, f"samples pass A -> B -> C in {ordered} of {n} trials, but the table has no "
                       f"'{probe_metric}' probe column to judge the latent", numbers, evidence)
    if gain < min_gain:
        return Verdict(INCONCLUSIVE, f"samples pass A -> B -> C in {ordered} of {n} trials, but the probe's "
                       f"{probe_metric} gained only {gain:+.3f} from init to phase C (< {min_gain}): the latent "
                       "ordering is not resolved by this metric and layer", numbers, evidence)
    return Verdict(HOLDS, f"{ordered} of {n} trials passed A -> B -> C in order and {probe_metric} rose by "
                   f"{gain:+.3f} from the untrained network to the first phase-C evaluation", numbers, evidence)


# --- claim 2: denser data reaches C sooner and more often ----------------------------------------------------


def check_density(table: pd.DataFrame, key: str = "density") -> Verdict:
    """Per value of ``key`` (realized density), the share of seeds that reach phase C and the median step at
    which they do (never = inf). Holds when the densest level is at least as good as the sparsest on both and
    strictly better on one by more than one evaluation interval (steps) or one seed (share); fails when the
    sparsest is strictly better; inconclusive when they tie."""
    done, counts = finished_trials(table)
    if not done:
        return _no_trials(counts)
    rows = []
    for evals in done.values():
        c = evals.index[evals["phase"] == "C"]
        rows.append({key: float(evals[key].iloc[0]), "steps_to_C": float(evals.loc[c[0], "step"]) if len(c)
                     else math.inf, "every": float(evals.get("eval.every", pd.Series([0])).iloc[0])})
    per_trial = pd.DataFrame(rows)
    evidence = per_trial.groupby(key).agg(trials=("steps_to_C", "size"),
                                          share_C=("steps_to_C", lambda s: float(np.isfinite(s).mean())),
                                          median_steps_to_C=("steps_to_C", "median")).reset_index()
    if len(evidence) < 2:
        return Verdict(INCONCLUSIVE, f"only one {key} level finished; the claim compares levels", {}, evidence)
    sparse, dense = evidence.iloc[0], evidence.iloc[-1]
    every = float(per_trial["every"].max()) or 1.0
    numbers = {f"sparsest {key}": sparse[key], f"densest {key}": dense[key], "share C (sparsest)": sparse["share_C"],
               "share C (densest)": dense["share_C"], "median steps to C (sparsest)": sparse["median_steps_to_C"],
               "median steps to C (densest)": dense["median_steps_to_C"], "trials by status": counts}
    one_seed = 1 / max(int(sparse["trials"]), int(dense["trials"]))
    share_gain = dense["share_C"] - sparse["share_C"]
    a, b = sparse["median_steps_to_C"], dense["median_steps_to_C"]
    step_gain = (math.inf if math.isinf(a) and math.isfinite(b) else -math.inf if math.isinf(b) and math.isfinite(a)
                 else 0.0 if math.isinf(a) and math.isinf(b) else a - b)
    if math.isinf(a) and math.isinf(b):
        return Verdict(INCONCLUSIVE, "neither the sparsest nor the densest level reached phase C; train longer",
                       numbers, evidence)
    if share_gain >= one_seed - 1e-9 and step_gain >= 0 or step_gain > every and share_gain >= 0:
        return Verdict(HOLDS, f"the densest level reached C in {dense['share_C']:.0%} of seeds at median step "
                       f"{_fmt_steps(b)}, the sparsest in {sparse['share_C']:.0%} at {_fmt_steps(a)}", numbers,
                       evidence)
    if -share_gain >= one_seed - 1e-9 and step_gain <= 0 or -step_gain > every and share_gain <= 0:
        return Verdict(FAILS, f"the sparsest level did better: C in {sparse['share_C']:.0%} of seeds at median step "
                       f"{_fmt_steps(a)} against {dense['share_C']:.0%} at {_fmt_steps(b)}", numbers, evidence)
    return Verdict(INCONCLUSIVE, f"no difference resolved: medians {_fmt_steps(a)} vs {_fmt_steps(b)} steps (within "
                   f"one evaluation interval, {every:.0f}) and shares {sparse['share_C']:.0%} vs "
                   f"{dense['share_C']:.0%}", numbers, evidence)


# --- claim 3: imbalanced data, x and y learned together ------------------------------------------------------


def check_coupling(table: pd.DataFrame, min_share: float = 0.5) -> Verdict:
    """Per trial of imbalanced data, the on-lattice onsets of x and y, their ratio (coupling) and learning order
    (analysis/onsets.py, coupled within a factor COUPLED_MAX). Holds when at least ``min_share`` of the trials are
    coupled; fails when as many are sequential or never learn the sparse axis; inconclusive otherwise."""
    done, counts = finished_trials(table)
    if not done:
        return _no_trials(counts)
    rows = []
    for tid, evals in done.items():
        sx, sy = float(evals["data.spacing_x"].iloc[0]), float(evals["data.spacing_y"].iloc[0])
        learning = trial_learning(evals, sx, sy)
        rows.append({"trial": tid[:8], "seed": evals["seed"].iloc[0], "spacing_x": sx, "spacing_y": sy,
                     **{k: learning[k] for k in ("onset_x", "onset_y", "coupling", "learning", "onset_basis")}})
    evidence = pd.DataFrame(rows)
    if (evidence["learning"] == "").all():
        return Verdict(INCONCLUSIVE, "the data is balanced (spacing_x = spacing_y); the claim needs dx != dy",
                       {"trials by status": counts}, evidence)
    n = len(evidence)
    share = {k: float((evidence["learning"] == k).mean()) for k in (COUPLED, SEQUENTIAL, SPARSE_NEVER, NEITHER)}
    finite = evidence["coupling"][np.isfinite(evidence["coupling"].astype(float))]
    numbers = {"trials": n, **{f"share {k}": f"{v:.0%}" for k, v in share.items()},
               "median coupling": float(finite.median()) if len(finite) else math.nan,
               "coupling range": f"{finite.min():.2f}-{finite.max():.2f}" if len(finite) else "n/a",
               "trials by status": counts}
    if share[COUPLED] >= min_share:
        return Verdict(HOLDS, f"{share[COUPLED]:.0%} of trials learned x and y together (onsets within a factor "
                       f"{COUPLED_MAX:g}); median coupling {numbers['median coupling']:.2f}", numbers, evidence)
    if share[SEQUENTIAL] + share[SPARSE_NEVER] >= min_share:
        return Verdict(FAILS, f"{share[SEQUENTIAL] + share[SPARSE_NEVER]:.0%} of trials learned the sparse axis "
                       "clearly later or never: learning was sequential, not coupled", numbers, evidence)
    if share[NEITHER] >= min_share:
        return Verdict(INCONCLUSIVE, "neither axis reached acc 0.5 in most trials; train longer", numbers, evidence)
    return Verdict(INCONCLUSIVE, "the trials disagree on the learning order (seed spread larger than the effect)",
                   numbers, evidence)


# --- claim 4: percolation ------------------------------------------------------------------------------------


def data_config(row: pd.Series) -> DataConfig:
    """The DataConfig of a results row (its ``data.*`` columns; lists are JSON text)."""
    values = {}
    for name in DataConfig.__dataclass_fields__:
        column = f"data.{name}"
        if column in row.index and not (isinstance(row[column], float) and math.isnan(row[column])):
            value = row[column]
            values[name] = json.loads(value) if isinstance(value, str) and value.startswith("[") else value
    cfg = DataConfig(**values)
    cfg.image_size, cfg.keep = int(cfg.image_size), float(cfg.keep)
    return cfg


def check_percolation(table: pd.DataFrame, metric: str = "acc", level: float = 0.5, tol: float = 0.15,
                      threshold: float = THRESHOLD, seeds: int = 8) -> Verdict:
    """Per bump width sigma: the final ``metric`` (mean over seeds) against the kept fraction lambda
    (``data.keep``), the lambda where it crosses ``level`` (lambda_acc), and the lambda where the overlap graph's
    largest component (analysis/percolation.py, overlap ``threshold``) crosses one half (lambda_perc). Holds when
    every sigma has both crossings within ``tol`` and, with several sigmas, lambda_acc moves the way lambda_perc
    does; fails when a sigma's crossings are more than ``tol`` apart (and the seed spread at its jump is smaller than
    the jump); inconclusive when the metric never crosses ``level`` inside the lambdas tried."""
    finals = final_rows(table)
    _, counts = finished_trials(table)
    if finals.empty:
        return _no_trials(counts)
    finals[metric] = pd.to_numeric(finals[metric], errors="coerce")
    groups, curves = [], {}
    for sigma, group in finals.groupby("data.sigma"):
        by_lambda = group.groupby("data.keep")[metric].agg(["mean", "std", "size"]).reset_index()
        cfg = data_config(group.iloc[0])
        lambdas = np.linspace(0.02, 1.0, 50)
        curve = percolation_curve(cfg, lambdas, range(seeds), threshold)
        curves[float(sigma)] = curve
        lam_acc = crossing(by_lambda["data.keep"], by_lambda["mean"], level)
        lam_perc = crossing(curve["lambda"], curve["share"])
        jumps = np.diff(by_lambda["mean"].to_numpy())
        groups.append({"sigma": float(sigma), "lambdas": len(by_lambda), "lambda_acc": lam_acc,
                       "lambda_perc": lam_perc, "largest_step": float(jumps.max()) if len(jumps) else math.nan,
                       "seed_std": float(np.nanmax(by_lambda["std"])) if by_lambda["std"].notna().any() else math.nan,
                       "below_all": bool((by_lambda["mean"] < level).all()),
                       "above_all": bool((by_lambda["mean"] >= level).all())})
    evidence = pd.DataFrame(groups)
    numbers = {f"sigma {g['sigma']:g}": f"lambda_acc {g['lambda_acc']:.2f}, lambda_perc {g['lambda_perc']:.2f}, "
               f"largest step in {metric} {g['largest_step']:.2f}" for g in groups}
    numbers["trials by status"] = counts
    verdict = Verdict(INCONCLUSIVE, "", numbers, evidence)
    verdict.curves = curves  # type: ignore[attr-defined]  # for the evidence figure
    bad = [g for g in groups if g["below_all"] or g["above_all"]]
    if bad:
        g = bad[0]
        where = "below" if g["below_all"] else "at or above"
        verdict.reason = (f"at sigma {g['sigma']:g} the final {metric} is {where} {level} at every lambda tried, "
                          "so its jump is outside the range; widen the lambda grid or train longer")
        return verdict
    far = [g for g in groups if math.isnan(g["lambda_perc"]) or abs(g["lambda_acc"] - g["lambda_perc"]) > tol]
    if far:
        g = far[0]
        noisy = not math.isnan(g["seed_std"]) and g["seed_std"] >= g["largest_step"]
        verdict.verdict = INCONCLUSIVE if noisy else FAILS
        verdict.reason = (f"at sigma {g['sigma']:g} the {metric} jump sits at lambda {g['lambda_acc']:.2f} but the "
                          f"overlap graph percolates at {g['lambda_perc']:.2f} (more than {tol} apart)"
                          + (f"; the seed spread ({g['seed_std']:.2f}) is as large as the jump" if noisy else ""))
        return verdict
    if len(groups) > 1:
        order_acc = np.sign(np.diff([g["lambda_acc"] for g in groups]))
        order_perc = np.sign(np.diff([g["lambda_perc"] for g in groups]))
        if np.any(order_acc * order_perc < 0):
            verdict.verdict, verdict.reason = FAILS, "the jump moves against the percolation threshold across sigma"
            return verdict
    verdict.verdict = HOLDS
    verdict.reason = ("for every sigma the jump in " + metric + " sits within " + f"{tol} of the percolation threshold"
                      + (" and moves with it across sigma" if len(groups) > 1 else ""))
    return verdict


# --- claim 5: compositional generalization from stripes ------------------------------------------------------


def check_composition(table: pd.DataFrame, metric: str = "holdout_acc", success: float = 0.5,
                      failure: float = 0.25) -> Verdict:
    """Arms by ``data.stripes``: 1.0 = stripes alone, below 1 = stripes plus 2D examples outside the held-out
    region. Holds when the mixed arm's final ``metric`` (mean over seeds) reaches ``success`` and the
    stripes-only arm stays at or below ``failure``; fails when stripes alone reach ``success``, or the mixed arm
    learned its own training distribution (acc >= success) but stays at or below ``failure`` held out;
    inconclusive otherwise (including a mixed arm that did not learn its training distribution)."""
    finals = final_rows(table)
    _, counts = finished_trials(table)
    if finals.empty:
        return _no_trials(counts)
    if metric not in finals.columns:
        raise ReportError(f"{metric}: not in the results table; the claim's sweeps need data.holdout")
    finals["arm"] = np.where(pd.to_numeric(finals["data.stripes"]) >= 1, "stripes only", "stripes + 2D")
    evidence = finals.groupby("arm").agg(trials=(metric, "size"), **{
        f"{metric}": (metric, "mean"), f"{metric}_std": (metric, "std"), "acc": ("acc", "mean")}).reset_index()
    arms = {r["arm"]: r for _, r in evidence.iterrows()}
    numbers = {f"{arm}: {metric}": f"{r[metric]:.2f} ± {np.nan_to_num(r[metric + '_std']):.2f}"
               f" (in-distribution acc {r['acc']:.2f}, {int(r['trials'])} seeds)" for arm, r in arms.items()}
    numbers["trials by status"] = counts
    if len(arms) < 2:
        return Verdict(INCONCLUSIVE, "the claim compares stripes alone with stripes plus 2D examples; only "
                       f"{next(iter(arms))!r} finished", numbers, evidence)
    only, mixed = arms["stripes only"], arms["stripes + 2D"]
    if only[metric] >= success:
        return Verdict(FAILS, f"stripes alone already compose: held-out {metric} {only[metric]:.2f} >= {success}",
                       numbers, evidence)
    if mixed[metric] >= success and only[metric] <= failure:
        return Verdict(HOLDS, f"stripes alone reach {metric} {only[metric]:.2f} in the held-out region, stripes plus "
                       f"2D examples {mixed[metric]:.2f}", numbers, evidence)
    if mixed["acc"] < success:
        return Verdict(INCONCLUSIVE, f"the mixed arm did not learn its own training distribution (acc "
                       f"{mixed['acc']:.2f} < {success}), so its held-out score says nothing; train longer",
                       numbers, evidence)
    if mixed[metric] <= failure:
        return Verdict(FAILS, f"stripes plus 2D examples learned in distribution (acc {mixed['acc']:.2f}) but not in "
                       f"the held-out region ({metric} {mixed[metric]:.2f})", numbers, evidence)
    return Verdict(INCONCLUSIVE, f"between the thresholds: stripes alone {only[metric]:.2f}, stripes plus 2D "
                   f"{mixed[metric]:.2f} (success {success}, failure {failure})", numbers, evidence)


# --- claim 6: interpolation falls as the lesion widens -------------------------------------------------------


def lesion_width(holdout: Any) -> float:
    """Width along x of a lesion given as ``data.holdout`` (a list of [x0, x1, y0, y1], or its JSON text)."""
    rects = json.loads(holdout) if isinstance(holdout, str) else holdout
    if not rects:
        return 0.0
    return float(max(r[1] for r in rects) - min(r[0] for r in rects))


def check_lesion(table: pd.DataFrame, metric: str = "holdout_acc", min_drop: float = 0.2,
                 learned: float = 0.5) -> Verdict:
    """Per lesion width (the x extent of ``data.holdout``), the final ``metric`` inside the lesion (mean over
    seeds). Holds when it falls from the narrowest to the widest lesion by at least ``min_drop`` and more than the
    seed spread, without rising between widths by more than that spread; fails when the widest is at least as good
    as the narrowest; inconclusive when trials did not learn their training distribution (acc < ``learned``) or
    the drop is within the spread."""
    finals = final_rows(table)
    _, counts = finished_trials(table)
    if finals.empty:
        return _no_trials(counts)
    finals["width"] = finals["data.holdout"].map(lesion_width)
    finals[metric] = pd.to_numeric(finals[metric], errors="coerce")
    evidence = finals.groupby("width").agg(trials=(metric, "size"), mean=(metric, "mean"), std=(metric, "std"),
                                           acc=("acc", "mean")).reset_index()
    numbers = {f"width {r['width']:g}": f"{metric} {r['mean']:.2f}"
               + (f" ± {r['std']:.2f}" if not math.isnan(r["std"]) else "") + f" (acc {r['acc']:.2f})"
               for _, r in evidence.iterrows()}
    numbers["trials by status"] = counts
    if len(evidence) < 2:
        return Verdict(INCONCLUSIVE, "only one lesion width finished; the claim compares widths", numbers, evidence)
    if evidence["acc"].min() < learned:
        return Verdict(INCONCLUSIVE, f"some trials did not learn their training distribution (acc "
                       f"{evidence['acc'].min():.2f} < {learned}); train longer", numbers, evidence)
    narrow, wide = evidence.iloc[0], evidence.iloc[-1]
    spread = _spread(*evidence["std"])
    drop = narrow["mean"] - wide["mean"]
    rises = np.diff(evidence["mean"].to_numpy())
    if drop <= 0:
        return Verdict(FAILS, f"no fall: {metric} {narrow['mean']:.2f} at width {narrow['width']:g}, "
                       f"{wide['mean']:.2f} at width {wide['width']:g}", numbers, evidence)
    if drop >= min_drop and drop > spread and rises.max() <= spread:
        return Verdict(HOLDS, f"{metric} inside the lesion fell from {narrow['mean']:.2f} (width {narrow['width']:g}) "
                       f"to {wide['mean']:.2f} (width {wide['width']:g})", numbers, evidence)
    return Verdict(INCONCLUSIVE, f"a fall of {drop:.2f} is below {min_drop} or within the seed spread "
                   f"({spread:.2f}), or not monotone", numbers, evidence)


# --- claim 7: periodic bumps, factorized (orthogonal) x and y codes ----------------------------------------------


def check_factorized(table: pd.DataFrame, metric: str = "orthogonality", min_value: float = 0.9,
                     coupled_below: float = 0.5) -> Verdict:
    """The probe's ``metric`` (1 - mean cos^2 of the principal angles between the x and y codes; docs/probe.md)
    at the last evaluation of trials that reached phase C, against the untrained network (step 0). Holds when it
    is at least ``min_value`` and the untrained value is below it; inconclusive when the untrained network is as
    orthogonal (the encoding, not learning, may give it) or no trial reached C; fails below ``coupled_below``."""
    done, counts = finished_trials(table)
    if not done:
        return _no_trials(counts)
    rows = []
    for tid, evals in done.items():
        values = pd.to_numeric(evals[metric], errors="coerce")
        rows.append({"trial": tid[:8], "seed": evals["seed"].iloc[0], "phase": evals["phase"].iloc[-1],
                     "init": float(values.iloc[0]), "final": float(values.iloc[-1])})
    evidence = pd.DataFrame(rows)
    in_c = evidence[evidence["phase"] == "C"]
    numbers = {"trials": len(evidence), "in phase C": len(in_c), "trials by status": counts}
    if in_c.empty:
        return Verdict(INCONCLUSIVE, "no trial ended in phase C; the code of a model that did not learn the task "
                       "says nothing about the claim", numbers, evidence)
    final, init = float(in_c["final"].mean()), float(in_c["init"].mean())
    numbers.update({f"{metric} final": final, f"{metric} at init": init})
    if final < coupled_below:
        return Verdict(FAILS, f"{metric} {final:.2f} < {coupled_below}: the x and y codes overlap (coupled, 3D-torus "
                       "like)", numbers, evidence)
    if final >= min_value and init < min_value:
        return Verdict(HOLDS, f"{metric} {final:.2f} in phase C (untrained {init:.2f}): x and y codes orthogonal",
                       numbers, evidence)
    if final >= min_value:
        return Verdict(INCONCLUSIVE, f"{metric} {final:.2f} in phase C, but the untrained network already has "
                       f"{init:.2f}: the encoding, not learning, may give it", numbers, evidence)
    return Verdict(INCONCLUSIVE, f"{metric} {final:.2f} lies between {coupled_below} and {min_value}", numbers,
                   evidence)


CHECKS: dict[str, Callable[..., Verdict]] = {
    "phases": check_phases, "density": check_density, "coupling": check_coupling, "percolation": check_percolation,
    "composition": check_composition, "lesion": check_lesion, "factorized": check_factorized,
}


def run_check(name: str, table: pd.DataFrame, params: dict[str, Any] | None = None) -> Verdict:
    """Apply the check ``name`` of ``CHECKS`` with ``params`` to a results table."""
    if name not in CHECKS:
        raise ReportError(f"check: unknown check {name!r}; choose one of {', '.join(CHECKS)}")
    return CHECKS[name](table, **(params or {}))
