"""Sweep specs: a YAML file that declares a grid (or a search space) of trials, validated before any compute.

Example ``sweeps/density_overlap_tiny.yaml``::

    name: density_overlap_tiny
    base: tiny                       # preset from model/config.py
    set: {train.lr: 2.0e-3}          # fixed overrides (dotted keys)
    axes:                            # dotted key -> list (grid) or {uniform|loguniform|int: [lo, hi]}
      density: [0.05, 0.2]           # convenience axis: isotropic lattice spacing giving this density
      overlap: [0.3, 0.7]            # convenience axis: bump width giving this neighbour overlap
    seeds: [0]
    steps: 1500
    eval_every: 250
    resources: {cpu: 1}
    pack: 4                          # optional: train up to 4 trials of one architecture per Tune trial
    stop: {phase: C, patience: 2}    # optional: end a trial once its last 2 evaluations are in phase C
    search: boundary                 # optional: train a coarse sub-grid, then only the cells near the boundary

``load_spec(path)`` returns a :class:`SweepSpec`; ``spec.trials()`` lists the concrete trial configs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.ceiling import unmeasurable
from model.config import PRESETS, Config, ConfigError, from_preset
from model.definitions import CONVENIENCE_AXES, PHASES
from model.errors import UsageError
from sweep.masking import hide_password
from sweep.specfile import integer, integer_field, load_yaml

SEARCH_TYPES = ("grid", "random", "optuna", "boundary")
SCHEDULER_TYPES = ("fifo", "asha")
DISTRIBUTIONS = ("uniform", "loguniform", "int")
# Every argument of Optuna's TPE sampler pinned, since its defaults change between versions; sweeps with
# search.type optuna and studies with sampler tpe both use it (constant liar: trials run concurrently).
TPE_ARGS = {"n_startup_trials": 10, "n_ei_candidates": 24, "multivariate": True, "group": False, "constant_liar": True}
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
TOP_LEVEL = {
    "name", "base", "set", "axes", "seeds", "search", "scheduler", "resources", "max_concurrent",
    "max_failures", "storage", "eval_every", "steps", "pack", "stop",
}


@dataclass
class Search:
    """How trials are chosen: a grid, ``num_samples`` random draws or Optuna, on ``metric`` and ``mode``."""

    type: str = "grid"  # grid | random | optuna | boundary (sweep/boundary.py)
    num_samples: int = 1  # random / optuna: configurations drawn (each run with every seed)
    metric: str = "acc"
    mode: str = "max"


@dataclass
class Scheduler:
    """Early stopping: none (fifo) or ASHA on ``metric`` and ``mode`` after ``grace_period`` evaluations."""

    type: str = "fifo"  # fifo | asha
    metric: str = "acc"
    mode: str = "max"
    grace_period: int = 2  # evaluations before ASHA may stop a trial
    reduction_factor: int = 2


@dataclass
class Stop:
    """End a trial early once its last ``patience`` evaluations are all in ``phase`` (sweep/trainable.py)."""

    phase: str = "C"
    patience: int = 2

    def describe(self) -> str:
        """'in phase C for 2 consecutive evaluations'."""
        return f"in phase {self.phase} for {self.patience} consecutive evaluation{'s' * (self.patience != 1)}"


@dataclass
class Resources:
    """What each Tune trial asks of a node: CPUs, GPUs (fractions share one) and custom Ray resources."""

    cpu: float = 1
    gpu: float = 0  # fractions share a GPU between trials (for tiny models `pack` is faster: README)
    custom: dict[str, float] = field(default_factory=dict)


@dataclass
class SweepSpec:
    """A validated sweep spec (``load_spec``): base preset, fixed overrides, axes, seeds, search, scheduler
    and resources."""

    name: str
    base: str = "tiny"
    set: dict[str, Any] = field(default_factory=dict)
    axes: dict[str, Any] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    search: Search = field(default_factory=Search)
    scheduler: Scheduler = field(default_factory=Scheduler)
    resources: Resources = field(default_factory=Resources)
    max_concurrent: int = 0  # not given (0): as many as the cluster's resources allow; a spec gives >= 1
    max_failures: int = 2  # retries of a trial whose worker dies or raises
    storage: str = "results"
    eval_every: int | None = None
    steps: int | None = None
    pack: int = 1  # trials of one architecture trained together in one Tune trial (sweep/packed_trial.py)
    stop: Stop | None = None  # end a trial once it has settled in a phase (None: train every trial to its end)

    def to_dict(self) -> dict[str, Any]:
        """The spec as a nested plain dict, as manifest.json stores it; ``spec_from_dict`` inverts it."""
        return asdict(self)

    def hash(self) -> str:
        """The spec's identity, 16 hex digits, ``pack`` left out; it also seeds random search."""
        # pack changes how trials are scheduled, not which trials run: packing a spec keeps its hash (and so
        # its random-search samples), and a packed rerun reuses the trials an unpacked run finished.
        d = {k: v for k, v in self.to_dict().items() if k != "pack"}
        if d["stop"] is None:  # specs without stop keep the hash they had before the key existed
            del d["stop"]
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def folder(self, storage: str | None = None) -> Path:
        """The sweep's results folder: ``<storage>/<name>`` (name is validated not to escape it)."""
        return Path(storage or self.storage).expanduser().resolve() / self.name

    def fixed_overrides(self) -> dict[str, Any]:
        """Dotted overrides every trial shares: ``set``, then ``steps`` and ``eval_every`` when given,
        then ``train.threads`` and ``train.device`` from ``resources`` (these two replace any value in ``set``)."""
        fixed = dict(self.set)
        if self.steps is not None:
            fixed["train.steps"] = self.steps
        if self.eval_every is not None:
            fixed["eval.every"] = self.eval_every
        # The trial's threads match its CPU grant; it uses the GPU only when it asked for one.
        fixed["train.threads"] = max(1, int(self.resources.cpu))
        fixed["train.device"] = "cuda" if self.resources.gpu > 0 else "cpu"
        return fixed

    def grid_axes(self) -> dict[str, list[Any]]:
        """The axes given as a list of values: ``{key: values}``."""
        return {k: v for k, v in self.axes.items() if isinstance(v, list)}

    def distribution_axes(self) -> dict[str, dict[str, list[float]]]:
        """The axes given as a distribution: ``{key: {uniform|loguniform|int: [lo, hi]}}``."""
        return {k: v for k, v in self.axes.items() if isinstance(v, dict)}

    def trials(self) -> list[Config]:
        """Concrete trial configs for grid and random search (optuna samples while it runs), deduplicated."""
        points: list[dict[str, Any]]
        grid = self.grid_axes()
        if self.search.type in ("grid", "boundary"):  # boundary: the full grid it may train (sweep/boundary.py)
            points = [{}]
            for key, values in grid.items():
                points = [{**p, key: v} for p in points for v in values]
        elif self.search.type == "random":
            rng = np.random.default_rng(int(self.hash()[:8], 16))  # same spec, same samples
            points = [self._draw(rng, grid) for _ in range(self.search.num_samples)]
        else:
            return []
        configs: dict[str, Config] = {}
        for point in points:
            for seed in self.seeds:
                config = self.config_for(point, seed)
                configs.setdefault(config.hash(), config)
        return list(configs.values())

    def _draw(self, rng: np.random.Generator, grid: dict[str, list[Any]]) -> dict[str, Any]:
        point: dict[str, Any] = {key: values[rng.integers(len(values))] for key, values in grid.items()}
        for key, dist in self.distribution_axes().items():
            (kind, (lo, hi)), = dist.items()
            if kind == "uniform":
                point[key] = float(rng.uniform(lo, hi))
            elif kind == "loguniform":
                point[key] = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
            else:
                point[key] = int(rng.integers(int(lo), int(hi) + 1))
        return point

    def config_for(self, point: dict[str, Any], seed: int) -> Config:
        """The config of one trial: base preset, fixed overrides, then this point of the axes."""
        overrides = {**self.fixed_overrides(), "train.seed": seed}
        plain = {k: v for k, v in point.items() if k not in CONVENIENCE_AXES}
        overrides.update(plain)
        config = from_preset(self.base, overrides)
        derived = convenience_overrides(config, point.get("density"), point.get("overlap"))
        return from_preset(self.base, {**overrides, **derived})


