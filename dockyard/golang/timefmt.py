"""Go time formatting and parsing as docker prints and reads times.

* :func:`format_rfc3339nano` — ``time.RFC3339Nano`` output (fraction trimmed, ``Z``
  for a zero offset), the format of every timestamp in docker's API JSON.
* :func:`go_time_string` — ``time.Time.String()``
  (``2006-01-02 15:04:05.999999999 -0700 MST``), used by docker's ``CreatedAt``
  columns (``time.Unix(created, 0).String()`` in the local zone).
* :func:`parse_rfc3339nano` / :func:`go_parse_time` — Go's ``time.Parse`` for the
  numeric layouts docker uses, with nanosecond precision and Go's error messages.

Times are handled as integer Unix seconds plus nanoseconds, so the full range of
years Go prints (including year 0, ``0001-01-01T00:00:00Z`` for the zero time) works.
"""

from __future__ import annotations

import time as _time

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "RFC3339",
    "RFC3339_NANO",
    "ZERO_TIME_SECONDS",
    "created_at",
    "format_rfc3339",
    "format_rfc3339nano",
    "go_parse_time",
    "go_time_string",
    "local_zone",
    "parse_rfc3339nano",
    "parse_rfc3339nano_datetime",
]

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_NANO = "2006-01-02T15:04:05.999999999Z07:00"

# Unix seconds of Go's zero time.Time, 0001-01-01T00:00:00Z.
ZERO_TIME_SECONDS = -62135596800


# ---------------------------------------------------------------------------
# calendar arithmetic (proleptic Gregorian, any year)


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d


def _is_leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _days_in(m: int, y: int) -> int:
    if m == 2:
        return 29 if _is_leap(y) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def _unix(y: int, mo: int, d: int, h: int, mi: int, s: int) -> int:
    return _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s


def local_zone(sec: int) -> tuple[str, int]:
    """(abbreviation, offset seconds east of UTC) of the local zone at *sec*."""
    try:
        tm = _time.localtime(sec)
    except (OverflowError, OSError, ValueError):
        return "UTC", 0
    return tm.tm_zone or "", tm.tm_gmtoff or 0


# ---------------------------------------------------------------------------
# formatting


def _year_str(y: int) -> str:
    # Go's appendInt(b, year, 4): zero padded to 4 digits, sign before the digits
    if y < 0:
        return "-" + str(-y).rjust(4, "0")
    return str(y).rjust(4, "0")


def _split(sec: int, offset: int) -> tuple[int, int, int, int, int, int]:
    local = sec + offset
    days, rem = divmod(local, 86400)
    y, m, d = _civil_from_days(days)
    return y, m, d, rem // 3600, rem % 3600 // 60, rem % 60


def _frac9(nsec: int) -> str:
    if nsec == 0:
        return ""
    return "." + f"{nsec:09d}".rstrip("0")


def _offset_colon(offset: int) -> str:
    if offset == 0:
        return "Z"
    sign = "-" if offset < 0 else "+"
    a = abs(offset) // 60
    return f"{sign}{a // 60:02d}:{a % 60:02d}"


def format_rfc3339nano(sec: int, nsec: int = 0, offset: int = 0) -> str:
    """Go's ``t.Format(time.RFC3339Nano)`` for Unix *sec* + *nsec* at UTC *offset* seconds.

    >>> format_rfc3339nano(1714558830, 123456789)
    '2024-05-01T10:20:30.123456789Z'
    """
    sec += nsec // 1_000_000_000
    nsec %= 1_000_000_000
    y, mo, d, h, mi, s = _split(sec, offset)
    return (
        f"{_year_str(y)}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"
        f"{_frac9(nsec)}{_offset_colon(offset)}"
    )


def format_rfc3339(sec: int, offset: int = 0) -> str:
    """Go's ``t.Format(time.RFC3339)`` (no fraction)."""
    y, mo, d, h, mi, s = _split(sec, offset)
    return f"{_year_str(y)}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{_offset_colon(offset)}"


