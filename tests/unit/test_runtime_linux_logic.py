"""The runtime's ordering logic, driven through FakeSyscalls (no root needed)."""

from __future__ import annotations

import os
import signal
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import Conflict, InvalidArgument, Unsupported
from dockyard.runtime.cli import parse_signal
from dockyard.runtime.linux import capabilities as caps
from dockyard.runtime.linux import mountopts, namespaces
from dockyard.runtime.linux import process as proc
from dockyard.runtime.linux import syscalls as sc
from dockyard.runtime.linux.container import cgroup_resources
from dockyard.runtime.linux.rootfs import RootfsSetup, secure_join
from dockyard.runtime.linux.state import State, StateStore, start_time

# --- namespaces -----------------------------------------------------------------


def test_namespace_plan_user_first_joins_and_new() -> None:
    spec = {
        "linux": {
            "namespaces": [
                {"type": "pid", "path": "/proc/1/ns/pid"},
                {"type": "mount"},
                {"type": "network"},
                {"type": "user"},
                {"type": "cgroup"},
            ]
        }
    }
    plan = namespaces.plan(spec)
    assert plan.join == [("pid", "/proc/1/ns/pid")]
    assert plan.new == ["user", "network", "mount", "cgroup"]
    assert plan.new_user and plan.has("pid") and not plan.has("uts")
    flags = namespaces.unshare_flags(["network", "mount"])
    assert flags == sc.CLONE_NEWNET | sc.CLONE_NEWNS


@pytest.mark.parametrize(
    "entries",
    [[{"type": "pid"}, {"type": "pid"}], [{"type": "bogus"}]],
)
def test_namespace_plan_rejects_bad_entries(entries: list[dict[str, str]]) -> None:
    with pytest.raises(InvalidArgument):
        namespaces.plan({"linux": {"namespaces": entries}})


# --- capabilities ---------------------------------------------------------------


def test_capability_mask() -> None:
    assert caps.mask(["CAP_KILL", "NET_BIND_SERVICE", "CAP_NOPE"]) == (1 << 5) | (1 << 10)
    with pytest.raises(InvalidArgument):
        caps.mask(["CAP_NOPE"], strict=True)


def test_bounding_drops_everything_not_kept() -> None:
    fake = sc.FakeSyscalls()
    caps.apply_bounding(fake, {"bounding": ["CAP_KILL", "CAP_CHOWN"]})
    dropped = [c[2] for c in fake.calls if c[0] == "prctl" and c[1] == sc.PR_CAPBSET_DROP]
    assert dropped == [n for n in range(caps.last_cap() + 1) if n not in (0, 5)]


def test_sets_capset_then_ambient_only_within_permitted_and_inheritable() -> None:
    fake = sc.FakeSyscalls()
    caps.apply_sets(
        fake,
        {
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL", "CAP_CHOWN"],
            "inheritable": ["CAP_KILL"],
            "ambient": ["CAP_KILL", "CAP_CHOWN"],
        },
    )
    assert fake.calls[0] == ("capset", 1 << 5, (1 << 5) | 1, 1 << 5)
    raised = [c[3] for c in fake.calls if c[0] == "prctl" and c[2] == sc.PR_CAP_AMBIENT_RAISE]
    assert raised == [5]


# --- mount options --------------------------------------------------------------


def test_mount_option_parsing() -> None:
    opts = mountopts.parse(["nosuid", "ro", "rbind", "rshared", "size=64k", "mode=755", "rw"])
    assert opts.flags == sc.MS_NOSUID | sc.MS_BIND | sc.MS_REC
    assert opts.propagation == [sc.MS_SHARED | sc.MS_REC]
    assert opts.data == "size=64k,mode=755"
    assert opts.is_bind
    assert mountopts.root_propagation(None) == sc.MS_SLAVE | sc.MS_REC
    assert mountopts.root_propagation("private") == sc.MS_PRIVATE
    with pytest.raises(InvalidArgument):
        mountopts.root_propagation("sideways")


# --- rootfs -----------------------------------------------------------------------


def _spec(**linux: Any) -> dict[str, Any]:
    return {
        "root": {"path": "rootfs", "readonly": True},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]},
            {"destination": "/data", "type": "bind", "source": "/etc", "options": ["rbind", "ro"]},
        ],
        "linux": linux,
    }