def convenience_overrides(config: Config, density: float | None, overlap: float | None) -> dict[str, Any]:
    """Map the convenience axes onto data keys.

    density (training centres per pixel, as DESIGN.md defines it): an isotropic lattice spacing s with
    ((N-1)/s + 1)^2 / N^2 = density; ``inf`` means continuous centres (spacing 0). overlap: the bump width
    sigma = d / (2 sqrt(-ln overlap)) for the mean lattice spacing d (so exp(-d^2 / 4 sigma^2) = overlap).
    """
    out: dict[str, Any] = {}
    n = config.data.image_size
    spacing_x, spacing_y = config.data.spacing_x, config.data.spacing_y
    if density is not None:
        spacing = 0.0 if math.isinf(density) else (n - 1) / (n * math.sqrt(density) - 1)
        out["data.spacing_x"] = out["data.spacing_y"] = spacing
        spacing_x = spacing_y = spacing
    if overlap is not None:
        d = (spacing_x + spacing_y) / 2
        out["data.sigma"] = d / (2 * math.sqrt(-math.log(overlap)))
    return out


def spec_from_dict(d: dict[str, Any]) -> SweepSpec:
    """Rebuild a spec already validated (from a manifest or a trial's parameters); no checks, no I/O."""
    sections = {"search": Search, "scheduler": Scheduler, "resources": Resources, "stop": Stop}
    return SweepSpec(**{k: sections[k](**v) if k in sections and v is not None else v for k, v in d.items()})


