"""``exec`` end to end: a second process in a running container, on runc (and on
dockyard's own runtime). Every container is removed at the end, also on failure."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DOCKYARD, Dockyard, needs_root
from tests.integration.test_container_run import nothing_left

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]


@pytest.fixture
def running(dy: Dockyard, busybox: str) -> Iterator[str]:
    """A running busybox container named ``ex``; its ID."""
    cid = dy("run", "-d", "--name", "ex", "busybox", "sleep", "1000").out.strip()
    try:
        yield cid
    finally:
        dy("rm", "-f", "ex", check=False)


def test_exec_output_exit_code_and_namespaces(dy: Dockyard, running: str) -> None:
    result = dy(
        "exec",
        "ex",
        "sh",
        "-c",
        "echo out; echo err >&2; hostname; tr '\\0' ' ' </proc/1/cmdline; exit 7",
        check=False,
    )
    assert result.code == 7
    assert result.out.splitlines() == ["out", running[:12], "sleep 1000 "]
    assert result.err == "err\n"
    assert dy("exec", "ex", "true").code == 0
    events = _events(dy, running)
    assert "exec_create: sh -c echo out; echo err >&2; hostname;" in " ".join(events)
    assert events[-3:] == ["exec_create: true ", "exec_start: true ", "exec_die"]
    dy("rm", "-f", "ex")
    _nothing_left(dy)


def test_exec_env_workdir_user(dy: Dockyard, running: str) -> None:
    out = dy("exec", "-e", "FOO=bar", "-e", "HOSTNAME=other", "ex", "env").out.splitlines()
    assert "FOO=bar" in out and "HOSTNAME=other" in out and "HOME=/root" in out
    assert any(line.startswith("PATH=/usr/local/sbin:") for line in out)
    assert dy("exec", "-w", "/tmp", "ex", "pwd").out == "/tmp\n"
    assert dy("exec", "-u", "nobody", "ex", "id", "-u").out == "65534\n"
    assert dy("exec", "--user", "nobody", "ex", "sh", "-c", "echo $HOME").out == "/nonexistent\n"
    assert dy("exec", "-u", "1234:5678", "ex", "id").out == "uid=1234 gid=5678 groups=5678\n"
    missing = dy.fails("exec", "-u", "nosuchuser", "ex", "id")
    assert missing.code == 126
    assert missing.err == "unable to find user nosuchuser: no matching entries in passwd file\n"
    bad_dir = dy.fails("exec", "-w", "/nonexistent", "ex", "pwd")
    assert bad_dir.code == 126
    assert bad_dir.err.startswith("OCI runtime exec failed: exec failed: ")
    assert 'chdir to cwd ("/nonexistent")' in bad_dir.err
    dy("rm", "-f", "ex")
    _nothing_left(dy)


def test_exec_env_file_and_background_children(dy: Dockyard, running: str, tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=1\nBOTH=file\n")
    out = dy("exec", "--env-file", str(env_file), "-e", "BOTH=flag", "ex", "env").out
    assert "FROM_FILE=1\n" in out and "BOTH=flag\n" in out
    # A background child keeping stdout and stderr open does not hold exec up.
    out_path, err_path = tmp_path / "out", tmp_path / "err"
    with open(out_path, "wb") as out_f, open(err_path, "wb") as err_f:
        began = time.monotonic()
        proc = subprocess.run(
            [DOCKYARD, "exec", "ex", "sh", "-c", "sleep 30 & echo hi; echo ho >&2"],
            stdout=out_f,
            stderr=err_f,
            env=dy.env,
            timeout=60,
        )
        took = time.monotonic() - began
    assert proc.returncode == 0 and took < 10
    assert (out_path.read_text(), err_path.read_text()) == ("hi\n", "ho\n")
    dy("rm", "-f", "ex")
    _nothing_left(dy)


def test_exec_refuses_a_paused_container(dy: Dockyard, running: str) -> None:
    engine = dy.engine()  # type: ignore[no-untyped-call]
    engine.lifecycle.record_state(running, {"Status": "paused", "Paused": True})
    try:
        paused = dy.fails("exec", "ex", "true")
    finally:
        engine.lifecycle.record_state(running, {"Status": "running", "Paused": False})
    assert paused.code == 1
    assert paused.err == (
        "Error response from daemon: Container ex is paused, unpause the container before exec\n"
    )
    dy("rm", "-f", "ex")
    _nothing_left(dy)


def test_exec_interactive_passes_stdin(dy: Dockyard, running: str) -> None:
    data = b"line one\nline two\n" * 1000
    assert dy("exec", "-i", "ex", "cat", input=data).out.encode() == data
    # Without -i the process reads /dev/null.
    assert dy("exec", "ex", "cat", input=b"ignored").out == ""
    dy("rm", "-f", "ex")
    _nothing_left(dy)


def test_exec_tty(dy: Dockyard, running: str) -> None:
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(
        DOCKYARD, ["exec", "-it", "ex", "sh"], env=dy.env, dimensions=(33, 101), timeout=20
    )
    try:
        child.expect("# ")
        child.sendline("echo X$(stty size)Y$TERM; tty")
        child.expect(r"X(\d+ \d+)Yxterm\r\n(/dev/pts/\d+)")
        assert child.match.group(1) == b"33 101"
        child.setwinsize(40, 120)
        time.sleep(0.3)
        child.sendline("echo X$(stty size)Y")
        child.expect(r"X(\d+ \d+)Y")
        assert child.match.group(1) == b"40 120"
        child.sendline("exit 5")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 5
    # -t without -i and without a terminal here: a tty inside, output comes back.
    assert dy("exec", "-t", "ex", "tty").out.startswith("/dev/pts/")
    refused = dy.fails("exec", "-it", "ex", "true")
    assert (refused.code, refused.err) == (1, "the input device is not a TTY\n")
    dy("rm", "-f", "ex")
    _nothing_left(dy)


def test_exec_tty_detach_keys_leave_the_process_running(dy: Dockyard, running: str) -> None:
    pexpect = pytest.importorskip("pexpect")
    for flags, keys in (([], "\x10\x11"), (["--detach-keys", "ctrl-x,y"], "\x18y")):
        child = pexpect.spawn(DOCKYARD, ["exec", "-it", *flags, "ex", "sh"], env=dy.env, timeout=20)
        try:
            child.expect("# ")
            child.sendline("echo $$ > /tmp/shell.pid")
            child.expect("# ")
            child.send(keys)
            child.expect("read escape sequence\r\n")
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)
        assert child.exitstatus == 1
        pid = dy("exec", "ex", "cat", "/tmp/shell.pid").out.strip()
        assert dy("exec", "ex", "kill", "-0", pid).code == 0  # the shell lives on
    bad = dy.fails("exec", "-d", "--detach-keys", "bogus", "ex", "true")
    assert bad.err == "Error response from daemon: Invalid escape keys (bogus) provided\n"
    dy("rm", "-f", "ex")
    # The helpers that kept the ptys open are gone with the shells.
    deadline = time.monotonic() + 10
    while _helpers(dy):
        assert time.monotonic() < deadline, _helpers(dy)
        time.sleep(0.1)
    _nothing_left(dy)


def _helpers(dy: Dockyard) -> list[int]:
    found = []
    marker = f"DOCKYARD_RUN={dy.run_root}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def test_exec_detach(dy: Dockyard, running: str) -> None:
    began = time.monotonic()
    result = dy("exec", "-d", "ex", "sh", "-c", "sleep 1; echo done > /tmp/marker")
    assert time.monotonic() - began < 1
    assert (result.out, result.err) == ("", "")
    deadline = time.monotonic() + 10
    while dy("exec", "ex", "cat", "/tmp/marker", check=False).out != "done\n":
        assert time.monotonic() < deadline, "the detached process did not run"
        time.sleep(0.2)
    dy("rm", "-f", "ex")
    _nothing_left(dy)


def test_exec_needs_a_running_container(dy: Dockyard, busybox: str) -> None:
    cid = dy("create", "--name", "ex", "busybox", "true").out.strip()
    try:
        created = dy.fails("exec", "ex", "ls")
        assert created.code == 1
        assert created.err == f"Error response from daemon: Container {cid} is not running\n"
        dy("start", "ex")
        dy("wait", "ex")
        assert dy.fails("exec", "ex", "ls").err.endswith("is not running\n")
    finally:
        dy("rm", "-f", "ex", check=False)
    missing = dy.fails("exec", "nosuch", "ls")
    assert (missing.code, missing.err) == (
        1,
        "Error response from daemon: No such container: nosuch\n",
    )
    usage = dy.fails("exec", "ex")
    assert usage.code == 1 and "requires at least 2 arguments" in usage.err
    _nothing_left(dy)


def test_exec_missing_or_unrunnable_command(dy: Dockyard, running: str) -> None:
    missing = dy.fails("exec", "ex", "nosuch")
    assert missing.code == 126
    assert missing.out == ""
    assert missing.err == (
        'OCI runtime exec failed: exec failed: unable to start container process: exec: "nosuch":'
        " executable file not found in $PATH: unknown\n"
    )
    denied = dy.fails("exec", "ex", "/etc/passwd")
    assert denied.code == 126
    assert "permission denied: unknown" in denied.err
    # A process that exits 255 itself is not mistaken for a runtime failure.
    exits = dy("exec", "ex", "sh", "-c", "echo bye >&2; exit 255", check=False)
    assert (exits.code, exits.err) == (255, "bye\n")
    dy("rm", "-f", "ex")
    _nothing_left(dy)


def test_exec_privileged_has_every_capability(dy: Dockyard, running: str) -> None:
    def caps(*flags: str) -> int:
        status = dy("exec", *flags, "ex", "cat", "/proc/self/status").out
        return int(re.search(r"^CapEff:\s+([0-9a-f]+)$", status, re.M).group(1), 16)  # type: ignore[union-attr]

    with open("/proc/self/status") as f:
        host = int(re.search(r"^CapBnd:\s+([0-9a-f]+)$", f.read(), re.M).group(1), 16)  # type: ignore[union-attr]
    assert caps("--privileged") == host  # all of them this environment can grant
    assert caps() == 0xA80425FB  # Docker's default set
    dy("rm", "-f", "ex")
    _nothing_left(dy)


@pytest.mark.skipif(
    not os.path.exists(os.path.join(os.path.dirname(DOCKYARD), "dockyard-runtime")),
    reason="dockyard-runtime is not installed",
)
def test_exec_on_dockyard_runtime(dy: Dockyard, busybox: str) -> None:
    cid = dy("run", "-d", "--runtime", "dockyard", "--name", "ex", "busybox", "sleep", "1000")
    try:
        result = dy("exec", "ex", "sh", "-c", "hostname; exit 3", check=False)
        assert (result.code, result.out) == (3, cid.out[:12] + "\n")
        assert dy("exec", "-i", "-u", "nobody", "ex", "sh", "-c", "id -u; cat", input=b"x").out == (
            "65534\nx"
        )
        missing = dy.fails("exec", "ex", "nosuch")
        assert missing.code == 126 and "executable file not found" in missing.err
    finally:
        dy("rm", "-f", "ex", check=False)
    _nothing_left(dy)


def _nothing_left(dy: Dockyard) -> None:
    # rm -f returns once the exit is recorded; the monitor's cleanup of the container's
    # run directory finishes a moment later (lifecycle.exited removes it last).
    containers = dy.run_root / "containers"
    deadline = time.monotonic() + 10
    while containers.exists() and any(containers.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    nothing_left(dy)


def _events(dy: Dockyard, cid: str) -> list[str]:
    e = dy.engine()  # type: ignore[no-untyped-call]
    rows = e.db.query(
        "SELECT action, attributes FROM events WHERE actor_id = ? ORDER BY seq", (cid,)
    )
    actions = [str(r["action"]) for r in rows]
    for r in rows:
        if str(r["action"]).startswith("exec_"):
            attrs = json.loads(r["attributes"])
            assert attrs["name"] == "ex" and re.fullmatch(r"[0-9a-f]{64}", attrs["execID"])
    return [a for a in actions if a.startswith("exec_")]
