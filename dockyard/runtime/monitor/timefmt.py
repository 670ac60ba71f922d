"""RFC 3339 with nanoseconds for the monitor's records (Go's ``time.RFC3339Nano``, UTC)."""

from __future__ import annotations

import time

from ...golang.timefmt import format_rfc3339nano


def rfc3339nano(ns: int | None = None) -> str:
    """``2006-01-02T15:04:05.999999999Z``: trailing zeros of the fraction dropped."""
    if ns is None:
        ns = time.time_ns()
    sec, frac = divmod(ns, 1_000_000_000)
    return format_rfc3339nano(sec, frac)
