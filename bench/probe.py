"""Which probe layer and which probe numbers follow learning: per layer and metric, init vs phases A, B, C.

    .venv/bin/python -m bench.probe [--quick] [--seed S] [--steps 3000] [--every 100] [--set KEY=VALUE ...]
        [--config FILE.yaml|json] [--checkpoint PATH] [--layers L ...] [--metrics M ...] [--save OUT.json]
    .venv/bin/python -m bench.probe --compare RUN.json RUN.json ... [--layers L ...] [--metrics M ...]

Trains one trial (the tiny preset, one thread, evaluating every ``--every`` steps; ``--config`` starts from a
config file instead: a nested ``{data: ..., model: ...}`` mapping, dotted keys, or a ``trial.json``) with
``Trainer.run``, which evaluates the untrained network first (step 0). With ``--checkpoint`` it trains nothing and
reads the evaluation history stored in a ``Trainer`` checkpoint (or in a JSON file this script saved).

Then, per layer (embed, down*, bottleneck, up*) and per metric of ``PROBE_METRICS``, it prints the value at init
(step 0); the mean over the trained evaluations (step > 0) of each phase A, B, C ("-" where the phase never
occurred; the counts are printed); C minus init; and Spearman's rank correlation of the metric with ``acc`` over
all evaluations, step 0 included. Last, per layer, the metrics that move from A to C relative to init in their
"better" direction (``DIRECTION``, from docs/probe.md): C beats both the init value and the A mean by at least
``MARGIN`` (``TUNING_MARGIN`` grid steps for the tuning widths). A ``*`` marks the ``HEADLINE_PROBE`` metrics.
``--compare`` prints saved runs side by side. ``--quick`` (600 steps, under a minute) checks the script: the tiny
preset is still in phase A then, so B, C and rho stay empty.

The evidence this produced, and the default probe layer and headline metrics chosen from it, are in
bench/README.md ("Probe evidence (issue 14)").
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from bench.common import machine_line, set_threads
from model.config import Config, apply_overrides, from_preset, validate
from model.definitions import HEADLINE_PROBE, PROBE_METRICS

PHASES = ("A", "B", "C")
QUICK_STEPS = 600
MARGIN = 0.02  # metric units: R², shares, cosines, trustworthiness
TUNING_MARGIN = 0.25  # grid steps, for tuning_width_*

# +1: higher is more ordered / decodable / factorized; -1: lower is (docs/probe.md); 0: no better direction.
DIRECTION: dict[str, int] = {
    "r2_x": 1, "r2_y": 1, "eff_dim": 0, "additivity": 1, "orthogonality": 1, "trust": 1, "continuity": 1,
    "knn_r2_x": 1, "knn_r2_y": 1, "ridge_r2_x": 1, "ridge_r2_y": 1,
    "code_overlap": -1,  # 0 when x and y codes share no direction
    "value_cos_x": -1, "value_cos_y": -1,  # low: distinct values get nearly orthogonal codes
    "tuning_width_x": -1, "tuning_width_y": -1,  # narrow: about the bump width, not a ramp over the grid
    "parallelism": 1, "ccgen_x": 1, "ccgen_y": 1,
}
assert set(DIRECTION) == set(PROBE_METRICS)


def margin_of(metric: str) -> float:
    return TUNING_MARGIN if metric.startswith("tuning_width") else MARGIN


# --- collecting a history ------------------------------------------------------------------------------------


def load_config(path: Path) -> Config:
    """A config file: YAML or JSON, nested or dotted keys; a ``trial.json`` record's ``config`` is used."""
    from sweep.specfile import load_yaml

    data = json.loads(path.read_text()) if path.suffix == ".json" else load_yaml(path)
    return Config.from_dict(data.get("config", data))


def train_history(config: Config) -> tuple[list[dict[str, Any]], float]:
    from model.train import Trainer

    trainer = Trainer(config)
    start = time.perf_counter()

    def on_eval(step: int, metrics: dict[str, Any], _t: Any) -> None:
        print(f"  step {step:>5}  {time.perf_counter() - start:6.0f}s  phase {metrics['phase']}  "
              f"single {metrics['frac_single']:.2f}  acc {metrics['acc']:.2f}", flush=True)

    history = trainer.run(on_eval)
    return history, time.perf_counter() - start


