"""The mount list: Docker's defaults, user mounts, sorting and overrides (moby's withMounts)."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.spec.mounts import build_mounts, merge_tmpfs_options, tmpfs_data
from dockyard.runtime.spec.types import EtcFiles, MountSpec

ETC = EtcFiles("/c/resolv.conf", "/c/hostname", "/c/hosts")

DOCKER_DEFAULTS: list[dict[str, Any]] = [
    {
        "destination": "/proc",
        "type": "proc",
        "source": "proc",
        "options": ["nosuid", "noexec", "nodev"],
    },
    {
        "destination": "/dev",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
        "destination": "/dev/pts",
        "type": "devpts",
        "source": "devpts",
        "options": [
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ],
    },
    {
        "destination": "/sys",
        "type": "sysfs",
        "source": "sysfs",
        "options": ["nosuid", "noexec", "nodev", "ro"],
    },
    {
        "destination": "/sys/fs/cgroup",
        "type": "cgroup",
        "source": "cgroup",
        "options": ["ro", "nosuid", "noexec", "nodev"],
    },
    {
        "destination": "/dev/mqueue",
        "type": "mqueue",
        "source": "mqueue",
        "options": ["nosuid", "noexec", "nodev"],
    },
    {
        "destination": "/dev/shm",
        "type": "tmpfs",
        "source": "shm",
        "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"],
    },
]


def by_dest(mounts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m["destination"]: m for m in mounts}


def test_defaults_exactly_as_docker() -> None:
    assert build_mounts([]).mounts == DOCKER_DEFAULTS


def test_defaults_then_etc_files() -> None:
    mounts = build_mounts([], etc_files=ETC).mounts
    assert mounts[:7] == DOCKER_DEFAULTS
    assert mounts[7:] == [
        {
            "destination": "/etc/resolv.conf",
            "type": "bind",
            "source": "/c/resolv.conf",
            "options": ["rbind", "rprivate"],
        },
        {
            "destination": "/etc/hostname",
            "type": "bind",
            "source": "/c/hostname",
            "options": ["rbind", "rprivate"],
        },
        {
            "destination": "/etc/hosts",
            "type": "bind",
            "source": "/c/hosts",
            "options": ["rbind", "rprivate"],
        },
    ]


def test_shm_size() -> None:
    shm = by_dest(build_mounts([], shm_size=1 << 30).mounts)["/dev/shm"]
    assert shm["options"][-1] == "size=1073741824"


def test_user_mounts_sorted_by_depth_stably() -> None:
    user = [
        MountSpec("/a/b/c", "/h/abc"),
        MountSpec("/data", "/var/lib/dockyard/volumes/v/_data", type="volume"),
        MountSpec("/a", "/h/a", read_only=True),
        MountSpec("/etc", "/h/etc"),
    ]
    mounts = build_mounts(user, etc_files=ETC).mounts[7:]
    assert [m["destination"] for m in mounts] == [
        "/data",
        "/a",
        "/etc",
        "/etc/resolv.conf",
        "/etc/hostname",
        "/etc/hosts",
        "/a/b/c",
    ]
    got = by_dest(mounts)
    assert got["/data"]["options"] == ["rbind"]  # volumes: no default propagation
    assert got["/a"]["options"] == ["rbind", "ro", "rprivate"]
    assert got["/a/b/c"]["options"] == ["rbind", "rprivate"]


def test_bind_options() -> None:
    user = [
        MountSpec("/nr", "/h", non_recursive=True),
        MountSpec("/sh", "/h", propagation="rshared"),
        MountSpec("/rro", "/h", read_only=True),
        MountSpec("/ronr", "/h", read_only=True, read_only_non_recursive=True),
    ]
    plan = build_mounts(user, rro=True)
    got = by_dest(plan.mounts)
    assert got["/nr"]["options"] == ["bind", "rprivate"]
    assert got["/sh"]["options"] == ["rbind", "rshared"]
    assert got["/rro"]["options"] == ["rbind", "rro", "rprivate"]
    assert got["/ronr"]["options"] == ["rbind", "ro", "rprivate"]
    assert plan.rootfs_propagation == "shared"


def test_slave_propagation_sets_rootfs_rslave() -> None:
    plan = build_mounts([MountSpec("/s", "/h", propagation="slave")])
    assert plan.rootfs_propagation == "rslave"
    assert build_mounts([MountSpec("/p", "/h")]).rootfs_propagation == ""


def test_bind_option_conflicts() -> None:
    with pytest.raises(InvalidArgument, match="invalid propagation mode: bogus"):
        build_mounts([MountSpec("/x", "/h", propagation="bogus")])
    with pytest.raises(InvalidArgument, match="!ReadOnly"):
        build_mounts([MountSpec("/x", "/h", read_only_non_recursive=True)])
    with pytest.raises(InvalidArgument, match="rro is not supported"):
        build_mounts([MountSpec("/x", "/h", read_only=True, read_only_force_recursive=True)])


def test_user_mount_replaces_default_and_etc_file() -> None:
    user = [
        MountSpec("/dev/shm", "/h/shm"),
        MountSpec("/etc/hosts", "/h/myhosts", read_only=True),
    ]
    got = build_mounts(user, etc_files=ETC).mounts
    dests = [m["destination"] for m in got]
    assert dests.count("/dev/shm") == 1 and dests.count("/etc/hosts") == 1
    assert by_dest(got)["/dev/shm"]["source"] == "/h/shm"
    assert by_dest(got)["/etc/hosts"]["source"] == "/h/myhosts"


def test_user_dev_drops_defaults_under_dev() -> None:
    got = build_mounts([MountSpec("/dev", "/h/dev")]).mounts
    assert [m["destination"] for m in got] == ["/proc", "/sys", "/sys/fs/cgroup", "/dev"]


def test_ipc_none_drops_shm_and_shareable_binds_host_shm() -> None:
    assert "/dev/shm" not in by_dest(build_mounts([], ipc_mode="none").mounts)
    shm = by_dest(build_mounts([], ipc_mode="shareable", shm_path="/c/shm").mounts)["/dev/shm"]
    assert shm == {
        "destination": "/dev/shm",
        "type": "bind",
        "source": "/c/shm",
        "options": ["rbind", "rprivate"],
    }


def test_tmpfs_mounts() -> None:
    got = by_dest(
        build_mounts(
            [MountSpec("/cache", type="tmpfs", tmpfs_options="size=65536k,mode=1777")],
            tmpfs={"/run": "", "/tmp": "exec,size=1g"},
        ).mounts
    )
    assert got["/run"] == {
        "destination": "/run",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["noexec", "nosuid", "nodev", "rprivate"],
    }
    assert got["/tmp"]["options"] == ["nosuid", "nodev", "rprivate", "exec", "size=1g"]
    assert got["/cache"]["options"] == [
        "noexec",
        "nosuid",
        "nodev",
        "rprivate",
        "size=65536k",
        "mode=1777",
    ]


def test_merge_tmpfs_options_like_moby() -> None:
    assert merge_tmpfs_options(["noexec", "nosuid", "nodev", "rprivate", "exec", "size=1m"]) == [
        "nosuid",
        "nodev",
        "rprivate",
        "exec",
        "size=1m",
    ]
    assert merge_tmpfs_options(["ro", "rw", "size=1", "size=2", "defaults"]) == ["rw", "size=2"]
    assert merge_tmpfs_options(["rprivate", "rshared"]) == ["rshared"]
    with pytest.raises(InvalidArgument, match='invalid tmpfs option "foo"'):
        merge_tmpfs_options(["foo=bar"])
    with pytest.raises(InvalidArgument, match='invalid tmpfs option "tmpcopyup"'):
        merge_tmpfs_options(["tmpcopyup"])


def test_tmpfs_data_like_moby() -> None:
    assert tmpfs_data(size_bytes=64 << 20, mode=0o1777) == "mode=1777,size=64m"
    assert tmpfs_data(size_bytes=3 << 30, read_only=True) == "ro,size=3g"
    assert tmpfs_data(size_bytes=1000) == "size=1000"
    assert tmpfs_data(size_bytes=4096, options=["exec"]) == "size=4k,exec"


def test_readonly_rootfs() -> None:
    user = [MountSpec("/data", "/h/data")]
    got = by_dest(
        build_mounts(
            user, etc_files=ETC, readonly_rootfs=True, init_path="/usr/bin/docker-init"
        ).mounts
    )
    for dest in ("/proc", "/dev", "/dev/pts", "/dev/mqueue", "/dev/shm"):
        assert "ro" not in got[dest]["options"], dest
    assert got["/sys"]["options"].count("ro") == 1
    assert got["/sys/fs/cgroup"]["options"].count("ro") == 1
    assert got["/etc/hosts"]["options"] == ["rbind", "ro", "rprivate"]
    assert got["/data"]["options"] == ["rbind", "rprivate"]  # user mounts keep their mode
    assert got["/sbin/docker-init"]["options"] == ["bind", "ro"]


def test_privileged_makes_sys_and_cgroup_writable() -> None:
    got = by_dest(build_mounts([], privileged=True).mounts)
    assert got["/sys"]["options"] == ["nosuid", "noexec", "nodev"]
    assert got["/sys/fs/cgroup"]["options"] == ["nosuid", "noexec", "nodev"]
    got = by_dest(build_mounts([], writable_cgroups=True).mounts)
    assert "ro" in got["/sys"]["options"]
    assert "ro" not in got["/sys/fs/cgroup"]["options"]


def test_init_mount_follows_defaults() -> None:
    got = build_mounts([MountSpec("/a", "/h")], init_path="/usr/libexec/docker-init").mounts
    assert [m["destination"] for m in got][6:] == ["/dev/shm", "/sbin/docker-init", "/a"]
    assert got[7]["source"] == "/usr/libexec/docker-init"
