"""Bad specs: one line naming the field, exit 2, no Ray started and no folder created (in-process, fast)."""

import sys

import pytest
import yaml

from sweep.cli import main
from sweep.spec import load_spec

GOOD = {"name": "ok", "base": "micro", "axes": {"data.sigma": [1.0, 1.5]}, "seeds": [0]}


def write(tmp_path, spec):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec) if isinstance(spec, dict) else spec)
    return path


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"set": {"data.sigm": 1.0}}, "set.data.sigm"),
        ({"seeds": "zero"}, "seeds"),
        ({"steps": "ten"}, "steps"),
        ({"axes": {"data.sigma": []}}, "axes.data.sigma"),
        ({"axes": {"data.spacing_x": [-1.0, 2.0]}}, "axes.data.spacing_x"),
        ({"axes": {"data.sigma": {"uniform": [1.0, 2.0]}}}, "axes.data.sigma"),  # a distribution needs random
        ({"axes": {"overlap": [1.5]}}, "axes.overlap"),
        ({"name": "../x"}, "name"),
        ({"name": "a/b"}, "name"),
        ({"base": "huge"}, "base"),
        ({"search": {"type": "bayes"}}, "search.type"),
        ({"scheduler": {"type": "asha", "grace": 1}}, "scheduler.grace"),
        ({"resources": {"cpu": 0}}, "resources.cpu"),
        ({"resources": {"gpu": 1.5}}, "resources.gpu"),
    ],
)
def test_bad_spec_is_one_line_exit_2_nothing_started(tmp_path, capsys, change, field):
    storage = tmp_path / "results"
    path = write(tmp_path, {**GOOD, "storage": str(storage), **change})
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"phasescape: error: {field}"), err
    assert not storage.exists()
    assert "ray" not in sys.modules or not sys.modules["ray"].is_initialized()


def test_storage_not_writable(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    path = write(tmp_path, {**GOOD, "storage": str(blocker / "results")})
    assert main(["run", str(path)]) == 2
    assert "storage" in capsys.readouterr().err
    assert main(["run", str(write(tmp_path, GOOD)), "--storage", str(blocker / "x")]) == 2


def test_missing_and_malformed_files(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["validate", str(write(tmp_path, "name: [unclosed"))]) == 2
    assert "malformed YAML" in capsys.readouterr().err
    assert main(["resume", str(tmp_path)]) == 2
    assert "not a sweep folder" in capsys.readouterr().err


def test_grid_expansion_convenience_axes_and_dedup(tmp_path):
    spec = load_spec(write(tmp_path, {
        "name": "g", "base": "micro", "axes": {"density": [0.25, 1.0], "overlap": [0.5]},
        "seeds": [0, 1, 1], "storage": str(tmp_path),
    }))
    trials = spec.trials()
    assert len(trials) == 4  # 2 densities x 1 overlap x 2 distinct seeds
    from model.data import BumpDataset

    for config in trials:
        derived = BumpDataset(config.data, seed=0).derived()
        assert derived["overlap"] == pytest.approx(0.5)
    assert sorted({c.data.spacing_x for c in trials}) == pytest.approx([1.0, 7 / 3])


def test_random_search_is_reproducible(tmp_path):
    raw = {"name": "r", "base": "micro", "search": {"type": "random", "num_samples": 3},
           "axes": {"train.lr": {"loguniform": [1e-4, 1e-2]}, "model.cond": ["concat", "factorized"]},
           "storage": str(tmp_path)}
    a, b = load_spec(write(tmp_path, raw)).trials(), load_spec(write(tmp_path, raw)).trials()
    assert [c.hash() for c in a] == [c.hash() for c in b] and len(a) == 3
    assert all(1e-4 <= c.train.lr <= 1e-2 for c in a)


def test_dry_run_prints_plan_and_starts_nothing(tmp_path, capsys):
    storage = tmp_path / "results"
    assert main(["run", str(write(tmp_path, {**GOOD, "storage": str(storage)})), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 trial(s)" in out and "dry run: nothing started" in out
    assert not storage.exists()


def test_unmeasurable_trials_are_named_before_any_compute(tmp_path, capsys):
    storage = tmp_path / "results"
    spec = write(tmp_path, {**GOOD, "storage": str(storage), "axes": {"data.sigma": [0.1, 1.0]}})
    assert main(["validate", str(spec)]) == 0
    err = capsys.readouterr().err
    assert "warning: 1 trial(s) cannot be measured" in err and "data.sigma 0.1" in err and "too narrow" in err
    assert main(["run", str(spec), "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert "ceiling" in captured.out and "too narrow" in captured.err
    assert main(["run", str(spec)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("phasescape: error:") and "--accept-unmeasurable" in err[-1] and "data.sigma" in err[-1]
    assert not storage.exists()
    measurable = write(tmp_path, {**GOOD, "storage": str(storage)})
    assert main(["validate", str(measurable)]) == 0
    assert "cannot be measured" not in capsys.readouterr().err


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    # `phasescape run spec --dry-run | head -1`: the reader leaves before the table is written.
    import subprocess

    from conftest import ROOT

    spec = write(tmp_path, {**GOOD, "axes": {"data.sigma": [1.0 + i / 100 for i in range(300)]}})
    proc = subprocess.Popen([sys.executable, "-m", "sweep", "run", str(spec), "--dry-run"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # nobody reads: the first write that does not fit the pipe raises EPIPE
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 141 and "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_requested_overlaps_come_back_as_one_value_per_landscape_row(tmp_path):
    # sigma is solved from the requested overlap per density; without rounding 0.35 came back as 0.34999999999999987
    # in one cell and 0.35 in another, and the report drew three 0.35 rows.
    from model.geometry import derived_quantities

    spec = load_spec(write(tmp_path, {**GOOD, "base": "tiny", "axes": {
        "density": [0.05, 0.1, 0.2, 0.5], "overlap": [0.2, 0.35, 0.5, 0.6]}}))
    quantities = [derived_quantities(c.data, c.train.seed) for c in spec.trials()]
    assert sorted({q["overlap"] for q in quantities}) == [0.2, 0.35, 0.5, 0.6]
    assert len({q["density"] for q in quantities}) == 4
