"""The ``phasescape`` command line, and the one place where errors become exit statuses: a ``PhasescapeError``
(bad input: a spec, an option, a file, an unreachable cluster) prints one line and exits with its
``exit_status`` (2 for bad input).

Commands of other packages join through the entry-point group ``phasescape.commands`` (each entry a
``register(subparsers)`` function): the cluster package adds ``submit`` and ``jobs`` that way, so nothing here
imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from analysis import cli as analysis_cli
from model.config import from_preset
from model.definitions import CEILING_MIN
from model.errors import PhasescapeError, UsageError
from sweep import reproduce as reproduce_cli
from sweep.spec import check_storage, load_spec, unmeasurable_trials
from sweep.specfile import parse_value
from sweep.study import cli as study_cli

COMMANDS = "phasescape.commands"


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` strings -> ``{key: value}``, values read as YAML (``1e-4`` a float, ``[1, 2]``
    a list), a later key winning; an item without ``=`` or a key raises UsageError. Keys are checked later."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {pair!r}: expected KEY=VALUE, e.g. --set data.sigma=1.5")
        overrides[key.strip()] = parse_value(value)
    return overrides


def progress_line(metrics: dict[str, Any], total_steps: int) -> str:
    """The line ``phasescape train`` prints after an evaluation: step of ``total_steps``, time, loss,
    phase and the main metrics of the ``metrics`` row."""
    m = metrics
    return (
        f"step {m['step']:>6}/{total_steps}  {m['time_s']:7.1f}s  loss {m['loss']:.4f}  phase {m['phase']}  "
        f"single {m['frac_single']:.2f}  acc {m['acc']:.2f} (x {m['acc_x']:.2f}, y {m['acc_y']:.2f})  "
        f"err {m['err_median']:.2f}px  r2 {m['r2_x']:.2f}/{m['r2_y']:.2f}  additivity {m['additivity']:.2f}"
    )


def cmd_train(args: argparse.Namespace) -> int:
    """``phasescape train``: train (or resume) one trial; returns 0, bad input raises UsageError (exit status 2)."""
    config = from_preset(args.preset, parse_sets(args.set))
    out = Path(args.out) if args.out else Path("runs") / "train" / f"{args.preset}-{config.hash()[:8]}"
    record = out / "trial.json"
    if record.exists() and json.loads(record.read_text()).get("trial_id") != config.hash():
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


def cmd_validate(args: argparse.Namespace) -> int:
    """``phasescape validate``: check a sweep spec; returns 0, bad input raises UsageError (exit status 2)."""
    spec = load_spec(args.spec)
    print(f"{args.spec}: valid; {len(spec.trials()) or spec.search.num_samples} trial(s) -> {spec.folder()}")
    warn_unmeasurable(unmeasurable_trials(spec))
    return 0


def warn_unmeasurable(bad: list[tuple[Any, str]]) -> None:
    """Print a warning naming the trials whose phases the detector cannot tell (``unmeasurable_trials``)."""
    if not bad:
        return
    print(f"warning: {len(bad)} trial(s) cannot be measured: a perfect model would score below the phase "
          f"thresholds there; 'run' refuses them unless --accept-unmeasurable:", file=sys.stderr)
    for config, why in bad[:10]:
        print(f"  {config.hash()[:10]} (data.sigma {config.data.sigma:g}, data.image_size {config.data.image_size}): "
              f"{why}", file=sys.stderr)
    if len(bad) > 10:
        print(f"  ... and {len(bad) - 10} more", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    """``phasescape run``: run a sweep (--dry-run: plan it); returns 0, bad input raises UsageError (exit status 2)."""
    spec = load_spec(args.spec)
    if args.storage:
        check_storage(args.storage)
    analysis_cli.check_report_every(args.report_every)
    if args.max_concurrent is not None and args.max_concurrent < 1:
        raise UsageError(f"--max-concurrent: must be >= 1, got {args.max_concurrent}")
    bad = unmeasurable_trials(spec)
    if args.dry_run:
        from sweep.status import print_plan

        print_plan(spec, args.storage, args.max_concurrent)
        warn_unmeasurable(bad)
        return 0
    if bad and not args.accept_unmeasurable:
        warn_unmeasurable(bad)
        raise UsageError(f"{args.spec}: {len(bad)} trial(s) cannot be measured (listed above); change data.sigma or "
                         f"data.image_size for them, or pass --accept-unmeasurable to train them anyway")
    from analysis.live import LiveReport
    from sweep.driver import run_sweep
    from sweep.status import print_status

    with LiveReport(spec.folder(args.storage), args.report_every):
        table = run_sweep(spec, storage=args.storage, address=args.address, max_concurrent=args.max_concurrent)
        print_status(table, spec.folder(args.storage))
    return 0


def _sweep_dir(path: str) -> Path:
    folder = Path(path).expanduser().resolve()
    if not (folder / "manifest.json").is_file():
        raise UsageError(f"{path}: not a sweep folder (no manifest.json); give the folder 'phasescape run' wrote")
    return folder


def cmd_resume(args: argparse.Namespace) -> int:
    """``phasescape resume``: continue a sweep folder; returns 0, bad input raises UsageError (exit status 2)."""
    from analysis.live import LiveReport
    from sweep.driver import resume_sweep
    from sweep.status import print_status

    folder = _sweep_dir(args.path)
    analysis_cli.check_report_every(args.report_every)
    with LiveReport(folder, args.report_every):
        print_status(resume_sweep(folder, address=args.address), folder)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """``phasescape status``: print a sweep folder's status; returns 0, bad input raises UsageError (exit status 2)."""
    from sweep.status import print_status
    from sweep.store import collect, read_manifest

    folder = _sweep_dir(args.path)
    print_status(collect(folder, read_manifest(folder)["name"]), folder)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``phasescape`` argument parser: train, run, resume, status and validate, then the commands
    of analysis, of the study package and of every ``phasescape.commands`` entry point (each loaded here)."""
    parser = argparse.ArgumentParser(prog="phasescape", description="Sweeps of conditional diffusion models over "
                                     "data density, overlap and architecture; reports of the phase landscape.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train one trial with a progress line per evaluation")
    p.add_argument("--preset", default="tiny", help="micro | tiny | paper (default tiny)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set data.sigma=1.5 (repeatable)")
    p.add_argument("--out", help="trial folder (default runs/train/PRESET-HASH); an existing one resumes")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("run", help="run a sweep spec on Ray Tune (local Ray unless --address)")
    p.add_argument("spec", help="sweep YAML, e.g. sweeps/density_overlap_tiny.yaml")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)")
    p.add_argument("--storage", help="results folder (overrides the spec's storage)")
    p.add_argument("--max-concurrent", type=int, help="at most this many trials at once")
    p.add_argument("--dry-run", action="store_true", help="print the trial table and resource plan; start nothing")
    p.add_argument("--accept-unmeasurable", action="store_true",
                   help=f"train trials whose phases the detector cannot tell (ceiling acc below {CEILING_MIN:g})")
    analysis_cli.add_report_every(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("resume", help="continue an interrupted sweep from its folder")
    p.add_argument("path", help="the sweep folder (STORAGE/NAME)")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)")
    analysis_cli.add_report_every(p)
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("status", help="trials by state, best so far, phases reached")
    p.add_argument("path", help="the sweep folder (STORAGE/NAME)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("validate", help="check a sweep spec without running anything")
    p.add_argument("spec")
    p.set_defaults(func=cmd_validate)

    analysis_cli.register(sub)
    study_cli.register(sub)
    reproduce_cli.register(sub)
    for entry in entry_points(group=COMMANDS):
        entry.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``phasescape`` command; returns its exit status (0 done, 2 bad input, 130 interrupted, 141 when
    the reader of its output closed the pipe)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PhasescapeError as error:
        print(f"phasescape: error: {error}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print("phasescape: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `phasescape run --dry-run | head`): stop quietly, as Unix tools do; stdout
        # is pointed at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
