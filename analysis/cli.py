"""The ``phasescape report`` subcommand; the ``phasescape`` command line adds it with ``register``."""

from __future__ import annotations

import argparse
from pathlib import Path

from model.errors import UsageError

LIVE_EVERY_S = 30  # default seconds between rebuilds of a live report (report --watch, run --report-every)


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report (``--watch``: rebuild it until the sweep has finished, then write the final one) and print
    its summary; bad input raises ReportError (the command line: one line, exit 2)."""
    from analysis.report import write_report  # matplotlib and pandas load only when a report is made

    options = {"x": args.x, "y": args.y, "facets": args.facet, "where_": args.where, "average": args.average}
    if args.every is not None and (not args.watch or args.every < 1):
        raise UsageError(f"--every {args.every}: give it with --watch, at least 1 second")
    if args.watch:
        from analysis.live import watch

        path = watch(args.path, args.every or LIVE_EVERY_S, args.out, **options)
    else:
        path = write_report(args.path, args.out, **options)
    print((path.parent / "summary.md").read_text(), end="")
    print(f"report: {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``report PATH [-o DIR] [--x AXIS --y AXIS] [--facet KEY ...] [--where KEY=VALUE ...] [--average KEY ...]
    [--watch [--every SECONDS]]`` to a ``phasescape`` subparsers object."""
    p = subparsers.add_parser("report", help="landscape heatmaps, figures and an HTML report of a sweep folder",
                              description="Write report.html (self-contained), PNGs, landscape.csv and summary.md. "
                                          "Every varying config key that is not a map axis or the seed is a facet: "
                                          "one panel per value (or combination), never pooled in a cell.")
    p.add_argument("path", type=Path, help="sweep folder (holds results.parquet and manifest.json)")
    p.add_argument("-o", "--out", type=Path, help="output folder (default PATH/report)")
    p.add_argument("--x", help="config column for the horizontal axis, e.g. data.spacing_x (default: the one key a "
                              "one-axis sweep varies, else density, else the sweep's first swept axis)")
    p.add_argument("--y", help="config column for the vertical axis; giving it maps a grid even for a one-axis sweep "
                              "(default: overlap, else the second swept axis)")
    p.add_argument("--facet", action="append", default=[], metavar="KEY",
                   help="config key to split into facets (one panel per value) even if it does not vary within a map "
                        "cell; every key that does is a facet anyway, architecture keys (model.*) included "
                        "(repeatable)")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="keep only trials whose config key has this value, e.g. --where model.cond=concat (value read "
                        "like --set; repeatable)")
    p.add_argument("--average", action="append", default=[], metavar="KEY",
                   help="let a cell pool the values of this key as if they were seeds instead of faceting it; said in "
                        "the figure titles and the summary (repeatable)")
    p.add_argument("--watch", action="store_true",
                   help="for a sweep running here or elsewhere (shared storage): rebuild the report every --every "
                        "seconds, the page showing the progress and reloading itself, until the sweep has finished; "
                        "then write the final report and exit (Ctrl-C stops watching)")
    p.add_argument("--every", type=int, metavar="SECONDS",
                   help=f"with --watch: seconds between rebuilds (default {LIVE_EVERY_S})")
    p.set_defaults(func=cmd_report)
    return p


def add_report_every(p: argparse.ArgumentParser) -> None:
    """Add ``--report-every SECONDS`` to a command that runs a sweep (run, resume)."""
    p.add_argument("--report-every", type=int, default=LIVE_EVERY_S, metavar="SECONDS",
                   help=f"rebuild SWEEP/report/report.html every SECONDS while the sweep runs, at the lowest CPU "
                        f"priority (the page shows the progress and reloads itself), and write the final report at "
                        f"the end; 0 turns it off (default {LIVE_EVERY_S})")


def check_report_every(seconds: int) -> None:
    """Refuse a negative ``--report-every`` (UsageError: one line, exit status 2)."""
    if seconds < 0:
        raise UsageError(f"--report-every: must be >= 0 seconds (0 turns live reports off), got {seconds}")
