"""Mount discovery, mode detection and path resolution, from fixed /proc texts."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.linux.cgroups import fs

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""
PURE_V2 = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
V1_ONLY = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"


def test_parse_mountinfo_hybrid() -> None:
    mounts = fs.parse_mountinfo(HYBRID)
    assert [m.version for m in mounts] == [1, 1, 1, 2]
    assert mounts[0].controllers == {"cpu", "cpuacct"}
    assert mounts[2].controllers == {"name=systemd"}
    assert mounts[3].point == "/sys/fs/cgroup/unified"


@pytest.mark.parametrize(("text", "mode"), [(HYBRID, "hybrid"), (PURE_V2, "v2"), (V1_ONLY, "v1")])
def test_mode(text: str, mode: str) -> None:
    assert fs.mode_from_mounts(fs.parse_mountinfo(text)) == mode


def test_parse_proc_cgroup() -> None:
    own = fs.parse_proc_cgroup("4:memory:/a/b\n2:cpu,cpuacct:/\n1:name=systemd:/s\n0::/u\n")
    assert own == {"memory": "/a/b", "cpu": "/", "cpuacct": "/", "name=systemd": "/s", "": "/u"}


def test_resolve_absolute_and_relative() -> None:
    mem = fs.CgroupMount("/sys/fs/cgroup/memory", "/", 1, frozenset({"memory"}))
    assert fs.resolve("/dockyard/abc", mem, "/a/b") == "/sys/fs/cgroup/memory/dockyard/abc"
    assert fs.resolve("dockyard/abc", mem, "/a/b") == "/sys/fs/cgroup/memory/a/b/dockyard/abc"
    assert fs.resolve("dockyard/abc", mem, None) == "/sys/fs/cgroup/memory/dockyard/abc"


def test_resolve_inside_a_cgroup_namespace_mount() -> None:
    sub = fs.CgroupMount("/sys/fs/cgroup", "/outer", 2, frozenset())
    assert fs.resolve("c1", sub, "/outer/me") == "/sys/fs/cgroup/me/c1"


@pytest.mark.parametrize("bad", ["", "/a/../../etc", "../x"])
def test_resolve_rejects(bad: str) -> None:
    mem = fs.CgroupMount("/sys/fs/cgroup/memory", "/", 1, frozenset({"memory"}))
    with pytest.raises(InvalidArgument):
        fs.resolve(bad, mem, "/")
