"""Study specs: a YAML file that asks "given a budget of B training images, how should I collect them?".

Example ``studies/budget_tiny.yaml``::

    name: budget_tiny
    base: tiny                        # preset from model/config.py
    set: {train.steps: 600, eval.every: 150}
    budget: 64                        # B: at most this many distinct training images per trial
    policy:                           # knob -> fixed number, [low, high] or {low, high, log} (policy.py)
      fill: [0.25, 1.0]
      aspect: [-2.0, 2.0]
      sigma: [0.7, 2.0]
    objectives: [acc]                 # one (pruned) or several (Pareto front)
    sampler: {name: tpe, seed: 0, n_startup_trials: 4}
    pruner: {name: median, n_startup_trials: 2}
    baselines: [uniform]              # enqueued first; 'uniform' or {knob: value} for each searched knob
    n_trials: 8
    workers: 2

``load_spec(path)`` returns a :class:`StudySpec`; every problem raises ``UsageError`` naming the field.
Sampler and pruner arguments are pinned here, not left to Optuna's defaults, which change between versions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from model.config import PRESETS, Config, ConfigError, from_preset
from model.errors import UsageError
from sweep.spec import TPE_ARGS, check_name
from sweep.specfile import integer_field, load_yaml
from sweep.study.policy import LINES_PER_PIXEL, PolicySpace


@dataclass(frozen=True)
class Objective:
    """A quantity a study can optimize: its Optuna direction (maximize or minimize) and what it measures."""

    direction: str  # maximize | minimize
    doc: str


OBJECTIVES = {
    "acc": Objective("maximize", "final share of samples with one bump within eval.tol of the target, over the "
                                 "whole image: held-out regions count at their share of the area"),
    "steps_to_c": Objective("minimize", "first evaluated step in phase C over the whole image; a trial that never "
                                        "gets there scores train.steps + eval.every"),
    # The probe objectives read the default probe layer. code_overlap, orthogonality and continuity are the headline
    # metrics (they follow learning on two seeds: bench/README.md, "Probe evidence"); additivity and r2 are kept for
    # stored studies, but additivity sits near 1 from init and r2 depends on the seed, so neither tracks learning.
    "code_overlap": Objective("minimize", "final mean cos^2 between the x and y value codes of the probe "
                                          "(0 = x and y in orthogonal codes: factorized)"),
    "orthogonality": Objective("maximize", "final orthogonality of the x- and y-subspaces of the probe"),
    "continuity": Objective("maximize", "final continuity of the probe representation against the (x, y) grid "
                                        "(local order: grid neighbours stay neighbours)"),
    "additivity": Objective("maximize", "final additivity of the probe representation (near 1 already at init: "
                                        "prefer code_overlap)"),
    "r2": Objective("maximize", "final min(r2_x, r2_y) of the paper-style PCA-3 probe (seed-dependent: prefer "
                                "continuity)"),
    "images": Objective("minimize", "distinct training images used (n_positions, at most the budget)"),
}

# Every argument Optuna would otherwise default, pinned; a spec may override any of them.
SAMPLERS: dict[str, tuple[type, dict[str, Any]]] = {
    "tpe": (optuna.samplers.TPESampler, TPE_ARGS),
    "gp": (optuna.samplers.GPSampler, {"n_startup_trials": 10, "deterministic_objective": False}),
    "nsga2": (optuna.samplers.NSGAIISampler, {"population_size": 50, "mutation_prob": None,
                                              "crossover_prob": 0.9, "swapping_prob": 0.5}),
    "random": (optuna.samplers.RandomSampler, {}),
}
PRUNERS: dict[str, tuple[type, dict[str, Any]]] = {
    "median": (optuna.pruners.MedianPruner, {"n_startup_trials": 5, "n_warmup_steps": 0, "interval_steps": 1}),
    "percentile": (optuna.pruners.PercentilePruner, {"percentile": 25.0, "n_startup_trials": 5,
                                                     "n_warmup_steps": 0, "interval_steps": 1}),
    "none": (optuna.pruners.NopPruner, {}),
}
POLICY_KEYS = ("data.spacing_x", "data.spacing_y", "data.keep", "data.holdout")  # the policy sets these
TOP_LEVEL = ("name", "base", "set", "seed", "budget", "policy", "objectives", "sampler", "pruner", "baselines",
             "n_trials", "workers", "storage", "heartbeat")


@dataclass(frozen=True)
class Heartbeat:
    """Workers beat every ``interval`` s; a RUNNING trial silent for ``grace_period`` s has a dead worker."""

    interval: int = 10
    grace_period: int = 60
    max_retry: int = 1  # a trial failed for a dead worker is re-enqueued with its parameters this many times


@dataclass(frozen=True)
class StudySpec:
    """A validated study spec (``load_spec``): budget, policy space, objectives, base config, sampler,
    pruner, baselines, trial and worker counts, storage and heartbeat."""

    name: str
    budget: int
    policy: PolicySpace
    objectives: tuple[str, ...]
    base: str = "tiny"
    set: dict[str, Any] = field(default_factory=dict)
    seed: int = 0  # training seed of every trial
    sampler: dict[str, Any] = field(default_factory=lambda: {"name": "tpe"})
    pruner: dict[str, Any] = field(default_factory=lambda: {"name": "none"})
    baselines: tuple[dict[str, float], ...] = ()
    n_trials: int = 20
    workers: int = 2
    storage: str | None = None
    heartbeat: Heartbeat = field(default_factory=Heartbeat)
    raw: dict[str, Any] = field(default_factory=dict)  # the spec as written, for the study's record

    @property
    def directions(self) -> list[str]:
        """Optuna's direction of each objective, in order, e.g. ``["maximize"]``."""
        return [OBJECTIVES[name].direction for name in self.objectives]

    def config(self, overrides: dict[str, Any] | None = None) -> Config:
        """A trial's config: the base preset, the spec's ``set``, its seed, then the policy's data keys."""
        return from_preset(self.base, {**self.set, "train.seed": self.seed, **(overrides or {})})

    def identity(self) -> dict[str, Any]:
        """What a resumed study must share with the stored one (sampler, workers and counts may change)."""
        return json.loads(json.dumps({"base": self.base, "set": self.set, "seed": self.seed, "budget": self.budget,
                                      "policy": self.raw["policy"], "objectives": list(self.objectives)}))

    def make_sampler(self, salt: int = 0) -> optuna.samplers.BaseSampler:
        """The pinned sampler; ``salt`` (a worker's number) keeps the random draws of parallel workers apart."""
        cls, defaults = SAMPLERS[self.sampler["name"]]
        args = {**defaults, **{k: v for k, v in self.sampler.items() if k not in ("name", "seed")}}
        return cls(seed=(self.sampler.get("seed", 0) + 7919 * salt) % 2**32, **args)

    def make_pruner(self) -> optuna.pruners.BasePruner:
        """The spec's Optuna pruner: the pinned defaults with the spec's arguments on top."""
        cls, defaults = PRUNERS[self.pruner["name"]]
        return cls(**{**defaults, **{k: v for k, v in self.pruner.items() if k != "name"}})


