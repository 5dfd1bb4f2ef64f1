"""What a result was made with: library versions, git commit, machine. Recorded with every trial and sweep."""

from __future__ import annotations

import functools
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("phasescape", "torch", "numpy", "ray", "optuna", "pandas", "scipy", "scikit-learn")


@functools.cache
def library_versions() -> dict[str, str]:
    """``{package: version}`` for Python and each of ``PACKAGES`` ('not installed' when missing),
    read from package metadata without importing them; computed once per process."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@functools.cache
def git_commit() -> str:
    """The commit of the source tree this package runs from, or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True,
            timeout=5, check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=Path(__file__).resolve().parent,
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@functools.cache
def machine() -> dict[str, str | int]:
    """This machine; asks nvidia-smi for GPUs rather than importing torch, which would delay a sweep's start."""
    gpu = "none"
    if shutil.which("nvidia-smi"):
        try:
            names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                   text=True, timeout=10).stdout.split("\n")
            gpu = ", ".join(name.strip() for name in names if name.strip()) or "none"
        except (OSError, subprocess.SubprocessError):
            pass
    return {"host": platform.node(), "platform": platform.platform(), "cpus": os.cpu_count() or 0, "gpu": gpu}
