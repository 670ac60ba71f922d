"""Attaching to containers as Docker does: detach keys, resize, sig-proxy, exit codes.

Terminals are pexpect ptys; containers run on runc. ``run`` itself is exercised
through :func:`dockyard.cli.attach.attach_and_wait` by a small helper process
that starts a held container and attaches with ``start=True``, as ``run`` does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import DOCKYARD, Dockyard, needs_root
from tests.integration.test_container_run import nothing_left

pexpect = pytest.importorskip("pexpect")

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]

# Starts a created container held for attach, then attaches as `run` does.
RUN_HELPER = """
import sys
from dockyard.cli.attach import attach_and_wait
from dockyard.config import resolve_options
from dockyard.engine import Engine

root, run_root, config, cid, flags = sys.argv[1:6]
e = Engine(resolve_options(root=root, run_root=run_root, config_file=config))
c = e.containers.get(cid)
e.lifecycle.start(c, wait_for_attach=True)
keys = sys.argv[6] if len(sys.argv) > 6 else None
sys.exit(attach_and_wait(
    e, c.id, stdin="i" in flags, tty="t" in flags, detach_keys=keys, start=True
))
"""


def helper_argv(dy: Dockyard, cid: str, flags: str, *extra: str) -> list[str]:
    config = str(dy.root.parent / "daemon.json")
    return ["-c", RUN_HELPER, str(dy.root), str(dy.run_root), config, cid, flags or "-", *extra]


@pytest.fixture
def cleanup(dy: Dockyard) -> Iterator[list[str]]:
    """Container IDs to remove at the end, whatever happens."""
    ids: list[str] = []
    yield ids
    for cid in ids:
        dy("rm", "-f", cid, check=False)


def spawn(dy: Dockyard, *args: str, rows: int = 30, cols: int = 100) -> Any:
    child = pexpect.spawn(DOCKYARD, list(args), env=dy.env, dimensions=(rows, cols), timeout=20)
    child.waitnoecho()  # the CLI has put the terminal in raw mode: keystrokes are not lost
    return child


def finish(child: Any) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return int(child.exitstatus)


def detached(child: Any) -> bool:
    """``docker attach`` says so on stderr and exits 1 when the detach keys are typed."""
    code = finish(child)
    return code == 1 and (child.before or b"").endswith(b"read escape sequence\r\n")


def running(dy: Dockyard, cid: str) -> bool:
    return cid[:12] in dy("ps", "-q").out.split()


def wait_logs(dy: Dockyard, cid: str, needle: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while needle not in dy("logs", cid).out:
        assert time.monotonic() < deadline, f"no {needle!r} in the logs of {cid}"
        time.sleep(0.05)


def stty_size(child: Any, expected: str) -> None:
    """``stty size`` until it reports ``expected`` (the resize frame travels separately)."""
    for _ in range(20):
        child.send("stty size\r")
        if child.expect([expected, pexpect.TIMEOUT], timeout=0.5) == 0:
            return
    raise AssertionError(f"stty size never said {expected!r}")


def test_run_it_detach_then_attach_and_exit(dy: Dockyard, busybox: str, cleanup: list[str]) -> None:
    cid = dy("create", "-it", "busybox", "sh").out.strip()
    cleanup.append(cid)
    child = pexpect.spawn(
        sys.executable,
        helper_argv(dy, cid, "it"),
        env=dy.env,
        dimensions=(30, 100),
        timeout=20,
    )
    child.waitnoecho()
    child.expect("# ")
    child.send("echo first-$((2+3))\r")
    child.expect("first-5")
    child.send("\x10\x11")
    assert finish(child) == 0
    assert b"read escape sequence" not in (child.before or b"")
    assert running(dy, cid)

    child = spawn(dy, "attach", cid)
    child.send("echo back-$((1+2))\r")
    child.expect("back-3")
    stty_size(child, "30 100")
    child.setwinsize(40, 120)
    stty_size(child, "40 120")
    child.send("exit 7\r")
    assert finish(child) == 7
    assert not running(dy, cid)
    assert dy("inspect", "-f", "{{.State.ExitCode}}", cid).out.strip() == "7"

    dy("rm", cid)
    nothing_left(dy)


def test_detach_keys_custom_and_partial(dy: Dockyard, busybox: str, cleanup: list[str]) -> None:
    script = "stty raw -echo; echo ready; dd bs=1 count=2 2>/dev/null | od -An -tx1; exec sh"
    cid = dy("run", "-d", "-it", "busybox", "sh", "-c", script).out.strip()
    cleanup.append(cid)
    wait_logs(dy, cid, "ready")

    # a lone ctrl-p followed by another key reaches the container, both bytes
    child = spawn(dy, "attach", cid)
    child.send("\x10")
    time.sleep(0.2)
    child.send("a")
    child.expect("10 61")
    child.send("\x10\x11")
    assert detached(child)
    assert running(dy, cid)

    # with other detach keys, ctrl-x detaches and ctrl-p ctrl-q are ordinary keys
    child = spawn(dy, "attach", "--detach-keys", "ctrl-x", cid)
    child.send("echo still-$((4+4))\r")
    child.expect("still-8")
    child.send("\x10\x11")
    time.sleep(0.5)
    assert child.isalive()
    child.send("\x03")  # drop the recalled line
    child.send("\x18")
    assert detached(child)
    assert running(dy, cid)

    child = spawn(dy, "attach", "--detach-keys", "ctrl-x", cid)
    child.send("exit 3\r")
    assert finish(child) == 3
    dy("rm", cid)
    nothing_left(dy)


def test_detach_keys_invalid(dy: Dockyard, busybox: str, cleanup: list[str]) -> None:
    cid = dy("run", "-d", "-i", "busybox", "cat").out.strip()
    cleanup.append(cid)
    result = dy("attach", "--detach-keys", "bogus-x", cid, check=False)
    assert result.code == 1
    assert result.err == "Error response from daemon: Invalid detach keys (bogus-x) provided\n"
    dy("rm", "-f", cid)
    nothing_left(dy)


TRAP = 'trap "echo caught; exit 9" INT; echo ready; sleep 100 & wait'


def test_run_sig_proxy_forwards_sigint(dy: Dockyard, busybox: str, cleanup: list[str]) -> None:
    cid = dy("create", "busybox", "sh", "-c", TRAP).out.strip()
    cleanup.append(cid)
    proc = subprocess.Popen(
        [sys.executable, *helper_argv(dy, cid, "")],
        env=dy.env,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGINT)
        assert proc.stdout.read() == b"caught\n"
        assert proc.wait(20) == 9
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    dy("rm", cid)
    nothing_left(dy)


def test_attach_sig_proxy_and_exit_code(dy: Dockyard, busybox: str, cleanup: list[str]) -> None:
    loop = 'trap "echo caught; exit 9" INT; while true; do echo tick; sleep 0.2; done'
    cid = dy("run", "-d", "busybox", "sh", "-c", loop).out.strip()
    cleanup.append(cid)
    proc = subprocess.Popen(
        [DOCKYARD, "attach", cid], env=dy.env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"tick\n"  # attached, so the handlers are in place
        proc.send_signal(signal.SIGINT)
        rest = proc.stdout.read()
        assert rest.endswith(b"caught\n")
        assert proc.wait(20) == 9
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    dy("rm", cid)
    nothing_left(dy)


def test_attach_stdin_and_no_stdin(dy: Dockyard, busybox: str, cleanup: list[str]) -> None:
    cid = dy("run", "-d", "-i", "busybox", "sh", "-c", "read line; echo got-$line").out.strip()
    cleanup.append(cid)
    result = dy("attach", cid, input=b"hello\n", timeout=30)
    assert result.out == "got-hello\n"
    assert result.code == 0
    dy("rm", cid)
    nothing_left(dy)


def test_attach_stopped_container_fails(dy: Dockyard, busybox: str, cleanup: list[str]) -> None:
    cid = dy("create", "busybox", "true").out.strip()
    cleanup.append(cid)
    result = dy("attach", cid, check=False)
    assert result.code == 1
    assert result.err == "You cannot attach to a stopped container, start it first\n"
    result = dy("attach", "no-such-thing", check=False)
    assert result.code == 1
    assert result.err == "Error response from daemon: No such container: no-such-thing\n"
    dy("rm", cid)
    nothing_left(dy)


def test_attach_when_monitor_dies(dy: Dockyard, busybox: str, cleanup: list[str]) -> None:
    loop = "while true; do echo tick; sleep 0.2; done"
    cid = dy("run", "-d", "busybox", "sh", "-c", loop).out.strip()
    cleanup.append(cid)
    state_dir = dy.run_root / "containers" / cid
    monitor = int((state_dir / "monitor.pid").read_text())
    proc = subprocess.Popen(
        [DOCKYARD, "attach", cid], env=dy.env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"tick\n"
        os.kill(monitor, signal.SIGKILL)  # no exit frame: the record decides
        assert proc.wait(30) == 137
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    dy("rm", "-f", cid)
    nothing_left(dy)


def test_run_it_line_editing_ctrl_c_and_exit_code(dy: Dockyard, busybox: str) -> None:
    child = spawn(dy, "run", "-it", "--rm", "--name", "shell", "busybox", "sh")
    child.expect("# ")
    child.send("echo abcX\x7fd-$((6*7))\r")  # the container's tty does the line editing
    child.expect("abcd-42")
    child.expect("# ")
    child.send("sleep 100; echo after-sleep\r")
    child.expect("after-sleep")  # the echo of the typed line
    time.sleep(0.3)
    child.send("\x03")  # Ctrl-C goes to the container's foreground process, not to us
    child.expect("# ")  # within pexpect's 20 s: the sleep was interrupted
    assert b"after-sleep" not in (child.before or b"")  # and the list was abandoned
    child.send("echo still-$((1+1))\r")
    child.expect("still-2")
    child.send("exit 3\r")
    assert finish(child) == 3
    assert dy("ps", "-aq").out == ""  # --rm
    nothing_left(dy)


def test_run_it_needs_a_terminal_and_creates_nothing(dy: Dockyard, busybox: str) -> None:
    result = subprocess.run(
        [DOCKYARD, "run", "-it", "busybox", "true"],
        env=dy.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
    )
    assert (result.returncode, result.stderr) == (1, "the input device is not a TTY\n")
    assert dy("ps", "-aq").out == ""
    nothing_left(dy)
