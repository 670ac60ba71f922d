"""The container monitor driving runc with a busybox rootfs: logs, exit codes, attach,
tty, rotation, restarts, health checks, daemonizing, memory."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import SystemFailure
from dockyard.runtime.monitor import protocol
from dockyard.runtime.monitor.client import AttachClient
from dockyard.runtime.monitor.launch import make_options, spawn
from dockyard.runtime.monitor.logs import read_local
from dockyard.runtime.monitor.oci import OciRuntime
from tests.integration._process_support import alive, wait_for

RUNC = shutil.which("runc") or "/usr/sbin/runc"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not os.path.exists(RUNC), reason="runc is not installed"),
    pytest.mark.root,
]

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")




@pytest.fixture(scope="session")
def spec_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("spec")
    subprocess.run([RUNC, "spec"], cwd=d, check=True)
    spec: dict[str, Any] = json.loads((d / "config.json").read_text())
    return spec


class Harness:
    """Bundles, monitors and their clean-up for one test."""

    def __init__(self, tmp: Path, busybox_tar: Path, template: dict[str, Any]) -> None:
        self.tmp = tmp
        self.busybox_tar = busybox_tar
        self.template = template
        self.runc_root = str(tmp / "runc")
        self.runtime = OciRuntime(RUNC, self.runc_root)
        self.ids: list[str] = []
        self.cgroups: list[str] = []
        self.monitor_pids: list[int] = []

    def bundle(
        self, args: list[str], *, tty: bool = False, pidns: bool = True, memory: int = 0
    ) -> tuple[str, Path]:
        cid = "mt-" + uuid.uuid4().hex[:12]
        bundle = self.tmp / cid
        rootfs = bundle / "rootfs"
        rootfs.mkdir(parents=True)
        with tarfile.open(self.busybox_tar) as tar:
            tar.extractall(rootfs, filter="fully_trusted")
        spec = json.loads(json.dumps(self.template))
        spec["process"]["args"] = args
        spec["process"]["terminal"] = tty
        spec["root"] = {"path": "rootfs", "readonly": False}
        cgroup = f"/dockyard-montest-{cid}"
        spec["linux"]["cgroupsPath"] = cgroup
        if not pidns:
            spec["linux"]["namespaces"] = [
                n for n in spec["linux"]["namespaces"] if n["type"] != "pid"
            ]
        if memory:
            spec["linux"].setdefault("resources", {})["memory"] = {"limit": memory}
        (bundle / "config.json").write_text(json.dumps(spec))
        self.ids.append(cid)
        self.cgroups.append(cgroup)
        return cid, bundle

    def state_dir(self, cid: str) -> Path:
        return self.tmp / "run" / cid

    def start(self, args: list[str], **kw: Any) -> tuple[str, Path, dict[str, Any]]:
        tty = kw.pop("tty", False)
        pidns = kw.pop("pidns", True)
        memory = kw.pop("memory", 0)
        cid, bundle = self.bundle(args, tty=tty, pidns=pidns, memory=memory)
        sd = self.state_dir(cid)
        opts = make_options(
            cid, str(bundle), str(sd), runtime=RUNC, runtime_root=self.runc_root, tty=tty, **kw
        )
        try:
            report = spawn(opts)
        finally:
            with contextlib.suppress(OSError, ValueError):
                self.monitor_pids.append(int((sd / "monitor.pid").read_text()))
        return cid, sd, report

    def exit_record(self, sd: Path, timeout: float = 15.0) -> dict[str, Any]:
        path = sd / "exit.json"
        wait_for(path.exists, timeout, f"{path}")
        record: dict[str, Any] = json.loads(path.read_text())
        return record

    def wait_monitor_gone(self, sd: Path, timeout: float = 15.0) -> None:
        pid = int((sd / "monitor.pid").read_text())
        wait_for(lambda: not alive(pid), timeout, f"monitor {pid} to exit")

    def attach(self, sd: Path) -> AttachClient:
        return AttachClient(str(sd / "attach"), timeout=15)

    def cleanup(self) -> None:
        for pid in self.monitor_pids:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for cid in self.ids:
            subprocess.run(
                [RUNC, "--root", self.runc_root, "delete", "--force", cid],
                capture_output=True,
                check=False,
            )
        for cgroup in self.cgroups:
            for ctrl in os.listdir("/sys/fs/cgroup"):
                path = f"/sys/fs/cgroup/{ctrl}{cgroup}"
                if os.path.isdir(path):
                    with contextlib.suppress(OSError):
                        os.rmdir(path)
        with open("/proc/mounts") as f:
            mounts = [line.split()[1] for line in f]
        for mp in reversed(mounts):
            if mp.startswith(str(self.tmp)):
                subprocess.run(["umount", "-l", mp], check=False)


@pytest.fixture
def h(tmp_path: Path, busybox_tar: Path, spec_template: dict[str, Any]) -> Iterator[Harness]:
    harness = Harness(tmp_path, busybox_tar, spec_template)
    try:
        yield harness
    finally:
        harness.cleanup()


def json_log(sd: Path, cid: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in (sd / f"{cid}-json.log").read_text().splitlines()]


def test_json_file_log_keeps_order_and_streams(h: Harness) -> None:
    script = "echo o1; sleep 0.2; echo e1 >&2; sleep 0.2; echo o2; sleep 0.2; printf 'tail<&>'"
    cid, sd, report = h.start(["sh", "-c", script])
    assert report["Status"] == "running" and report["Pid"] > 0
    assert h.exit_record(sd)["ExitCode"] == 0
    h.wait_monitor_gone(sd)
    records = json_log(sd, cid)
    assert [(r["log"], r["stream"]) for r in records] == [
        ("o1\n", "stdout"),
        ("e1\n", "stderr"),
        ("o2\n", "stdout"),
        ("tail<&>", "stdout"),
    ]
    assert all(TIME_RE.match(r["time"]) for r in records)
    raw = (sd / f"{cid}-json.log").read_text()
    assert "tail\\u003c\\u0026\\u003e" in raw  # Go's HTML-safe escaping, as Docker writes
    state = json.loads((sd / "state.json").read_text())
    assert state["Status"] == "exited" and state["RestartCount"] == 0
    assert not (sd / "attach").exists()
    # the runtime's container is gone
    assert h.runtime.argv("list")[0] == RUNC
    out = subprocess.run(
        [RUNC, "--root", h.runc_root, "list", "-q"], capture_output=True, text=True, check=True
    ).stdout
    assert cid not in out


@pytest.mark.parametrize(("script", "code"), [("exit 0", 0), ("exit 3", 3)])
def test_exit_codes(h: Harness, script: str, code: int) -> None:
    _, sd, _ = h.start(["sh", "-c", script])
    record = h.exit_record(sd)
    assert record["ExitCode"] == code
    assert record["OOMKilled"] is False
    assert TIME_RE.match(record["FinishedAt"])


@pytest.mark.parametrize(("sig", "code", "pidns"), [("KILL", 137, True), ("TERM", 143, False)])
def test_exit_code_of_a_signal(h: Harness, sig: str, code: int, pidns: bool) -> None:
    # SIGTERM to a pid-namespace init without a handler is ignored, hence no pid ns there
    cid, sd, _ = h.start(["sleep", "1000"], pidns=pidns)
    assert h.runtime.state(cid)["status"] == "running"
    h.runtime.kill(cid, sig)
    assert h.exit_record(sd)["ExitCode"] == code


def test_oom_kill_is_recorded(h: Harness) -> None:
    if not os.path.exists("/sys/fs/cgroup/memory/memory.oom_control") and not os.path.exists(
        "/sys/fs/cgroup/memory.events"
    ):
        pytest.skip("no memory cgroup")
    # tail -c keeps that many bytes in memory: far past the 16 MiB limit
    _, sd, _ = h.start(
        ["sh", "-c", "head -c 200000000 /dev/zero | tail -c 100000000"], memory=16 << 20
    )
    record = h.exit_record(sd, timeout=30)
    assert record["OOMKilled"] is True
    assert record["ExitCode"] != 0


def test_container_outlives_the_process_that_started_it(h: Harness) -> None:
    cid, bundle = h.bundle(["sleep", "1000"])
    sd = h.state_dir(cid)
    launcher = (
        "import sys\n"
        "from dockyard.runtime.monitor.launch import make_options, spawn\n"
        f"o = make_options({cid!r}, {str(bundle)!r}, {str(sd)!r}, runtime={RUNC!r},"
        f" runtime_root={h.runc_root!r})\n"
        "print(spawn(o)['MonitorPid'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", launcher], capture_output=True, text=True, timeout=60, check=True
    )
    monitor = int(out.stdout.strip())
    h.monitor_pids.append(monitor)
    assert alive(monitor)
    with open(f"/proc/{monitor}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ppid, sid = int(fields[1]), int(fields[3])  # after the name: state ppid pgrp session
    assert ppid != os.getpid()  # not our child
    assert sid != os.getsid(0) and sid == os.getsid(monitor)  # a session of its own
    with open(f"/proc/{monitor}/cmdline", "rb") as f:
        cmdline = f.read().split(b"\0")
    assert cmdline[1:3] == [b"-I", b"-S"]
    state = h.runtime.state(cid)
    assert state["status"] == "running"
    with open(f"/proc/{state['pid']}/stat") as f:
        assert int(f.read().rsplit(")", 1)[1].split()[1]) == monitor  # subreaper: its child
    h.runtime.kill(cid, "KILL")
    assert h.exit_record(sd)["ExitCode"] == 137
    h.wait_monitor_gone(sd)


def test_two_attach_clients_both_receive_output(h: Harness) -> None:
    script = "i=0; while [ $i -lt 50 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done; exit 7"
    _cid, sd, report = h.start(["sh", "-c", script], start_on_attach=True)
    # started at once; its output waits for the START frame, so both clients see all of it
    assert report["Status"] == "running"
    with h.attach(sd) as a, h.attach(sd) as b:
        a.start()
        assert b"tick 0\n" in a.read_until(b"tick 2\n")
        assert b"tick 0\n" in b.read_until(b"tick 2\n")
        out_a, exit_a = a.read_to_exit()
        out_b, exit_b = b.read_to_exit()
    assert exit_a == exit_b == {"ExitCode": 7, "Restarting": False}
    assert out_a[protocol.STDOUT].endswith(b"tick 49\n")
    assert out_b[protocol.STDOUT].endswith(b"tick 49\n")
    assert h.exit_record(sd)["ExitCode"] == 7


def test_stdin_through_attach_reaches_cat(h: Harness) -> None:
    _, sd, _ = h.start(["cat"], stdin=True)
    with h.attach(sd) as c:
        c.send_stdin(b"hello monitor\n")
        assert c.read_until(b"hello monitor\n", protocol.STDOUT) == b"hello monitor\n"
        c.send_stdin(b"second")
        c.close_stdin()
        out, exit_rec = c.read_to_exit()
    assert out[protocol.STDOUT] == b"second"
    assert exit_rec == {"ExitCode": 0, "Restarting": False}
    assert h.exit_record(sd)["ExitCode"] == 0


def test_detach_leaves_the_container_running(h: Harness) -> None:
    cid, sd, _ = h.start(["sh", "-c", "while true; do echo x; sleep 0.1; done"])
    with h.attach(sd) as c:
        c.read_until(b"x\n")
        c.detach()
        while c.read_frame() is not None:
            pass
    assert h.runtime.state(cid)["status"] == "running"
    h.runtime.kill(cid, "KILL")
    assert h.exit_record(sd)["ExitCode"] == 137


def test_tty_gets_a_pty_and_resize_reaches_it(h: Harness) -> None:
    script = "tty; stty size; read line; stty size; echo got=$line"
    _, sd, _ = h.start(["sh", "-c", script], tty=True, stdin=True, start_on_attach=True)
    with h.attach(sd) as c:
        c.resize(24, 80)
        c.start()
        first = c.read_until(b"24 80")
        assert b"/dev/pts/" in first or b"/dev/console" in first
        c.resize(30, 100)
        c.send_stdin(b"go\n")
        out, exit_rec = c.read_to_exit()
    text = (first + out.get(protocol.STDOUT, b"")).replace(b"\r\n", b"\n")
    assert b"30 100\n" in text and b"got=go" in text
    assert protocol.STDERR not in out  # a tty is one stream
    assert exit_rec is not None and exit_rec["ExitCode"] == 0


def test_json_file_rotation_keeps_max_file_files(h: Harness) -> None:
    script = (
        "i=0; while [ $i -lt 200 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done"
    )
    cid, sd, _ = h.start(["sh", "-c", script], log_opts={"max-size": "1k", "max-file": "2"})
    h.exit_record(sd)
    h.wait_monitor_gone(sd)
    logs = sorted(p.name for p in sd.iterdir() if p.name.startswith(f"{cid}-json.log"))
    assert logs == [f"{cid}-json.log", f"{cid}-json.log.1"]
    for name in logs:
        assert 0 < (sd / name).stat().st_size <= 1024
    last = json_log(sd, cid)[-1]
    assert last["log"] == "line-199-xxxxxxxxxxxxxxxxxxxxxxxxx\n"


def test_local_driver_writes_framed_records(h: Harness) -> None:
    _, sd, _ = h.start(["sh", "-c", "echo a; sleep 0.2; echo b >&2"], log_driver="local")
    h.exit_record(sd)
    h.wait_monitor_gone(sd)
    records = read_local(str(sd / "local-logs" / "container.log"))
    assert [(s, p, line) for s, _, p, line in records] == [(1, False, b"a\n"), (2, False, b"b\n")]


def test_log_driver_none_writes_nothing(h: Harness) -> None:
    _, sd, _ = h.start(["sh", "-c", "echo a"], log_driver="none")
    h.exit_record(sd)
    h.wait_monitor_gone(sd)
    assert not [p for p in sd.iterdir() if "log" in p.name and p.name != "runtime.log"]


def test_restart_on_failure_twice_then_stops(h: Harness) -> None:
    _, sd, _ = h.start(["sh", "-c", "echo run; exit 5"], restart="on-failure:2")
    h.wait_monitor_gone(sd, timeout=30)
    record = json.loads((sd / "exit.json").read_text())
    assert record["ExitCode"] == 5 and record["RestartCount"] == 2
    state = json.loads((sd / "state.json").read_text())
    assert state["Status"] == "exited" and state["RestartCount"] == 2
    cid = sd.name
    assert [r["log"] for r in json_log(sd, cid)] == ["run\n"] * 3


def test_restart_always_stops_after_no_restart(h: Harness) -> None:
    _cid, sd, _ = h.start(["sh", "-c", "echo up; sleep 0.3"], restart="always")
    wait_for(
        lambda: json.loads((sd / "state.json").read_text())["RestartCount"] >= 2,
        what="two restarts",
    )
    with h.attach(sd) as c:
        c.no_restart()
        _, exit_rec = c.read_to_exit()
    assert exit_rec is not None and exit_rec["Restarting"] is False
    h.wait_monitor_gone(sd)


def test_health_check_flips_to_healthy(h: Harness) -> None:
    hc = {
        "Test": ["CMD-SHELL", "test -f /tmp/ready && echo ok"],
        "Interval": 200_000_000,
        "Timeout": 5_000_000_000,
        "Retries": 3,
    }
    cid, sd, _ = h.start(["sh", "-c", "sleep 1; touch /tmp/ready; sleep 1000"], healthcheck=hc)
    first = json.loads((sd / "health.json").read_text())
    assert first["Status"] == "starting"

    def healthy() -> dict[str, Any] | None:
        health: dict[str, Any] = json.loads((sd / "health.json").read_text())
        return health if health["Status"] == "healthy" else None

    health = wait_for(healthy, 20, "healthy")
    assert health["FailingStreak"] == 0
    last = health["Log"][-1]
    assert last["ExitCode"] == 0 and last["Output"] == "ok\n"
    assert TIME_RE.match(last["Start"]) and TIME_RE.match(last["End"])
    assert len(health["Log"]) <= 5
    h.runtime.kill(cid, "KILL")
    h.exit_record(sd)


def test_health_check_turns_unhealthy(h: Harness) -> None:
    hc = {"Test": ["CMD", "false"], "Interval": 100_000_000, "Retries": 2}
    cid, sd, _ = h.start(["sleep", "1000"], healthcheck=hc)

    def unhealthy() -> dict[str, Any] | None:
        health: dict[str, Any] = json.loads((sd / "health.json").read_text())
        return health if health["Status"] == "unhealthy" else None

    health = wait_for(unhealthy, 20, "unhealthy")
    assert health["FailingStreak"] >= 2 and health["Log"][-1]["ExitCode"] == 1
    h.runtime.kill(cid, "KILL")
    h.exit_record(sd)


def test_kill_9_of_the_monitor_leaves_the_container_running(h: Harness) -> None:
    cid, sd, _ = h.start(["sleep", "1000"])
    monitor = int((sd / "monitor.pid").read_text())
    os.kill(monitor, signal.SIGKILL)
    wait_for(lambda: not alive(monitor), what="monitor to die")
    assert h.runtime.state(cid)["status"] == "running"
    # the fixture kills and deletes it


def test_rm_and_cleanup_cmd(h: Harness) -> None:
    marker = h.tmp / "cleaned"
    _cid, sd, _ = h.start(
        ["sh", "-c", "exit 4"],
        remove=True,
        cleanup_cmd=["/bin/sh", "-c", f"echo $0 > {marker}", "removed"],
    )
    wait_for(marker.exists, what="the cleanup command")
    assert marker.read_text() == "removed\n"
    wait_for(lambda: not sd.exists(), what="the state dir to go")


def test_runtime_failure_is_reported(h: Harness) -> None:
    with pytest.raises(SystemFailure) as info:
        h.start(["/no/such/binary"])
    assert "no such file" in str(info.value).lower() or "not found" in str(info.value)


def test_idle_monitor_memory(h: Harness) -> None:
    cid, sd, _ = h.start(["sleep", "1000"], stdin=True)
    monitor = int((sd / "monitor.pid").read_text())
    time.sleep(0.3)
    with open(f"/proc/{monitor}/smaps_rollup") as f:
        fields = {line.split(":")[0]: int(line.split()[1]) for line in f if line.endswith("kB\n")}
    pss_kib = fields["Pss"]
    bare = subprocess.Popen([sys.executable, "-I", "-S", "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.3)
        with open(f"/proc/{bare.pid}/smaps_rollup") as f:
            bare_pss = next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    finally:
        bare.kill()
        bare.wait()
    print(
        f"idle monitor: Pss {pss_kib} KiB, Rss {fields['Rss']} KiB;"
        f" bare python -I -S: {bare_pss} KiB"
    )
    assert pss_kib < 8 * 1024
    h.runtime.kill(cid, "KILL")
    h.exit_record(sd)


def test_started_by_hand_it_daemonizes_itself(h: Harness) -> None:
    cid, bundle = h.bundle(["sh", "-c", "echo by-hand; sleep 1000"])
    sd = h.state_dir(cid)
    opts = make_options(cid, str(bundle), str(sd), runtime=RUNC, runtime_root=h.runc_root)
    proc = subprocess.run(
        [sys.executable, "-m", "dockyard.runtime.monitor", *opts.to_argv()],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    with contextlib.suppress(OSError, ValueError):
        h.monitor_pids.append(int((sd / "monitor.pid").read_text()))
    assert proc.returncode == 0, proc.stderr
    assert h.runtime.state(cid)["status"] == "running"
    with h.attach(sd) as c:
        h.runtime.kill(cid, "KILL")
        _, exit_rec = c.read_to_exit()
    assert exit_rec == {"ExitCode": 137, "Restarting": False}
    assert json_log(sd, cid)[0]["log"] == "by-hand\n"


def test_started_by_hand_with_bad_options_fails() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dockyard.runtime.monitor", "--id", "x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "missing --bundle" in proc.stderr


def test_exit_record_says_when_the_runtime_state_is_deleted(h: Harness) -> None:
    """exit.json comes first with RuntimeDeleting (the exit frame goes out at once),
    then again with RuntimeDeleted once ``runc delete`` is done."""
    from dockyard.runtime.monitor.oci import OciError

    cid, sd, _ = h.start(["sh", "-c", "exit 4"], start_on_attach=True)
    with h.attach(sd) as c:
        c.records_exit()
        c.start()
        _, exit_rec = c.read_to_exit()
        assert exit_rec == {"ExitCode": 4, "Restarting": False}
        first = json.loads((sd / "exit.json").read_text())
        assert first["ExitCode"] == 4
        assert first.get("RuntimeDeleting") or first.get("RuntimeDeleted")
        wait_for(
            lambda: json.loads((sd / "exit.json").read_text()).get("RuntimeDeleted") is True,
            15,
            "RuntimeDeleted",
        )
    final = json.loads((sd / "exit.json").read_text())
    assert "RuntimeDeleting" not in final and final["ExitCode"] == 4
    with pytest.raises(OciError):
        h.runtime.state(cid)
    h.wait_monitor_gone(sd)


def test_a_held_container_ends_once_a_client_says_start(h: Harness) -> None:
    """Held for an attacher, a container that is killed reports its end only after
    START (``stop`` sends one: the attacher it waited for may be gone)."""
    cid, sd, _ = h.start(["sleep", "1000"], start_on_attach=True)
    with h.attach(sd) as c:
        h.runtime.kill(cid, "KILL")
        time.sleep(0.3)
        assert json.loads((sd / "state.json").read_text())["Status"] == "running"
        c.start()
        _, exit_rec = c.read_to_exit()
    assert exit_rec == {"ExitCode": 137, "Restarting": False}
    h.wait_monitor_gone(sd)


def test_state_file_readers(h: Harness) -> None:
    from dockyard.runtime.monitor.client import monitor_pid, read_state_file

    cid, sd, report = h.start(["sleep", "1000"])
    state = read_state_file(str(sd), "state.json")
    assert state is not None and state["Status"] == "running" and state["Pid"] == report["Pid"]
    assert read_state_file(str(sd), "exit.json") is None
    pid = monitor_pid(str(sd))
    assert pid == report["MonitorPid"]
    h.runtime.kill(cid, "KILL")
    h.wait_monitor_gone(sd)
    assert monitor_pid(str(sd)) is None
    exit_rec = read_state_file(str(sd), "exit.json")
    assert exit_rec is not None and exit_rec["ExitCode"] == 137


def test_tty_container_restarts_with_a_new_pty(h: Harness) -> None:
    _, sd, _ = h.start(["sh", "-c", "tty; exit 2"], tty=True, restart="on-failure:1")
    h.wait_monitor_gone(sd, timeout=30)
    record = json.loads((sd / "exit.json").read_text())
    assert record["ExitCode"] == 2 and record["RestartCount"] == 1
    lines = [r["log"] for r in json_log(sd, sd.name)]
    assert len(lines) == 2 and all(r.startswith("/dev/") for r in lines)
    assert {r["stream"] for r in json_log(sd, sd.name)} == {"stdout"}


def test_health_probe_timeout(h: Harness) -> None:
    hc = {"Test": ["CMD", "sleep", "10"], "Interval": 100_000_000, "Timeout": 300_000_000}
    cid, sd, _ = h.start(["sleep", "1000"], healthcheck=hc)

    def probed() -> dict[str, Any] | None:
        health: dict[str, Any] = json.loads((sd / "health.json").read_text())
        return health if health["Log"] else None

    entry = wait_for(probed, 20, "a probe")["Log"][0]
    assert entry["ExitCode"] == -1
    assert entry["Output"] == "Health check exceeded timeout (300ms)"
    h.runtime.kill(cid, "KILL")
    h.exit_record(sd)
