"""Which processes are alive: lets the store tell a live writer from a killed one."""

from __future__ import annotations

import os


def pid_start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None if it is gone.

    A pid plus its start time names a process uniquely even when pids are reused.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    # fields[0] is field 3 (state); starttime is field 22.
    if fields[0] in (b"Z", b"X"):
        return None
    return fields[19].decode()


def pid_alive(pid: int, start_time: str | None = None) -> bool:
    current = pid_start_time(pid)
    if current is None:
        return False
    return start_time is None or current == start_time


def self_identity() -> tuple[int, str]:
    pid = os.getpid()
    start = pid_start_time(pid)
    assert start is not None
    return pid, start