# --- validation -------------------------------------------------------------------------------------------


def _fail(field_name: str, message: str) -> UsageError:
    return UsageError(f"{field_name}: {message}")


def check_name(name: Any, example: str) -> str:
    """A spec's name: it names a folder under the results root, so it may never leave it."""
    if not isinstance(name, str) or not SAFE_NAME.match(name) or ".." in name:
        raise _fail("name", f"{name!r} must be letters, digits, '_', '-' or '.' (no '/' or '..'), e.g. {example}")
    return name


def _section(raw: Any, cls: type, field_name: str, types: tuple[str, ...] = ()) -> Any:
    """A mapping section of the spec; for sections with a ``type``, a bare name is short for ``{type: name}``."""
    if raw is None:
        return cls()
    if types and isinstance(raw, str):
        if raw not in types:
            raise _fail(f"{field_name}.type", f"must be {' or '.join(types)}, got {raw!r}")
        raw = {"type": raw}
    if not isinstance(raw, dict):
        forms = f"'{types[0]}' or " if types else ""
        raise _fail(field_name, f"expected {forms}a mapping like {{{', '.join(cls.__dataclass_fields__)}}}, "
                                f"got {raw!r}")
    allowed = set(cls.__dataclass_fields__)
    for key in raw:
        if key not in allowed:
            raise _fail(f"{field_name}.{key}", f"unknown key; valid keys: {', '.join(sorted(allowed))}")
    section = cls(**raw)
    for key, default in asdict(cls()).items():
        value = getattr(section, key)
        if isinstance(default, int | float) and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _fail(f"{field_name}.{key}", f"expected a number, got {value!r}")
        if isinstance(default, str) and not isinstance(value, str):
            raise _fail(f"{field_name}.{key}", f"expected a string, got {value!r}")
        if isinstance(default, dict) and not isinstance(value, dict):
            raise _fail(f"{field_name}.{key}", f"expected a mapping, got {value!r}")
    return section


def check_storage(storage: str) -> None:
    """Raise UsageError unless ``storage`` is a local path whose nearest existing folder is
    writable (URIs are refused); creates nothing."""
    if "://" in storage:
        raise _fail("storage", f"{hide_password(storage)!r}: URIs are not supported for results; mount the bucket "
                               f"and give a path")
    path = Path(storage).expanduser().resolve()
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise _fail("storage", f"{storage!r} is not writable ({existing} is not a writable folder); choose another")


def _check_axis(key: str, values: Any, search: str) -> None:
    field_name = f"axes.{key}"
    if isinstance(values, list):
        if not values:
            raise _fail(field_name, "empty list; give at least one value or remove the axis")
        if key == "density" and any(not isinstance(v, int | float) or v <= 0 for v in values):
            raise _fail(field_name, f"densities must be positive numbers (inf = continuous), got {values}")
        if key == "overlap" and any(not isinstance(v, int | float) or not 0 < v < 1 for v in values):
            raise _fail(field_name, f"overlaps must be in (0, 1), got {values}")
        return
    if not isinstance(values, dict) or len(values) != 1 or next(iter(values)) not in DISTRIBUTIONS:
        raise _fail(field_name, f"expected a list of values or one of {{{'|'.join(DISTRIBUTIONS)}: [lo, hi]}}")
    if search == "grid":
        raise _fail(field_name, "a distribution needs search.type random or optuna; a grid needs a list")
    (kind, bounds), = values.items()
    if (not isinstance(bounds, list) or len(bounds) != 2 or not all(isinstance(b, int | float) for b in bounds)
            or bounds[0] >= bounds[1]):
        raise _fail(field_name, f"{kind} bounds must be [lo, hi] with lo < hi, got {bounds!r}")
    if kind == "int" and any(integer(b) is None for b in bounds):
        raise _fail(field_name, f"int bounds must be whole numbers, got {bounds}")
    if kind == "loguniform" and bounds[0] <= 0:
        raise _fail(field_name, f"loguniform bounds must be positive, got {bounds}")


