"""dockyard-runtime end to end, as root, on a real busybox rootfs (and runc for comparison)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import needs_root

RUNTIME = str(Path(sys.executable).parent / "dockyard-runtime")

pytestmark = needs_root


def base_config(args: list[str], **process: Any) -> dict[str, Any]:
    """The config ``runc spec`` writes, with a cgroup namespace and the given args."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
            **process,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "dyrt",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
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
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
            },
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            },
            {
                "destination": "/dev/mqueue",
                "type": "mqueue",
                "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"],
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
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
            },
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [
                {"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")
            ],
            "maskedPaths": [
                "/proc/acpi",
                "/proc/kcore",
                "/proc/keys",
                "/proc/timer_list",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi",
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"],
        },
    }


class Env:
    def __init__(self, tmp: Path, rootfs_tar: Path) -> None:
        self.tmp = tmp
        self.root = tmp / "state"
        self.bundle = tmp / "bundle"
        (self.bundle / "rootfs").mkdir(parents=True)
        with tarfile.open(rootfs_tar) as tar:
            tar.extractall(self.bundle / "rootfs", filter="fully_trusted")
        (self.bundle / "rootfs").chmod(0o755)  # the tar's "." is 0700 (mktemp)
        self.prefix = f"dyrt-{uuid.uuid4().hex[:8]}"

    def new_id(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def write_config(self, config: dict[str, Any]) -> None:
        (self.bundle / "config.json").write_text(json.dumps(config))

    def rt(
        self, *args: str, check: bool = True, timeout: float = 30, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        cmd = [RUNTIME, "--root", str(self.root), *args]
        if args[0] == "create" and "stdout" not in kw:
            # The container inherits create's stdio: a pipe would stay open after create.
            with open(self.tmp / "create.out", "w+") as out:
                code = subprocess.call(
                    cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=timeout
                )
                out.seek(0)
                message = out.read()
            if check and code != 0:
                raise AssertionError(f"{args} exited {code}: {message}")
            return subprocess.CompletedProcess(cmd, code, message, message)
        kw.setdefault("stdin", subprocess.DEVNULL)
        if "stdout" in kw:
            kw.setdefault("stderr", subprocess.DEVNULL)
        else:
            kw.setdefault("capture_output", True)
        result = subprocess.run(cmd, text=True, timeout=timeout, **kw)
        if check and result.returncode != 0:
            raise AssertionError(f"{args} exited {result.returncode}: {result.stderr}")
        return result

    def state(self, cid: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.rt("state", cid).stdout)
        return data

    def wait_status(self, cid: str, status: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state(cid)
            if state["status"] == status or time.monotonic() > deadline:
                return state
            time.sleep(0.05)

    def cleanup(self) -> None:
        if self.root.is_dir():
            for cid in os.listdir(self.root):
                self.rt("delete", "-f", cid, check=False)
        with open("/proc/mounts") as f:
            mounts = [line.split()[1] for line in f]
        for point in reversed(mounts):
            if point.startswith(str(self.tmp)):
                subprocess.run(["umount", "-l", point], check=False)


@pytest.fixture
def env(tmp_path: Path, busybox_tar: Path) -> Iterator[Env]:
    e = Env(tmp_path, busybox_tar)
    try:
        yield e
    finally:
        e.cleanup()


SCRIPT = "echo hi; hostname; cat /proc/1/cmdline; echo; ls /"


def test_run_prints_from_inside(env: Env) -> None:
    env.write_config(base_config(["sh", "-c", SCRIPT]))
    result = env.rt("run", "--bundle", str(env.bundle), env.new_id("run"))
    lines = result.stdout.splitlines()
    assert lines[0] == "hi"
    assert lines[1] == "dyrt"
    assert lines[2].split("\0")[:3] == ["sh", "-c", SCRIPT]
    assert set(lines[3:]) == set(os.listdir(env.bundle / "rootfs"))
    assert os.listdir(env.root) == []  # run deletes the container afterwards


def test_run_exit_code_and_same_output_as_runc(env: Env) -> None:
    script = (
        "echo hi; hostname; grep -E 'CapEff|CapBnd|NoNewPrivs' /proc/self/status;"
        " ulimit -n; ls /dev | sort | tr '\\n' ' '; echo; exit 7"
    )
    env.write_config(base_config(["sh", "-c", script]))
    ours = env.rt("run", "-b", str(env.bundle), env.new_id("cmp"), check=False)
    assert ours.returncode == 7, ours.stderr
    if shutil.which("runc") is None:
        pytest.skip("runc is not installed")
    runc_root = env.tmp / "runc-state"
    theirs = subprocess.run(
        ["runc", "--root", str(runc_root), "run", "-b", str(env.bundle), env.new_id("runc")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    subprocess.run(["runc", "--root", str(runc_root), "delete", "-f", env.new_id("runc")])
    assert theirs.returncode == 7, theirs.stderr
    assert ours.stdout == theirs.stdout


def test_create_start_state_delete(env: Env) -> None:
    env.write_config(base_config(["sh", "-c", "echo started; sleep 0.3"]))
    cid = env.new_id("life")
    pid_file = env.tmp / "pid"
    out = env.tmp / "out"
    with open(out, "w") as f:
        env.rt("create", "-b", str(env.bundle), "--pid-file", str(pid_file), cid, stdout=f)
    state = env.state(cid)
    assert state["status"] == "created"
    assert state["pid"] > 0 and int(pid_file.read_text()) == state["pid"]
    assert state["id"] == cid and state["bundle"] == str(env.bundle)
    time.sleep(0.2)
    assert out.read_text() == ""  # nothing runs before start
    env.rt("start", cid)
    assert env.state(cid)["status"] in ("running", "stopped")
    assert env.wait_status(cid, "stopped")["status"] == "stopped"
    assert out.read_text() == "started\n"
    assert env.rt("start", cid, check=False).returncode == 1
    env.rt("delete", cid)
    assert not (env.root / cid).exists()
    assert env.rt("state", cid, check=False).returncode == 1


def test_kill_term_and_delete_force(env: Env) -> None:
    env.write_config(base_config(["sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.05; done"]))
    cid = env.new_id("kill")
    env.rt("create", "-b", str(env.bundle), cid)
    env.rt("start", cid)
    assert env.state(cid)["status"] == "running"
    assert env.rt("delete", cid, check=False).returncode == 1  # running needs -f
    env.rt("kill", cid, "TERM")
    assert env.wait_status(cid, "stopped")["status"] == "stopped"
    env.rt("delete", cid)

    cid2 = env.new_id("force")
    env.write_config(base_config(["sleep", "1000"]))
    env.rt("create", "-b", str(env.bundle), cid2)
    env.rt("start", cid2)
    pid = env.state(cid2)["pid"]
    env.rt("delete", "-f", cid2)
    assert (
        not os.path.exists(f"/proc/{pid}/cmdline")
        or b"sleep" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    )


def test_exec_joins_the_container(env: Env) -> None:
    env.write_config(base_config(["sleep", "1000"]))
    cid = env.new_id("exec")
    env.rt("create", "-b", str(env.bundle), cid)
    env.rt("start", cid)
    ps = env.rt("exec", cid, "--", "ps", "-o", "pid,args").stdout
    assert "1 sleep 1000" in " ".join(ps.split())
    assert str(os.getpid()) not in ps.split()  # no host pids
    out = env.rt(
        "exec", "-e", "FOO=bar", "--cwd", "/tmp", cid, "sh", "-c", "echo $FOO; pwd; hostname"
    )
    assert out.stdout.splitlines() == ["bar", "/tmp", "dyrt"]
    assert env.rt("exec", cid, "sh", "-c", "exit 5", check=False).returncode == 5
    mounts = env.rt("exec", cid, "cat", "/proc/mounts").stdout
    assert str(env.tmp) not in mounts and "/work" not in mounts
    pids = json.loads(env.rt("ps", "--format", "json", cid).stdout)
    assert env.state(cid)["pid"] in pids


def test_security_settings(env: Env) -> None:
    script = (
        "grep -E '^(CapEff|CapBnd|CapPrm|NoNewPrivs)' /proc/self/status;"
        " touch /newfile 2>/dev/null && echo writable || echo readonly;"
        " cat /proc/kcore 2>/dev/null | wc -c; ls /sys/firmware | wc -l;"
        " cat /proc/timer_list | wc -c;"
        " echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sysw || echo sysro"
    )
    env.write_config(base_config(["sh", "-c", script]))
    lines = env.rt("run", "-b", str(env.bundle), env.new_id("sec")).stdout.splitlines()
    expected = f"{(1 << 5) | (1 << 10) | (1 << 29):016x}"  # KILL, NET_BIND_SERVICE, AUDIT_WRITE
    fields = dict(line.split(":\t") for line in lines[:4])
    assert fields == {"CapEff": expected, "CapPrm": expected, "CapBnd": expected, "NoNewPrivs": "1"}
    assert lines[4:] == ["readonly", "0", "0", "0", "sysro"]
    if os.path.exists("/proc/timer_list"):  # masked: empty inside, not outside
        assert len(Path("/proc/timer_list").read_bytes()) > 0


def test_rlimit_above_hard_keeps_host_limit(env: Env) -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    config = base_config(["sh", "-c", "ulimit -Hn"])
    config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": hard * 100, "soft": 512}]
    config["root"]["readonly"] = False
    env.write_config(config)
    out = env.rt("run", "-b", str(env.bundle), env.new_id("rlim")).stdout.strip()
    assert int(out) in (hard, hard * 100)


def test_console_socket_gives_a_pty(env: Env) -> None:
    from dockyard.runtime.linux.console import recv_fd

    env.write_config(base_config(["sh", "-c", "tty; echo pty-ok"], terminal=True))
    cid = env.new_id("tty")
    sock_path = env.tmp / "console.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen(1)
    master = -1
    try:
        proc = subprocess.Popen(
            [
                RUNTIME,
                "--root",
                str(env.root),
                "create",
                "-b",
                str(env.bundle),
                "--console-socket",
                str(sock_path),
                cid,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        server.settimeout(20)
        conn, _ = server.accept()
        master, name = recv_fd(conn)
        conn.close()
        assert proc.wait(timeout=20) == 0, proc.stderr.read() if proc.stderr else ""
        assert name.startswith("/dev/pts/")
        env.rt("start", cid)
        output = b""
        deadline = time.monotonic() + 10
        while b"pty-ok" not in output and time.monotonic() < deadline:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        text = output.decode().replace("\r", "")
        assert "/dev/pts/0" in text and "pty-ok" in text
    finally:
        if master >= 0:
            os.close(master)
        server.close()


def test_pause_resume(env: Env) -> None:
    env.write_config(base_config(["sleep", "1000"]))
    cid = env.new_id("pause")
    env.rt("create", "-b", str(env.bundle), cid)
    env.rt("start", cid)
    env.rt("pause", cid)
    assert env.state(cid)["status"] == "paused"
    env.rt("resume", cid)
    assert env.state(cid)["status"] == "running"
    env.rt("delete", "-f", cid)


def test_errors_go_to_the_log_as_json(env: Env) -> None:
    log = env.tmp / "log.json"
    result = subprocess.run(
        [
            RUNTIME,
            "--root",
            str(env.root),
            "--log",
            str(log),
            "--log-format",
            "json",
            "state",
            "nope",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and "nope" in entry["msg"] and entry["time"]


def test_features() -> None:
    out = json.loads(subprocess.run([RUNTIME, "features"], capture_output=True, check=True).stdout)
    assert out["ociVersionMin"] == "1.0.0"
    assert "pid" in out["linux"]["namespaces"]
    assert "CAP_SYS_ADMIN" in out["linux"]["capabilities"]
    assert "rbind" in out["mountOptions"]


@pytest.fixture
def open_env(busybox_tar: Path) -> Iterator[Env]:
    """An Env under a world-traversable dir (pytest's tmp is 0700: no use to a mapped root)."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="dyrt-"))
    base.chmod(0o755)
    e = Env(base, busybox_tar)
    try:
        yield e
    finally:
        e.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def test_user_namespace_matches_runc(open_env: Env) -> None:
    env = open_env
    script = "id; cat /proc/self/uid_map; ls -ln /dev/null; echo x > /dev/null && echo devok"
    config = base_config(["sh", "-c", script])
    config["linux"]["namespaces"].append({"type": "user"})
    mapping = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    config["linux"]["uidMappings"] = mapping
    config["linux"]["gidMappings"] = mapping
    config["mounts"] = [m for m in config["mounts"] if m["type"] != "cgroup"]
    env.write_config(config)
    subprocess.run(["chown", "-R", "100000:100000", str(env.bundle / "rootfs")], check=True)
    ours = env.rt("run", "-b", str(env.bundle), env.new_id("userns")).stdout.splitlines()
    assert ours[0].startswith("uid=0(root) gid=0(root)")
    assert ours[1].split() == ["0", "100000", "65536"]
    assert ours[2].split()[4] == "1," and ours[-1] == "devok"  # /dev/null bound from the host
    if shutil.which("runc") is None:
        return
    runc_root = env.tmp / "runc-state"
    cid = env.new_id("runc-userns")
    theirs = subprocess.run(
        ["runc", "--root", str(runc_root), "run", "-b", str(env.bundle), cid],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    subprocess.run(["runc", "--root", str(runc_root), "delete", "-f", cid], capture_output=True)
    assert theirs.stdout.splitlines() == ours


def test_hooks_get_the_state(env: Env) -> None:
    record = env.tmp / "hooks.log"
    hook = {"path": "/bin/sh", "args": ["sh", "-c", f"cat >> {record}; echo >> {record}"]}
    config = base_config(["true"])
    config["hooks"] = {"prestart": [hook], "poststart": [hook], "poststop": [hook]}
    env.write_config(config)
    cid = env.new_id("hooks")
    env.rt("run", "-b", str(env.bundle), cid)
    states = [json.loads(line) for line in record.read_text().splitlines() if line]
    assert [s["status"] for s in states] == ["creating", "running", "stopped"]
    assert all(s["id"] == cid for s in states)
    assert states[0]["pid"] > 0


def test_seccomp_filter_is_loaded(env: Env) -> None:
    config = base_config(["sh", "-c", "mkdir /tmp/x && echo made || echo denied; echo alive"])
    config["root"]["readonly"] = False
    config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        ],
    }
    env.write_config(config)
    out = env.rt("run", "-b", str(env.bundle), env.new_id("seccomp")).stdout.splitlines()
    assert out == ["denied", "alive"]


def test_run_terminal_in_the_foreground_proxies_a_pty(env: Env) -> None:
    env.write_config(base_config(["sh", "-c", "tty; exit 4"], terminal=True))
    result = env.rt("run", "-b", str(env.bundle), env.new_id("fgtty"), check=False)
    assert result.returncode == 4, result.stderr
    assert result.stdout.replace("\r", "") == "/dev/pts/0\n"


def test_exec_with_process_json_and_console_socket(env: Env) -> None:
    from dockyard.runtime.linux.console import recv_fd

    env.write_config(base_config(["sleep", "1000"]))
    cid = env.new_id("exectty")
    env.rt("create", "-b", str(env.bundle), cid)
    env.rt("start", cid)
    process = {
        "terminal": True,
        "args": ["sh", "-c", "tty; echo $X; id -u"],
        "env": ["PATH=/bin", "X=from-json"],
        "cwd": "/",
        "user": {"uid": 65534, "gid": 65534},
    }
    (env.tmp / "process.json").write_text(json.dumps(process))
    sock_path = env.tmp / "exec.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen(1)
    master = -1
    try:
        exec_proc = subprocess.Popen(
            [
                RUNTIME,
                "--root",
                str(env.root),
                "exec",
                "--process",
                str(env.tmp / "process.json"),
                "--console-socket",
                str(sock_path),
                cid,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        server.settimeout(20)
        conn, _ = server.accept()
        master, _ = recv_fd(conn)
        conn.close()
        output = b""
        while True:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        assert exec_proc.wait(timeout=20) == 0
        lines = output.decode().replace("\r", "").splitlines()
        assert lines[0].startswith("/dev/pts/") and lines[1:] == ["from-json", "65534"]
    finally:
        if master >= 0:
            os.close(master)
        server.close()


def test_detached_run_kill_all_and_delete_created(env: Env) -> None:
    env.write_config(base_config(["sh", "-c", "sleep 1000 & sleep 1000"]))
    cid = env.new_id("detach")
    with open(env.tmp / "detach.out", "w") as out:
        env.rt("run", "-d", "-b", str(env.bundle), cid, stdout=out)
    assert env.state(cid)["status"] == "running"
    deadline = time.monotonic() + 5
    while len(json.loads(env.rt("ps", "-f", "json", cid).stdout)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    table = env.rt("ps", cid).stdout.splitlines()
    assert "PID" in table[0] and len(table) == 3
    env.rt("kill", "--all", cid, "KILL")
    assert env.wait_status(cid, "stopped")["status"] == "stopped"
    env.rt("delete", cid)

    cid2 = env.new_id("created")
    env.rt("create", "-b", str(env.bundle), cid2)
    pid = env.state(cid2)["pid"]
    env.rt("delete", cid2)  # a created container is deleted (and its init killed) without -f
    assert not (env.root / cid2).exists()
    assert (
        not os.path.exists(f"/proc/{pid}/cmdline") or not Path(f"/proc/{pid}/cmdline").read_bytes()
    )


@pytest.mark.parametrize("args", [["nosuchcmd"], ["/bin/nosuch"]])
def test_failed_create_leaves_nothing(env: Env, args: list[str]) -> None:
    env.write_config(base_config(args))
    cid = env.new_id("fail")
    result = env.rt("create", "-b", str(env.bundle), cid, check=False)
    assert result.returncode == 1
    assert "nosuch" in result.stdout
    assert not (env.root / cid).exists()
    import glob

    deadline = time.monotonic() + 5
    while glob.glob(f"/sys/fs/cgroup/*/{cid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    leftovers = glob.glob(f"/sys/fs/cgroup/*/{cid}") + glob.glob(f"/sys/fs/cgroup/{cid}")
    assert leftovers == []


def test_no_pivot_moves_and_chroots(env: Env) -> None:
    env.write_config(base_config(["sh", "-c", SCRIPT]))
    result = env.rt("run", "--no-pivot", "-b", str(env.bundle), env.new_id("nopivot"))
    lines = result.stdout.splitlines()
    assert lines[:2] == ["hi", "dyrt"]
    assert set(lines[3:]) == set(os.listdir(env.bundle / "rootfs"))


def test_config_details_bind_devices_sysctl_user(env: Env) -> None:
    data = env.tmp / "data"
    data.mkdir()
    (data / "hello").write_text("from host\n")
    script = (
        "cat /data/hello; touch /data/new 2>/dev/null && echo w || echo ro;"
        " ls -l /dev/fuse | cut -c1-10; cat /proc/sys/net/ipv4/ip_forward;"
        " cat /proc/self/oom_score_adj; id -u; id -G; ls -l /dev/ptmx | cut -c1"
    )
    config = base_config(["sh", "-c", script])
    config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 6]}
    config["process"]["oomScoreAdj"] = 500
    config["mounts"].append(
        {"destination": "/data", "type": "bind", "source": str(data), "options": ["rbind", "ro"]}
    )
    config["linux"]["devices"] = [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600}
    ]
    config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    env.write_config(config)
    out = env.rt("run", "-b", str(env.bundle), env.new_id("details")).stdout.splitlines()
    assert out == ["from host", "ro", "crw-------", "1", "500", "1000", "1000 5 6", "l"]
    assert not (data / "new").exists()


def test_exec_tty_without_console_socket_is_proxied(env: Env) -> None:
    env.write_config(base_config(["sleep", "1000"]))
    cid = env.new_id("exectty2")
    env.rt("create", "-b", str(env.bundle), cid)
    env.rt("start", cid)
    result = env.rt("exec", "-t", cid, "sh", "-c", "tty; exit 3", check=False)
    assert result.returncode == 3, result.stderr
    assert result.stdout.replace("\r", "").startswith("/dev/pts/")


def test_foreground_run_forwards_signals(env: Env) -> None:
    script = "trap 'echo got-term; exit 9' TERM; echo ready; while :; do sleep 0.05; done"
    env.write_config(base_config(["sh", "-c", script]))
    proc = subprocess.Popen(
        [RUNTIME, "--root", str(env.root), "run", "-b", str(env.bundle), env.new_id("sig")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(15)
        assert proc.wait(timeout=20) == 9
        assert proc.stdout.read() == "got-term\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
