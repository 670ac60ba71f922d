"""Pure conversions from OCI resources to cgroup file values."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.linux.cgroups import convert


@pytest.mark.parametrize(
    ("shares", "weight"),
    [(0, 0), (2, 1), (1024, 39), (512, 20), (262144, 10000), (100, 4)],
)
def test_shares_to_weight_matches_runc(shares: int, weight: int) -> None:
    assert convert.shares_to_weight(shares) == weight


@pytest.mark.parametrize(("blkio", "io"), [(0, 0), (10, 1), (1000, 10000), (500, 4950)])
def test_blkio_weight_to_io_weight(blkio: int, io: int) -> None:
    assert convert.blkio_weight_to_io_weight(blkio) == io


@pytest.mark.parametrize(
    ("quota", "period", "line"),
    [
        (None, None, None),
        (0, 0, None),
        (50000, 100000, "50000 100000"),
        (50000, None, "50000 100000"),
        (-1, 100000, "max 100000"),
        (None, 20000, "max 20000"),
        (-1, None, "max 100000"),
    ],
)
def test_cpu_max(quota: int | None, period: int | None, line: str | None) -> None:
    assert convert.cpu_max(quota, period) == line


@pytest.mark.parametrize(
    ("swap", "limit", "result"),
    [
        (None, None, None),
        (0, 100, None),
        (-1, 100, -1),
        (None, -1, -1),
        (200, 100, 100),
        (100, 100, 0),
        (-1, -1, -1),
    ],
)
def test_swap_v2(swap: int | None, limit: int | None, result: int | None) -> None:
    assert convert.swap_v2(swap, limit) == result


@pytest.mark.parametrize(("swap", "limit"), [(200, None), (200, -1), (50, 100), (200, -5)])
def test_swap_v2_rejects(swap: int, limit: int | None) -> None:
    with pytest.raises(InvalidArgument):
        convert.swap_v2(swap, limit)


def test_limits_and_pids() -> None:
    assert convert.v2_limit(-1) == "max"
    assert convert.v2_limit(1024) == "1024"
    assert convert.pids_max(0) == "max"
    assert convert.pids_max(-1) == "max"
    assert convert.pids_max(10) == "10"
    assert convert.normalise_limit("max\n") == 0
    assert convert.normalise_limit("9223372036854771712\n") == 0
    assert convert.normalise_limit("33554432\n") == 33554432


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"allow": False, "access": "rwm"}, (False, "a *:* rwm")),
        (
            {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            (True, "c 1:3 rwm"),
        ),
        ({"allow": True, "type": "c", "major": 136, "access": "rw"}, (True, "c 136:* rw")),
        ({"allow": True, "type": "b", "major": -1, "minor": -1, "access": "m"}, (True, "b *:* m")),
        ({"allow": True, "type": "c", "major": 5, "minor": 1}, (True, "c 5:1 rwm")),
    ],
)
def test_device_rule(rule: dict[str, object], expected: tuple[bool, str]) -> None:
    assert convert.device_rule(rule) == expected


@pytest.mark.parametrize(
    "rule",
    [
        {"type": "c", "major": 1, "minor": 3},
        {"allow": True, "type": "x"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwx"},
        {"allow": True, "type": "c", "major": "1", "minor": 3},
    ],
)
def test_device_rule_rejects(rule: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        convert.device_rule(rule)


def test_is_allow_all() -> None:
    docker_default = [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    ]
    assert convert.is_allow_all(None)
    assert convert.is_allow_all([])
    assert convert.is_allow_all([{"allow": True, "access": "rwm"}])
    assert convert.is_allow_all([*docker_default, {"allow": True, "access": "rwm"}])
    assert not convert.is_allow_all(docker_default)
    assert not convert.is_allow_all([{"allow": False, "type": "c", "major": 1, "minor": 3}])


def test_throttle_lines() -> None:
    entry = {"major": 8, "minor": 0, "rate": 1048576}
    assert convert.throttle_v1(entry) == "8:0 1048576"
    assert convert.io_max_v2("rbps", entry) == "8:0 rbps=1048576"
    assert convert.io_max_v2("wiops", {"major": 8, "minor": 16, "rate": 0}) == "8:16 wiops=max"


def test_stat_parsers() -> None:
    assert convert.parse_flat_keyed("cache 5\nrss 7\nbad\n") == {"cache": 5, "rss": 7}
    blkio = "8:0 Read 100\n8:0 Write 50\n8:0 Sync 150\n8:16 Read 1\nTotal 151\n"
    assert convert.parse_blkio_bytes(blkio) == (101, 50)
    io = "8:0 rbytes=100 wbytes=20 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n"
    assert convert.parse_io_stat(io) == (101, 22)
