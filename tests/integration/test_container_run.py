"""Running containers end to end: run, start, stop, kill, wait, logs, rm -f — on runc.

Each test has its own root and run directory; every container, mount and cgroup it
makes is gone at the end (checked).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import DOCKYARD, Dockyard, needs_root, stop_zygote

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]


def nothing_left(dy: Dockyard) -> None:
    assert dy("ps", "-aq").out == ""
    stop_zygote(dy.run_root)  # the run root's helpers (a command starts them)
    with open("/proc/mounts") as f:
        mounts = f.read()
    assert str(dy.root) not in mounts and str(dy.run_root) not in mounts
    containers = dy.run_root / "containers"
    assert not containers.exists() or list(containers.iterdir()) == []
    # No monitor (or anything else) still working in this test's run directory.
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and proc.name != str(os.getpid()):
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            assert str(dy.run_root).encode() not in cmdline, cmdline
    for controller in ("memory", "pids", "cpu"):
        parent = Path("/sys/fs/cgroup") / controller / "dockyard"
        if parent.exists():
            leftovers = [p.name for p in parent.iterdir() if re.fullmatch(r"[0-9a-f]{64}", p.name)]
            mine = {c for c in leftovers if (dy.root / "containers" / c).exists()}
            assert not mine


def test_run_rm_prints_output_and_exit_code(dy: Dockyard, busybox: str) -> None:
    result = dy(
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; hostname; cat /proc/1/cmdline | tr '\\0' ' '; exit 3",
        check=False,
    )
    assert result.code == 3
    lines = result.out.splitlines()
    assert lines[0] == "out"
    assert re.fullmatch(r"[0-9a-f]{12}", lines[1])
    assert lines[2].startswith("sh -c")
    assert result.err == "err\n"
    nothing_left(dy)


def test_exit_codes_for_missing_and_unrunnable_commands(dy: Dockyard, busybox: str) -> None:
    missing = dy.fails("run", "--rm", "busybox", "nosuchcmd")
    assert missing.code == 127
    assert "executable file not found in $PATH" in missing.err
    denied = dy.fails("run", "--rm", "busybox", "/etc/passwd")
    assert denied.code == 126
    nothing_left(dy)
    # Without --rm the container stays, recorded with the failure.
    dy.fails("run", "--name", "broken", "busybox", "nosuchcmd")
    state = json.loads(dy("inspect", "broken").out)[0]["State"]
    assert state["Status"] == "created" and "executable file not found" in state["Error"]
    dy("rm", "broken")


def test_detached_lifecycle(dy: Dockyard, busybox: str) -> None:
    script = 'echo started; trap "echo got term; exit 0" TERM; while true; do sleep 0.1; done'
    cid = dy("run", "-d", "--name", "svc", "busybox", "sh", "-c", script).out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    assert dy("ps", "-q").out == cid[:12] + "\n"
    status = dy("ps", "--format", "{{.Status}}").out
    assert status.startswith("Up ")
    info = json.loads(dy("inspect", "svc").out)[0]
    assert info["State"]["Running"] and info["State"]["Pid"] > 0
    deadline = time.monotonic() + 5
    while "started" not in dy("logs", "svc").out and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dy("logs", "svc").out == "started\n"
    assert dy("stop", "svc").out == "svc\n"
    assert dy("logs", "svc").out == "started\ngot term\n"
    assert dy("ps", "-a", "--format", "{{.Status}}").out.startswith("Exited (0) ")
    assert dy("start", "svc").out == "svc\n"
    assert dy("kill", "svc").out == "svc\n"
    assert dy("wait", "svc").out == "137\n"
    assert json.loads(dy("inspect", "svc").out)[0]["State"]["ExitCode"] == 137
    refused = dy.fails("kill", "svc")
    assert "is not running" in refused.err
    dy("rm", "svc")
    nothing_left(dy)


def test_rm_force_and_a_killed_monitor(dy: Dockyard, busybox: str) -> None:
    first = dy("run", "-d", "busybox", "sleep", "100").out.strip()
    refused = dy.fails("rm", first)
    assert "You cannot remove a running container" in refused.err
    assert dy("rm", "-f", first).out == first + "\n"
    second = dy("run", "-d", "busybox", "sleep", "100").out.strip()
    monitor = int((dy.run_root / "containers" / second / "monitor.pid").read_text())
    pid = json.loads(dy("inspect", second).out)[0]["State"]["Pid"]
    os.kill(monitor, signal.SIGKILL)
    time.sleep(0.1)
    # ps tells the truth: the container is recorded as ended, and its process is gone.
    assert dy("ps", "-a", "--format", "{{.Status}}").out.startswith("Exited (137)")
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}")
    dy("rm", second)
    nothing_left(dy)


def test_interactive_tty(dy: Dockyard, busybox: str) -> None:
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(
        DOCKYARD,
        ["run", "-it", "--rm", "busybox", "sh"],
        env=dy.env,
        timeout=20,
        dimensions=(30, 100),
    )
    try:
        child.expect("# ")
        child.sendline("stty size; echo tty-$((6*7))")
        child.expect("30 100")
        child.expect("tty-42")
        child.sendline("exit 5")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 5
    nothing_left(dy)


def test_parallel_run_rm(dy: Dockyard, busybox: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(n: int) -> tuple[int, str]:
        result = dy("run", "--rm", "busybox", "echo", f"n{n}", check=False)
        return result.code, result.out

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(one, range(20)))
    assert results == [(0, f"n{n}\n") for n in range(20)]
    nothing_left(dy)


def test_health_status_in_ps_and_inspect(dy: Dockyard, busybox: str) -> None:
    dy("run", "-d", "--name", "hc", "--health-cmd", "test -e /tmp/ok", "--health-interval",
       "100ms", "--health-retries", "1", "busybox", "sh", "-c",
       "sleep 0.5; touch /tmp/ok; sleep 100")
    deadline = time.monotonic() + 10
    status = ""
    while time.monotonic() < deadline:
        status = dy("ps", "--format", "{{.Status}}").out
        if "(healthy)" in status:
            break
        time.sleep(0.1)
    assert "(healthy)" in status
    health = json.loads(dy("inspect", "-f", "{{json .State.Health}}", "hc").out)
    assert health["Status"] == "healthy" and health["FailingStreak"] == 0
    assert health["Log"] and health["Log"][-1]["ExitCode"] == 0
    dy("rm", "-f", "hc")
    nothing_left(dy)


def test_run_on_the_vfs_driver(dy: Dockyard, busybox_tar: Path) -> None:
    vfs = ["--storage-driver", "vfs"]
    dy(*vfs, "import", "-c", 'CMD ["sh"]', str(busybox_tar), "bb")
    assert dy(*vfs, "run", "--rm", "bb", "sh", "-c", "echo vfs > /f; cat /f").out == "vfs\n"
    nothing_left(dy)


def test_logs_follow_tail_and_timestamps(dy: Dockyard, busybox: str) -> None:
    import subprocess

    dy("run", "-d", "--name", "talker", "busybox", "sh", "-c",
       "for i in 1 2 3; do echo line$i; sleep 0.3; done; echo err >&2")
    follow = subprocess.run([DOCKYARD, "logs", "-f", "talker"], env=dy.env, capture_output=True,
                            text=True, timeout=30)
    assert follow.stdout == "line1\nline2\nline3\n" and follow.stderr == "err\n"
    assert dy("logs", "--tail", "1", "talker").err == "err\n"
    assert dy("logs", "-n", "2", "talker").out == "line3\n"
    stamped = dy("logs", "-t", "talker").out.splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line1", stamped[0])
    assert dy("logs", "--since", "1h", "talker").out == "line1\nline2\nline3\n"
    assert dy("logs", "--until", "2000-01-01", "talker").out == ""
    dy("rm", "talker")
    nothing_left(dy)


def test_kill_9_of_the_cli_and_of_the_container(dy: Dockyard, busybox: str) -> None:
    import subprocess

    # The CLI dies: the container goes on under its monitor.
    cli = subprocess.Popen([DOCKYARD, "run", "--name", "orphan", "busybox", "sleep", "100"],
                           env=dy.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    # started: the record has the container's pid (it says "Up" a little earlier)
    while dy("ps", "--format", "{{.Names}}").out != "orphan\n" or dy(
        "inspect", "-f", "{{.State.Pid}}", "orphan"
    ).out.strip() in ("", "0"):
        assert time.monotonic() < deadline, "the container did not start"
        time.sleep(0.05)
    cli.kill()
    cli.wait()
    time.sleep(0.2)
    assert dy("ps", "--format", "{{.Names}} {{.State}}").out == "orphan running\n"
    # The container's process dies: the record says so, with the signal's code.
    pid = json.loads(dy("inspect", "orphan").out)[0]["State"]["Pid"]
    assert pid > 1  # never kill(0): that is the test's own process group
    os.kill(pid, signal.SIGKILL)
    assert dy("wait", "orphan").out == "137\n"
    assert dy("ps", "-a", "--format", "{{.Status}}").out.startswith("Exited (137)")
    dy("rm", "orphan")
    nothing_left(dy)


@pytest.mark.slow
def test_a_hundred_containers_start_and_go(dy: Dockyard, busybox: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def start(n: int) -> str:
        return dy("run", "-d", "--name", f"c{n:03d}", "busybox", "sleep", "300").out.strip()

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(start, range(100)))
    assert len(set(ids)) == 100
    assert len(dy("ps", "-q").lines) == 100
    for chunk in range(0, 100, 25):
        dy("rm", "-f", *ids[chunk : chunk + 25], timeout=300)
    nothing_left(dy)


def test_new_volume_is_filled_from_the_image(dy: Dockyard, busybox: str) -> None:
    # Docker copies the image's content at the mount point into a new, empty volume.
    out = dy("run", "--rm", "-v", "etcvol:/etc", "busybox", "cat", "/etc/passwd").out
    assert out.startswith("root:x:0:0:")
    assert (dy.root / "volumes" / "etcvol" / "_data" / "passwd").exists()
    # A volume that has content keeps it.
    dy("run", "--rm", "-v", "etcvol:/etc", "busybox", "sh", "-c", "echo mine > /etc/mine")
    assert dy("run", "--rm", "-v", "etcvol:/etc", "busybox", "cat", "/etc/mine").out == "mine\n"
    dy("run", "-d", "--name", "v1", "-v", "etcvol:/data", "busybox", "sleep", "100")
    assert dy("ps", "-q", "-f", "volume=etcvol").out.strip() != ""
    assert dy("ps", "-q", "-f", "volume=other").out == ""
    assert dy("ps", "-q", "-f", "health=none").out.strip() != ""
    dy("rm", "-f", "v1")
    dy("volume", "rm", "etcvol")
    nothing_left(dy)


def test_a_restarting_container_shows_restarting(dy: Dockyard, busybox: str) -> None:
    """Between an exit and the restart policy's next start: dockerd's State and
    ``Restarting (code) … ago`` in ps; the restarts counted in RestartCount."""
    dy("run", "-d", "--name", "again", "--restart", "always", "busybox", "sh", "-c",
       "sleep 0.2; exit 3")  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        seen = None
        while time.monotonic() < deadline and seen is None:
            out = dy("inspect", "-f", "{{json .State}}|{{.RestartCount}}", "again").out
            state_json, count = out.strip().split("|")
            state = json.loads(state_json)
            if state["Status"] == "restarting":
                seen = (state, int(count))
            time.sleep(0.05)
        assert seen is not None, "never seen restarting"
        state, count = seen
        assert (state["Running"], state["Restarting"], state["ExitCode"]) == (True, True, 3)
        assert count >= 1
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = dy("ps", "--format", "{{.Status}}", "-f", "name=again").out
            if status.startswith("Restarting (3) "):
                break
            time.sleep(0.05)
        assert status.startswith("Restarting (3) ") and status.endswith(" ago\n"), status
    finally:
        dy("rm", "-f", "again")
    nothing_left(dy)


def test_a_late_exit_callback_leaves_the_next_run_alone(dy: Dockyard, busybox: str) -> None:
    """The hidden ``container-exited`` of a run already recorded (its report gone with
    its state directory) must not end the next run: neither one whose monitor runs,
    nor one still starting (recorded running, its monitor not spawned yet)."""
    cid = dy("run", "-d", "busybox", "sleep", "1000").out.strip()
    try:
        dy("stop", "-t", "0", cid)
        dy("start", cid)
        dy("container-exited", cid)  # late, from the first run's monitor
        assert dy("inspect", "-f", "{{.State.Status}}", cid).out == "running\n"
        assert dy("exec", cid, "true").code == 0
        dy("stop", "-t", "0", cid)
        engine = dy.engine()
        try:  # the next start, caught between its record and its monitor
            state_dir = Path(engine.lifecycle.state_dir(cid))
            state_dir.mkdir(parents=True)
            engine.lifecycle.record_state(cid, {"Status": "running", "MonitorPid": 0})
            engine.lifecycle.exited(cid)
            assert engine.containers.get(cid).status == "running"
            engine.lifecycle.record_state(cid, {"Status": "exited"})
            shutil.rmtree(state_dir)
        finally:
            engine.close()
    finally:
        dy("rm", "-f", cid)
    nothing_left(dy)
