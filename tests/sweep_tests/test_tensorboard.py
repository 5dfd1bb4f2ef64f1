"""TensorBoard event files: a real sweep's trials read back with TensorBoard's own reader, and restarts from a
checkpoint and from scratch."""

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, phasescape
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata
from test_sweep_run import kill_worker_then_finish, statuses, write_spec

from model.config import from_preset
from model.definitions import PHASES
from sweep.events import HEADLINE, PREFIX, EventLog, tag


def read_run(folder):
    """TensorBoard's view of one trial folder: its accumulator, every scalar (tag -> {step: value}) and the
    hparams plugin's data (tag -> content)."""
    run = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    run.Reload()
    scalars = {t: {e.step: e.value for e in run.Scalars(t)} for t in run.Tags()["scalars"]}
    return run, scalars, run.PluginTagToContent(metadata.PLUGIN_NAME)


def same(expected, value) -> bool:
    """``value`` as TensorBoard stores it (float32) equals ``expected``; NaN equals NaN."""
    expected = np.float32(expected)
    return bool(np.isnan(value)) if np.isnan(expected) else np.float32(value) == expected


def config_and_metric_columns(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The flattened config keys of a results table, and its numeric metrics (the float columns after ``step``)."""
    config_keys = [c for c in table if c.split(".")[0] in ("data", "model", "diffusion", "train", "eval")]
    metric_columns = [c for c in table.columns[table.columns.get_loc("step") + 1:]
                      if c != "phase" and pd.api.types.is_float_dtype(table[c])]
    assert {"loss", "acc", "acc_x", "acc_y", "code_overlap", "probe.bottleneck.r2_x"} <= set(metric_columns)
    return config_keys, metric_columns


def check_trial(folder, rows: pd.DataFrame, table: pd.DataFrame) -> None:
    """TensorBoard shows the trial's rows of the results table: every metric at every step once, with the same
    value, the phase as its number, and its config as hyperparameters."""
    config_keys, metric_columns = config_and_metric_columns(table)
    _, scalars, hparams = read_run(folder)
    steps = rows["step"].astype(int).tolist()
    for column in metric_columns:
        series = scalars[tag(column)]
        assert sorted(series) == steps, column
        for step, expected in zip(steps, rows[column], strict=True):
            assert same(expected, series[step]), (folder.name, column, step, expected, series[step])
    assert scalars["headline/phase"] == {s: PHASES.index(p) for s, p in zip(steps, rows["phase"], strict=True)}

    session = metadata.parse_session_start_info_plugin_data(hparams[metadata.SESSION_START_INFO_TAG]).hparams
    first = rows.iloc[0]
    for key in config_keys:
        value = session[key]
        held = value.string_value if value.HasField("string_value") else value.number_value
        assert held == (first[key] if isinstance(held, str) else float(first[key])), key
    assert session["overlap"].number_value == first["overlap"]
    experiment = metadata.parse_experiment_plugin_data(hparams[metadata.EXPERIMENT_TAG])
    assert [m.name.tag for m in experiment.metric_infos] == [tag(name) for name in HEADLINE]
    assert {h.name for h in experiment.hparam_infos} >= set(config_keys) | {"density", "overlap"}
    assert [h.name for h in experiment.hparam_infos if h.differs] == ["data.sigma"]  # the axis: listed first


@pytest.mark.slow  # starts Ray
@pytest.mark.parametrize("pack", [1, 2])  # a trial per Ray trial (sweep/trainable.py) and a packed group
def test_every_trial_of_a_sweep_has_its_scalars_and_hparams(tmp_path, pack):
    spec = write_spec(tmp_path, name="tb", axes={"data.sigma": [1.0, 1.5]}, pack=pack)
    result = phasescape("run", str(spec))
    assert result.returncode == 0, result.stderr[-2000:]
    sweep_dir = tmp_path / "results" / "tb"
    table = pd.read_parquet(sweep_dir / "results.parquet")
    assert table["trial_id"].nunique() == 2
    for trial_id, rows in table.groupby("trial_id"):
        folder = sweep_dir / "trials" / trial_id
        assert len(list(folder.glob(PREFIX + "*"))) == 1  # one attempt, one file
        check_trial(folder, rows, table)


@pytest.mark.slow  # starts Ray
def test_a_trial_retried_from_its_checkpoint_shows_each_step_once(tmp_path):
    spec = write_spec(tmp_path, name="tb_retried", axes={"data.sigma": [1.0]}, steps=150, max_failures=1)
    sweep_dir = tmp_path / "results" / "tb_retried"
    driver = subprocess.Popen([sys.executable, "-m", "sweep", "run", str(spec)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)

    # 150 steps: after its second evaluation (step 15) the trial runs long enough for the poll to see it
    def checkpointed_worker():  # past its second evaluation: the retry starts from a checkpoint
        for trial_id, status in statuses(sweep_dir).items():
            lines = sweep_dir / "trials" / trial_id / "metrics.jsonl"
            if status["status"] == "RUNNING" and lines.exists() and lines.read_text().count("\n") >= 2:
                return status["pid"]
        return None

    kill_worker_then_finish(driver, checkpointed_worker)

    table = pd.read_parquet(sweep_dir / "results.parquet")
    (trial_id, status), = statuses(sweep_dir).items()
    assert status["status"] == "COMPLETED" and status["attempts"] == 2 and status["restored_from_step"] >= 15
    folder = sweep_dir / "trials" / trial_id
    assert len(list(folder.glob(PREFIX + "*"))) == 2  # one file per attempt
    check_trial(folder, table, table)


def evaluation(step: int, acc: float) -> dict:
    return {"step": step, "time_s": step / 10, "loss": math.nan if step == 0 else 1 / step, "acc": acc, "phase": "B"}


def test_a_restart_shows_one_curve_from_its_checkpoint_on(tmp_path):
    config = from_preset("micro")
    derived = {"n_positions": math.inf, "density": math.inf, "overlap": 1.0}
    first = EventLog(tmp_path, swept=("density",))
    first.start(config, derived, [])
    for step in (0, 15, 30):  # the attempt is killed after step 30's evaluation, before its checkpoint
        first.append(evaluation(step, acc=0.25))
    _, scalars, _ = read_run(tmp_path)
    assert scalars["headline/acc"] == {0: 0.25, 15: 0.25, 30: 0.25}

    again = EventLog(tmp_path, swept=("density",))
    again.start(config, derived, [evaluation(0, acc=0.25), evaluation(15, acc=0.25)])  # the checkpoint's history
    again.append(evaluation(30, acc=0.75))  # step 30 trained again from the checkpoint of step 15
    again.append(evaluation(45, acc=1.0))

    assert sorted(tmp_path.glob(PREFIX + "*")) == [first.path, again.path]  # appended to, never rewritten
    run, scalars, hparams = read_run(tmp_path)
    assert [e.step for e in run.Scalars("headline/acc")] == [0, 15, 30, 45]  # each step once
    assert scalars["headline/acc"] == {0: 0.25, 15: 0.25, 30: 0.75, 45: 1.0}
    assert scalars["headline/phase"] == dict.fromkeys((0, 15, 30, 45), 1.0)
    assert math.isnan(scalars["headline/loss"][0]) and scalars["train/time_s"][30] == np.float32(3.0)
    session = metadata.parse_session_start_info_plugin_data(hparams[metadata.SESSION_START_INFO_TAG]).hparams
    assert "density" not in session and session["overlap"].number_value == 1.0  # infinite: left out
    experiment = metadata.parse_experiment_plugin_data(hparams[metadata.EXPERIMENT_TAG])
    assert [h.name for h in experiment.hparam_infos if h.differs] == ["density"]  # in every trial, valued or not

    anew = EventLog(tmp_path)  # a restart without a checkpoint trains from scratch: its curve replaces the others
    anew.start(config, derived, [])
    anew.append(evaluation(0, acc=0.5))
    assert read_run(tmp_path)[1]["headline/acc"] == {0: 0.5}


def test_tags_group_the_metrics():
    assert [tag(n) for n in ("acc", "phase", "code_overlap", "r2_x", "probe.up1.r2_x", "time_s", "holdout_acc")] == [
        "headline/acc", "headline/phase", "headline/code_overlap", "probe/r2_x", "probe.up1/r2_x", "train/time_s",
        "samples/holdout_acc"]
