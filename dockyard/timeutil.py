"""Seconds-as-float views of Go's time formats, for the engine's timestamps.

The Go-exact implementations live in :mod:`dockyard.golang`; these adapters
give the float seconds the engine stores.
"""

from __future__ import annotations

from dockyard.golang.timefmt import format_rfc3339nano, parse_rfc3339nano
from dockyard.golang.units import parse_go_duration
from dockyard.golang.units import parse_timestamp as _parse_timestamp

__all__ = ["parse_go_duration", "parse_rfc3339", "parse_timestamp", "rfc3339_nano"]


def rfc3339_nano(timestamp: float, nanos: int | None = None) -> str:
    """Go's time.RFC3339Nano in UTC: fraction trimmed of trailing zeros, ``Z`` suffix."""
    seconds = int(timestamp // 1)
    if nanos is None:
        nanos = round((timestamp - seconds) * 1e9)
    return format_rfc3339nano(seconds, nanos)


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch for an RFC 3339 timestamp."""
    seconds, nanos = parse_rfc3339nano(text)
    return seconds + nanos / 1e9


def parse_timestamp(value: str, now: float | None = None) -> float:
    """Docker's ``until=`` / ``--since`` values (durations, RFC 3339, Unix seconds)."""
    seconds, nanos = _parse_timestamp(value, now)
    return seconds + nanos / 1e9
