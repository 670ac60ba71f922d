"""pause/unpause, top, stats, update and restart of real containers on runc.

Every test removes what it made (containers, mounts, cgroups), also on failure:
paused containers are thawed first, since a frozen process cannot even be killed.
"""

from __future__ import annotations

import inspect
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import Dockyard, needs_root
from tests.integration.test_container_run import nothing_left

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]

COUNTER = "i=0; while true; do i=$((i+1)); echo $i > /tmp/c; sleep 0.05; done"


@contextmanager
def running(dy: Dockyard, name: str, *args: str) -> Iterator[str]:
    """A detached container; yields its ID; thawed and removed afterwards."""
    cid = dy("run", "-d", "--name", name, *args).out.strip()
    try:
        yield cid
    finally:
        dy("unpause", name, check=False)
        dy("rm", "-f", name, check=False)


def _counter(dy: Dockyard, cid: str) -> int:
    path = Path(dy.engine().lifecycle.rootfs_dir(cid)) / "tmp" / "c"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            text = path.read_text().strip()
            if text:
                return int(text)
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"no counter at {path}")


def test_pause_freezes_and_unpause_resumes(dy: Dockyard, busybox: str) -> None:
    with running(dy, "counter", "busybox", "sh", "-c", COUNTER) as cid:
        _counter(dy, cid)
        assert dy("pause", "counter").out == "counter\n"
        assert "Up " in dy("ps").out and "(Paused)" in dy("ps").out
        state = dy("inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}", cid)
        assert state.out == "paused true true\n"
        frozen = _counter(dy, cid)
        time.sleep(0.5)
        assert _counter(dy, cid) == frozen
        again = dy.fails("pause", "counter")
        assert again.err == f"Error response from daemon: Container {cid} is already paused\n"
        assert dy("unpause", "counter").out == "counter\n"
        time.sleep(0.5)
        assert _counter(dy, cid) > frozen
        assert dy("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", cid).out == (
            "running false\n"
        )
        not_paused = dy.fails("unpause", "counter")
        assert not_paused.err == f"Error response from daemon: Container {cid} is not paused\n"
    nothing_left(dy)


def test_not_running_containers_are_refused(dy: Dockyard, busybox: str) -> None:
    cid = dy("create", "--name", "idle", "busybox", "sleep", "100").out.strip()
    try:
        for verb in ("pause", "top"):
            result = dy.fails(verb, "idle")
            assert result.err == f"Error response from daemon: Container {cid} is not running\n"
        result = dy.fails("unpause", "idle")
        assert result.err == f"Error response from daemon: Container {cid} is not paused\n"
        missing = dy.fails("pause", "idle", "nosuch")
        assert missing.out == ""
        assert "Error response from daemon: No such container: nosuch\n" in missing.err
        # stats shows a stopped container with zeros
        row = dy("stats", "--no-stream", "idle").lines[1].split()
        assert row[:3] == [cid[:12], "idle", "0.00%"] and row[-1] == "0"
        assert "0B / 0B" in dy("stats", "--no-stream", "idle").out
        assert dy.fails("stats", "--no-stream", "idle", "nosuch").out == ""
    finally:
        dy("rm", "-f", "idle")
    nothing_left(dy)


def test_top_lists_the_container_processes(dy: Dockyard, busybox: str) -> None:
    with running(dy, "sleeper", "busybox", "sleep", "1000"):
        lines = dy("top", "sleeper").lines
        assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        assert lines[0].startswith("UID" + " " * 17 + "PID" + " " * 17)
        assert len(lines) == 2 and lines[1].endswith("sleep 1000")
        pid = lines[1].split()[1]
        assert lines[1][20:].startswith(pid)
        assert dy("top", "sleeper", "-o", "pid,comm").lines == [
            "PID                 COMMAND",
            f"{pid.ljust(20)}sleep",
        ]
        refused = dy.fails("top", "sleeper", "-o", "user=PID")
        assert refused.err == ('Error response from daemon: specifying "user=PID" is not allowed\n')
        dy("pause", "sleeper")
        assert dy("top", "sleeper").lines[1].endswith("sleep 1000")  # dockerd 20.10 allows it
    nothing_left(dy)


