"""What one trial leaves in its folder, written as it learns.

    trial.json        config, config hash, seed, derived data quantities, metric ceiling, library versions, git commit
    metrics.jsonl     one line per evaluation
    evals/step_*.npz  generated samples, their targets and the probe latents of that evaluation
    events.out.tfevents.*  the metrics and the config for TensorBoard (sweep/events.py)
    samples.png       the latest samples, targets marked
    checkpoint.pt     the latest training state (weights_only-safe), for resume
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.ceiling import ceiling
from model.config import Config
from sweep.events import EventLog
from sweep.provenance import git_commit, library_versions

if TYPE_CHECKING:  # the sweep driver imports this module: keep torch off its start-up path
    from model.train import Trainer

CHECKPOINT = "checkpoint.pt"


def json_safe(value: Any) -> Any:
    """NaN and infinities become null / strings so every line is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def from_json_safe(value: Any) -> Any:
    """What ``json_safe`` wrote, back: null is NaN, "inf" and "-inf" infinities; any other value unchanged."""
    if value is None:
        return math.nan
    return float(value) if isinstance(value, str) and value in ("inf", "-inf") else value


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` as indented JSON, atomically (a temporary file, then a rename);
    values JSON cannot hold are written as ``str(value)``."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    os.replace(tmp, path)


def trial_record(config: Config, trainer: Trainer) -> dict[str, Any]:
    """The trial.json record of a trial: trial id, config hash, seed, config, derived data quantities, the
    ceiling of its sample metrics (model/ceiling.py), parameter count, device, library versions and git commit."""
    return {
        "trial_id": config.hash(),
        "config_hash": config.hash(include_seed=False),
        "seed": config.train.seed,
        "config": config.to_dict(),
        "derived": {k: json_safe(v) for k, v in trainer.data.derived().items()},
        "ceiling": {k: json_safe(v) for k, v in ceiling(config).items()},
        "n_parameters": trainer.n_parameters,
        "device": str(trainer.device),
        "versions": library_versions(),
        "git_commit": git_commit(),
    }


class TrialWriter:
    """An ``on_eval`` callback that records each evaluation in ``folder``; ``plot`` adds samples.png and
    ``checkpoint`` saves checkpoint.pt there (a sweep hands checkpoints to Ray Tune instead); ``swept`` names the
    hyperparameters its sweep varies, for TensorBoard (sweep/events.py)."""

    def __init__(self, folder: Path, plot: bool = True, checkpoint: bool = True, swept: tuple[str, ...] = ()) -> None:
        self.folder = Path(folder)
        self.plot = plot
        self.checkpoint = checkpoint
        (self.folder / "evals").mkdir(parents=True, exist_ok=True)
        self.events = EventLog(self.folder, swept)

    def start(self, trainer: Trainer) -> None:
        """Record the trial; metrics.jsonl restarts from the checkpointed history, dropping any line an
        interrupted attempt wrote after its last checkpoint, and a new event file marks the same restart for
        TensorBoard."""
        write_json(self.folder / "trial.json", trial_record(trainer.config, trainer))
        lines = "".join(self._line(m) for m in trainer.history)
        tmp = self.folder / "metrics.jsonl.tmp"
        tmp.write_text(lines)
        os.replace(tmp, self.folder / "metrics.jsonl")
        self.events.start(trainer.config, trainer.data.derived(), trainer.history)

    @staticmethod
    def _line(metrics: dict[str, Any]) -> str:
        return json.dumps({k: json_safe(v) for k, v in metrics.items()}) + "\n"

    def __call__(self, step: int, metrics: dict[str, Any], trainer: Trainer) -> None:
        evaluation = trainer.evaluation
        assert evaluation is not None
        evaluation.save(self.folder / "evals" / f"step_{step:07d}.npz")
        if self.plot:
            from analysis.plots import plot_samples

            plot_samples(evaluation.samples, evaluation.targets, self.folder / "samples.png",
                         title=f"step {step}: phase {metrics['phase']}, acc {metrics['acc']:.2f}")
        with open(self.folder / "metrics.jsonl", "a") as f:
            f.write(self._line(metrics))
        self.events.append(metrics)
        if self.checkpoint:
            trainer.save_checkpoint(self.folder / CHECKPOINT)
