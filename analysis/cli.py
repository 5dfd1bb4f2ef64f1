"""The ``phasescape report`` subcommand; the ``phasescape`` command line adds it with ``register``."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report and print its summary; bad input raises ReportError (the command line: one line, exit 2)."""
    from analysis.report import write_report  # matplotlib and pandas load only when a report is made

    path = write_report(args.path, args.out, args.x, args.y, args.facet, args.where, args.average)
    print((path.parent / "summary.md").read_text(), end="")
    print(f"report: {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``report PATH [-o DIR] [--x AXIS --y AXIS] [--facet KEY ...] [--where KEY=VALUE ...] [--average KEY ...]``
    to a ``phasescape`` subparsers object."""
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
    p.set_defaults(func=cmd_report)
    return p