def parse_spec(raw: Any, source: str = "spec") -> SweepSpec:
    """Validate a spec mapping; the first problem raises UsageError naming the field."""
    if not isinstance(raw, dict):
        raise _fail(source, "a sweep spec must be a YAML mapping with at least 'name'")
    for key in raw:
        if key not in TOP_LEVEL:
            raise _fail(str(key), f"unknown key; valid keys: {', '.join(sorted(TOP_LEVEL))}")
    name = check_name(raw.get("name"), "my_sweep")
    base = raw.get("base", "tiny")
    if base not in PRESETS:
        raise _fail("base", f"unknown preset {base!r}; choose one of {', '.join(PRESETS)}")
    for key in ("set", "axes"):
        if not isinstance(raw.get(key, {}), dict):
            raise _fail(key, "expected a mapping of dotted config keys, e.g. data.sigma")
    seeds = raw.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or any(integer(s) is None for s in seeds):
        raise _fail("seeds", f"expected a non-empty list of integers, got {seeds!r}")
    counts = {key: integer_field(raw, key, default, 0 if key == "max_failures" else 1)
              for key, default in (("eval_every", None), ("steps", None), ("max_concurrent", None),
                                   ("max_failures", 2), ("pack", 1))}
    storage = raw.get("storage", "results")
    if not isinstance(storage, str) or not storage:
        raise _fail("storage", f"expected a folder path, got {storage!r}")

    spec = SweepSpec(
        name=name, base=base, set=dict(raw.get("set") or {}), axes=dict(raw.get("axes") or {}),
        seeds=[integer(s) for s in seeds],
        search=_section(raw.get("search"), Search, "search", SEARCH_TYPES),
        scheduler=_section(raw.get("scheduler"), Scheduler, "scheduler", SCHEDULER_TYPES),
        resources=_section(raw.get("resources"), Resources, "resources"),
        max_concurrent=counts["max_concurrent"] or 0, max_failures=counts["max_failures"], storage=storage,
        eval_every=counts["eval_every"], steps=counts["steps"], pack=counts["pack"],
        stop=_stop(raw["stop"]) if raw.get("stop") is not None else None,
    )
    _check_sections(spec)
    check_storage(storage)
    _check_configs(spec)
    return spec


def _stop(raw: Any) -> Stop:
    """The ``stop`` section: ``{phase: A|B|C, patience: n >= 1}``."""
    stop = _section(raw, Stop, "stop")
    if stop.phase not in PHASES:
        raise _fail("stop.phase", f"must be one of {', '.join(PHASES)}, got {stop.phase!r}")
    if integer(stop.patience) is None or stop.patience < 1:
        raise _fail("stop.patience", f"must be a whole number >= 1 (consecutive evaluations), got {stop.patience!r}")
    stop.patience = integer(stop.patience)
    return stop


def _check_boundary(spec: SweepSpec) -> None:
    """A boundary search needs list axes of at least 3 values each (sweep/boundary.py)."""
    if not spec.axes:
        raise _fail("axes", "a boundary search needs at least one axis with a list of values")
    for key, values in spec.axes.items():
        if not isinstance(values, list):
            raise _fail(f"axes.{key}", "a boundary search needs a list of values (a grid axis), not a distribution")
        if len(values) < 3:
            raise _fail(f"axes.{key}", f"a boundary search needs at least 3 values per axis, got {len(values)}")


