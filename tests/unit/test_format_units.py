"""Unit tests for dockyard.golang.units (docker/go-units v0.5.0, time.ParseDuration,
docker's timetypes.GetTimestamp).

Size/duration expectations are go-units' own test tables; the timestamp error messages
were produced by the real docker CLI (``docker events --since VALUE --until 1s``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dockyard.errors import InvalidArgument
from dockyard.golang.units import (
    bytes_size,
    from_human_size,
    get_timestamp,
    human_duration,
    human_size,
    parse_go_duration,
    parse_go_duration_ns,
    parse_size,
    parse_timestamp,
    parse_timestamps,
    ram_in_bytes,
)

KB, MB, GB, TB, PB = 1000, 1000**2, 1000**3, 1000**4, 1000**5
KiB, MiB, GiB, TiB, PiB = 1024, 1024**2, 1024**3, 1024**4, 1024**5


# ---------------------------------------------------------------------------
# sizes


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0B"),
        (999, "999B"),
        (1000, "1kB"),
        (1024, "1.02kB"),
        (1984311, "1.98MB"),  # busybox as `docker images` shows it
        (4_430_000_000, "4.43GB"),
        (999_499, "999kB"),
        (999_500, "1e+03kB"),  # Go's %.3g rounds up into an exponent
        (5_600_000, "5.6MB"),
        (1e30, "1e+06YB"),
    ],
)
def test_human_size_precision_3(size: float, expected: str) -> None:
    assert human_size(size) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (1000, "1kB"),
        (1024, "1.024kB"),
        (1000000, "1MB"),
        (1048576, "1.049MB"),
        (2 * MB, "2MB"),
        (3.42 * GB, "3.42GB"),
        (5.372 * TB, "5.372TB"),
        (2.22 * PB, "2.22PB"),
        (10000000000000 * PB, "1e+04YB"),
    ],
)
def test_human_size_precision_4(size: float, expected: str) -> None:
    # go-units TestHumanSize (HumanSize = precision 4)
    assert human_size(size, 4) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0B"),
        (1023, "1023B"),
        (1024, "1KiB"),
        (1024 * 1024, "1MiB"),
        (2 * MiB, "2MiB"),
        (3.42 * GiB, "3.42GiB"),
        (5.372 * TiB, "5.372TiB"),
        (2.22 * PiB, "2.22PiB"),
        (KiB * KiB * KiB * KiB * KiB * PiB, "1.049e+06YiB"),
    ],
)
def test_bytes_size(size: float, expected: str) -> None:
    assert bytes_size(size) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0), ("0b", 0), ("0B", 0), ("0 B", 0), ("32", 32), ("32b", 32), ("32B", 32),
        ("32k", 32 * KB), ("32K", 32 * KB), ("32kb", 32 * KB), ("32Kb", 32 * KB),
        ("32Mb", 32 * MB), ("32Gb", 32 * GB), ("32Tb", 32 * TB), ("32Pb", 32 * PB),
        ("32.5kB", 32500), ("32.5 kB", 32500), ("32.5 B", 32), ("0.3 K", 300), (".3kB", 300),
        ("0.", 0), ("0. ", 0), ("0.b", 0), ("0.B", 0), ("-0", 0), ("-0b", 0), ("-0B", 0),
        ("-0 b", 0), ("-0 B", 0), ("32.", 32), ("32.b", 32), ("32.B", 32), ("32. b", 32),
        ("32. B", 32), ("0 ", 0), ("1.5GB", 1_500_000_000),
    ],
)
def test_from_human_size(text: str, expected: int) -> None:
    # go-units TestFromHumanSize
    assert from_human_size(text) == expected
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        " 0", " 0b", " 0B", " 0 B", "0b ", "0B ", "0 B ", "", "hello", ".", ". ", " ", "  ",
        " .", " . ", "-32", "-32b", "-32B", "-32 b", "-32 B", "32b.", "32B.", "32 b.", "32 B.",
        "32 bb", "32 BB", "32 b b", "32 B B", "32  b", "32  B", " 32 ", "32m b", "32bm",
    ],
)
def test_from_human_size_errors(text: str) -> None:
    with pytest.raises(InvalidArgument):
        from_human_size(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32", 32), ("32b", 32), ("32B", 32), ("32k", 32 * KiB), ("32K", 32 * KiB),
        ("32kb", 32 * KiB), ("32Kb", 32 * KiB), ("32Kib", 32 * KiB), ("32KIB", 32 * KiB),
        ("32Mb", 32 * MiB), ("32Gb", 32 * GiB), ("32Tb", 32 * TiB), ("32Pb", 32 * PiB),
        ("32PB", 32 * PiB), ("32P", 32 * PiB), ("32.3", 32), ("32.3 mb", 33869004),
        ("0.3MB", 314572), ("512m", 536870912), ("1g", 1073741824), ("1.5GiB", 1610612736),
    ],
)
def test_ram_in_bytes(text: str, expected: int) -> None:
    # go-units TestRAMInBytes
    assert ram_in_bytes(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid size: ''"),
        ("hello", "invalid size: 'hello'"),
        ("-32", "invalid size: '-32'"),
        (" 32 ", 'strconv.ParseFloat: parsing " 32": invalid syntax'),
        ("32m b", 'strconv.ParseFloat: parsing "32m": invalid syntax'),
        ("32bm", "invalid suffix: 'bm'"),
        ("1x", "invalid suffix: 'x'"),
        ("1kbb", "invalid suffix: 'kbb'"),
        ("1 Kilo", "invalid suffix: 'Kilo'"),
        ("1KB2", "strconv.ParseFloat: parsing \"1KB2\": invalid syntax"),
    ],
)
def test_ram_in_bytes_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as ei:
        ram_in_bytes(text)
    assert str(ei.value) == message


# ---------------------------------------------------------------------------
# human durations (go-units TestHumanDuration)

SEC, MIN, HOUR = 1, 60, 3600
DAY = 24 * HOUR
WEEK, MONTH, YEAR = 7 * DAY, 30 * DAY, 365 * DAY


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.45, "Less than a second"),
        (-5, "Less than a second"),
        (1, "1 second"),
        (45, "45 seconds"),
        (46, "46 seconds"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (3 * MIN, "3 minutes"),
        (35 * MIN, "35 minutes"),
        (35 * MIN + 40, "35 minutes"),
        (45 * MIN, "45 minutes"),
        (45 * MIN + 40, "45 minutes"),
        (46 * MIN, "46 minutes"),
        (59 * MIN, "59 minutes"),
        (HOUR, "About an hour"),
        (HOUR + 29 * MIN, "About an hour"),
        (HOUR + 31 * MIN, "2 hours"),
        (HOUR + 59 * MIN, "2 hours"),
        (3 * HOUR, "3 hours"),
        (3 * HOUR + 29 * MIN, "3 hours"),
        (3 * HOUR + 31 * MIN, "4 hours"),
        (3 * HOUR + 59 * MIN, "4 hours"),
        (3 * HOUR + 60 * MIN, "4 hours"),
        (24 * HOUR, "24 hours"),
        (DAY + 12 * HOUR, "36 hours"),
        (2 * DAY, "2 days"),
        (7 * DAY, "7 days"),
        (13 * DAY + 5 * HOUR, "13 days"),
        (2 * WEEK, "2 weeks"),
        (2 * WEEK + 4 * DAY, "2 weeks"),
        (3 * WEEK, "3 weeks"),
        (4 * WEEK, "4 weeks"),
        (4 * WEEK + 3 * DAY, "4 weeks"),
        (MONTH, "4 weeks"),
        (MONTH + 2 * WEEK, "6 weeks"),
        (2 * MONTH, "2 months"),
        (2 * MONTH + 2 * WEEK, "2 months"),
        (3 * MONTH, "3 months"),
        (3 * MONTH + WEEK, "3 months"),
        (5 * MONTH + 2 * WEEK, "5 months"),
        (13 * MONTH, "13 months"),
        (23 * MONTH, "23 months"),
        (24 * MONTH, "24 months"),
        (24 * MONTH + 2 * WEEK, "2 years"),
        (3 * YEAR + 2 * MONTH, "3 years"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


# ---------------------------------------------------------------------------
# Go durations


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("-0", 0),
        ("5s", 5_000_000_000),
        ("30s", 30_000_000_000),
        ("1478s", 1_478_000_000_000),
        ("-5s", -5_000_000_000),
        ("+5s", 5_000_000_000),
        ("-0s", 0),
        ("5.0s", 5_000_000_000),
        ("5.6s", 5_600_000_000),
        ("5.s", 5_000_000_000),
        (".5s", 500_000_000),
        ("1.0s", 1_000_000_000),
        ("1.00s", 1_000_000_000),
        ("1.004s", 1_004_000_000),
        ("100.00100s", 100_001_000_000),
        ("10ns", 10),
        ("11us", 11_000),
        ("12µs", 12_000),
        ("12μs", 12_000),
        ("13ms", 13_000_000),
        ("14s", 14_000_000_000),
        ("15m", 15 * 60_000_000_000),
        ("16h", 16 * 3_600_000_000_000),
        ("3h30m", 12_600_000_000_000),
        ("10.5s4m", 250_500_000_000),
        ("-2m3.4s", -123_400_000_000),
        ("1h2m3s4ms5us6ns", 3_723_004_005_006),
        ("39h9m14.425s", 140_954_425_000_000),
        ("52763797000ns", 52_763_797_000),
        ("0.3333333333333333333h", 1_200_000_000_000),
        ("9007199254740993ns", 9_007_199_254_740_993),
        ("9223372036854775807ns", 9_223_372_036_854_775_807),
        ("9223372036854775.807us", 9_223_372_036_854_775_807),
        ("-9223372036854775808ns", -9_223_372_036_854_775_808),
        ("0.100000000000000000000h", 360_000_000_000),
        ("0.830103483285477580700h", 2_988_372_539_827),
    ],
)
def test_parse_go_duration_ns(text: str, ns: int) -> None:
    # Go's time.ParseDuration test table
    assert parse_go_duration_ns(text) == ns


def test_parse_go_duration_seconds() -> None:
    assert parse_go_duration("24h") == 86400.0
    assert parse_go_duration("1h30m") == 5400.0
    assert parse_go_duration("10s") == 10.0
    assert parse_go_duration("1.5h") == 5400.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("3", 'time: missing unit in duration "3"'),
        ("-", 'time: invalid duration "-"'),
        ("s", 'time: invalid duration "s"'),
        (".", 'time: invalid duration "."'),
        ("-.", 'time: invalid duration "-."'),
        (".s", 'time: invalid duration ".s"'),
        ("+.s", 'time: invalid duration "+.s"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("\x85\x85", 'time: invalid duration "\\xc2\\x85\\xc2\\x85"'),
        ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
        ("9223372036854775.808us", 'time: invalid duration "9223372036854775.808us"'),
        ("9223372036854ms775us808ns", 'time: invalid duration "9223372036854ms775us808ns"'),
        ("-9223372036854775809ns", 'time: invalid duration "-9223372036854775809ns"'),
    ],
)
def test_parse_go_duration_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as ei:
        parse_go_duration_ns(text)
    assert str(ei.value) == message


# ---------------------------------------------------------------------------
# docker timestamps (--since / --until / until=)

NOW = 1714558830.5  # 2024-05-01T10:20:30.5Z


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10m", "1714558230"),
        ("1h", "1714555230"),
        ("-1h", "1714562430"),
        ("0", "0"),
        ("2024-05-01T10:20:30Z", "1714558830.000000000"),
        ("2024-05-01T10:20:30.5Z", "1714558830.500000000"),
        ("2024-05-01T10:20:30.1234567891Z", "1714558830.123456789"),
        ("2024-05-01T10:20:30+02:00", "1714551630.000000000"),
        ("2024-05-01T10:20:30.25-01:30", "1714564230.250000000"),
        ("2024-05-01Z", "1714521600.000000000"),
        ("2024-05-01T10Z", "1714557600.000000000"),
        ("2024-05-01T10:20Z", "1714558800.000000000"),
        ("1714558830", "1714558830"),
        ("1714558830.1", "1714558830.1"),
    ],
)
def test_get_timestamp(utc: None, value: str, expected: str) -> None:
    assert get_timestamp(value, NOW) == expected


def test_get_timestamp_local_layouts(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")  # +05:30, no DST
    time.tzset()
    try:
        assert get_timestamp("2024-05-01", NOW) == "1714501800.000000000"
        assert get_timestamp("2024-05-01T10", NOW) == "1714537800.000000000"
        assert get_timestamp("2024-05-01T10:20", NOW) == "1714539000.000000000"
        assert get_timestamp("2024-05-01T10:20:30", NOW) == "1714539030.000000000"
        assert get_timestamp("2024-05-01T10:20:30.000000001", NOW) == "1714539030.000000001"
        # an explicit zone ignores the local one
        assert get_timestamp("2024-05-01T10:20:30Z", NOW) == "1714558830.000000000"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", 'failed to parse value as time or duration: "abc"'),
        ("2024-13-01", 'parsing time "2024-13-01": month out of range'),
        ("2024-02-30", 'parsing time "2024-02-30": day out of range'),
        ("2024-05-01T25:00", 'parsing time "2024-05-01T25:00": hour out of range'),
        ("1.x", 'failed to parse value as time or duration: "1.x"'),
        ("2024-05-01T10:20:30.5Zx", 'parsing time "2024-05-01T10:20:30.5Zx": extra text: "x"'),
        ("2024-5-1", 'parsing time "2024-5-1" as "2006-01-02": cannot parse "5-1" as "01"'),
        (
            "2024-05-01T1:2:3",
            'parsing time "2024-05-01T1:2:3" as "2006-01-02T15:04:05": cannot parse "2:3" as "04"',
        ),
        (
            "2024-05-01T10:20:30+25:00",
            'parsing time "2024-05-01T10:20:30+25:00": time zone offset hour out of range',
        ),
        (
            "2024-05-01T10:20:30z",
            'parsing time "2024-05-01T10:20:30z" as "2006-01-02T15:04:05Z07:00": '
            'cannot parse "z" as "Z07:00"',
        ),
        ("1d", 'failed to parse value as time or duration: "1d"'),
        ("2024-05-01 10:20", 'parsing time "2024-05-01 10:20": extra text: " 10:20"'),
        ("2024-05-01Z07:00", 'parsing time "2024-05-01Z07:00": extra text: "07:00"'),
        (
            "20x4-01-01",
            'parsing time "20x4-01-01" as "2006-01-02": cannot parse "20x4-01-01" as "2006"',
        ),
        ("-5", 'parsing time "-5" as "2006-01-02": cannot parse "-5" as "2006"'),
        (" 5", 'failed to parse value as time or duration: " 5"'),
        ("1e5", 'failed to parse value as time or duration: "1e5"'),
        ("2024-05-01T10:20:60Z", 'parsing time "2024-05-01T10:20:60Z": second out of range'),
    ],
)
def test_get_timestamp_errors_match_docker(value: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as ei:
        get_timestamp(value, NOW)
    assert str(ei.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", (7, 0)),
        ("1136073600", (1136073600, 0)),
        ("1136073600.000000001", (1136073600, 1)),
        ("1136073600.5", (1136073600, 500000000)),
        ("1136073600.0000000010", (1136073600, 1)),
        ("-1.5", (-1, 500000000)),
    ],
)
def test_parse_timestamps(value: str, expected: tuple[int, int]) -> None:
    assert parse_timestamps(value, 7) == expected


def test_parse_timestamps_errors() -> None:
    with pytest.raises(InvalidArgument) as ei:
        parse_timestamps("abc")
    assert str(ei.value) == 'strconv.ParseInt: parsing "abc": invalid syntax'
    with pytest.raises(InvalidArgument) as ei:
        parse_timestamps("1.x")
    assert str(ei.value) == 'strconv.ParseInt: parsing "x": invalid syntax'


def test_parse_timestamp_combined(utc: None) -> None:
    assert parse_timestamp("10m", NOW) == (1714558230, 0)
    assert parse_timestamp("2024-05-01T10:20:30.25Z", NOW) == (1714558830, 250000000)
    assert parse_timestamp("1714558830.5") == (1714558830, 500000000)
