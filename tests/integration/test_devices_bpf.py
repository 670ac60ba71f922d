"""The cgroup v2 device program on the real kernel: a process in the cgroup gets
EPERM for what the rules deny, and an update replaces the program."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from dockyard.errors import Unsupported
from dockyard.runtime.linux.cgroups import devices_bpf, fs
from dockyard.runtime.linux.cgroups.v2 import V2Driver
from dockyard.runtime.linux.syscalls import Syscalls

from ._cgroups_support import needs_root, wait_for

pytestmark = needs_root

PROBE = """
import errno, os, sys
sys.stdin.readline()  # moved into the cgroup by now
for path, flags in (("/dev/null", os.O_WRONLY), ("/dev/null", os.O_RDONLY),
                    ("/dev/zero", os.O_RDONLY), ("/dev/full", os.O_RDONLY)):
    try:
        os.close(os.open(path, flags))
        print("ok", flush=True)
    except OSError as e:
        print(errno.errorcode[e.errno], flush=True)
"""


@pytest.fixture
def v2() -> Iterator[V2Driver]:
    mounts = [m for m in fs.read_mounts() if m.version == 2]
    if not mounts:
        pytest.skip("no cgroup2 mount")
    parent = f"/dockyard-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    drv = V2Driver.discover(f"{parent}/c", mounts, fs.read_own_cgroups())
    assert drv is not None
    drv.create()
    try:
        yield drv
    finally:
        for pid in drv.pids():
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not drv.pids())
        fs.remove_tree(os.path.dirname(drv.path))


def _probe(drv: V2Driver) -> list[str]:
    p = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", PROBE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        drv.apply(p.pid)
        out, _ = p.communicate("go\n", timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return out.split()


def _attached(drv: V2Driver) -> list[int]:
    sc = Syscalls()
    fd = sc.open_directory(drv.path)
    try:
        return devices_bpf.attached_ids(sc, fd)
    finally:
        sc.close(fd)


def test_device_rules_enforced_and_replaced(v2: V2Driver) -> None:
    rules = [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    ]
    try:
        v2.set({"devices": rules})
    except Unsupported as exc:
        pytest.skip(str(exc))
    assert len(_attached(v2)) == 1
    # /dev/null write denied, read allowed; /dev/zero allowed; /dev/full denied
    assert _probe(v2) == ["EPERM", "ok", "ok", "EPERM"]

    rules[1]["access"] = "rw"
    v2.set({"devices": rules})  # update: the new program replaces the old one
    assert len(_attached(v2)) == 1
    assert _probe(v2) == ["ok", "ok", "ok", "EPERM"]

    v2.set({"devices": [{"allow": True, "access": "rwm"}]})  # back to allow-all
    assert _attached(v2) == []
    assert _probe(v2) == ["ok", "ok", "ok", "ok"]
