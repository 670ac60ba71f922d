"""Resource limits on the real kernel: written, read back, and enforced."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from dockyard.errors import SystemFailure, Unsupported
from dockyard.runtime.linux.cgroups import fs

from ._cgroups_support import CgroupLab, lab, needs_root, wait_for

__all__ = ["lab"]

pytestmark = needs_root

MiB = 1 << 20


def _read(path: str) -> str:
    return fs.read(path).strip()


def test_limits_are_written_and_read_back(lab: CgroupLab) -> None:
    resources = {
        "memory": {"limit": 64 * MiB, "reservation": 32 * MiB, "swap": 96 * MiB},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 20},
        "devices": [
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": True, "type": "c", "major": 136, "access": "rw"},
        ],
    }
    m = lab.cgroup("limits", resources)
    if m.mode == "v2":
        resources.pop("devices")
        m.resources = resources
    m.create()
    p = lab.start(m, ["sleep", "30"])
    paths = m.paths()
    if m.mode == "v2":
        d = paths[""]
        assert _read(f"{d}/memory.max") == str(64 * MiB)
        assert _read(f"{d}/memory.low") == str(32 * MiB)
        assert _read(f"{d}/cpu.weight") == "20"
        assert _read(f"{d}/cpu.max") == "50000 100000"
        assert _read(f"{d}/pids.max") == "20"
    else:
        mem = paths["memory"]
        assert _read(f"{mem}/memory.limit_in_bytes") == str(64 * MiB)
        assert _read(f"{mem}/memory.soft_limit_in_bytes") == str(32 * MiB)
        if os.path.exists(f"{mem}/memory.memsw.limit_in_bytes"):
            assert _read(f"{mem}/memory.memsw.limit_in_bytes") == str(96 * MiB)
        assert _read(f"{paths['cpu']}/cpu.shares") == "512"
        assert _read(f"{paths['cpu']}/cpu.cfs_quota_us") == "50000"
        assert _read(f"{paths['cpu']}/cpu.cfs_period_us") == "100000"
        assert _read(f"{paths['cpuset']}/cpuset.cpus") == "0"
        assert _read(f"{paths['pids']}/pids.max") == "20"
        assert fs.read(f"{paths['devices']}/devices.list").splitlines() == [
            "c 1:3 rwm",
            "c 136:* rw",
        ]
    with open(f"/proc/{p.pid}/status") as f:
        assert "Cpus_allowed_list:\t0\n" in f.read()
    # Raising the limits again takes the other write order for memory and swap.
    m.set({"memory": {"limit": 128 * MiB, "swap": 256 * MiB}, "pids": {"limit": -1}})
    st = m.stats()
    assert st["memory"]["limit"] == 128 * MiB
    assert st["pids"]["limit"] == 0  # unlimited


def test_pids_limit_stops_a_fork_loop(lab: CgroupLab) -> None:
    m = lab.cgroup("forks", {"pids": {"limit": 10}})
    m.create()
    p = lab.start(
        m,
        ["sh", "-c", "for i in $(seq 100); do sleep 5 & done"],
        stderr=subprocess.PIPE,
    )
    peak = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        peak = max(peak, len(m.pids()), m.stats()["pids"]["current"])
        if p.poll() is not None and peak:
            break
        time.sleep(0.01)
    assert p.stderr is not None
    err = p.stderr.read().decode(errors="replace")
    p.wait(timeout=10)
    assert 0 < peak <= 10
    assert "fork" in err.lower() or "resource temporarily unavailable" in err.lower(), err
    assert len(m.pids()) <= 10
    events = fs.read_opt(os.path.join(m.paths().get("pids", m.paths()[""]), "pids.events"))
    if events is not None:
        assert int(events.split()[1]) > 0  # "max N": forks refused


def test_memory_hog_is_oom_killed(lab: CgroupLab) -> None:
    m = lab.cgroup("oom", {"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})
    m.create()
    assert not m.oom_killed()
    hog = "x = b'\\x01' * (200 << 20); print('survived')"
    p = lab.start(m, [sys.executable, "-S", "-c", hog], stdout=subprocess.PIPE)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == -9, (p.returncode, out)
    assert b"survived" not in out
    assert wait_for(m.oom_killed, 5)


def test_stats_are_non_zero(lab: CgroupLab) -> None:
    m = lab.cgroup("stats", {"memory": {"limit": 256 * MiB}, "pids": {"limit": 50}})
    m.create()
    busy = (
        "import time\nx = b'\\x01' * (20 << 20)\nt = time.time()\nwhile time.time() - t < 5: pass"
    )
    lab.start(m, [sys.executable, "-S", "-c", busy])
    assert wait_for(lambda: m.stats()["memory"]["usage"] > 20 * MiB, 5)
    # > 0.1 s of CPU, in ns (waited for: on a loaded machine it may take a while).
    assert wait_for(lambda: m.stats()["cpu"]["usage"]["total"] > 100_000_000, 5)
    st = m.stats()
    assert st["memory"]["usage"] > 20 * MiB
    assert st["memory"]["limit"] == 256 * MiB
    assert st["pids"] == {"current": 1, "limit": 50}
    assert set(st["blkio"]) == {"read_bytes", "write_bytes"}


def test_kernel_refusal_names_file_and_value(lab: CgroupLab) -> None:
    m = lab.cgroup("refused")
    m.create()
    with pytest.raises(SystemFailure) as info:
        m.set({"cpu": {"cpus": "63"}})
    assert "cpuset.cpus" in str(info.value) and "'63'" in str(info.value)


def test_missing_controller_is_unsupported_only_when_used(lab: CgroupLab) -> None:
    m = lab.cgroup("hugetlb")
    if "hugetlb" in m.paths() or m.mode == "v2":
        pytest.skip("hugetlb controller present on this host")
    m.create()
    m.set({"hugepageLimits": []})
    with pytest.raises(Unsupported, match="hugetlb"):
        m.set({"hugepageLimits": [{"pageSize": "2MB", "limit": 2 * MiB}]})
