"""The ``phasescape`` command line. Bad input prints one line naming the field and the fix, exit status 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from model.config import ConfigError, from_preset
from sweep.errors import UsageError

USAGE_ERROR = 2


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {pair!r}: expected KEY=VALUE, e.g. --set data.sigma=1.5")
        overrides[key.strip()] = value
    return overrides


def progress_line(metrics: dict[str, Any], total_steps: int) -> str:
    m = metrics
    return (
        f"step {m['step']:>6}/{total_steps}  {m['time_s']:7.1f}s  loss {m['loss']:.4f}  phase {m['phase']}  "
        f"single {m['frac_single']:.2f}  acc {m['acc']:.2f} (x {m['acc_x']:.2f}, y {m['acc_y']:.2f})  "
        f"err {m['err_median']:.2f}px  r2 {m['r2_x']:.2f}/{m['r2_y']:.2f}  additivity {m['additivity']:.2f}"
    )


def cmd_train(args: argparse.Namespace) -> int:
    config = from_preset(args.preset, parse_sets(args.set))
    out = Path(args.out) if args.out else Path("runs") / "train" / f"{args.preset}-{config.hash()[:8]}"
    record = out / "trial.json"
    if record.exists() and json.loads(record.read_text()).get("config_hash") != config.hash():
        raise UsageError(f"--out {out}: holds a different trial; choose another --out to keep it")
    if out.exists() and not record.exists() and any(out.iterdir()):
        raise UsageError(f"--out {out}: exists and is not a phasescape trial folder; choose an empty or new one")

    from model.train import Trainer
    from sweep.artifacts import CHECKPOINT, TrialWriter

    trainer = Trainer(config)
    checkpoint = out / CHECKPOINT
    if checkpoint.exists():
        trainer.load_checkpoint(checkpoint)
        print(f"resuming {out} from step {trainer.step}")
    writer = TrialWriter(out)
    writer.start(trainer)
    print(f"training {args.preset} ({trainer.n_parameters / 1e6:.2f} M parameters) on {trainer.device} "
          f"for {config.train.steps} steps -> {out}", flush=True)

    def on_eval(step: int, metrics: dict[str, Any], t: Any) -> None:
        writer(step, metrics, t)
        print(progress_line(metrics, config.train.steps), flush=True)

    history = trainer.run(on_eval)
    if history:
        last = history[-1]
        print(f"done: phase {last['phase']}, acc {last['acc']:.2f} after {last['step']} steps, "
              f"{last['time_s']:.0f}s; samples in {out / 'samples.png'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="phasescape", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train one trial with a progress line per evaluation")
    p.add_argument("--preset", default="tiny", help="micro | tiny | paper (default tiny)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set data.sigma=1.5 (repeatable)")
    p.add_argument("--out", help="trial folder (default runs/train/PRESET-HASH); an existing one resumes")
    p.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, ConfigError) as error:
        print(f"phasescape: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("phasescape: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
