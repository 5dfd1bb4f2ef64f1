import pytest

from model.config import Config, ConfigError, apply_overrides, from_preset, validate


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"data.sigm": 1}, "data.sigm"),
        ({"nosection.x": 1}, "nosection.x"),
        ({"data.sigma": "wide"}, "data.sigma"),
        ({"data.sigma": -1}, "data.sigma"),
        ({"data.spacing_x": -2}, "data.spacing_x"),
        ({"data.keep": 1.5}, "data.keep"),
        ({"data.boundary": "mirror"}, "data.boundary"),
        ({"data.holdout": [[5, 1, 0, 3]]}, "data.holdout"),
        ({"model.cond": "cross"}, "model.cond"),
        ({"model.channel_mults": [1, 2, 4, 8, 16, 32]}, "model.channel_mults"),
        ({"train.steps": 0}, "train.steps"),
        ({"train.batch_size": 2.5}, "train.batch_size"),
        ({"eval.ddim_steps": 5000}, "eval.ddim_steps"),
    ],
)
def test_bad_values_name_the_field(overrides, field):
    with pytest.raises(ConfigError) as info:
        from_preset("tiny", overrides)
    assert str(info.value).startswith(field)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="micro, tiny, paper"):
        from_preset("huge")


def test_values_are_typed_not_guessed():
    """The spec loader (sweep/specfile.py) types command-line and YAML values; the config refuses a string for a
    number instead of parsing it a second way, and takes an integral float for an integer."""
    config = from_preset("micro", {"data.sigma": 1.5, "model.channel_mults": [1, 2], "train.steps": 7.0})
    assert config.data.sigma == 1.5 and config.model.channel_mults == [1, 2] and config.train.steps == 7
    with pytest.raises(ConfigError, match="data.sigma: expected a number, got '1.5'"):
        from_preset("micro", {"data.sigma": "1.5"})
    with pytest.raises(ConfigError, match="train.steps: expected an integer"):
        from_preset("micro", {"train.steps": 7.5})


def test_hash_identifies_config_and_seed():
    a, b = from_preset("micro"), from_preset("micro")
    assert a.hash() == b.hash()
    assert a.hash() != from_preset("micro", {"train.seed": 1}).hash()
    assert Config.from_dict(a.to_dict()).hash() == a.hash()


def test_presets_are_valid():
    for name in ("micro", "tiny", "paper"):
        validate(from_preset(name))
    assert apply_overrides(Config(), {}).data.image_size == 16
