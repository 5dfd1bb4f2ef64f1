"""Processes on this machine, read from /proc/<pid>/stat in one place.

The command name in that file may hold spaces and parentheses, so the fields are counted from after its closing
parenthesis; proc(5) numbers them from 3 (state), which makes the indices below easy to get wrong by hand.
"""

from __future__ import annotations

from pathlib import Path

# Indices into stat_fields(): state, ppid, process group, session, start time (clock ticks after boot).
STATE, PARENT, PROCESS_GROUP, SESSION, START_TIME = 0, 1, 2, 3, 19


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name, or None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(fields: list[str] | None) -> bool:
    """Whether the process of these fields runs (exists and is neither a zombie nor dead)."""
    return fields is not None and fields[STATE] not in ("Z", "X")
