"""Fixtures for the cgroup tests: uniquely named test cgroups and their children,
all removed afterwards even when a test fails."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dockyard.runtime.linux.cgroups import CgroupManager, fs

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


class CgroupLab:
    """Makes cgroups under /dockyard-test-<pid>-<random>/ and starts processes in them."""

    def __init__(self) -> None:
        self.parent = f"/dockyard-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.managers: list[CgroupManager] = []
        self.children: list[subprocess.Popen[bytes]] = []

    def cgroup(self, name: str, resources: dict[str, Any] | None = None) -> CgroupManager:
        m = CgroupManager(f"{self.parent}/{name}", resources)
        self.managers.append(m)
        return m

    def start(self, m: CgroupManager, argv: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        """Start ``argv`` already inside ``m``: it waits on stdin until moved in."""
        p = subprocess.Popen(
            ["sh", "-c", 'read _ && exec "$@"', "sh", *argv], stdin=subprocess.PIPE, **kw
        )
        self.children.append(p)
        assert p.stdin is not None
        try:
            m.apply(p.pid)
        finally:
            p.stdin.write(b"\n")
            p.stdin.close()
            p.stdin = None
        return p

    def wait_empty(self, m: CgroupManager, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while m.pids() and time.monotonic() < deadline:
            for p in self.children:
                p.poll()
            time.sleep(0.02)

    def cleanup(self) -> None:
        """Kill, reap and remove everything; the first error is raised at the end."""
        errors: list[Exception] = []
        for m in self.managers:
            try:
                if m.state() == "frozen":
                    m.thaw()
                m.kill_all(signal.SIGKILL)
            except Exception as e:
                errors.append(e)
        for p in self.children:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)
        for m in self.managers:
            try:
                self.wait_empty(m)
                m.destroy()
            except Exception as e:
                errors.append(e)
        for m in self.managers:
            for d in m.paths().values():
                top = d[: d.index(self.parent) + len(self.parent)]
                try:
                    fs.remove_tree(top)
                except Exception as e:
                    errors.append(e)
        if errors:
            raise errors[0]


@pytest.fixture
def lab() -> Iterator[CgroupLab]:
    lab = CgroupLab()
    try:
        yield lab
    finally:
        lab.cleanup()


def cputime(pid: int) -> int:
    """utime + stime of ``pid`` in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_for(pred: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()