def read_history(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(history, config dict) from a Trainer checkpoint or from a JSON file saved by this script."""
    if path.suffix == ".json":
        saved = json.loads(path.read_text())
        columns = saved["history"]["columns"]
        return [dict(zip(columns, row, strict=True)) for row in saved["history"]["rows"]], saved["config"]
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state["history"], state["config"]


# --- the summary ---------------------------------------------------------------------------------------------


def layers_of(history: list[dict[str, Any]]) -> list[str]:
    """The probe layers in the order the history stores them (embed, down*, bottleneck, up*)."""
    layers: list[str] = []
    for key in history[0]:
        if key.startswith("probe.") and key.count(".") == 2:
            layer = key.split(".")[1]
            if layer not in layers:
                layers.append(layer)
    return layers


def as_float(value: Any) -> float:
    return math.nan if value is None else float(value)


def nanmean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def summarize(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Per layer and metric: init, phase means (trained evaluations only), C - init, Spearman rho with acc;
    and per layer the metrics that move A -> C relative to init in their better direction."""
    init = history[0]
    if init["step"] != 0:
        raise SystemExit(f"the history starts at step {init['step']}, not at the untrained network (step 0)")
    trained = history[1:]
    counts = {p: sum(row["phase"] == p for row in trained) for p in PHASES}
    acc = np.array([as_float(row["acc"]) for row in history])
    rows, moves = [], {}
    for layer in layers_of(history):
        moves[layer] = []
        for metric in PROBE_METRICS:
            column = f"probe.{layer}.{metric}"
            values = np.array([as_float(row.get(column)) for row in history])
            entry: dict[str, Any] = {"layer": layer, "metric": metric, "direction": DIRECTION[metric],
                                     "init": float(values[0])}
            for phase in PHASES:
                entry[phase] = nanmean([v for v, row in zip(values[1:], trained, strict=True) if row["phase"] == phase])
            entry["c_minus_init"] = entry["C"] - entry["init"]
            ok = np.isfinite(values) & np.isfinite(acc)
            rho = math.nan
            if ok.sum() >= 3 and np.ptp(values[ok]) > 0 and np.ptp(acc[ok]) > 0:
                rho = float(spearmanr(values[ok], acc[ok]).statistic)
            entry["spearman_acc"] = rho
            rows.append(entry)
            sign, margin = DIRECTION[metric], margin_of(metric)
            references = [entry[k] for k in ("init", "A") if math.isfinite(entry[k])]  # no A: init alone
            if sign and math.isfinite(entry["C"]) and all(sign * (entry["C"] - r) >= margin for r in references):
                moves[layer].append(metric)
    return {"counts": counts, "rows": rows, "moves": moves, "n_evaluations": len(history)}


def fmt(value: float | None, width: int = 7, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return f"{'-':>{width}}"
    return f"{value:+{width}.3f}" if signed else f"{value:{width}.3f}"


def print_summary(summary: dict[str, Any], layers: list[str] | None, metrics: list[str] | None) -> None:
    counts = summary["counts"]
    print(f"{summary['n_evaluations']} evaluations: init (step 0) + A {counts['A']}, B {counts['B']}, "
          f"C {counts['C']}; phase means over trained evaluations only; rho: Spearman with acc over all")
    print(f"{'layer':<10} {'metric':<15} {'dir':>3} {'init':>7} {'A':>7} {'B':>7} {'C':>7} {'C-init':>7} "
          f"{'rho':>6}   (* HEADLINE_PROBE)")
    last = None
    for e in summary["rows"]:
        if (layers and e["layer"] not in layers) or (metrics and e["metric"] not in metrics):
            continue
        if last is not None and e["layer"] != last:
            print()
        last = e["layer"]
        sign = {1: "up", -1: "dn", 0: ""}[e["direction"]]
        name = e["metric"] + ("*" if e["metric"] in HEADLINE_PROBE else "")
        print(f"{e['layer']:<10} {name:<15} {sign:>3} {fmt(e['init'])} {fmt(e['A'])} {fmt(e['B'])} "
              f"{fmt(e['C'])} {fmt(e['c_minus_init'], signed=True)} {fmt(e['spearman_acc'], 6, True)}")
    print(f"\nmoves A -> C relative to init (C better than both init and the A mean by >= {MARGIN} in metric "
          f"units, {TUNING_MARGIN} grid steps for tuning widths; 'up' metrics rise, 'dn' metrics fall):")
    for layer, moved in summary["moves"].items():
        if layers and layer not in layers:
            continue
        rises = [m for m in moved if DIRECTION[m] > 0]
        falls = [m for m in moved if DIRECTION[m] < 0]
        print(f"  {layer:<10} rises: {', '.join(rises) or '-'}; falls: {', '.join(falls) or '-'}")


def compare(paths: list[Path], layers: list[str] | None, metrics: list[str] | None) -> None:
    """Saved runs side by side: per layer and metric, init / A / B / C / rho of each run."""
    runs = [json.loads(p.read_text()) for p in paths]
    names = [p.stem.removeprefix("probe-") for p in paths]
    for name, run in zip(names, runs, strict=True):
        c = run["summary"]["counts"]
        print(f"{name}: {run['steps']} steps, A {c['A']}, B {c['B']}, C {c['C']} trained evaluations")
    header = "  ".join(f"{n[:34]:^34}" for n in names)
    print(f"{'':<26} {header}")
    columns = " ".join(f"{c:>6}" for c in ("init", "A", "B", "C", "rho"))
    print(f"{'layer':<10} {'metric':<15} " + "  ".join(columns for _ in runs))
    by_run = [{(e["layer"], e["metric"]): e for e in run["summary"]["rows"]} for run in runs]
    last = None
    for key in by_run[0]:
        layer, metric = key
        if (layers and layer not in layers) or (metrics and metric not in metrics):
            continue
        if last is not None and layer != last:
            print()
        last = layer
        cells = []
        for rows in by_run:
            e = rows.get(key)
            cells.append(" ".join([fmt(e[k], 6) for k in ("init", "A", "B", "C")] + [fmt(e["spearman_acc"], 6, True)])
                         if e else f"{'(absent)':>34}")
        print(f"{layer:<10} {metric:<15} " + "  ".join(cells))


def compact_history(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The scalar columns of the history as one column list and rows of values (NaN as null), 7 significant digits."""
    columns = [k for k, v in history[0].items() if isinstance(v, int | float | str) or v is None]

    def cell(v: Any) -> Any:
        if isinstance(v, float):
            return None if not math.isfinite(v) else float(f"{v:.7g}")
        return v

    return {"columns": columns, "rows": [[cell(row.get(k)) for k in columns] for row in history]}


def jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} training steps: about a minute")
    parser.add_argument("--seed", type=int, help="train.seed (default: the config's, 0 in tiny)")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--every", type=int, default=100, help="evaluate every this many steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--config", type=Path, help="start from this config file instead of the tiny preset")
    parser.add_argument("--checkpoint", type=Path, help="read the history of this Trainer checkpoint (or saved "
                        "JSON) instead of training")
    parser.add_argument("--layers", nargs="+", help="print only these layers")
    parser.add_argument("--metrics", nargs="+", help="print only these metrics")
    parser.add_argument("--save", type=Path, help="write the summary and the history as JSON here")
    parser.add_argument("--compare", nargs="+", type=Path, metavar="RUN.json", help="print saved runs side by side")
    args = parser.parse_args()
    if args.compare:
        compare(args.compare, args.layers, args.metrics)
        return

    set_threads(args.threads)
    print(machine_line(args.threads))
    seconds = math.nan
    if args.checkpoint:
        history, config_dict = read_history(args.checkpoint)
        print(f"history of {args.checkpoint}: {len(history)} evaluations, steps {history[0]['step']}.."
              f"{history[-1]['step']}")
    else:
        from sweep.cli import parse_sets

        steps = QUICK_STEPS if args.quick else args.steps
        overrides = {"train.steps": steps, "eval.every": args.every, "train.threads": args.threads}
        if args.seed is not None:
            overrides["train.seed"] = args.seed
        overrides.update(parse_sets(args.set))
        if args.config:
            config = apply_overrides(load_config(args.config), overrides)
            validate(config)
        else:
            config = from_preset("tiny", overrides)
        config_dict = config.to_dict()
        changed = {k: v for k, v in config.flat().items() if from_preset("tiny").flat().get(k) != v}
        print(f"training {steps} steps, evaluating every {config.eval.every}; differs from tiny: {changed}")
        history, seconds = train_history(config)
        print(f"trained and evaluated in {seconds:.0f}s")

    summary = summarize(history)
    print(f"default probe layer (eval.probe_layer): {config_dict['eval']['probe_layer']}")
    print_summary(summary, args.layers, args.metrics)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        record = {"command": " ".join(["python -m bench.probe", *sys.argv[1:]]), "config": config_dict,
                  "steps": history[-1]["step"], "seconds": seconds, "margin": MARGIN, "tuning_margin": TUNING_MARGIN,
                  "summary": summary, "history": compact_history(history)}
        args.save.write_text(json.dumps(jsonable(record), indent=None, separators=(",", ":")) + "\n")
        print(f"saved {args.save}")


if __name__ == "__main__":
    main()
