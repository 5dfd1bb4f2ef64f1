"""The one spec loader: numbers as researchers write them, duplicate keys, non-UTF-8 files, shorthands."""

import pytest
import yaml
from conftest import phasescape

from model.errors import UsageError
from sweep.cli import parse_sets
from sweep.spec import load_spec, parse_spec
from sweep.specfile import integer, load_yaml, parse_value
from sweep.study.spec import parse_spec as parse_study

FORMS = {"1e-4": 1e-4, "1E-3": 1e-3, "5e3": 5000.0, ".5": 0.5, "+1.0": 1.0, "-.5": -0.5, "2.5e-3": 2.5e-3}


@pytest.mark.parametrize("text, value", FORMS.items())
def test_every_number_form_is_a_float(text, value):
    assert parse_value(text) == value and isinstance(parse_value(text), float)


def test_plain_pyyaml_would_leave_these_strings():
    """Why the loader exists: YAML 1.1 (PyYAML) reads an exponent without a dot as text."""
    assert [yaml.safe_load(f"x: {t}")["x"] for t in ("1e-4", "1E-3", "5e3")] == ["1e-4", "1E-3", "5e3"]


def test_words_stay_words_and_integers_stay_integers():
    assert parse_value("abc") == "abc" and parse_value("1e") == "1e" and parse_value("e5") == "e5"
    assert parse_value("12") == 12 and isinstance(parse_value("12"), int)
    assert parse_value("[1e-4, 1e-2]") == [1e-4, 1e-2]
    assert integer(5e3) == 5000 and integer(7) == 7 and integer(7.5) is None and integer(True) is None


def sweep_raw(tmp_path, **changes):
    raw = {"name": "forms", "base": "micro", "storage": str(tmp_path / "results"), "seeds": [0]}
    return {**raw, **changes}


# Each form where its value is valid: (text, a config key taking it).
PLACES = [("1e-4", "train.lr"), ("1E-3", "train.lr"), (".5", "data.sigma"), ("+1.0", "data.sigma"),
          ("2.5e-3", "train.lr"), ("5e3", "train.steps")]


@pytest.mark.parametrize("text, key", PLACES)
def test_forms_in_set_grid_axes_bounds_and_the_command_line(tmp_path, text, key):
    value = FORMS[text]
    kind = "int" if key == "train.steps" else "loguniform"
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(f"name: forms\nbase: micro\nstorage: {tmp_path / 'results'}\nset: {{{key}: {text}}}\n"
                         f"axes:\n  {key}: [{text}]\n")
    spec = load_spec(spec_file)
    assert spec.set[key] == value and spec.axes[key] == [value]
    assert spec.trials()[0].flat()[key] == value
    spec_file.write_text(f"name: forms\nbase: micro\nstorage: {tmp_path / 'results'}\nsearch: random\n"
                         f"axes:\n  {key}: {{{kind}: [{text}, {value * 2}]}}\n")
    assert load_spec(spec_file).axes[key][kind][0] == value
    assert parse_sets([f"{key}={text}"]) == {key: value}


def test_train_accepts_1e_minus_4_on_the_command_line(tmp_path):
    result = phasescape("train", "--preset", "micro", "--set", "train.lr=1e-4", "--set", "train.steps=2",
                        "--set", "eval.every=2", "--out", str(tmp_path / "t"))
    assert result.returncode == 0, result.stderr
    import json

    assert json.loads((tmp_path / "t" / "trial.json").read_text())["config"]["train"]["lr"] == 1e-4


def test_study_policy_bounds_and_integers_accept_the_forms(tmp_path):
    raw = load_yaml_text(tmp_path, "name: s\nbase: micro\nbudget: 3e1\npolicy: {fill: [.25, 1e0], sigma: [5e-1, 1.5]}\n"
                                   "n_trials: 2e0\n")
    spec = parse_study(raw)
    assert spec.budget == 30 and spec.n_trials == 2
    assert spec.policy.knobs["fill"].low == 0.25 and spec.policy.knobs["sigma"].low == 0.5


def load_yaml_text(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return load_yaml(path)


def test_a_string_that_is_not_a_number_names_the_field(tmp_path):
    with pytest.raises(UsageError, match=r"set\.train\.lr: expected a number, got 'fast'"):
        parse_spec(sweep_raw(tmp_path, set={"train.lr": "fast"}))
    with pytest.raises(UsageError, match=r"axes\.train\.lr: loguniform bounds must be \[lo, hi\]"):
        parse_spec(sweep_raw(tmp_path, search="random", axes={"train.lr": {"loguniform": ["a", 0.1]}}))
    with pytest.raises(UsageError, match=r"steps: expected an integer >= 1, got 2.5"):
        parse_spec(sweep_raw(tmp_path, steps=2.5))


def test_search_and_scheduler_by_name(tmp_path):
    spec = parse_spec(sweep_raw(tmp_path, search="random", scheduler="asha", axes={"data.sigma": [1.0, 1.5]}))
    assert spec.search.type == "random" and spec.scheduler.type == "asha"
    assert spec.hash() == parse_spec(sweep_raw(tmp_path, search={"type": "random"}, scheduler={"type": "asha"},
                                               axes={"data.sigma": [1.0, 1.5]})).hash()
    with pytest.raises(UsageError, match=r"search\.type: must be grid or random or optuna or boundary, got 'bayes'"):
        parse_spec(sweep_raw(tmp_path, search="bayes"))
    with pytest.raises(UsageError, match=r"search: expected 'grid' or a mapping like \{type, num_samples"):
        parse_spec(sweep_raw(tmp_path, search=3))


def test_zero_or_negative_limits_are_refused(tmp_path):
    for value in (0, -1):
        with pytest.raises(UsageError, match=f"max_concurrent: expected an integer >= 1, got {value}"):
            parse_spec(sweep_raw(tmp_path, max_concurrent=value))
    assert parse_spec(sweep_raw(tmp_path)).max_concurrent == 0  # not given: as many as the resources allow


def test_duplicate_keys_are_refused_with_key_and_line(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("name: dup\nbase: micro\nsteps: 100\naxes:\n  data.sigma: [1.0]\n  data.sigma: [2.0]\n")
    with pytest.raises(UsageError, match=r"dup.yaml: line 6: key 'data.sigma' is given twice; keep one"):
        load_spec(path)
    path.with_name("merge.yaml").write_text("base: &b {lr: 1e-3, steps: 10}\nrun:\n  <<: *b\n  steps: 20\n")
    assert load_yaml(path.with_name("merge.yaml"))["run"] == {"lr": 1e-3, "steps": 20}  # a merge may be overridden
    result = phasescape("validate", str(path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"phasescape: error: {path}: line 6: key 'data.sigma' is given "
                                                  "twice; keep one"]


@pytest.mark.parametrize("command", [["validate"], ["run", "--dry-run"], ["study"], ["submit", "--address",
                                                                                    "http://127.0.0.1:9"]])
def test_a_file_that_is_not_utf8_is_one_line_exit_2(tmp_path, command):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\u00e9\nbase: micro\n".encode("latin-1"))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = phasescape(command[0], str(path), *command[1:])
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"phasescape: error: {path}: not UTF-8 text (byte 9)"), lines
    assert "Traceback" not in result.stderr and sorted(p.name for p in tmp_path.iterdir()) == before
