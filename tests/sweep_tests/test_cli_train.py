import json

import pytest


@pytest.mark.slow
def test_train_writes_metrics_samples_and_checkpoint(cli, tmp_path):
    out = tmp_path / "trial"
    result = cli("train", "--preset", "micro", "--set", "data.sigma=1.2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "phase" in result.stdout and "step     15/30" in result.stdout
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [0, 15, 30]
    assert (out / "samples.png").stat().st_size > 1000
    assert (out / "checkpoint.pt").exists() and len(list((out / "evals").glob("*.npz"))) == 3
    record = json.loads((out / "trial.json").read_text())
    assert record["config"]["data"]["sigma"] == 1.2 and record["versions"]["torch"]
    assert {"gt_frac_single", "gt_acc", "gt_acc_x", "gt_acc_y", "gt_trust"} <= set(record["ceiling"])
    assert record["ceiling"]["gt_acc"] >= 0.95

    again = cli("train", "--preset", "micro", "--set", "data.sigma=1.2", "--out", str(out))
    assert again.returncode == 0 and "resuming" in again.stdout and "step     15" not in again.stdout


def test_bad_input_is_one_line_exit_2_and_nothing_is_overwritten(cli, tmp_path):
    out = tmp_path / "trial"
    assert cli("train", "--preset", "micro", "--out", str(out)).returncode == 0
    before = (out / "metrics.jsonl").read_text()
    for args, field in [
        (["--set", "data.sigm=1"], "data.sigm"),
        (["--set", "data.sigma=-1"], "data.sigma"),
        (["--set", "train.steps=abc"], "train.steps"),
        (["--set", "data.sigma"], "--set"),
        (["--preset", "huge"], "preset"),
        (["--set", "data.sigma=2"], "--out"),  # a different trial into the same folder
    ]:
        result = cli("train", "--preset", "micro", "--out", str(out), *args)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and field in result.stderr
    assert (out / "metrics.jsonl").read_text() == before