def test_rootfs_prepare_order(tmp_path: Path) -> None:
    rootfs = str(tmp_path)
    fake = sc.FakeSyscalls()
    setup = RootfsSetup(fake, _spec(rootfsPropagation="private"), rootfs)
    setup.prepare()
    setup.pivot()
    mounts = [c for c in fake.calls if c[0] == "mount"]
    assert mounts[0] == ("mount", None, "/", None, sc.MS_PRIVATE, None)
    assert mounts[1] == ("mount", rootfs, rootfs, "bind", sc.MS_BIND | sc.MS_REC, None)
    assert mounts[2] == ("mount", "proc", f"{rootfs}/proc", "proc", 0, None)
    assert mounts[3] == ("mount", "tmpfs", f"{rootfs}/dev", "tmpfs", sc.MS_NOSUID, None)
    assert mounts[4] == ("mount", "/etc", f"{rootfs}/data", "bind", sc.MS_BIND | sc.MS_REC, None)
    remount = sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY
    assert mounts[5] == ("mount", "/etc", f"{rootfs}/data", None, remount, None)
    nodes = [c for c in fake.calls if c[0] == "mknod"]
    assert [c[1] for c in nodes] == [
        f"{rootfs}/dev/{n}" for n in ("null", "zero", "full", "random", "urandom", "tty")
    ]
    assert nodes[0][2] == stat.S_IFCHR | 0o666 and nodes[0][3] == os.makedev(1, 3)
    links = {c[2]: c[1] for c in fake.calls if c[0] == "symlink"}
    assert links[f"{rootfs}/dev/ptmx"] == "pts/ptmx"
    assert links[f"{rootfs}/dev/fd"] == "/proc/self/fd"
    tail = fake.calls[-5:]
    assert tail == [
        ("chdir", rootfs),
        ("pivot_root", ".", "."),
        ("mount", None, ".", None, sc.MS_SLAVE | sc.MS_REC, None),
        ("umount2", ".", sc.MNT_DETACH),
        ("chdir", "/"),
    ]


def test_rootfs_in_user_namespace_binds_devices(tmp_path: Path) -> None:
    fake = sc.FakeSyscalls()
    RootfsSetup(fake, _spec(), str(tmp_path), userns=True).prepare()
    assert "mknod" not in fake.names()
    binds = [c for c in fake.calls if c[0] == "mount" and c[1] == "/dev/null"]
    assert binds == [("mount", "/dev/null", f"{tmp_path}/dev/null", "bind", sc.MS_BIND, None)]


def test_rootfs_finalize_masks_readonly_sysctl(tmp_path: Path) -> None:
    fake = sc.FakeSyscalls()
    spec = _spec(
        sysctl={"net.ipv4.ip_forward": "1"},
        readonlyPaths=["/proc/sys", "/does/not/exist"],
        maskedPaths=["/proc/version", "/sys/kernel", "/nope"],
    )
    RootfsSetup(fake, spec, str(tmp_path)).finalize()
    assert fake.calls[0] == ("write_file", "/proc/sys/net/ipv4/ip_forward", "1")
    ro = [c for c in fake.calls if c[0] == "mount" and c[2] == "/proc/sys"]
    assert ro[0][4] == sc.MS_BIND | sc.MS_REC
    assert ro[1][4] & (sc.MS_REMOUNT | sc.MS_RDONLY) == sc.MS_REMOUNT | sc.MS_RDONLY
    assert ("mount", "/dev/null", "/proc/version", None, sc.MS_BIND, None) in fake.calls
    assert ("mount", "tmpfs", "/sys/kernel", "tmpfs", sc.MS_RDONLY, None) in fake.calls
    assert fake.calls[-1] == (
        "mount",
        None,
        "/",
        None,
        sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY,
        None,
    )
    assert not any("/nope" in str(c) or "/does/not" in str(c) for c in fake.calls)


def test_secure_join_stays_inside(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "link").symlink_to("/etc")
    (tmp_path / "up").symlink_to("../../../..")
    assert secure_join(str(tmp_path), "/link/passwd") == f"{tmp_path}/etc/passwd"
    assert secure_join(str(tmp_path), "/up/x") == f"{tmp_path}/x"
    assert secure_join(str(tmp_path), "../../x") == f"{tmp_path}/x"


# --- process ----------------------------------------------------------------------


