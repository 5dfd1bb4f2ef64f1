"""Results of a sweep -> density-versus-phase landscape, figures and a self-contained report.

Reads only the files a sweep writes (results table, manifest, per-trial npz); never imports Ray or ``sweep``.
"""

import matplotlib

matplotlib.use("Agg")  # every figure here goes to a file; no display needed (set before pyplot loads)


class ReportError(ValueError):
    """Bad input to a report (missing file or column, unknown axis); the message names it and the fix."""