def _check_sections(spec: SweepSpec) -> None:
    s, sc, r = spec.search, spec.scheduler, spec.resources
    if s.type not in SEARCH_TYPES:
        raise _fail("search.type", f"must be grid, random, optuna or boundary, got {s.type!r}")
    if s.num_samples < 1:
        raise _fail("search.num_samples", f"must be >= 1, got {s.num_samples}")
    for section, obj in (("search", s), ("scheduler", sc)):
        if obj.mode not in ("min", "max"):
            raise _fail(f"{section}.mode", f"must be min or max, got {obj.mode!r}")
    if sc.type not in SCHEDULER_TYPES:
        raise _fail("scheduler.type", f"must be fifo or asha, got {sc.type!r}")
    if sc.grace_period < 1 or sc.reduction_factor < 2:
        raise _fail("scheduler", "grace_period must be >= 1 and reduction_factor >= 2")
    if r.cpu <= 0:
        raise _fail("resources.cpu", f"must be > 0, got {r.cpu}")
    if r.gpu < 0 or (r.gpu > 1 and r.gpu != int(r.gpu)):
        raise _fail("resources.gpu", f"must be a fraction in [0, 1] or a whole number, got {r.gpu}")
    if any(not isinstance(v, int | float) or v <= 0 for v in r.custom.values()):
        raise _fail("resources.custom", f"amounts must be positive numbers, got {r.custom}")
    if spec.search.type == "optuna" and spec.scheduler.type == "asha" and s.metric != sc.metric:
        raise _fail("scheduler.metric", "must equal search.metric when both are set")
    if spec.pack > 1 and s.type == "optuna":
        raise _fail("pack", "Optuna samples one trial at a time; pack needs search.type grid or random")
    if spec.pack > 1 and sc.type != "fifo":
        raise _fail("pack", "ASHA would stop a whole packed group on its mean; pack needs scheduler.type fifo")
    if spec.stop is not None and spec.scheduler.type != "fifo":
        raise _fail("stop", "ASHA already stops trials; stop needs scheduler.type fifo")
    if s.type == "boundary":
        if sc.type != "fifo":
            raise _fail("scheduler.type", "a boundary search reads final phases; it needs scheduler.type fifo")
        _check_boundary(spec)
    for key, values in spec.axes.items():
        _check_axis(key, values, s.type)
    if "overlap" in spec.axes and "density" not in spec.axes:
        base = from_preset(spec.base, {k: v for k, v in spec.set.items() if k.startswith("data.")})
        if base.data.spacing_x == 0 and base.data.spacing_y == 0:
            raise _fail("axes.overlap", "needs a lattice: add a density axis or set data.spacing_x/spacing_y")


def _check_configs(spec: SweepSpec) -> None:
    """Build every trial config (and, for distributions, both bounds) so bad values fail now, not in Ray."""
    try:
        from_preset(spec.base, spec.fixed_overrides())
    except ConfigError as error:
        raise _fail("set." + str(error).split(":")[0], str(error).split(": ", 1)[-1]) from None
    def candidates(values: Any) -> list[Any]:
        return values if isinstance(values, list) else next(iter(values.values()))

    first = {key: candidates(values)[0] for key, values in spec.axes.items()}
    for key, values in spec.axes.items():
        for value in candidates(values):
            try:
                spec.config_for({**first, key: value}, spec.seeds[0])
            except (ConfigError, ValueError, ZeroDivisionError) as error:
                raise _fail(f"axes.{key}", f"value {value!r}: {error}") from None
    if spec.search.type != "optuna":
        try:
            if not spec.trials():
                raise _fail("axes", "the spec defines no trial")
        except ConfigError as error:
            raise _fail("axes", str(error)) from None


def _ends(values: list[Any]) -> list[Any]:
    """The smallest and largest of an axis' numbers; the first and last of other values."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    return [min(values), max(values)] if numbers else [values[0], values[-1]]


def unmeasurable_trials(spec: SweepSpec) -> list[tuple[Config, str]]:
    """The trials of ``spec`` whose phases the bump detector cannot tell (model/ceiling.py), with the reason.

    For an Optuna search, whose points are drawn later, only the corners of its search space (each axis' smallest
    and largest value) are checked: the ceiling is not monotonic in sigma, so a point inside can still be unmeasurable.
    """
    if spec.search.type == "optuna":
        grid = {k: v if isinstance(v, list) else next(iter(v.values())) for k, v in spec.axes.items()}
        configs = [spec.config_for(dict(zip(grid, corner, strict=True)), seed)
                   for corner in itertools.product(*(_ends(v) for v in grid.values())) for seed in spec.seeds]
    else:
        configs = spec.trials()
    return [(c, why) for c in configs if (why := unmeasurable(c))]


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and validate a sweep spec file; every problem raises ``UsageError`` naming the field and the fix."""
    return parse_spec(load_yaml(path, "sweep spec", "see sweeps/"), str(path))
