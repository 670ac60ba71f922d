"""docker/go-units (v0.5.0, as vendored by docker CLI v28) and Go duration parsing.

* :func:`human_size` — ``units.HumanSizeWithPrecision`` (docker's SIZE columns use
  precision 3: ``1.98MB``), :func:`bytes_size` — ``units.BytesSize`` (``2.5MiB``).
* :func:`human_duration` — ``units.HumanDuration`` (``About a minute``, ``3 hours``).
* :func:`from_human_size` / :func:`ram_in_bytes` — ``FromHumanSize`` / ``RAMInBytes``
  (``parse_size`` is an alias of ``from_human_size``).
* :func:`parse_go_duration` — ``time.ParseDuration`` (``1h30m``, ``1.5h``, ``-10s``).
* :func:`get_timestamp` / :func:`parse_timestamp` — docker's ``timetypes.GetTimestamp``
  for ``--since``/``--until``/``--filter until=`` values.

Errors are :class:`~dockyard.errors.InvalidArgument` carrying Go's message.
"""

from __future__ import annotations

import math

from dockyard.errors import InvalidArgument
from dockyard.golang.fmt import go_parse_float, go_quote

__all__ = [
    "bytes_size",
    "custom_size",
    "from_human_size",
    "get_timestamp",
    "go_parse_float",
    "human_duration",
    "human_size",
    "parse_go_duration",
    "parse_go_duration_ns",
    "parse_size",
    "parse_timestamp",
    "parse_timestamps",
    "ram_in_bytes",
]

