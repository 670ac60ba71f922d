"""CgroupManager on the real kernel: create, apply, pids, freeze, kill, destroy."""

from __future__ import annotations

import os
import signal
import time

import pytest

from dockyard.errors import Conflict
from dockyard.runtime.linux.cgroups import detect_mode

from ._cgroups_support import CgroupLab, cputime, lab, needs_root, wait_for

__all__ = ["lab"]

pytestmark = needs_root


def test_detect_mode_matches_mounts() -> None:
    mode = detect_mode()
    assert mode in ("v1", "hybrid", "v2")
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        assert mode == "v2"
    elif os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers"):
        assert mode == "hybrid"


def test_create_apply_destroy(lab: CgroupLab) -> None:
    m = lab.cgroup("life")
    m.create()
    m.create()  # idempotent
    dirs = list(m.paths().values())
    assert dirs and all(os.path.isdir(d) for d in dirs)
    if m.mode == "hybrid":
        assert m.paths()[""].startswith("/sys/fs/cgroup/unified/")
    p = lab.start(m, ["sleep", "30"])
    assert m.pids() == [p.pid]
    with open(f"/proc/{p.pid}/cgroup") as f:
        lines = f.read().splitlines()
    assert all(line.endswith(f"{lab.parent}/life") for line in lines), lines
    with pytest.raises(Conflict, match=str(p.pid)):
        m.destroy()
    p.kill()
    p.wait()
    lab.wait_empty(m)
    m.destroy()
    assert not any(os.path.exists(d) for d in dirs)
    m.destroy()  # idempotent


def test_pids_is_recursive(lab: CgroupLab) -> None:
    m = lab.cgroup("rec")
    m.create()
    p = lab.start(m, ["sh", "-c", "sleep 30 & sleep 30 & wait"])
    assert wait_for(lambda: len(m.pids()) == 3)
    assert p.pid in m.pids()
    m.kill_all(signal.SIGKILL)
    p.wait(timeout=10)
    assert wait_for(lambda: m.pids() == [])


def test_freeze_and_thaw_a_busy_process(lab: CgroupLab) -> None:
    m = lab.cgroup("freeze")
    m.create()
    p = lab.start(m, ["sh", "-c", "while :; do :; done"])
    time.sleep(0.3)
    assert m.state() == "thawed"
    m.freeze()
    assert m.state() == "frozen"
    t1 = cputime(p.pid)
    time.sleep(0.6)
    t2 = cputime(p.pid)
    assert t2 == t1, "CPU time grew while frozen"
    m.thaw()
    assert m.state() == "thawed"
    time.sleep(0.6)
    assert cputime(p.pid) > t2 + 10  # ticks of 10 ms: it ran for most of 0.6 s


def test_kill_all_reaches_every_process(lab: CgroupLab) -> None:
    m = lab.cgroup("kill")
    m.create()
    p = lab.start(m, ["sh", "-c", "for i in 1 2 3 4 5; do sleep 60 & done; wait"])
    assert wait_for(lambda: len(m.pids()) == 6)
    m.kill_all(signal.SIGTERM)
    assert p.wait(timeout=10) != 0
    assert wait_for(lambda: m.pids() == [])
    assert m.state() == "thawed"
    m.destroy()


def test_destroy_leaves_no_directories_in_any_hierarchy(lab: CgroupLab) -> None:
    m = lab.cgroup("gone/deeper")
    m.create()
    p = lab.start(m, ["true"])
    p.wait()
    lab.wait_empty(m)
    m.destroy()
    for root, _dirs, _files in os.walk("/sys/fs/cgroup"):
        assert not root.endswith(f"{lab.parent}/gone/deeper"), root
        if root.count("/") > 6:
            _dirs.clear()
