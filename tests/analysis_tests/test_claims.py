"""Checks of the claims (analysis/claims.py) on synthetic results tables: each check, each verdict."""

import json

import pandas as pd
import pytest

from analysis.claims import FAILS, HOLDS, INCONCLUSIVE, run_check


def trial(tid: str, steps: list[int], status: str = "COMPLETED", seed: int = 0, **columns) -> list[dict]:
    """Rows of one trial: ``columns`` given as lists (one value per step) or scalars (every row)."""
    rows = []
    for i, step in enumerate(steps):
        row = {"trial_id": tid, "status": status, "seed": seed, "step": step, "eval.every": steps[1] - steps[0],
               "data.spacing_x": 0.0, "data.spacing_y": 0.0, "data.sigma": 1.0, "data.image_size": 16,
               "data.keep": 1.0, "data.holdout": "[]", "data.stripes": 0.0}
        for key, value in columns.items():
            row[key] = value[i] if isinstance(value, list) else value
        rows.append(row)
    return rows


def table(*trials: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([row for rows in trials for row in rows])


STEPS = [0, 100, 200, 300]


# --- phases --------------------------------------------------------------------------------------------------

def test_phases_holds_when_trials_pass_a_b_c_and_the_latent_orders():
    t = table(*(trial(f"t{s}", STEPS, seed=s, phase=["A", "B", "C", "C"], trust=[0.6, 0.7, 0.9, 0.9])
                for s in range(3)))
    v = run_check("phases", t)
    assert v.verdict == HOLDS and v.numbers["A->B->C in order"] == 3


def test_phases_inconclusive_when_no_trial_reaches_c_or_b_is_skipped_or_latent_flat():
    never = table(trial("t0", STEPS, phase=["A", "A", "B", "B"], trust=0.7))
    assert run_check("phases", never).verdict == INCONCLUSIVE
    skipped = table(trial("t0", STEPS, phase=["A", "A", "C", "C"], trust=[0.6, 0.6, 0.9, 0.9]))
    v = run_check("phases", skipped)
    assert v.verdict == INCONCLUSIVE and "between two evaluations" in v.reason
    flat = table(trial("t0", STEPS, phase=["A", "B", "C", "C"], trust=0.8))
    assert "latent" in run_check("phases", flat).reason


def test_phases_fails_when_the_order_is_broken():
    t = table(trial("t0", STEPS, phase=["B", "A", "C", "C"], trust=[0.6, 0.6, 0.9, 0.9]))
    assert run_check("phases", t).verdict == FAILS


# --- density -------------------------------------------------------------------------------------------------

def density_table(sparse_phases: list[str], dense_phases: list[str]) -> pd.DataFrame:
    return table(*(trial(f"s{s}", STEPS, seed=s, density=0.1, phase=sparse_phases) for s in range(2)),
                 *(trial(f"d{s}", STEPS, seed=s, density=1.0, phase=dense_phases) for s in range(2)))


def test_density_verdicts():
    assert run_check("density", density_table(["A", "A", "B", "B"], ["A", "C", "C", "C"])).verdict == HOLDS
    assert run_check("density", density_table(["A", "C", "C", "C"], ["A", "A", "B", "B"])).verdict == FAILS
    same = run_check("density", density_table(["A", "B", "C", "C"], ["A", "B", "C", "C"]))
    assert same.verdict == INCONCLUSIVE and "no difference" in same.reason
    assert run_check("density", density_table(["A"] * 4, ["B"] * 4)).verdict == INCONCLUSIVE  # nobody in C


# --- coupling ------------------------------------------------------------------------------------------------

def coupling_trial(tid: str, acc_x: list[float], acc_y: list[float]) -> list[dict]:
    return trial(tid, STEPS, phase="C", acc_x=acc_x, acc_y=acc_y, lattice_acc_x=acc_x, lattice_acc_y=acc_y,
                 **{"data.spacing_x": 0.5, "data.spacing_y": 4.0})


def test_coupling_verdicts():
    together = table(coupling_trial("a", [0, 0.6, 0.9, 1], [0, 0.55, 0.9, 1]),
                     coupling_trial("b", [0, 0.2, 0.9, 1], [0, 0.1, 0.8, 1]))
    v = run_check("coupling", together)
    assert v.verdict == HOLDS and v.numbers["median coupling"] == pytest.approx(1.0)
    apart = table(coupling_trial("a", [0, 0.6, 0.9, 1], [0, 0, 0, 0.6]),
                  coupling_trial("b", [0, 0.6, 0.9, 1], [0, 0, 0, 0]))
    assert run_check("coupling", apart).verdict == FAILS
    neither = table(coupling_trial("a", [0, 0, 0, 0], [0, 0, 0, 0]))
    assert run_check("coupling", neither).verdict == INCONCLUSIVE


# --- percolation ---------------------------------------------------------------------------------------------

def percolation_table(accs: dict[float, float], sigma: float = 0.3) -> pd.DataFrame:
    # 16 x 16 lattice, spacing 1, sigma 0.3: nearest neighbours join; the share crosses one half near lambda 0.6
    return table(*(trial(f"k{lam}", STEPS, phase="C", acc=[0, 0, 0, acc], **{
        "data.keep": lam, "data.sigma": sigma, "data.spacing_x": 1.0, "data.spacing_y": 1.0})
        for lam, acc in accs.items()))


def test_percolation_holds_when_the_acc_jump_sits_at_the_threshold():
    v = run_check("percolation", percolation_table({0.3: 0.05, 0.5: 0.1, 0.7: 0.9, 0.9: 0.95}))
    assert v.verdict == HOLDS, v.reason
    assert 0.5 < v.evidence.loc[0, "lambda_perc"] < 0.75


def test_percolation_fails_when_the_jump_is_far_from_it_and_inconclusive_outside_the_range():
    assert run_check("percolation", percolation_table({0.1: 0.05, 0.2: 0.9, 0.7: 0.95, 0.9: 0.95})).verdict == FAILS
    v = run_check("percolation", percolation_table({0.3: 0.0, 0.6: 0.1, 0.9: 0.2}))
    assert v.verdict == INCONCLUSIVE and "below" in v.reason


# --- composition ---------------------------------------------------------------------------------------------

def arms(only: float, mixed: float, mixed_acc: float = 0.9) -> pd.DataFrame:
    return table(*(trial(f"o{s}", STEPS, seed=s, phase="A", acc=0.0, holdout_acc=only, **{"data.stripes": 1.0})
                   for s in range(2)),
                 *(trial(f"m{s}", STEPS, seed=s, phase="C", acc=mixed_acc, holdout_acc=mixed,
                         **{"data.stripes": 0.8}) for s in range(2)))


def test_composition_verdicts():
    assert run_check("composition", arms(0.0, 0.8)).verdict == HOLDS
    assert run_check("composition", arms(0.7, 0.8)).verdict == FAILS  # stripes alone compose
    assert run_check("composition", arms(0.0, 0.1)).verdict == FAILS  # learned in distribution, not held out
    v = run_check("composition", arms(0.0, 0.1, mixed_acc=0.2))
    assert v.verdict == INCONCLUSIVE and "training distribution" in v.reason


# --- lesion --------------------------------------------------------------------------------------------------

def lesions(values: dict[float, list[float]]) -> pd.DataFrame:
    rows = []
    for width, per_seed in values.items():
        holdout = json.dumps([[7.5 - width / 2, 7.5 + width / 2, 0, 15]])
        for s, v in enumerate(per_seed):
            rows.append(trial(f"w{width}s{s}", STEPS, seed=s, phase="C", acc=0.9, holdout_acc=v,
                              **{"data.holdout": holdout}))
    return table(*rows)


def test_lesion_verdicts():
    assert run_check("lesion", lesions({1: [0.9, 0.85], 3: [0.6, 0.55], 6: [0.1, 0.15]})).verdict == HOLDS
    assert run_check("lesion", lesions({1: [0.5, 0.5], 6: [0.6, 0.6]})).verdict == FAILS
    noisy = run_check("lesion", lesions({1: [0.9, 0.1], 6: [0.6, 0.2]}))
    assert noisy.verdict == INCONCLUSIVE and "spread" in noisy.reason


# --- factorized ----------------------------------------------------------------------------------------------

def test_factorized_verdicts():
    def t(init: float, final: float, phase: str = "C") -> pd.DataFrame:
        return table(trial("a", STEPS, phase=["A", "B", phase, phase], orthogonality=[init, init, final, final]))

    assert run_check("factorized", t(0.6, 0.95)).verdict == HOLDS
    assert run_check("factorized", t(0.6, 0.3)).verdict == FAILS
    assert run_check("factorized", t(0.95, 0.97)).verdict == INCONCLUSIVE  # already orthogonal untrained
    assert run_check("factorized", t(0.6, 0.95, phase="B")).verdict == INCONCLUSIVE  # never learned the task


def test_unfinished_and_failed_trials_do_not_vote():
    t = table(trial("a", STEPS, status="ERROR", phase=["A", "B", "C", "C"], trust=[0.5, 0.6, 0.9, 0.9]))
    v = run_check("phases", t)
    assert v.verdict == INCONCLUSIVE and "no finished trial" in v.reason


def test_unknown_check_is_named():
    from analysis import ReportError

    with pytest.raises(ReportError, match="check: unknown check 'nope'"):
        run_check("nope", table(trial("a", STEPS, phase="A")))