def go_time_string(sec: int, nsec: int = 0, zone: tuple[str, int] | None = None) -> str:
    """Go's ``time.Time.String()``: ``2006-01-02 15:04:05.999999999 -0700 MST``.

    *zone* is ``(abbreviation, offset seconds)``; by default the local zone (like
    ``time.Unix``), ``("UTC", 0)`` for UTC.
    """
    sec += nsec // 1_000_000_000
    nsec %= 1_000_000_000
    name, offset = zone if zone is not None else local_zone(sec)
    y, mo, d, h, mi, s = _split(sec, offset)
    sign = "-" if offset < 0 else "+"
    a = abs(offset) // 60
    num = f"{sign}{a // 60:02d}{a % 60:02d}"
    return (
        f"{_year_str(y)}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}{_frac9(nsec)} "
        f"{num} {name or num}"
    )


def created_at(sec: int, zone: tuple[str, int] | None = None) -> str:
    """docker's ``CreatedAt`` column: ``time.Unix(sec, 0).String()`` in the local zone."""
    return go_time_string(sec, 0, zone)


# ---------------------------------------------------------------------------
# parsing (Go's time.Parse for numeric layouts)


def _tquote(s: str) -> str:
    """The time package's quote(): non-ASCII and control bytes as \\xNN."""
    out = ['"']
    for c in s:
        o = ord(c)
        if o >= 0x80 or o < 0x20:
            for b in c.encode("utf-8", "surrogatepass"):
                out.append(f"\\x{b:02x}")
        else:
            if c in '"\\':
                out.append("\\")
            out.append(c)
    out.append('"')
    return "".join(out)


_STD_CHUNKS = (
    ".999999999",
    ".000000000",
    "Z07:00",
    "2006",
    "01",
    "02",
    "15",
    "04",
    "05",
)


def _next_chunk(layout: str) -> tuple[str, str, str]:
    """Split *layout* into (literal prefix, std chunk, rest) for the supported chunks."""
    for i in range(len(layout)):
        for chunk in _STD_CHUNKS:
            if layout.startswith(chunk, i):
                if (
                    chunk.startswith(".")
                    and i + len(chunk) < len(layout)
                    and layout[i + len(chunk)].isdigit()
                ):
                    continue
                return layout[:i], chunk, layout[i + len(chunk) :]
    return layout, "", ""


class _Bad(Exception):
    pass


def _getnum(s: str, fixed: bool) -> tuple[int, str]:
    if not s or not s[0].isascii() or not s[0].isdigit():
        raise _Bad
    if len(s) < 2 or not s[1].isascii() or not s[1].isdigit():
        if fixed:
            raise _Bad
        return int(s[0]), s[1:]
    return int(s[:2]), s[2:]


def _parse_error(value: str, layout: str, velem: str, lelem: str) -> InvalidArgument:
    return InvalidArgument(
        f"parsing time {_tquote(value)} as {_tquote(layout)}: cannot parse "
        f"{_tquote(velem)} as {_tquote(lelem)}"
    )


def _nanos(value: str, nbytes: int) -> int:
    if nbytes > 10:
        value = value[:10]
        nbytes = 10
    digits = value[1:nbytes]
    if not digits.isascii() or not digits.isdigit():
        raise _Bad
    return int(digits) * int(10 ** (10 - nbytes))