_DECIMAL_ABBRS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_ABBRS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
_DECIMAL_MAP = {"k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4, "p": 1000**5}
_BINARY_MAP = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


# ---------------------------------------------------------------------------
# sizes


def _g(v: float, prec: int) -> str:
    """Go's ``%.<prec>g`` (identical to C's for finite values)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return format(v, f".{prec}g")


def custom_size(fmt_prec: int, size: float, base: float, abbrs: tuple[str, ...]) -> str:
    """go-units ``CustomSize("%.<prec>g%s", size, base, abbrs)``."""
    i = 0
    limit = len(abbrs) - 1
    while size >= base and i < limit:
        size /= base
        i += 1
    return _g(size, fmt_prec) + abbrs[i]


def human_size(size: float, precision: int = 3) -> str:
    """``HumanSizeWithPrecision(size, precision)``: decimal units, ``%.<precision>g``.

    Docker's image/container SIZE columns use precision 3 (the default here);
    ``docker system df`` uses ``HumanSize`` = precision 4.

    >>> human_size(1_980_000), human_size(999)
    ('1.98MB', '999B')
    """
    return custom_size(precision, float(size), 1000.0, _DECIMAL_ABBRS)


def bytes_size(size: float) -> str:
    """``BytesSize(size)``: binary units, ``%.4g`` (``"2.5MiB"``)."""
    return custom_size(4, float(size), 1024.0, _BINARY_ABBRS)


def human_duration(seconds: float) -> str:
    """``HumanDuration``: a human approximation of a duration given in seconds."""
    d = seconds
    secs = int(d)
    if secs < 1:
        return "Less than a second"
    if secs == 1:
        return "1 second"
    if secs < 60:
        return f"{secs} seconds"
    minutes = int(d / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(d / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(d / 3600) // 24 // 365} years"


def _go_int64(f: float) -> int:
    """Go's int64(f) conversion on amd64 (out of range gives the minimum int64)."""
    if math.isnan(f) or not (_INT64_MIN <= f < 2.0**63):
        return _INT64_MIN
    return int(f)


def _parse_size(size_str: str, umap: dict[str, int]) -> int:
    sep = max(size_str.rfind(c) for c in "01234567890. ")
    if sep == -1:
        raise InvalidArgument(f"invalid size: '{size_str}'")
    if size_str[sep] != " ":
        num, sfx = size_str[: sep + 1], size_str[sep + 1 :]
    else:
        num, sfx = size_str[:sep], size_str[sep + 1 :]
    try:
        size = go_parse_float(num)
    except ValueError as e:
        raise InvalidArgument(f"strconv.ParseFloat: parsing {go_quote(num)}: {e}") from None
    if size < 0:
        raise InvalidArgument(f"invalid size: '{size_str}'")
    if not sfx:
        return _go_int64(size)
    if len(sfx) > 3:
        raise InvalidArgument(f"invalid suffix: '{sfx}'")
    sfx = sfx.lower()
    if sfx[0] == "b":
        if len(sfx) > 1:
            raise InvalidArgument(f"invalid suffix: '{sfx}'")
        return _go_int64(size)
    mul = umap.get(sfx[0])
    if mul is None:
        raise InvalidArgument(f"invalid suffix: '{sfx}'")
    size *= float(mul)
    if (len(sfx) == 2 and sfx[1] != "b") or (len(sfx) == 3 and sfx[1:] != "ib"):
        raise InvalidArgument(f"invalid suffix: '{sfx}'")
    return _go_int64(size)


def from_human_size(size: str) -> int:
    """``FromHumanSize``: decimal units (``"1.5GB"`` → 1500000000, ``"44kB"``)."""
    return _parse_size(size, _DECIMAL_MAP)


parse_size = from_human_size


def ram_in_bytes(size: str) -> int:
    """``RAMInBytes``: binary units, case-insensitive, optional ``b``/``ib``
    (``"512m"`` → 536870912, ``"1g"``, ``"1.5GiB"``)."""
    return _parse_size(size, _BINARY_MAP)


# ---------------------------------------------------------------------------
# durations

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # U+00B5 micro sign
    "\u03bcs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}


def _dquote(s: str) -> str:
    from dockyard.golang.timefmt import _tquote

    return _tquote(s)


def parse_go_duration_ns(s: str) -> int:
    """Go's ``time.ParseDuration`` in integer nanoseconds."""
    orig = s
    invalid = InvalidArgument("time: invalid duration " + _dquote(orig))
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise invalid
    d = 0
    limit = 1 << 63
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise invalid
        i = 0
        v = 0
        while i < len(s) and "0" <= s[i] <= "9":
            if v > limit // 10:
                raise invalid
            v = v * 10 + ord(s[i]) - 48
            if v > limit:
                raise invalid
            i += 1
        pre = i > 0
        s = s[i:]
        post = False
        f = 0
        scale = 1.0
        if s and s[0] == ".":
            s = s[1:]
            i = 0
            overflow = False
            while i < len(s) and "0" <= s[i] <= "9":
                if not overflow:
                    if f > (limit - 1) // 10:
                        overflow = True
                    else:
                        y = f * 10 + ord(s[i]) - 48
                        if y > limit:
                            overflow = True
                        else:
                            f = y
                            scale *= 10
                i += 1
            post = i > 0
            s = s[i:]
        if not pre and not post:
            raise invalid
        i = 0
        while i < len(s) and not (s[i] == "." or "0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise InvalidArgument("time: missing unit in duration " + _dquote(orig))
        u = s[:i]
        s = s[i:]
        unit = _UNITS.get(u)
        if unit is None:
            raise InvalidArgument(
                "time: unknown unit " + _dquote(u) + " in duration " + _dquote(orig)
            )
        if v > limit // unit:
            raise invalid
        v *= unit
        if f > 0:
            v += int(float(f) * (float(unit) / scale))
            if v > limit:
                raise invalid
        d += v
        if d > limit:
            raise invalid
    if neg:
        return -d
    if d > limit - 1:
        raise invalid
    return d


def parse_go_duration(s: str) -> float:
    """Go's ``time.ParseDuration`` in seconds (``"1h30m"`` → 5400.0)."""
    return parse_go_duration_ns(s) / 1e9


# ---------------------------------------------------------------------------
# docker's timetypes (api/types/time)


def _parse_int64(s: str) -> int:
    t = s[1:] if s[:1] in ("+", "-") else s
    if not t or not t.isascii() or not t.isdigit():
        raise InvalidArgument(f"strconv.ParseInt: parsing {go_quote(s)}: invalid syntax")
    v = int(s)
    if not _INT64_MIN <= v <= _INT64_MAX:
        raise InvalidArgument(f"strconv.ParseInt: parsing {go_quote(s)}: value out of range")
    return v


def parse_timestamps(value: str, default_seconds: int = 0) -> tuple[int, int]:
    """docker's ``ParseTimestamps``: ``"<sec>[.<nanos>]"`` → (seconds, nanoseconds).

    An empty value gives ``(default_seconds, 0)``.
    """
    if value == "":
        return default_seconds, 0
    s, dot, n = value.partition(".")
    sec = _parse_int64(s)
    if not dot:
        return sec, 0
    nsec = _parse_int64(n)
    nsec = _go_int64(float(nsec) * math.pow(10.0, float(9 - len(n))))
    return sec, nsec


def _reference(now: float | None) -> tuple[int, int]:
    import time

    t = time.time() if now is None else now
    ns = round(t * 1e9) if isinstance(t, float) else int(t) * 1_000_000_000
    return ns, time.localtime(ns // 1_000_000_000).tm_gmtoff or 0


def get_timestamp(value: str, now: float | None = None) -> str:
    """docker's ``timetypes.GetTimestamp``: a ``--since``/``--until`` value as
    ``"<unix seconds>[.<9 digit nanos>]"``.

    Accepts a Go duration (relative to *now*, Unix seconds, default the current
    time), RFC 3339 date-times with or without zone and fraction (no zone → local
    time), dates, or a Unix timestamp (passed through).
    """
    from dockyard.golang import timefmt

    ref_ns, ref_off = _reference(now)
    if value != "0":
        try:
            d = parse_go_duration_ns(value)
        except InvalidArgument:
            pass
        else:
            return str((ref_ns - d) // 1_000_000_000)

    in_location = not any(c in value for c in "zZ+") and value.count("-") != 3
    if "." in value:
        layout = "2006-01-02T15:04:05.999999999" if in_location else timefmt.RFC3339_NANO
    elif "T" in value:
        tcolons = value.count(":")
        if not in_location and not any(c in value for c in "zZ") and tcolons > 0:
            tcolons -= 1
        if in_location:
            layout = ("2006-01-02T15", "2006-01-02T15:04", "2006-01-02T15:04:05")[min(tcolons, 2)]
        else:
            layout = ("2006-01-02T15Z07:00", "2006-01-02T15:04Z07:00", timefmt.RFC3339)[
                min(tcolons, 2)
            ]
    elif in_location:
        layout = "2006-01-02"
    else:
        layout = "2006-01-02Z07:00"

    try:
        sec, nsec, _ = timefmt.go_parse_time(layout, value, ref_off if in_location else 0)
    except InvalidArgument:
        if "-" in value:
            raise
        try:
            parse_timestamps(value)
        except InvalidArgument:
            raise InvalidArgument(
                f"failed to parse value as time or duration: {go_quote(value)}"
            ) from None
        return value
    return f"{sec}.{nsec:09d}"


def parse_timestamp(value: str, now: float | None = None) -> tuple[int, int]:
    """A ``--since``/``--until``/``until=`` value as (Unix seconds, nanoseconds):
    :func:`get_timestamp` followed by :func:`parse_timestamps`, as the daemon does."""
    return parse_timestamps(get_timestamp(value, now))
