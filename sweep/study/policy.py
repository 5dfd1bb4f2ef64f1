"""Data-collection policies: how to spend a budget of B distinct training images.

A policy is a handful of interpretable knobs. ``Policy.data_overrides(budget, data)`` turns them into the
``data.*`` keys of a concrete ``model/data.py`` data set -- lattice spacings, keep fraction, bump width,
held-out rectangles -- with at most B distinct bump centres. ``PolicySpace`` is what a study searches: each
knob fixed or a range, validated like a sweep spec (bad input raises ``UsageError`` naming the field).

    fill    share of the budget used: the lattice is made as dense as fits fill * B images
    aspect  log2(spacing_y / spacing_x): 0 isotropic, 2 means rows 4x sparser than columns
    keep    random share of the lattice kept; the lattice is densified so the kept points still fit
    sigma   bump width in pixels (not given: the base config's data.sigma)
    edge    width of a frame along the four borders left out, as a share of the image: centre-heavy data
    hole    side of a central square left out, as a share of the image: border-heavy data
    band    width of a central band of x left out, as a share of the image (the follow-up paper's
            compositional test: every y is seen, but never together with those x)

Lattices span the image end to end (clip: centres 0 .. N-1; periodic: N / n apart), so no border is
favoured by accident.

Example::

    from model.config import from_preset
    from model.geometry import training_points
    from sweep.study.policy import Policy

    data = from_preset("tiny").data
    overrides = Policy(fill=0.5, aspect=1.0).data_overrides(budget=64, data=data)
    data.spacing_x, data.spacing_y = overrides["data.spacing_x"], overrides["data.spacing_y"]
    assert len(training_points(data, seed=0)) <= 32
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from model.config import DataConfig
from model.errors import UsageError
from model.geometry import coordinate_range, eval_margin, in_holdout, training_points

PARAMS = ("fill", "aspect", "keep", "sigma", "edge", "hole", "band")
MAX_ASPECT = 6.0  # spacing ratio 64: beyond that one axis has two lattice lines
LINES_PER_PIXEL = 4  # densest lattice: 4 lines per pixel along an axis


class PolicyInfeasible(ValueError):
    """No lattice realizes this policy within the budget; the message says which knob to move."""

@dataclass(frozen=True)
class Policy:
    """One way to collect the training set; the knobs are described at the top of this module."""
    fill: float = 1.0
    aspect: float = 0.0
    keep: float = 1.0
    sigma: float | None = None
    edge: float = 0.0
    hole: float = 0.0
    band: float = 0.0

    def holdout(self, data: DataConfig) -> list[list[float]]:
        """Held-out rectangles [x0, x1, y0, y1] in pixels; they reach past the border so edges are covered."""
        r = coordinate_range(data)
        lo, hi, mid = -1.0, r + 1.0, r / 2
        rects = []
        if self.edge > 0:
            w = self.edge * r
            rects += [[lo, w, lo, hi], [r - w, hi, lo, hi], [lo, hi, lo, w], [lo, hi, r - w, hi]]
        if self.hole > 0:
            h = self.hole * r / 2
            rects.append([mid - h, mid + h, mid - h, mid + h])
        if self.band > 0:
            b = self.band * r / 2
            rects.append([mid - b, mid + b, lo, hi])
        return [[round(v, 4) for v in rect] for rect in rects]

    def data_overrides(self, budget: int, data: DataConfig) -> dict[str, Any]:
        """The ``data.*`` keys of the densest lattice of this shape whose kept centres fit fill * budget.

        Lattices of n_x x n_y lines (2 .. 4N + 1 per axis) are tried at the requested aspect, the other
        axis's line count rounded both ways; the one with most centres (then the closest aspect) wins.
        Raises PolicyInfeasible when none fits.
        """

        r, periodic = coordinate_range(data), data.boundary == "periodic"
        target = max(1, math.floor(self.fill * budget))
        holdout = self.holdout(data)
        sigma = data.sigma if self.sigma is None else self.sigma
        most = LINES_PER_PIXEL * data.image_size + 1
        ratio = 2.0**self.aspect
        pairs = set()
        for n in range(2, most + 1):  # both axes in turn, so +a and -a are mirror images
            pairs |= {(n, m) for m in _round_both(_lines(_spacing(n, r, periodic) * ratio, r, periodic), most)}
            pairs |= {(m, n) for m in _round_both(_lines(_spacing(n, r, periodic) / ratio, r, periodic), most)}
        best: tuple[int, float] | None = None
        chosen: dict[str, Any] = {}
        for nx, ny in sorted(pairs, key=lambda p: (-p[0] * p[1], p)):  # largest first, to skip the rest fast
            if best is not None and max(1, round(self.keep * nx * ny)) < best[0]:
                continue  # even without held-out regions it has fewer centres than the best so far
            overrides = {
                "data.spacing_x": _spacing(nx, r, periodic), "data.spacing_y": _spacing(ny, r, periodic),
                "data.keep": self.keep, "data.sigma": sigma, "data.holdout": holdout,
            }
            n = n_positions(data, overrides)
            error = abs(math.log2(overrides["data.spacing_y"] / overrides["data.spacing_x"]) - self.aspect)
            if 1 <= n <= target and (best is None or (n, -error) > best):
                best, chosen = (n, -error), overrides
        if best is None:
            raise PolicyInfeasible(
                f"no lattice with aspect {self.aspect:.2f}, keep {self.keep:.2f} and the held-out regions fits "
                f"{target} images; raise fill or the budget, or lower |aspect|, edge, hole or band"
            )
        return chosen


def _spacing(lines: int, r: float, periodic: bool) -> float:
    """Spacing that puts ``lines`` lattice lines across the range r: ends included (clip) or wrapping (periodic)."""
    return r / lines if periodic else r / (lines - 1)


def _lines(spacing: float, r: float, periodic: bool) -> float:
    return r / spacing if periodic else r / spacing + 1


def _round_both(lines: float, most: int) -> set[int]:
    """Whole line counts next to ``lines``; none when the aspect needs under 2 or over ``most`` lines."""
    if not 1.5 <= lines <= most + 0.5:
        return set()
    return {max(2, math.floor(lines)), min(most, math.ceil(lines))}


def n_positions(data: DataConfig, overrides: dict[str, Any]) -> int:
    """Distinct training centres of ``data`` with ``data.*`` overrides, counted by model/geometry.py itself."""
    cfg = dataclasses.replace(data, **{k.removeprefix("data."): v for k, v in overrides.items()})
    try:
        return len(training_points(cfg, 0))
    except ValueError:  # the held-out rectangles cover every lattice point
        return 0


def held_out_share(data: DataConfig) -> float:
    """Share of the evaluation square inside the held-out rectangles: the weight of held-out scores in a
    whole-image score, so leaving regions out is never rewarded by an easier exam."""

    if not data.holdout:
        return 0.0
    axis = np.linspace(eval_margin(data), coordinate_range(data) - eval_margin(data), 201)
    xx, yy = np.meshgrid(axis, axis)
    return float(np.mean(in_holdout(np.stack([xx, yy], axis=-1), data.holdout)))


@dataclass(frozen=True)
class Range:
    """A searched knob: Optuna's suggest_float(low, high, log=log)."""
    low: float
    high: float
    log: bool = False


