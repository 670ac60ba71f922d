"""The v2 driver on the real unified hierarchy (pure v2 hosts, or the hybrid
unified tree that has no controllers but does have the core v2 files)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from dockyard.errors import Unsupported
from dockyard.runtime.linux.cgroups import fs
from dockyard.runtime.linux.cgroups.v2 import V2Driver

from ._cgroups_support import cputime, needs_root, wait_for

pytestmark = needs_root


@pytest.fixture
def v2() -> Iterator[V2Driver]:
    mounts = [m for m in fs.read_mounts() if m.version == 2]
    if not mounts:
        pytest.skip("no cgroup2 mount")
    parent = f"/dockyard-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    drv = V2Driver.discover(f"{parent}/c", mounts, fs.read_own_cgroups())
    assert drv is not None
    try:
        yield drv
    finally:
        if os.path.exists(drv.file("cgroup.freeze")):
            fs.write(drv.file("cgroup.freeze"), "0")
        for pid in drv.pids():
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not drv.pids())
        fs.remove_tree(os.path.dirname(drv.path))


def _start(drv: V2Driver, argv: list[str]) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(["sh", "-c", 'read _ && exec "$@"', "sh", *argv], stdin=subprocess.PIPE)
    assert p.stdin is not None
    drv.apply(p.pid)
    p.stdin.write(b"\n")
    p.stdin.close()
    p.stdin = None
    return p


def test_v2_lifecycle_and_freezer(v2: V2Driver) -> None:
    v2.create()
    v2.create()
    p = _start(v2, ["sh", "-c", "while :; do :; done"])
    try:
        assert v2.pids() == [p.pid]
        time.sleep(0.3)
        v2.freeze()
        assert v2.state() == "frozen"
        t1 = cputime(p.pid)
        time.sleep(0.5)
        assert cputime(p.pid) == t1
        v2.thaw()
        assert v2.state() == "thawed"
        time.sleep(0.5)
        assert cputime(p.pid) > t1
        assert v2.stats()["cpu"]["usage"]["total"] > 0
    finally:
        p.kill()
        p.wait()
    assert wait_for(lambda: v2.pids() == [])
    v2.destroy()
    assert not os.path.exists(v2.path)
    v2.destroy()


def test_v2_unavailable_controller_is_unsupported(v2: V2Driver) -> None:
    v2.create()
    if "pids" in v2.available():
        pytest.skip("pids controller is enabled here")
    v2.set({"pids": {}})
    with pytest.raises(Unsupported, match="'pids'"):
        v2.set({"pids": {"limit": 5}})
