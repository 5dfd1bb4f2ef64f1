"""``phasescape study`` and ``study-report``: the command line of the study package.

Kept apart from the rest of the package so that other commands (``train``, ``run``) start without importing
Optuna and SQLAlchemy.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from model.errors import UsageError
from sweep.masking import has_password, hide_password


def cmd_study(args: argparse.Namespace) -> int:
    """``phasescape study``: run (or resume) a study; returns 0, bad input raises UsageError (exit status 2)."""
    import optuna

    from sweep.study.driver import run_study, summary
    from sweep.study.spec import load_spec
    from sweep.study.storage import storage_url, study_folder

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the driver prints its own line per trial
    spec = load_spec(args.spec)
    for option in ("n_trials", "workers"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise UsageError(f"--{option.replace('_', '-')}: must be >= 1, got {value}")
    spec = dataclasses.replace(spec, n_trials=args.n_trials or spec.n_trials, workers=args.workers or spec.workers)
    url = storage_url(spec, args.results, args.storage)
    warn_password_option(args.storage)
    started = time.perf_counter()
    study = run_study(spec, url, args.results, min(spec.workers, spec.n_trials), args.address, not args.no_ray)
    for line in summary(study, spec, url, time.perf_counter() - started):
        print(line)
    if not args.no_report:
        from sweep.study.report import write_report

        print(f"report: {write_report(study, spec, study_folder(args.results, spec.name) / 'report')}")
    return 0


def warn_password_option(storage: str | None) -> None:
    """A password given in ``--storage`` is seen by ``ps`` and kept in shell history: say how to avoid it."""
    from sweep.study.storage import ENV

    if storage and has_password(storage):
        print(f"phasescape: warning: --storage holds a password, which ps and shell history show; set {ENV} to the "
              f"URL instead, or give the URL without it and the password in PGPASSWORD or ~/.pgpass",
              file=sys.stderr)


def cmd_study_report(args: argparse.Namespace) -> int:
    """``phasescape study-report``: report a stored study; returns 0, bad input raises UsageError (exit status 2)."""
    import optuna

    from sweep.study.report import write_report
    from sweep.study.spec import load_spec
    from sweep.study.storage import open_storage, storage_url, study_folder

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = load_spec(args.spec)
    url = storage_url(spec, args.results, args.storage)
    warn_password_option(args.storage)
    try:
        study = optuna.load_study(study_name=spec.name, storage=open_storage(url))
    except KeyError:
        raise UsageError(f"--storage: no study {spec.name!r} in {hide_password(url)}; run `phasescape study "
                         f"{args.spec}` first") from None
    print(f"report: {write_report(study, spec, study_folder(args.results, spec.name) / 'report', args.top)}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``study`` and ``study-report`` to the ``phasescape`` command line."""
    p = subparsers.add_parser("study", help="run or resume an Optuna study of data-collection policies (Ray)")
    p.add_argument("spec", help="study spec YAML (see studies/)")
    p.add_argument("--storage", help="Optuna storage URL: sqlite:///f.db, postgresql://..., journal://PATH "
                                     "(default: $PHASESCAPE_STORAGE, else the spec's, else sqlite in the results "
                                     "folder); leave passwords out of it (PHASESCAPE_STORAGE, PGPASSWORD, ~/.pgpass)")
    p.add_argument("--n-trials", type=int, help="trials the study should hold (default: the spec's)")
    p.add_argument("--workers", type=int, help="Optuna workers running at once, one Ray task each (default: spec)")
    p.add_argument("--results", default="results", help="results folder (default results)")
    p.add_argument("--address", help="Ray cluster to run the workers on (default: RAY_ADDRESS, else a local Ray)")
    p.add_argument("--no-ray", action="store_true",
                   help="run one worker in this process instead; feeds the same study from any machine")
    p.add_argument("--no-report", action="store_true", help="skip the report at the end")
    p.set_defaults(func=cmd_study)

    r = subparsers.add_parser("study-report", help="figures, best policies and their sweep specs for a study")
    r.add_argument("spec", help="study spec YAML")
    r.add_argument("--storage", help="Optuna storage URL (default: as for study, $PHASESCAPE_STORAGE first)")
    r.add_argument("--results", default="results", help="results folder (default results)")
    r.add_argument("--top", type=int, default=5, help="best policies to list (single objective; default 5)")
    r.set_defaults(func=cmd_study_report)