class _LimitedFake(sc.FakeSyscalls):
    """setrlimit past a hard limit of 20000 fails as without CAP_SYS_RESOURCE."""

    def setrlimit(self, resource: int, soft: int, hard: int) -> None:
        if hard > 20000:
            raise PermissionError(1, "Operation not permitted")
        super().setrlimit(resource, soft, hard)


def test_process_finalize_order() -> None:
    fake = _LimitedFake(rlimits={7: (1024, 20000)})
    process = {
        "args": ["/bin/sh", "-c", "true"],
        "env": ["PATH=/bin", "A=b"],
        "cwd": "/tmp",
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [5]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576}],
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]},
        "noNewPrivileges": True,
    }
    proc.finalize(fake, process, {})
    names = fake.names()
    assert ("setrlimit", 7, 20000, 20000) in fake.calls  # host limit kept
    first_drop = names.index("prctl")
    assert fake.calls[first_drop][1] == sc.PR_CAPBSET_DROP
    keep_on = fake.calls.index(("prctl", sc.PR_SET_KEEPCAPS, 1, 0, 0, 0))
    keep_off = fake.calls.index(("prctl", sc.PR_SET_KEEPCAPS, 0, 0, 0, 0))
    assert first_drop < keep_on < names.index("setgroups") < names.index("setresgid")
    assert names.index("setresgid") < names.index("setresuid") < keep_off < names.index("capset")
    nnp = fake.calls.index(("prctl", sc.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
    assert names.index("chdir") < nnp < names.index("execve") == len(names) - 1
    assert fake.calls[-1] == (
        "execve",
        "/bin/sh",
        ["/bin/sh", "-c", "true"],
        {"PATH": "/bin", "A": "b"},
    )
    assert ("setgroups", [5]) in fake.calls


def test_process_missing_seccomp_is_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dockyard.runtime.linux.seccomp", None)
    fake = sc.FakeSyscalls()
    process = {"args": ["/bin/true"], "noNewPrivileges": True}
    with pytest.raises(Unsupported):
        proc.finalize(fake, process, {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW"}})
    assert "execve" not in fake.names()


def test_process_before_exec_hook_runs_last() -> None:
    fake = sc.FakeSyscalls()
    proc.finalize(
        fake, {"args": ["/bin/true"]}, {}, before_exec=lambda: fake.calls.append(("hook",))
    )
    assert fake.names()[-2:] == ["hook", "execve"]
    with pytest.raises(InvalidArgument):
        proc.finalize(fake, {"args": []}, {})


# --- state ------------------------------------------------------------------------


def test_state_status_derivation(tmp_path: Path) -> None:
    store = StateStore(str(tmp_path))
    store.reserve("c1")
    with pytest.raises(Conflict):
        store.reserve("c1")
    with pytest.raises(InvalidArgument):
        store.dir("../evil")
    me = os.getpid()
    state = State(id="c1", bundle="/b", pid=me, start_time=start_time(me) or 0, status="created")
    store.save(state)
    os.mkfifo(store.fifo("c1"))
    assert store.load("c1").status == "created"
    os.unlink(store.fifo("c1"))
    assert store.load("c1").status == "running"
    state.start_time += 1  # a reused pid
    store.save(state)
    loaded = store.load("c1")
    assert loaded.status == "stopped" and loaded.to_oci()["pid"] == 0
    store.remove("c1")
    assert store.list() == []


def test_parse_signal_and_device_rules() -> None:
    assert parse_signal("TERM") == signal.SIGTERM
    assert parse_signal("sigkill") == signal.SIGKILL
    assert parse_signal("9") == 9
    with pytest.raises(InvalidArgument):
        parse_signal("NOPE")
    resources = cgroup_resources({"resources": {"devices": [{"allow": False, "access": "rwm"}]}})
    rules = resources["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} in rules


def test_console_fd_passing_over_a_socketpair() -> None:
    import socket

    from dockyard.runtime.linux.console import recv_fd, send_fd

    a, b = socket.socketpair()
    r, w = os.pipe()
    try:
        send_fd(a, w, "/dev/pts/7")
        got, name = recv_fd(b)
        assert name == "/dev/pts/7"
        os.write(got, b"x")
        os.close(got)
        assert os.read(r, 1) == b"x"
    finally:
        for fd in (r, w):
            os.close(fd)
        a.close()
        b.close()