def go_parse_time(layout: str, value: str, default_offset: int = 0) -> tuple[int, int, int]:
    """Go's ``time.Parse`` / ``ParseInLocation`` for layouts built from ``2006 01 02 15
    04 05 .999999999 .000000000 Z07:00`` and literal text.

    Returns ``(unix seconds, nanoseconds, zone offset seconds)``.  Without a zone in
    the value the time is taken at *default_offset* (UTC for ``time.Parse``).
    Raises InvalidArgument with Go's message on failure.
    """
    alayout, avalue = layout, value
    year = month = day = -1
    hour = minute = sec = nsec = 0
    offset: int | None = None
    while True:
        prefix, std, suffix = _next_chunk(layout)
        # skip the literal prefix
        p = prefix
        while p:
            if p[0] == " ":
                if value and value[0] != " ":
                    raise _parse_error(avalue, alayout, value, prefix)
                p = p.lstrip(" ")
                value = value.lstrip(" ")
                continue
            if not value or value[0] != p[0]:
                raise _parse_error(avalue, alayout, value, prefix)
            p = p[1:]
            value = value[1:]
        if not std:
            if value:
                raise InvalidArgument(
                    f"parsing time {_tquote(avalue)}: extra text: {_tquote(value)}"
                )
            break
        layout = suffix
        hold = value
        range_err = ""
        try:
            if std == "2006":
                if len(value) < 4 or not value[0].isdigit():
                    raise _Bad
                p4, value = value[:4], value[4:]
                if not p4.isascii() or not p4.isdigit():
                    raise _Bad
                year = int(p4)
            elif std == "01":
                month, value = _getnum(value, True)
                if month <= 0 or month > 12:
                    range_err = "month"
            elif std == "02":
                day, value = _getnum(value, True)
            elif std == "15":
                hour, value = _getnum(value, False)
                if hour >= 24:
                    range_err = "hour"
            elif std == "04":
                minute, value = _getnum(value, True)
                if minute >= 60:
                    range_err = "minute"
            elif std == "05":
                sec, value = _getnum(value, True)
                if sec >= 60:
                    range_err = "second"
                elif len(value) >= 2 and value[0] in ".," and value[1].isdigit():
                    nxt = _next_chunk(layout)[1]
                    if nxt not in (".999999999", ".000000000"):
                        n = 2
                        while n < len(value) and value[n].isascii() and value[n].isdigit():
                            n += 1
                        nsec = _nanos(value, n)
                        value = value[n:]
            elif std == ".999999999":
                if len(value) >= 2 and value[0] in ".," and "0" <= value[1] <= "9":
                    i = 0
                    while i + 1 < len(value) and "0" <= value[i + 1] <= "9":
                        i += 1
                    nsec = _nanos(value, 1 + i)
                    value = value[1 + i :]
            elif std == ".000000000":
                ndigit = 9
                if len(value) < ndigit + 1:
                    raise _Bad
                nsec = _nanos(value, ndigit + 1)
                value = value[ndigit + 1 :]
            elif std == "Z07:00":
                if value[:1] == "Z":
                    value = value[1:]
                    offset = 0
                else:
                    if len(value) < 6 or value[3] != ":":
                        raise _Bad
                    sign, hh, mm, value = value[0], value[1:3], value[4:6], value[6:]
                    hr, _ = _getnum(hh, True)
                    mn, _ = _getnum(mm, True)
                    if hr > 24:
                        range_err = "time zone offset hour"
                    if mn > 60:
                        range_err = "time zone offset minute"
                    off = (hr * 60 + mn) * 60
                    if sign == "-":
                        off = -off
                    elif sign != "+":
                        raise _Bad
                    offset = off
        except _Bad:
            raise _parse_error(avalue, alayout, hold, std) from None
        if range_err:
            raise InvalidArgument(f"parsing time {_tquote(avalue)}: {range_err} out of range")
    if month < 0:
        month = 1
    if day < 0:
        day = 1
    if year < 0:
        year = 0
    if day < 1 or day > _days_in(month, year):
        raise InvalidArgument(f"parsing time {_tquote(avalue)}: day out of range")
    off = default_offset if offset is None else offset
    return _unix(year, month, day, hour, minute, sec) - off, nsec, off


def parse_rfc3339nano(value: str) -> tuple[int, int]:
    """Parse an RFC 3339 timestamp (fraction optional, any precision) exactly.

    Returns ``(unix seconds, nanoseconds)``; raises InvalidArgument with Go's message.

    >>> parse_rfc3339nano("2024-05-01T10:20:30.123456789Z")
    (1714558830, 123456789)
    """
    sec, nsec, _ = go_parse_time(RFC3339_NANO, value)
    return sec, nsec


def parse_rfc3339nano_datetime(value: str) -> tuple[datetime, int]:
    """Like :func:`parse_rfc3339nano` but returns ``(aware datetime, nanoseconds)``.

    The datetime (in the value's own offset) has the microseconds truncated; the exact
    nanoseconds are returned separately.  Years outside 1..9999 raise InvalidArgument.
    """
    from datetime import UTC, datetime, timedelta, timezone

    sec, nsec, off = go_parse_time(RFC3339_NANO, value)
    tz = UTC if off == 0 else timezone(timedelta(seconds=off))
    try:
        dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=sec, microseconds=nsec // 1000)
    except OverflowError:
        raise InvalidArgument(f"time out of range: {value}") from None
    return dt.astimezone(tz), nsec