def limits(image_size: int) -> dict[str, tuple[float, float, bool]]:
    """(low, high, low_inclusive) per knob; every upper bound is inclusive."""
    return {
        "fill": (0.0, 1.0, False), "aspect": (-MAX_ASPECT, MAX_ASPECT, True), "keep": (0.0, 1.0, False),
        "sigma": (0.0, image_size / 2, False), "edge": (0.0, 0.45, True), "hole": (0.0, 0.9, True),
        "band": (0.0, 0.9, True),
    }


class PolicySpace:
    """Each knob of :class:`Policy` fixed or a :class:`Range`; knobs not given keep Policy's defaults.

    Example::

        import optuna
        from sweep.study.policy import PolicySpace

        space = PolicySpace.parse({"fill": [0.25, 1.0], "aspect": [-2, 2], "keep": 1.0}, image_size=16)
        study = optuna.create_study()
        policy = space.suggest(study.ask())  # Policy(fill=..., aspect=..., keep=1.0, ...)
    """

    def __init__(self, knobs: dict[str, float | Range]) -> None:
        self.knobs = knobs

    @property
    def searched(self) -> dict[str, Range]:
        """The searched knobs: ``{name: Range}``."""
        return {k: v for k, v in self.knobs.items() if isinstance(v, Range)}

    @property
    def fixed(self) -> dict[str, float]:
        """The fixed knobs: ``{name: value}``."""
        return {k: v for k, v in self.knobs.items() if not isinstance(v, Range)}

    def suggest(self, trial: optuna.Trial) -> Policy:
        """The Policy of an Optuna trial: each searched knob drawn by ``trial.suggest_float`` in its
        range, the fixed knobs as given."""
        params = {k: trial.suggest_float(k, r.low, r.high, log=r.log) for k, r in self.searched.items()}
        return self.policy(params)

    def policy(self, params: dict[str, float]) -> Policy:
        """The Policy of a trial's searched parameters plus the fixed knobs."""
        return Policy(**{**self.fixed, **params})

    def uniform(self, base_sigma: float) -> dict[str, float]:
        """Searched parameters of the uniform baseline -- the isotropic lattice of the whole image using the
        whole budget, nothing left out, the base bump width -- each clamped into its searched range."""
        plain = {**dataclasses.asdict(Policy()), "sigma": base_sigma}
        return {k: min(max(plain[k], r.low), r.high) for k, r in self.searched.items()}

    def check_params(self, params: Any, field: str) -> dict[str, float]:
        """Validate a baseline: a value for every searched knob, inside its range."""
        if not isinstance(params, dict) or set(params) != set(self.searched):
            raise UsageError(f"{field}: give a value for each searched knob ({', '.join(self.searched)}) "
                             f"or write 'uniform'")
        for key, value in params.items():
            r = self.searched[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not r.low <= value <= r.high:
                raise UsageError(f"{field}.{key}: {value!r} lies outside the searched range [{r.low}, {r.high}]")
        return {k: float(v) for k, v in params.items()}

    @classmethod
    def parse(cls, raw: Any, image_size: int) -> PolicySpace:
        """From a spec's ``policy`` mapping: knob -> number (fixed), [low, high] or {low, high, log}."""
        if not isinstance(raw, dict) or not raw:
            raise UsageError("policy: expected a mapping of knobs, e.g. {fill: [0.25, 1.0], aspect: [-2, 2]}")
        bounds = limits(image_size)
        knobs: dict[str, float | Range] = {}
        for key, value in raw.items():
            field = f"policy.{key}"
            if key not in bounds:
                raise UsageError(f"{field}: unknown knob; choose from {', '.join(PARAMS)}")
            knob = _parse_knob(value, field)
            lo, hi, lo_inclusive = bounds[key]
            ends = [knob.low, knob.high] if isinstance(knob, Range) else [knob]
            if not all((lo <= v if lo_inclusive else lo < v) and v <= hi for v in ends):
                interval = f"{'[' if lo_inclusive else '('}{lo:g}, {hi:g}]"
                raise UsageError(f"{field}: {value!r} must lie in {interval}")
            if isinstance(knob, Range) and knob.log and knob.low <= 0:
                raise UsageError(f"{field}: log: true needs low > 0, got {knob.low}")
            knobs[key] = knob
        top = {k: (v.high if isinstance(v, Range) else v) for k, v in knobs.items()}
        if 2 * top.get("edge", 0) + max(top.get("hole", 0), top.get("band", 0)) >= 1:
            raise UsageError("policy: edge, hole and band leave no image area at their upper ends; keep "
                             "2 * edge + max(hole, band) < 1")
        return cls(knobs)


def _parse_knob(value: Any, field: str) -> float | Range:
    def number(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise UsageError(f"{field}: expected a number, [low, high] or {{low, high, log}}, got {value!r}")
        return float(v)

    if isinstance(value, list):
        if len(value) != 2:
            raise UsageError(f"{field}: a range is [low, high], got {value!r}")
        knob = Range(number(value[0]), number(value[1]))
    elif isinstance(value, dict):
        extra = set(value) - {"low", "high", "log"}
        if extra or not {"low", "high"} <= set(value) or not isinstance(value.get("log", False), bool):
            raise UsageError(f"{field}: a range is {{low: L, high: H, log: true|false}}, got {value!r}")
        knob = Range(number(value["low"]), number(value["high"]), value.get("log", False))
    else:
        return number(value)
    if knob.low >= knob.high:
        raise UsageError(f"{field}: low {knob.low:g} must be < high {knob.high:g}; write [low, high]")
    return knob
