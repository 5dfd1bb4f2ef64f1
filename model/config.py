"""One config object for a trial: data, model, diffusion, training and evaluation settings.

Every key has a dotted name (``data.sigma``, ``model.base_channels``) used by the CLI's ``--set``, by sweep
specs and as a column of the results table. ``validate`` names the offending field and says how to fix it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import Any

from model.definitions import PHASE_ACC, PHASE_SINGLE
from model.errors import UsageError


class ConfigError(UsageError):
    """A bad configuration value; the message names the field and the fix."""


@dataclass
class DataConfig:
    """The data set: image size, bump width, lattice of training centres, held-out rectangles, boundary."""

    image_size: int = 16  # N: images are N x N, bump centres are in pixel units
    sigma: float = 1.0  # bump width in pixels
    spacing_x: float = 0.0  # lattice spacing of training centres along x; 0 = drawn continuously
    spacing_y: float = 0.0
    keep: float = 1.0  # random fraction of the lattice kept
    holdout: list[list[float]] = field(default_factory=list)  # [[x0, x1, y0, y1], ...] left out of training
    boundary: str = "clip"  # clip: centres in [0, N-1]; periodic: centres in [0, N), bumps wrap around
    family: str = "bump"  # what an image whose label lies in the frame shows: bump | cross (two stripes)
    stripes: float = 0.0  # share of training images that are 1D stripes (model/families.py)
    stripe_axes: str = "xy"  # which stripes: xy (both, equally) | x (vertical lines at x) | y (horizontal at y)
    margin: float = 0.0  # px beyond the frame where a stripe's off-screen coordinate lies (paper: 6 at N = 32)


@dataclass
class ModelConfig:
    """The UNet: width, levels, attention resolutions, residual blocks per level and how the condition enters."""

    base_channels: int = 12
    channel_mults: list[int] = field(default_factory=lambda: [1, 2, 4])  # one entry per UNet level
    attention_resolutions: list[int] = field(default_factory=lambda: [4])  # feature-map sizes with attention
    num_res_blocks: int = 1
    cond: str = "concat"  # concat: MLP of [sin(t), sin(x), sin(y)]; factorized: separate t, x, y pathways
    cond_frequencies: int = 16  # sinusoidal frequencies per coordinate


@dataclass
class DiffusionConfig:
    """The noise schedule: its shape (linear or cosine) and its number of timesteps T."""

    schedule: str = "linear"  # linear | cosine
    timesteps: int = 1000


@dataclass
class TrainConfig:
    """Training of one trial: steps, batch size, AdamW settings, warm-up, clipping, EMA, seed, device."""

    steps: int = 3000
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_steps: int = 100
    grad_clip: float = 1.0
    ema_decay: float = 0.995
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch intra-op threads; 0 = leave as set by the environment (Ray sets it per trial)


@dataclass
class EvalConfig:
    """How often and how a trial is scored: sampler, number of samples, tolerance, probe, phase thresholds."""

    every: int = 250  # evaluate every this many steps (and at the last step)
    n_samples: int = 128  # in-distribution evaluation conditions (held-out ones get the same number)
    n_lattice: int = 64  # conditions on the training lattice (lattice data only; 0 = none)
    sampler: str = "ddim"  # ddim | ddpm
    ddim_steps: int = 25  # same acc and phase as 50 or 100 steps at 40% of the cost of 50 (bench/eval.py)
    tol: float = 1.0  # pixels: a bump within tol of the target counts as correct
    probe_grid: int = 12  # G: the probe reads a G x G grid of conditions
    probe_layer: str = "bottleneck"
    probe_t: float = 0.5  # probe timestep as a fraction of diffusion.timesteps
    phase_single: float = PHASE_SINGLE  # phase B/C need frac_single >= this
    phase_acc: float = PHASE_ACC  # phase C needs acc >= this
    seed: int = 1234  # evaluation conditions and noise: fixed so every trial is scored on the same set


@dataclass
class Config:
    """A trial's full configuration, one section per dataclass above; keys are dotted ``section.name``."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The config as a nested plain dict ``{section: {name: value}}``; ``from_dict`` inverts it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        """A Config from a nested dict like ``to_dict``'s (dotted keys work too); missing keys keep their
        defaults, unknown keys or wrong types raise ConfigError. Values are not range-checked (no ``validate``)."""
        config = cls()
        apply_overrides(config, flatten(d))
        return config

    def flat(self) -> dict[str, Any]:
        """``{"data.sigma": 1.0, ...}`` for every key."""
        return flatten(self.to_dict())

    def hash(self, include_seed: bool = True) -> str:
        """Identity of a trial: a hash of the full config, seed included (without it: replicates share it).
        Keys of ``HASH_OMITTED_AT_DEFAULT`` are left out while at their default, so a trial that does not use
        them has the same id as one of a config without those keys (its finished results stay reusable)."""
        d = self.to_dict()
        for key, default in HASH_OMITTED_AT_DEFAULT.items():
            section, _, name = key.partition(".")
            if d[section].get(name) == default:
                d[section].pop(name)
        if not include_seed:
            d["train"].pop("seed")
        blob = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


# The data-family keys (model/families.py): at these defaults a trial draws plain bumps, exactly as without them,
# so they are hashed only when set to something else.
HASH_OMITTED_AT_DEFAULT: dict[str, Any] = {
    "data.family": "bump", "data.stripes": 0.0, "data.stripe_axes": "xy", "data.margin": 0.0,
}

PRESETS: dict[str, dict[str, Any]] = {
    # Seconds on a CPU: for tests only; too small to learn anything.
    "micro": {
        "data.image_size": 8,
        "data.sigma": 1.0,
        "model.base_channels": 8,
        "model.channel_mults": [1, 2],
        "model.attention_resolutions": [4],
        "model.cond_frequencies": 8,
        "diffusion.timesteps": 100,
        "train.steps": 30,
        "train.batch_size": 16,
        "train.warmup_steps": 5,
        "eval.every": 15,
        "eval.n_samples": 16,
        "eval.n_lattice": 8,
        "eval.ddim_steps": 5,
        "eval.probe_grid": 5,
    },
    # 16x16, about 0.3 M parameters: the CPU default, phases visible within minutes.
    "tiny": {},
    # The paper's setting: 32x32, three levels with attention; GPU work.
    "paper": {
        "data.image_size": 32,
        "model.base_channels": 64,
        "model.channel_mults": [1, 2, 4],
        "model.attention_resolutions": [16, 8],
        "model.num_res_blocks": 2,
        "train.steps": 30000,
        "train.batch_size": 128,
        "train.lr": 2e-4,
        "train.ema_decay": 0.999,
        "train.warmup_steps": 500,
        "eval.every": 2000,
        "eval.n_samples": 256,
        "eval.probe_grid": 16,
    },
}


def from_preset(name: str, overrides: dict[str, Any] | None = None) -> Config:
    """The config of preset ``name`` (micro, tiny or paper) with dotted ``overrides`` applied on top,
    validated; an unknown preset or key, a wrong type or a value out of range raises ConfigError."""
    if name not in PRESETS:
        raise ConfigError(f"preset: unknown preset '{name}'; choose one of {', '.join(PRESETS)}")
    config = Config()
    apply_overrides(config, PRESETS[name])
    apply_overrides(config, overrides or {})
    validate(config)
    return config


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested dict as one level of dotted keys: ``{"data": {"sigma": 1.0}}`` -> ``{"data.sigma": 1.0}``;
    ``prefix`` goes before every key. Lists are values, not flattened."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _section_and_field(config: Config, key: str) -> tuple[Any, dataclasses.Field]:
    section_name, _, field_name = key.partition(".")
    sections = {f.name: f for f in fields(Config)}
    if section_name not in sections or not field_name:
        raise ConfigError(
            f"{key}: unknown key; keys look like 'section.name' with section one of {', '.join(sections)}"
        )
    section = getattr(config, section_name)
    by_name = {f.name: f for f in fields(section)}
    if field_name not in by_name:
        raise ConfigError(f"{key}: unknown key; valid keys in {section_name}: {', '.join(by_name)}")
    return section, by_name[field_name]


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Coerce ``value`` to the type of the field's default (an integral float may set an integer field)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if isinstance(default, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [list(v) if isinstance(v, list | tuple) else v for v in value]
    raise ConfigError(f"{key}: unsupported type")


def apply_overrides(config: Config, overrides: dict[str, Any]) -> Config:
    """Set dotted keys in place; unknown keys and wrong types raise ConfigError naming the key."""
    for key, value in overrides.items():
        section, f = _section_and_field(config, key)
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
        setattr(section, f.name, _coerce(key, value, default))
    return config


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


def validate(config: Config) -> None:
    """Raise ConfigError for the first value out of range."""
    d, m, df, t, e = config.data, config.model, config.diffusion, config.train, config.eval
    _check(4 <= d.image_size <= 256, "data.image_size", f"must be in 4..256, got {d.image_size}")
    _check(0 < d.sigma <= d.image_size, "data.sigma", f"must be in (0, image_size], got {d.sigma}")
    for key, spacing in (("data.spacing_x", d.spacing_x), ("data.spacing_y", d.spacing_y)):
        _check(spacing >= 0, key, f"must be >= 0 (0 = continuous centres), got {spacing}")
        _check(spacing < d.image_size, key, f"must be < image_size {d.image_size}, got {spacing}")
    _check(0 < d.keep <= 1, "data.keep", f"must be in (0, 1], got {d.keep}")
    _check(d.boundary in ("clip", "periodic"), "data.boundary", f"must be clip or periodic, got {d.boundary!r}")
    _check(d.family in ("bump", "cross"), "data.family", f"must be bump or cross, got {d.family!r}")
    _check(0 <= d.stripes <= 1, "data.stripes", f"must be in [0, 1] (share of stripe images), got {d.stripes}")
    _check(d.stripe_axes in ("xy", "x", "y"), "data.stripe_axes", f"must be xy, x or y, got {d.stripe_axes!r}")
    _check(d.margin >= 0, "data.margin", f"must be >= 0, got {d.margin}")
    if d.stripes > 0:
        _check(d.boundary == "clip", "data.stripes",
               "stripes put their other coordinate off-screen, which a periodic image has not; use boundary clip")
        _check(d.margin > 3 * d.sigma, "data.margin",
               f"stripes need their other coordinate more than 3 sigma off-screen; must be > {3 * d.sigma:g}, "
               f"got {d.margin:g}")
    for rect in d.holdout:
        _check(
            len(rect) == 4 and all(isinstance(v, int | float) for v in rect) and rect[0] <= rect[1]
            and rect[2] <= rect[3],
            "data.holdout",
            f"each rectangle must be [x0, x1, y0, y1] with x0 <= x1 and y0 <= y1, got {rect}",
        )
    _check(m.base_channels >= 4 and m.base_channels % 4 == 0, "model.base_channels",
           f"must be a multiple of 4, >= 4, got {m.base_channels}")
    _check(len(m.channel_mults) >= 1 and all(isinstance(c, int) and c >= 1 for c in m.channel_mults),
           "model.channel_mults", f"must be a non-empty list of positive integers, got {m.channel_mults}")
    levels = len(m.channel_mults)
    _check(d.image_size % 2 ** (levels - 1) == 0, "model.channel_mults",
           f"{levels} levels halve the image {levels - 1} times; image_size {d.image_size} must be divisible "
           f"by {2 ** (levels - 1)}")
    _check(m.num_res_blocks >= 1, "model.num_res_blocks", f"must be >= 1, got {m.num_res_blocks}")
    _check(m.cond in ("concat", "factorized"), "model.cond", f"must be concat or factorized, got {m.cond!r}")
    _check(m.cond_frequencies >= 1, "model.cond_frequencies", f"must be >= 1, got {m.cond_frequencies}")
    _check(df.schedule in ("linear", "cosine"), "diffusion.schedule",
           f"must be linear or cosine, got {df.schedule!r}")
    _check(10 <= df.timesteps <= 10000, "diffusion.timesteps", f"must be in 10..10000, got {df.timesteps}")
    _check(t.steps >= 1, "train.steps", f"must be >= 1, got {t.steps}")
    _check(t.batch_size >= 1, "train.batch_size", f"must be >= 1, got {t.batch_size}")
    _check(0 < t.lr < 1, "train.lr", f"must be in (0, 1), got {t.lr}")
    _check(t.weight_decay >= 0, "train.weight_decay", f"must be >= 0, got {t.weight_decay}")
    _check(t.warmup_steps >= 0, "train.warmup_steps", f"must be >= 0, got {t.warmup_steps}")
    _check(t.grad_clip > 0, "train.grad_clip", f"must be > 0, got {t.grad_clip}")
    _check(0 <= t.ema_decay < 1, "train.ema_decay", f"must be in [0, 1), got {t.ema_decay}")
    _check(t.device in ("auto", "cpu", "cuda"), "train.device", f"must be auto, cpu or cuda, got {t.device!r}")
    _check(t.threads >= 0, "train.threads", f"must be >= 0, got {t.threads}")
    _check(e.every >= 1, "eval.every", f"must be >= 1, got {e.every}")
    _check(e.n_samples >= 1, "eval.n_samples", f"must be >= 1, got {e.n_samples}")
    _check(e.n_lattice >= 0, "eval.n_lattice", f"must be >= 0, got {e.n_lattice}")
    _check(e.sampler in ("ddim", "ddpm"), "eval.sampler", f"must be ddim or ddpm, got {e.sampler!r}")
    _check(1 <= e.ddim_steps <= df.timesteps, "eval.ddim_steps",
           f"must be in 1..diffusion.timesteps ({df.timesteps}), got {e.ddim_steps}")
    _check(e.tol > 0, "eval.tol", f"must be > 0, got {e.tol}")
    _check(e.probe_grid >= 3, "eval.probe_grid", f"must be >= 3, got {e.probe_grid}")
    _check(0 <= e.probe_t < 1, "eval.probe_t", f"must be in [0, 1), got {e.probe_t}")
    _check(0 < e.phase_single <= 1, "eval.phase_single", f"must be in (0, 1], got {e.phase_single}")
    _check(0 < e.phase_acc <= 1, "eval.phase_acc", f"must be in (0, 1], got {e.phase_acc}")


# Keys that packed trials (model/packed.py) must share: one network shape, one batch shape, one clock of
# steps and evaluations.
SHARED_PREFIXES = ("model.", "diffusion.")
SHARED_KEYS = ("data.image_size", "train.batch_size", "train.steps", "train.device", "train.threads", "eval.every")


def pack_key(config: Config) -> dict[str, Any]:
    """The settings that trials packed together must share; everything else (seed, data, lr, ...) may differ."""
    return {k: v for k, v in config.flat().items() if k.startswith(SHARED_PREFIXES) or k in SHARED_KEYS}
