"""The error types of phasescape. The command line maps each to its exit status in one place (sweep/cli.py)."""

from __future__ import annotations


class PhasescapeError(Exception):
    """An error the command line prints as one line, then exits with ``exit_status``."""

    exit_status = 2


class UsageError(PhasescapeError, ValueError):
    """Bad input, found before any compute starts: the message names the field (spec key, option or file) and
    says how to fix it. Exit status 2."""
