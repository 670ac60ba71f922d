"""The drivers' file writes, against a fake cgroupfs made of plain files.

Plain files accept every write, so these check which files get which values;
the kernel's own checks are exercised by tests/integration/test_cgroups_*.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, Unsupported
from dockyard.runtime.linux.cgroups.v1 import V1Driver
from dockyard.runtime.linux.cgroups.v2 import V2Driver

V1_FILES = {
    "memory": [
        "memory.limit_in_bytes",
        "memory.memsw.limit_in_bytes",
        "memory.soft_limit_in_bytes",
        "memory.oom_control",
        "memory.swappiness",
    ],
    "cpu": ["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"],
    "pids": ["pids.max"],
    "devices": ["devices.allow", "devices.deny"],
    "blkio": ["blkio.throttle.read_bps_device"],
}


def _v1(tmp_path: Path, controllers: list[str]) -> V1Driver:
    paths = {}
    for c in controllers:
        d = tmp_path / c / "ctr"
        d.mkdir(parents=True)
        for name in V1_FILES.get(c, []):
            (d / name).write_text("9223372036854771712\n" if "limit" in name else "")
        paths[c] = str(d)
    return V1Driver(paths)


def _read(tmp_path: Path, c: str, name: str) -> str:
    return (tmp_path / c / "ctr" / name).read_text()


def test_v1_writes_limits(tmp_path: Path) -> None:
    drv = _v1(tmp_path, ["memory", "cpu", "pids", "blkio"])
    drv.set(
        {
            "memory": {"limit": 1 << 20, "swap": 2 << 20, "reservation": 1 << 19, "swappiness": 0},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000},
            "pids": {"limit": 0},
            "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 100}]},
        }
    )
    assert _read(tmp_path, "memory", "memory.limit_in_bytes") == str(1 << 20)
    assert _read(tmp_path, "memory", "memory.memsw.limit_in_bytes") == str(2 << 20)
    assert _read(tmp_path, "memory", "memory.soft_limit_in_bytes") == str(1 << 19)
    assert _read(tmp_path, "memory", "memory.swappiness") == "0"
    assert _read(tmp_path, "cpu", "cpu.shares") == "512"
    assert _read(tmp_path, "cpu", "cpu.cfs_quota_us") == "50000"
    assert _read(tmp_path, "cpu", "cpu.cfs_period_us") == "100000"
    assert _read(tmp_path, "pids", "pids.max") == "max"
    assert _read(tmp_path, "blkio", "blkio.throttle.read_bps_device") == "8:0 100"


def test_v1_unlimited_memory_sets_unlimited_swap(tmp_path: Path) -> None:
    drv = _v1(tmp_path, ["memory"])
    drv.set({"memory": {"limit": -1}})
    assert _read(tmp_path, "memory", "memory.memsw.limit_in_bytes") == "-1"


def test_v1_missing_controller(tmp_path: Path) -> None:
    drv = _v1(tmp_path, ["memory"])
    drv.set({"pids": {}, "blockIO": {}, "hugepageLimits": []})  # unset: skipped
    with pytest.raises(Unsupported, match="'pids'"):
        drv.set({"pids": {"limit": 10}})
    with pytest.raises(Unsupported, match="hugetlb"):
        drv.set({"hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 21}]})
    with pytest.raises(Unsupported, match="blkio"):
        drv.set({"blockIO": {"weight": 100}})
    with pytest.raises(Unsupported, match="unified"):
        drv.set({"unified": {"memory.high": "1000000"}})


def test_v1_missing_weight_file(tmp_path: Path) -> None:
    drv = _v1(tmp_path, ["blkio"])
    with pytest.raises(Unsupported, match=r"blockIO\.weight"):
        drv.set({"blockIO": {"weight": 100}})


def test_v1_devices(tmp_path: Path) -> None:
    drv = _v1(tmp_path, ["devices"])
    drv.set({"devices": [{"allow": False, "access": "rwm"}]})
    assert _read(tmp_path, "devices", "devices.deny") == "a *:* rwm"
    drv.set({"devices": [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}]})
    assert _read(tmp_path, "devices", "devices.allow") == "c 1:3 rw"
    with pytest.raises(InvalidArgument):
        drv.set({"devices": [{"allow": True, "type": "q"}]})


def test_v1_devices_without_controller(tmp_path: Path) -> None:
    drv = _v1(tmp_path, ["memory"])
    drv.set({"devices": [{"allow": True, "access": "rwm"}]})  # allow-all: nothing to do
    with pytest.raises(Unsupported, match="devices"):
        drv.set({"devices": [{"allow": False, "access": "rwm"}]})


def _v2(tmp_path: Path, controllers: str) -> V2Driver:
    d = tmp_path / "ctr"
    d.mkdir()
    (d / "cgroup.controllers").write_text(controllers + "\n")
    for name in (
        "cpu.weight",
        "cpu.max",
        "memory.max",
        "memory.swap.max",
        "memory.low",
        "pids.max",
    ):
        (d / name).write_text("")
    return V2Driver(str(d), str(tmp_path))


def test_v2_writes_limits(tmp_path: Path) -> None:
    drv = _v2(tmp_path, "cpu memory pids")
    drv.set(
        {
            "memory": {"limit": 100 << 20, "swap": 300 << 20, "reservation": 50 << 20},
            "cpu": {"shares": 1024, "quota": 25000},
            "pids": {"limit": -1},
            "devices": [{"allow": True, "access": "rwm"}],
            "unified": {"memory.low": "123"},
        }
    )
    d = tmp_path / "ctr"
    assert (d / "memory.max").read_text() == str(100 << 20)
    assert (d / "memory.swap.max").read_text() == str(200 << 20)
    assert (d / "cpu.weight").read_text() == "39"
    assert (d / "cpu.max").read_text() == "25000 100000"
    assert (d / "pids.max").read_text() == "max"
    assert (d / "memory.low").read_text() == "123"


def test_v2_unsupported(tmp_path: Path) -> None:
    drv = _v2(tmp_path, "cpu")
    with pytest.raises(Unsupported, match="'memory'"):
        drv.set({"memory": {"limit": 1 << 20}})
    with pytest.raises(Unsupported, match="'pids'"):
        drv.set({"pids": {"limit": 5}})
    with pytest.raises(Unsupported, match=r"io\.nope"):
        drv.set({"unified": {"io.nope": "1"}})
    with pytest.raises(Unsupported):
        drv.set({"unified": {"../escape": "1"}})
    drv.set({"memory": {}, "pids": {}})  # unset: skipped
