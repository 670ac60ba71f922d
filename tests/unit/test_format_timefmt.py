"""Unit tests for dockyard.golang.timefmt (Go time formatting/parsing docker uses).

Expected strings come from the real docker CLI where possible: ``docker images
--format '{{.CreatedAt}}'`` under several TZ settings and ``docker network inspect``
(``{{.Created}}`` / ``{{json .Created}}``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, timedelta, timezone

import pytest

from dockyard.errors import InvalidArgument
from dockyard.golang.timefmt import (
    RFC3339,
    RFC3339_NANO,
    ZERO_TIME_SECONDS,
    created_at,
    format_rfc3339,
    format_rfc3339nano,
    go_parse_time,
    go_time_string,
    local_zone,
    parse_rfc3339nano,
    parse_rfc3339nano_datetime,
)

BUSYBOX_CREATED = 1795810230  # 2026-11-27T20:10:30.859472752Z
BUSYBOX_NANOS = 859472752


@pytest.fixture
def tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    def set_tz(name: str | None) -> None:
        if name is None:
            monkeypatch.delenv("TZ", raising=False)
        else:
            monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_tz
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("America/New_York", "2026-11-27 15:10:30 -0500 EST"),
        ("Asia/Kolkata", "2026-11-28 01:40:30 +0530 IST"),
        ("Europe/Berlin", "2026-11-27 21:10:30 +0100 CET"),
        ("UTC", "2026-11-27 20:10:30 +0000 UTC"),
        ("", "2026-11-27 20:10:30 +0000 UTC"),
        ("Australia/Lord_Howe", "2026-11-28 07:10:30 +1100 +11"),
    ],
)
def test_created_at_in_local_zone_matches_docker(tz: object, zone: str, expected: str) -> None:
    tz(zone)  # type: ignore[operator]
    assert created_at(BUSYBOX_CREATED) == expected


def test_go_time_string_with_nanos() -> None:
    # docker network inspect host --format '{{.Created}}'
    assert go_time_string(1795809345, 483206469, ("UTC", 0)) == (
        "2026-11-27 19:55:45.483206469 +0000 UTC"
    )
    assert go_time_string(1795809345, 500000000, ("UTC", 0)) == (
        "2026-11-27 19:55:45.5 +0000 UTC"
    )
    assert go_time_string(0, 0, ("CET", 3600)) == "1970-01-01 01:00:00 +0100 CET"
    assert go_time_string(0, 0, ("", -16200)) == "1969-12-31 19:30:00 -0430 -0430"


def test_go_zero_time() -> None:
    assert go_time_string(ZERO_TIME_SECONDS, 0, ("UTC", 0)) == "0001-01-01 00:00:00 +0000 UTC"
    assert format_rfc3339nano(ZERO_TIME_SECONDS) == "0001-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("sec", "nsec", "offset", "expected"),
    [
        (1714558830, 123456789, 0, "2024-05-01T10:20:30.123456789Z"),
        (1714558830, 120000000, 0, "2024-05-01T10:20:30.12Z"),
        (1714558830, 0, 0, "2024-05-01T10:20:30Z"),
        (1714558830, 1, 0, "2024-05-01T10:20:30.000000001Z"),
        (1714558830, 500, 7200, "2024-05-01T12:20:30.0000005+02:00"),
        (1714558830, 0, -5400, "2024-05-01T08:50:30-01:30"),
        (1795809345, 483206469, 0, "2026-11-27T19:55:45.483206469Z"),
        (-1, 0, 0, "1969-12-31T23:59:59Z"),
        (951782400, 0, 0, "2000-02-29T00:00:00Z"),
        (253402300799, 999999999, 0, "9999-12-31T23:59:59.999999999Z"),
    ],
)
def test_format_rfc3339nano(sec: int, nsec: int, offset: int, expected: str) -> None:
    assert format_rfc3339nano(sec, nsec, offset) == expected
    assert parse_rfc3339nano(expected) == (sec, nsec)


def test_format_rfc3339nano_normalises_nanos() -> None:
    assert format_rfc3339nano(10, 1_500_000_000) == "1970-01-01T00:00:11.5Z"


def test_format_rfc3339() -> None:
    assert format_rfc3339(1714558830) == "2024-05-01T10:20:30Z"
    assert format_rfc3339(1714558830, 3600) == "2024-05-01T11:20:30+01:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:20:30.123456789Z", (1714558830, 123456789)),
        ("2024-05-01T10:20:30.1234567891Z", (1714558830, 123456789)),  # extra digits cut
        ("2024-05-01T10:20:30,5Z", (1714558830, 500000000)),
        ("2024-05-01T10:20:30Z", (1714558830, 0)),
        ("2024-05-01T12:20:30+02:00", (1714558830, 0)),
        ("2026-11-27T20:10:30.859472752Z", (BUSYBOX_CREATED, BUSYBOX_NANOS)),
        ("2026-05-07T21:09:36.000000000+00:00", (1778188176, 0)),
        ("0001-01-01T00:00:00Z", (ZERO_TIME_SECONDS, 0)),
        ("0000-01-01T00:00:00Z", (-62167219200, 0)),
    ],
)
def test_parse_rfc3339nano(text: str, expected: tuple[int, int]) -> None:
    assert parse_rfc3339nano(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "2024-05-01",
            'parsing time "2024-05-01" as "2006-01-02T15:04:05.999999999Z07:00": '
            'cannot parse "" as "T"',
        ),
        (
            "2024-05-01T10:20:30",
            'parsing time "2024-05-01T10:20:30" as "2006-01-02T15:04:05.999999999Z07:00": '
            'cannot parse "" as "Z07:00"',
        ),
        ("2024-02-30T00:00:00Z", 'parsing time "2024-02-30T00:00:00Z": day out of range'),
        ("2023-02-29T00:00:00Z", 'parsing time "2023-02-29T00:00:00Z": day out of range'),
        ("2024-05-01T10:20:30Zjunk", 'parsing time "2024-05-01T10:20:30Zjunk": extra text: "junk"'),
        (
            "2024-05-01T10:20:30+0200",
            'parsing time "2024-05-01T10:20:30+0200" as "2006-01-02T15:04:05.999999999Z07:00": '
            'cannot parse "+0200" as "Z07:00"',
        ),
    ],
)
def test_parse_rfc3339nano_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as ei:
        parse_rfc3339nano(text)
    assert str(ei.value) == message


def test_parse_rfc3339nano_datetime() -> None:
    dt, ns = parse_rfc3339nano_datetime("2024-05-01T12:20:30.123456789+02:00")
    assert ns == 123456789
    assert dt.utcoffset() == timedelta(hours=2)
    assert dt.astimezone(UTC).isoformat() == "2024-05-01T10:20:30.123456+00:00"
    dt, ns = parse_rfc3339nano_datetime("2024-05-01T10:20:30Z")
    assert dt.tzinfo == UTC and ns == 0
    assert dt == dt.replace(tzinfo=timezone.utc)  # noqa: UP017


def test_go_parse_time_layouts() -> None:
    assert go_parse_time(RFC3339, "2024-05-01T10:20:30Z") == (1714558830, 0, 0)
    # a fraction after the seconds is accepted even if the layout has none
    assert go_parse_time(RFC3339, "2024-05-01T10:20:30.25Z") == (1714558830, 250000000, 0)
    assert go_parse_time("2006-01-02", "2024-05-01", 3600) == (1714518000, 0, 3600)
    assert go_parse_time(RFC3339_NANO, "2024-05-01T10:20:30-07:00")[2] == -25200
    # the hour may have one digit ("15" is not zero padded)
    assert go_parse_time("2006-01-02T15", "2024-05-01T7")[0] == 1714546800


def test_local_zone(tz: object) -> None:
    tz("Europe/Berlin")  # type: ignore[operator]
    assert local_zone(0) == ("CET", 3600)
    assert local_zone(1719835200) == ("CEST", 7200)  # July