def _integer(raw: dict[str, Any], key: str, default: int | None, minimum: int, prefix: str = "") -> int:
    return integer_field(raw, key, default, minimum, prefix, required=True)


def _typed_like(value: Any, default: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if isinstance(default, int):
        return isinstance(value, int)
    return value is None or isinstance(value, int | float)  # float arguments, some of which default to None


def _choice(raw: Any, table: dict[str, tuple[type, dict[str, Any]]], field_name: str, default: str) -> dict:
    """A sampler or pruner section: a name or {name: ..., argument: value}, typed like the pinned defaults."""
    if not isinstance(raw, str | dict | None):
        raise UsageError(f"{field_name}: expected a mapping like {{name: {default}}}, got {raw!r}")
    section = {"name": raw} if isinstance(raw, str) else dict(raw or {})
    name = section.setdefault("name", default)
    if name not in table:
        raise UsageError(f"{field_name}.name: unknown {field_name} {name!r}; choose one of {', '.join(table)}")
    allowed = {**table[name][1], **({"seed": 0} if field_name == "sampler" else {})}
    for key, value in section.items():
        if key == "name":
            continue
        if key not in allowed:
            raise UsageError(f"{field_name}.{key}: not an argument of {name}; allowed: {', '.join(allowed) or 'none'}")
        if not _typed_like(value, allowed[key]):
            raise UsageError(f"{field_name}.{key}: expected {type(allowed[key]).__name__}, got {value!r}")
    return section


def parse_spec(raw: Any, source: str = "spec") -> StudySpec:
    """Validate a spec mapping; the first problem raises UsageError naming the field and the fix."""
    if not isinstance(raw, dict):
        raise UsageError(f"{source}: a study spec must be a YAML mapping with name, budget, policy, objectives")
    for key in raw:
        if key not in TOP_LEVEL:
            raise UsageError(f"{key}: unknown key; valid keys: {', '.join(TOP_LEVEL)}")
    name = check_name(raw.get("name"), "budget_64")
    base = raw.get("base", "tiny")
    if base not in PRESETS:
        raise UsageError(f"base: unknown preset {base!r}; choose one of {', '.join(PRESETS)}")
    fixed = raw.get("set") or {}
    if not isinstance(fixed, dict):
        raise UsageError("set: expected a mapping of dotted config keys, e.g. {train.steps: 600}")
    for key in fixed:
        if key in POLICY_KEYS or key == "train.seed" or (key == "data.sigma" and "sigma" in (raw.get("policy") or {})):
            raise UsageError(f"set.{key}: chosen by the {'seed key' if key == 'train.seed' else 'policy'}; remove it")
    seed = _integer(raw, "seed", 0, 0)
    try:
        config = from_preset(base, {**fixed, "train.seed": seed})
    except ConfigError as error:
        raise UsageError(f"set.{error}") from None
    n = config.data.image_size
    budget = _integer(raw, "budget", None, 1)
    if budget > (LINES_PER_PIXEL * n + 1) ** 2:
        raise UsageError(f"budget: {budget} exceeds the densest lattice ({(LINES_PER_PIXEL * n + 1) ** 2} centres "
                         f"at {n}x{n}); lower it")
    policy = PolicySpace.parse(raw.get("policy"), n)
    if not policy.searched:
        raise UsageError("policy: nothing to search; give at least one knob a range, e.g. fill: [0.25, 1.0]")

    objectives = raw.get("objectives", ["acc"])
    objectives = [objectives] if isinstance(objectives, str) else objectives
    if not isinstance(objectives, list) or not 1 <= len(objectives) <= 3 or len(set(map(str, objectives))) < len(
            objectives):
        raise UsageError(f"objectives: expected 1 to 3 distinct names from {', '.join(OBJECTIVES)}, got {objectives!r}")
    for objective in objectives:
        if objective not in OBJECTIVES:
            raise UsageError(f"objectives: unknown objective {objective!r}; choose from {', '.join(OBJECTIVES)}")

    sampler = _choice(raw.get("sampler"), SAMPLERS, "sampler", "tpe")
    pruner = _choice(raw.get("pruner"), PRUNERS, "pruner", "median" if len(objectives) == 1 else "none")
    if len(objectives) > 1 and pruner["name"] != "none":
        raise UsageError("pruner: Optuna prunes single-objective studies only; set pruner: none or one objective")

    baselines_raw = raw.get("baselines", ["uniform"])
    if not isinstance(baselines_raw, list):
        raise UsageError("baselines: expected a list of 'uniform' or {knob: value} mappings")
    baselines = tuple(
        policy.uniform(config.data.sigma) if b == "uniform" else policy.check_params(b, f"baselines[{i}]")
        for i, b in enumerate(baselines_raw)
    )
    storage = raw.get("storage")
    if storage is not None and not isinstance(storage, str):
        raise UsageError(f"storage: expected a storage URL string, got {storage!r}")
    beat = raw.get("heartbeat") or {}
    if not isinstance(beat, dict) or set(beat) - {"interval", "grace_period", "max_retry"}:
        raise UsageError("heartbeat: expected {interval: s, grace_period: s, max_retry: n}")
    heartbeat = Heartbeat(*(_integer(beat, key, default, minimum, "heartbeat.")
                            for key, default, minimum in (("interval", 10, 1), ("grace_period", 60, 2),
                                                          ("max_retry", 1, 0))))
    if heartbeat.grace_period < 2 * heartbeat.interval:
        raise UsageError(f"heartbeat.grace_period: {heartbeat.grace_period} must be at least twice the interval "
                         f"({heartbeat.interval}) so one late beat does not fail a live trial")

    spec = StudySpec(
        name=name, budget=budget, policy=policy, objectives=tuple(objectives), base=base, set=dict(fixed),
        seed=seed, sampler=sampler, pruner=pruner, baselines=baselines, n_trials=_integer(raw, "n_trials", 20, 1),
        workers=_integer(raw, "workers", 2, 1), storage=storage, heartbeat=heartbeat,
        raw=json.loads(json.dumps({**raw, "objectives": objectives})),
    )
    try:
        spec.make_sampler()
        spec.make_pruner()
    except (TypeError, ValueError) as error:
        raise UsageError(f"sampler/pruner: Optuna refused the arguments ({error}); fix them") from None
    return spec


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study spec file; every problem raises ``UsageError`` naming the field and the fix."""
    return parse_spec(load_yaml(path, "study spec", "see studies/"), str(path))
