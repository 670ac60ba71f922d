"""The warm CLI process: commands after the first run in a process forked from it,
with the client's stdio, environment, cwd, umask and exit status; signals reach
them, killing the client kills them; a client it cannot stand in for (another
network namespace) runs its command itself; ``DOCKYARD_WARM_CLI=0`` turns it off."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from dockyard.cli import warm
from tests.conftest import DOCKYARD, Dockyard, needs_root
from tests.integration import _process_support
from tests.integration._process_support import alive, children, wait_for

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]


def warm_pid(dy: Dockyard) -> int:
    return _process_support.warm_pid(dy.run_root)


def command_process(dy: Dockyard) -> int:
    """The one command process running under the warm process (warm -> keeper -> it)."""
    parent = warm_pid(dy)

    def find() -> int | None:
        for keeper in children(parent):
            below = children(keeper)
            if below:
                return below[0]
        return None

    pid: int = wait_for(find, what="the command process")
    return pid


def test_a_command_runs_in_a_process_forked_from_the_warm_process(
    dy: Dockyard, busybox: str
) -> None:
    parent = warm_pid(dy)
    # started with only what decides how Python starts, not its first caller's settings
    environ = Path(f"/proc/{parent}/environ").read_bytes().split(b"\0")
    assert not any(v.startswith(b"DOCKYARD_") for v in environ)
    dy("run", "-d", "--name", "sleeper", "busybox", "sleep", "1000")
    waiting = subprocess.Popen(
        [DOCKYARD, "wait", "sleeper"], env=dy.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        command = command_process(dy)
        cmdline = Path(f"/proc/{parent}/cmdline").read_bytes()
        assert Path(f"/proc/{command}/cmdline").read_bytes() == cmdline  # forked, not exec'd
        # the forwarded SIGTERM ends the command as it ends a `dockyard wait` run here
        waiting.send_signal(signal.SIGTERM)
        waiting.communicate(timeout=10)
        assert waiting.returncode == -signal.SIGTERM
        wait_for(lambda: not alive(command), what="the command process to end")
        assert dy("inspect", "-f", "{{.State.Running}}", "sleeper").out == "true\n"
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
        dy("rm", "-f", "sleeper", check=False)


def test_stdio_environment_cwd_umask_and_exit_code_are_the_clients(
    dy: Dockyard, busybox: str, tmp_path: Path
) -> None:
    warm_pid(dy)
    env = dict(dy.env, MARK="from the client")
    proc = subprocess.run(
        [
            DOCKYARD,
            "run",
            "-i",
            "--rm",
            "-e",
            "MARK",
            "busybox",
            "sh",
            "-c",
            "cat; echo $MARK; exit 3",
        ],
        input=b"through stdin\n",
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout) == (3, b"through stdin\nfrom the client\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = subprocess.run(
        [DOCKYARD, "save", "-o", "relative.tar", "busybox"],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=60,
        preexec_fn=lambda: os.umask(0o077),
    )
    assert proc.returncode == 0, proc.stderr
    assert (cwd / "relative.tar").stat().st_mode & 0o077 == 0
    proc = subprocess.run([DOCKYARD, "inspect", "nosuch"], env=env, capture_output=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr == b"Error: No such object: nosuch\n"


def test_killing_the_client_kills_its_command(dy: Dockyard, busybox: str) -> None:
    warm_pid(dy)
    dy("run", "-d", "--name", "sleeper", "busybox", "sleep", "1000")
    waiting = subprocess.Popen([DOCKYARD, "wait", "sleeper"], env=dy.env, stdout=subprocess.DEVNULL)
    try:
        command = command_process(dy)
        waiting.kill()
        waiting.wait()
        wait_for(lambda: not alive(command), what="the command process to die with its client")
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
        dy("rm", "-f", "sleeper", check=False)


def test_a_client_in_another_network_namespace_runs_its_command_itself(
    dy: Dockyard, busybox: str
) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    warm_pid(dy)
    host_devices = set(os.listdir("/sys/class/net"))
    assert host_devices - {"lo"}  # else this test could not tell the namespaces apart
    proc = subprocess.run(
        [
            "unshare",
            "--net",
            DOCKYARD,
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "ls",
            "/sys/class/net",
        ],
        env=dy.env,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [b"lo"]


def held(pid_file: str) -> bool:
    """Whether a live process holds the lock on ``pid_file`` (as a warm process does)."""
    import fcntl

    fd = os.open(pid_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_turned_off_no_warm_process_starts(dy: Dockyard, busybox: str) -> None:
    from tests.conftest import stop_zygote

    _sock, pid_file = warm.paths(str(dy.run_root))
    warm_pid(dy)  # the busybox fixture's load started it
    stop_zygote(dy.run_root)
    assert not held(pid_file)
    dy.env[warm.ENV_SWITCH] = "0"
    dy("images")
    dy("ps")
    time.sleep(0.5)
    assert not held(pid_file)
    del dy.env[warm.ENV_SWITCH]
    dy("images")
    wait_for(lambda: held(pid_file), what="a warm process once turned on again")


def test_interactive_terminal_through_the_warm_process(dy: Dockyard, busybox: str) -> None:
    """``-it`` in a real terminal when the command runs in the warm process: the
    prompt, a window resize (the client's SIGWINCH, passed on), Ctrl-P Ctrl-Q."""
    pexpect = pytest.importorskip("pexpect")
    warm_pid(dy)
    child = pexpect.spawn(
        DOCKYARD,
        ["run", "-it", "--name", "tty", "busybox", "sh"],
        env=dy.env,
        timeout=20,
        dimensions=(30, 100),
    )
    try:
        child.expect("# ")
        command_process(dy)  # it runs there, not in the client
        child.sendline("stty size; echo tty-$((6*7))")
        child.expect("30 100")
        child.expect("tty-42")
        child.setwinsize(40, 120)
        child.sendline("stty size")
        child.expect("40 120")
        child.sendcontrol("p")
        child.sendcontrol("q")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert dy("inspect", "-f", "{{.State.Running}}", "tty").out == "true\n"
    dy("rm", "-f", "tty")


def test_ctrl_c_reaches_an_attached_container(dy: Dockyard, busybox: str) -> None:
    """Without a tty the terminal's Ctrl-C is a SIGINT to the client: passed on to the
    command process, whose signal proxy passes it to the container."""
    pexpect = pytest.importorskip("pexpect")
    warm_pid(dy)
    child = pexpect.spawn(
        DOCKYARD,
        ["run", "--rm", "busybox", "sh", "-c", "trap 'echo got-int; exit 9' INT; echo ready;"
         " while true; do sleep 0.1; done"],
        env=dy.env,
        timeout=20,
    )  # fmt: skip
    try:
        child.expect("ready")
        command_process(dy)
        child.sendintr()
        child.expect("got-int")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 9


def test_a_signal_the_client_inherited_ignored_still_reaches_a_command_that_handles_it(
    dy: Dockyard, busybox: str
) -> None:
    """A background job starts with SIGINT ignored; `attach` proxies SIGINT anyway
    (it installs its handler over the inherited ignore), warm or not."""
    warm_pid(dy)
    loop = 'trap "echo caught; exit 9" INT; while true; do echo tick; sleep 0.2; done'
    cid = dy("run", "-d", "busybox", "sh", "-c", loop).out.strip()
    proc = subprocess.Popen(
        [DOCKYARD, "attach", cid],
        env=dy.env,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"tick\n"
        command_process(dy)
        proc.send_signal(signal.SIGINT)
        assert proc.stdout.read().endswith(b"caught\n")
        assert proc.wait(20) == 9
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        dy("rm", "-f", cid, check=False)


def test_the_command_process_runs_in_the_clients_cgroups(dy: Dockyard, busybox: str) -> None:
    """As a command run by its client would: a client in a cgroup of its own (a
    service, a scope with limits) gets its command process moved there."""
    v1 = Path("/sys/fs/cgroup/pids/cgroup.procs").exists()
    base = Path("/sys/fs/cgroup/pids") if v1 else Path("/sys/fs/cgroup")
    group = base / f"dy-warm-test-{os.getpid()}"
    group.mkdir()
    warm_pid(dy)
    dy("run", "-d", "--name", "sleeper", "busybox", "sleep", "1000")
    waiting = subprocess.Popen(
        ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$0" wait sleeper', DOCKYARD],
        env=dy.env,
        stdout=subprocess.DEVNULL,
    )
    try:
        command = command_process(dy)
        lines = Path(f"/proc/{command}/cgroup").read_text().splitlines()
        wanted = f"/{group.name}"
        assert any(line.endswith(":" + wanted) and ("pids" in line or not v1) for line in lines)
    finally:
        waiting.kill()
        waiting.wait()
        dy("rm", "-f", "sleeper", check=False)
        wait_for(lambda: not (group / "cgroup.procs").read_text().strip(), what="an empty cgroup")
        group.rmdir()


def test_bytes_that_are_not_utf8_in_the_environment_run_in_the_client(
    dy: Dockyard, busybox: str
) -> None:
    """The request is JSON, which cannot carry them: the client runs the command
    itself (and its monitor is exec'd, not forked). The container gets what docker's
    gives it: Go's JSON turns the bad byte into U+FFFD."""
    warm_pid(dy)
    env: dict[bytes, bytes] = {os.fsencode(k): os.fsencode(v) for k, v in dy.env.items()}
    env[b"ODD"] = b"caf\xe9"
    proc = subprocess.run(
        [DOCKYARD, "run", "--rm", "-e", "ODD", "busybox", "sh", "-c", 'printf %s "$ODD"'],
        env=env,  # type: ignore[arg-type]  # subprocess takes bytes too
        capture_output=True,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout) == (0, "caf\ufffd".encode()), proc.stderr
