"""RFC 3339 with nanoseconds, as Go's ``time.RFC3339Nano`` prints UTC times."""

from __future__ import annotations

import time


def rfc3339nano(ns: int | None = None) -> str:
    """``2006-01-02T15:04:05.999999999Z``: trailing zeros of the fraction dropped."""
    if ns is None:
        ns = time.time_ns()
    sec, frac = divmod(ns, 1_000_000_000)
    t = time.gmtime(sec)
    base = f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}T{t[3]:02d}:{t[4]:02d}:{t[5]:02d}"
    if frac:
        return base + f".{frac:09d}".rstrip("0") + "Z"
    return base + "Z"
