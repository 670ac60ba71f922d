"""Time as Docker writes and reads it: RFC 3339 with nanoseconds, Go durations.

Shared by every layer (image configs, filters, events), so it lives at the bottom.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})?"
)


def rfc3339_nano(timestamp: float, nanos: int | None = None) -> str:
    """Go's time.RFC3339Nano in UTC: fraction trimmed of trailing zeros, ``Z`` suffix."""
    seconds = int(timestamp) if timestamp >= 0 else int(timestamp // 1)
    if nanos is None:
        nanos = round((timestamp - seconds) * 1e9)
        if nanos >= 1_000_000_000:
            seconds, nanos = seconds + 1, nanos - 1_000_000_000
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch for an RFC 3339 timestamp (nanoseconds kept as a fraction)."""
    m = _RFC3339.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"invalid RFC 3339 time {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction = m.group(7) or ""
    zone = m.group(8) or "Z"
    base = datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        base -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return base + (int(fraction[:9].ljust(9, "0")) / 1e9 if fraction else 0.0)


_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds: ``1h30m``, ``10s``, ``1.5h``, ``-2m``."""
    s = text.strip()
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            if re.match(r"(\d+(?:\.\d*)?|\.\d+)$", s[pos:]):
                raise ValueError(f'time: missing unit in duration "{text}"')
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def parse_timestamp(value: str, now: float | None = None) -> float:
    """Docker's ``until=`` / ``--since`` values: a Go duration before now, an RFC 3339
    time (or date), or Unix seconds with an optional fraction."""
    now = time.time() if now is None else now
    value = value.strip()
    try:
        return now - parse_go_duration(value)
    except ValueError:
        pass
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    try:
        return parse_rfc3339(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise ValueError(f"invalid timestamp {value!r}") from None
