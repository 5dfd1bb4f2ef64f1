"""The names and cut-offs that model, sweep and analysis share: phases, trial statuses, metric names, the columns
of a results table and the thresholds of the landscape. Each is defined once here; docs/definitions.md says what
each one means.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

# --- phases of a checkpoint ----------------------------------------------------------------------------------

PHASES = ("A", "B", "C")  # A: no single bump; B: one bump, wrong place; C: one bump at the right place
PHASE_NUMBER = {p: i for i, p in enumerate(PHASES)}  # a phase as a number for plots and TensorBoard: A 0, B 1, C 2
PHASE_SINGLE = 0.5  # default of eval.phase_single: phases B and C need frac_single >= this
PHASE_ACC = 0.5  # default of eval.phase_acc: phase C needs acc >= this


def phase_of(frac_single: float, acc: float, single_threshold: float = PHASE_SINGLE,
             acc_threshold: float = PHASE_ACC) -> str:
    """The phase of one evaluation from its share of single-bump samples and its accuracy: "A", "B" or "C"."""
    if frac_single < single_threshold:
        return "A"
    return "C" if acc >= acc_threshold else "B"


def most_common_phase(phases: Iterable[Any]) -> str | None:
    """The most common of ``phases`` (non-strings ignored), ties to the less advanced one, so a cell is called C only
    when C wins outright; None when there is none."""
    counts = Counter(p for p in phases if isinstance(p, str))
    if not counts:
        return None
    top = max(counts.values())
    return min(p for p, n in counts.items() if n == top)


# --- trial statuses (status.json of a trial folder, the status column of a results table) --------------------

PENDING, RUNNING, COMPLETED, STOPPED, ERROR = "PENDING", "RUNNING", "COMPLETED", "STOPPED", "ERROR"
FINISHED = (COMPLETED, STOPPED)  # STOPPED: ended early by the scheduler; its last evaluation is final
UNFINISHED = (RUNNING, PENDING)
STOP_REASON = "phase"  # status.json's stop_reason of a trial STOPPED by the spec's stop (settled in its phase)
STATUSES = (*FINISHED, *UNFINISHED, ERROR)

# --- metrics of one evaluation -------------------------------------------------------------------------------

SAMPLE_METRICS = ("frac_none", "frac_multi", "frac_single", "acc", "acc_x", "acc_y", "err_median")
# Representation-probe metrics of one layer (docs/probe.md). The plain names are the default layer's
# (eval.probe_layer); every layer's are also stored as probe_column(layer, metric).
PROBE_METRICS = (
    "r2_x", "r2_y", "eff_dim", "additivity", "orthogonality",  # the paper-style probe
    "trust", "continuity",  # local order against the (x, y) grid
    "knn_r2_x", "knn_r2_y", "ridge_r2_x", "ridge_r2_y",  # decodability from the full activations
    "code_overlap", "value_cos_x", "value_cos_y", "tuning_width_x", "tuning_width_y", "parallelism",  # factorization
    "ccgen_x", "ccgen_y",  # cross-condition generalization
)
# The probe numbers to read first, as plain names (the default layer's, eval.probe_layer = bottleneck). Chosen from
# bench/probe.py runs (bench/README.md, "Probe evidence (issue 14)"; docs/probe.md, "Which layer and which numbers
# to read"): on two seeds and a factorized trial the x and y codes separate as acc rises (code_overlap falls,
# orthogonality rises; |Spearman| with acc 0.90-0.96 on both seeds), and continuity (local order) is learned in
# phase A, before acc, and stays above its init value in C. Lower is better for code_overlap.
HEADLINE_PROBE = ("code_overlap", "orthogonality", "continuity")


def probe_column(layer: str, metric: str) -> str:
    """The results-table column of one probe metric of one layer: ``probe.<layer>.<metric>``."""
    return f"probe.{layer}.{metric}"

# --- the results table ---------------------------------------------------------------------------------------

CONFIG_SECTIONS = ("data.", "model.", "diffusion.", "train.", "eval.")  # prefixes of the flattened config keys
CONVENIENCE_AXES = ("density", "overlap")  # sweep axes that set data keys (docs/definitions.md)
DERIVED = ("n_positions", "density", "overlap")  # data quantities derived from a config, stored with each trial
IDENTITY_COLUMNS = ("trial_id", "status")
REQUIRED_METRICS = ("step", "time_s", "frac_single", "acc", "acc_x", "acc_y")  # present once a trial evaluated

# --- the landscape -------------------------------------------------------------------------------------------

ONSET = 0.5  # onset_x (onset_y): first evaluated step with acc_x (acc_y) >= this
COUPLED_MAX = 2.0  # onsets within this factor of each other (either way) count as coupled; beyond: sequential
CEILING_MIN = 0.95  # a trial whose ceiling (acc of perfect samples, model/ceiling.py) is below this is unmeasurable
