"""Results of a sweep -> density-versus-phase landscape, figures and a self-contained report.

Reads only the files a sweep writes (results table, manifest, per-trial npz); never imports Ray, ``sweep`` or
``cluster``.
"""

import os

from model.errors import UsageError

# Every figure here goes to a file: matplotlib's Agg backend, chosen before pyplot loads, without importing
# matplotlib for commands that draw nothing (a backend the user set explicitly still wins).
os.environ.setdefault("MPLBACKEND", "Agg")


class ReportError(UsageError):
    """Bad input to a report (missing file or column, unknown axis); the message names it and the fix."""
