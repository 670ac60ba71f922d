"""Monitors forked from the run root's zygote: containers run, log, attach, exit and
restart through it; they outlive it; a stale or disabled zygote is not used."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dockyard.runtime.monitor import zygote
from tests.conftest import Dockyard, needs_root, stop_zygote
from tests.integration._process_support import alive, wait_for

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]




def zygote_pid(dy: Dockyard) -> int:
    text = (dy.run_root / "monitor" / "zygote.pid").read_text().strip()
    return int(text)


def monitor_of(dy: Dockyard, name: str) -> int:
    return int(dy("inspect", "-f", "{{.State.MonitorPid}}", name).out)


def cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def assert_forked_from_zygote(dy: Dockyard, monitor: int) -> None:
    z = zygote_pid(dy)
    assert alive(z)
    assert cmdline(monitor) == cmdline(z)  # forked, not exec'd
    fields = stat_fields(monitor)
    assert int(fields[1]) != z  # reparented away from the zygote
    sid = int(fields[3])
    assert sid not in (os.getsid(0), os.getsid(z))  # a session of its own


def state(dy: Dockyard, name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(dy("inspect", "-f", "{{json .State}}", name).out)
    return value


def test_container_through_the_zygote_runs_logs_attaches_exits_restarts(
    dy: Dockyard, busybox: str
) -> None:
    try:
        # attached run: output, exit code
        result = dy(
            "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False
        )
        assert (result.code, result.out, result.err) == (3, "out\n", "err\n")
        first = zygote_pid(dy)
        dy("run", "-d", "--name", "z1", "busybox", "sh", "-c", "echo hi; sleep 1000")
        monitor = monitor_of(dy, "z1")
        assert_forked_from_zygote(dy, monitor)
        assert zygote_pid(dy) == first  # one zygote serves the run root
        # the zygote does not keep its first caller's environment
        # (the monitors get their caller's: the --rm clean-up above found this root)
        environ = Path(f"/proc/{zygote_pid(dy)}/environ").read_bytes().split(b"\0")
        assert not any(v.startswith(b"DOCKYARD_") for v in environ)
        wait_for(lambda: dy("logs", "z1").out == "hi\n", what="log line")
        dy("stop", "-t", "0", "z1")
        assert state(dy, "z1")["ExitCode"] == 137
        wait_for(lambda: not alive(monitor), what="the monitor to exit")
        dy("start", "z1")
        again = monitor_of(dy, "z1")
        assert again != monitor
        assert_forked_from_zygote(dy, again)
        wait_for(lambda: dy("logs", "z1").out == "hi\nhi\n", what="second log line")
        # restart policy: the monitor restarts the container itself
        dy(
            "run",
            "-d",
            "--name",
            "z2",
            "--restart",
            "on-failure:2",
            "busybox",
            "sh",
            "-c",
            "echo go; exit 5",
        )
        wait_for(
            lambda: (s := state(dy, "z2"))["Status"] == "exited" and s["ExitCode"] == 5,
            what="z2 to give up",
        )
        assert dy("logs", "z2").out == "go\n" * 3
        # two restarts, shown beside State as Docker shows them
        assert dy("inspect", "-f", "{{.RestartCount}}", "z2").out == "2\n"
        assert "RestartCount" not in state(dy, "z2")
    finally:
        dy("rm", "-f", "z1", "z2", check=False)


def test_attach_to_a_container_started_by_the_zygote(dy: Dockyard, busybox: str) -> None:
    try:
        dy("create", "-i", "--name", "cat", "busybox", "cat")
        out = dy("start", "-a", "-i", "cat", input=b"through the pipe\n").out
        assert out == "through the pipe\n"
        assert state(dy, "cat")["ExitCode"] == 0
    finally:
        dy("rm", "-f", "cat", check=False)


def test_containers_outlive_the_zygote_and_the_next_start_makes_a_new_one(
    dy: Dockyard, busybox: str
) -> None:
    try:
        dy("run", "-d", "--name", "keep", "busybox", "sh", "-c", "echo one; sleep 1000")
        old = zygote_pid(dy)
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: not alive(old), what="the zygote to die")
        time.sleep(0.2)
        assert state(dy, "keep")["Running"]
        assert dy("logs", "keep").out == "one\n"
        dy("run", "-d", "--name", "next", "busybox", "sleep", "1000")
        new = zygote_pid(dy)
        assert new != old and alive(new)
        assert_forked_from_zygote(dy, monitor_of(dy, "next"))
        dy("stop", "-t", "0", "keep")
        assert state(dy, "keep")["ExitCode"] == 137
    finally:
        dy("rm", "-f", "keep", "next", check=False)


def test_zygote_disabled_execs_each_monitor(dy: Dockyard, busybox: str) -> None:
    dy.env[zygote.ENV_SWITCH] = "0"
    try:
        dy("run", "-d", "--name", "plain", "busybox", "sh", "-c", "echo x; sleep 1000")
        monitor = monitor_of(dy, "plain")
        assert b"dockyard.runtime.monitor.main" in cmdline(monitor)
        assert not (dy.run_root / "monitor" / "zygote.pid").exists()
        wait_for(lambda: dy("logs", "plain").out == "x\n", what="log line")
        dy("stop", "-t", "0", "plain")
        assert state(dy, "plain")["ExitCode"] == 137
    finally:
        dy("rm", "-f", "plain", check=False)


def test_a_zygote_that_cannot_start_falls_back_to_exec(dy: Dockyard, busybox: str) -> None:
    dy.run_root.mkdir(parents=True, exist_ok=True)
    (dy.run_root / "monitor").write_text("in the way\n")  # its directory cannot be made
    try:
        result = dy("run", "--rm", "busybox", "echo", "still runs")
        assert result.out == "still runs\n"
        dy("run", "-d", "--name", "fallback", "busybox", "sleep", "1000")
        assert b"dockyard.runtime.monitor.main" in cmdline(monitor_of(dy, "fallback"))
    finally:
        dy("rm", "-f", "fallback", check=False)


def _start_zygote_from(pkg_root: Path, run_root: Path) -> subprocess.Popen[bytes]:
    boot = (
        f"import sys;sys.path.insert(0,{str(pkg_root)!r});"
        "from dockyard.runtime.monitor.zygote import main;main(sys.argv[1:])"
    )
    started = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", boot, str(run_root)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    sock = run_root / "monitor" / "zygote.sock"
    wait_for(sock.exists, what="the zygote's socket")
    assert started.poll() is None
    return started


def _ask(run_root: Path, message: bytes) -> bytes:
    import array

    r, w = os.pipe()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(15)
            s.connect(str(run_root / "monitor" / "zygote.sock"))
            fds = array.array("i", [w])
            s.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())])
            return s.recv(4096)
    finally:
        os.close(r)
        os.close(w)


def test_a_stale_zygote_answers_stale_and_exits(tmp_path: Path) -> None:
    """A zygote from a copy of the source tree: changing a file there makes it stale."""
    pkg_root = tmp_path / "src"
    shutil.copytree(
        Path(zygote.PKG_ROOT) / "dockyard",
        pkg_root / "dockyard",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    run_root = tmp_path / "run"
    try:
        proc = _start_zygote_from(pkg_root, run_root)

        def request(root: Path) -> bytes:
            req = zygote.decode_request(zygote.encode_request(["--bogus"]))
            req["root"] = str(root)
            return json.dumps(req).encode()

        # a fresh one forks (the child's monitor then fails on --bogus: no report)
        assert json.loads(_ask(run_root, request(pkg_root))) == {"ok": True}
        assert proc.poll() is None
        # a caller from another source tree is not served by it
        assert json.loads(_ask(run_root, request(Path(zygote.PKG_ROOT)))) == {"stale": True}
        assert proc.wait(15) == 0
        assert not (run_root / "monitor" / "zygote.sock").exists()

        proc = _start_zygote_from(pkg_root, run_root)
        assert json.loads(_ask(run_root, request(pkg_root))) == {"ok": True}
        policy = pkg_root / "dockyard" / "runtime" / "monitor" / "policy.py"
        policy.write_text(policy.read_text() + "\n# changed\n")
        assert json.loads(_ask(run_root, request(pkg_root))) == {"stale": True}
        assert proc.wait(15) == 0
    finally:
        stop_zygote(run_root)
        proc.wait(15)


def test_malformed_request_is_refused_and_the_zygote_serves_on(tmp_path: Path) -> None:
    run_root = tmp_path / "run"
    try:
        proc = _start_zygote_from(Path(zygote.PKG_ROOT), run_root)
        reply = json.loads(_ask(run_root, b'{"argv": 1}'))
        assert "error" in reply
        assert proc.poll() is None
    finally:
        stop_zygote(run_root)
    assert proc.wait(15) == -signal.SIGKILL
