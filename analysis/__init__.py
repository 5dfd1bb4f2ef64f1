"""Results of a sweep -> density-versus-phase landscape, figures and a self-contained report.

Reads only the files a sweep writes (results table, manifest, per-trial npz); never imports Ray or ``sweep``.
"""

import os

# Every figure here goes to a file: matplotlib's Agg backend, chosen before pyplot loads, without importing
# matplotlib for commands that draw nothing (a backend the user set explicitly still wins).
os.environ.setdefault("MPLBACKEND", "Agg")


class ReportError(ValueError):
    """Bad input to a report (missing file or column, unknown axis); the message names it and the fix."""