def test_stats_no_stream(dy: Dockyard, busybox: str) -> None:
    with running(dy, "limited", "-m", "64m", "busybox", "sleep", "1000") as cid:
        result = dy("stats", "--no-stream", "limited")
        assert result.lines[0] == (
            "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O"
            "   BLOCK I/O   PIDS"
        )
        row = result.lines[1]
        assert row.startswith(f"{cid[:12]}   limited   ")
        assert re.search(r"\d+(\.\d+)?%\s+\S+ / 64MiB\s+\d+\.\d\d%\s+0B / 0B\s+\S+ / \S+\s+1$", row)
        name, pids = dy("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}").out.split()
        assert name == "limited" and int(pids) >= 1
        full = dy("stats", "--no-stream", "--no-trunc", "--format", "{{.ID}} {{.Container}}")
        assert full.out == f"{cid} {cid[:12]}\n"
        as_json = dy("stats", "--no-stream", "--format", "json", "limited").out
        assert '"Container":"limited"' in as_json and '"MemUsage":' in as_json
    nothing_left(dy)


def test_update_changes_record_and_cgroup(dy: Dockyard, busybox: str) -> None:
    with running(dy, "upd", "-m", "64m", "busybox", "sleep", "1000") as cid:
        memory = Path("/sys/fs/cgroup/memory/dockyard") / cid / "memory.limit_in_bytes"
        assert memory.read_text().strip() == str(64 << 20)
        assert dy("update", "--memory", "32m", "upd").out == "upd\n"
        assert dy("inspect", "-f", "{{.HostConfig.Memory}}", "upd").out == f"{32 << 20}\n"
        assert memory.read_text().strip() == str(32 << 20)
        dy("update", "--pids-limit", "20", "--cpu-shares", "512", "--restart", "always", "upd")
        pids = Path("/sys/fs/cgroup/pids/dockyard") / cid / "pids.max"
        assert pids.read_text().strip() == "20"
        fmt = (
            "{{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}} {{.HostConfig.RestartPolicy.Name}}"
        )
        assert dy("inspect", "-f", fmt, "upd").out == "20 512 always\n"
        small = dy.fails("update", "--memory", "1m", "upd")
        assert small.err == "Error response from daemon: Minimum memory limit allowed is 6MB\n"
        none = dy.fails("update", "upd")
        assert none.err == "you must provide one or more flags when using this command\n"
        bad = dy.fails("update", "--memory", "abc", "upd")
        assert bad.code == 125 and "invalid size: 'abc'" in bad.err
        too_big = dy.fails("update", "--memory", "300m", "upd")
        assert "Memory limit should be smaller than already set memoryswap limit" in too_big.err
        assert memory.read_text().strip() == str(32 << 20)
    nothing_left(dy)


def test_restart_starts_again(dy: Dockyard, busybox: str) -> None:
    with running(dy, "again", "busybox", "sleep", "1000"):
        fmt = "{{.State.StartedAt}} {{.State.Pid}}"
        before = dy("inspect", "-f", fmt, "again").out.split()
        assert dy("restart", "-t", "1", "-s", "KILL", "again").out == "again\n"
        after = dy("inspect", "-f", fmt, "again").out.split()
        assert after[0] != before[0] and after[1] != before[1]
        assert dy("inspect", "-f", "{{.State.Status}}", "again").out == "running\n"
        assert dy("top", "again").lines[1].endswith("sleep 1000")
        missing = dy.fails("restart", "nosuch")
        assert missing.err == "Error response from daemon: No such container: nosuch\n"
    nothing_left(dy)


def test_signal_reaches_a_paused_container(dy: Dockyard, busybox: str) -> None:
    from dockyard.engine import control

    with running(dy, "frozen", "busybox", "sleep", "1000") as cid:
        dy("pause", "frozen")
        e = dy.engine()
        container = e.containers.get(cid)
        e.lifecycle.kill(container)
        control.ensure_running_for_signal(e, container)
        assert e.lifecycle.wait_exited(cid, 10)
        assert dy("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", cid).out == (
            "exited 137\n"
        )
    nothing_left(dy)


def _lifecycle_thaws() -> bool:
    from dockyard.engine import lifecycle

    return "ensure_running_for_signal" in inspect.getsource(lifecycle)


@pytest.mark.skipif(not _lifecycle_thaws(), reason="lifecycle does not thaw paused containers yet")
def test_stop_and_rm_of_paused_containers(dy: Dockyard, busybox: str) -> None:
    with running(dy, "p1", "busybox", "sleep", "1000"):
        dy("pause", "p1")
        dy("stop", "-t", "1", "p1")
        assert dy("inspect", "-f", "{{.State.Status}}", "p1").out == "exited\n"
    with running(dy, "p2", "busybox", "sleep", "1000"):
        dy("pause", "p2")
        dy("rm", "-f", "p2")
    nothing_left(dy)
