"""Private network namespaces and a private dockerd inside one, shared by the
benchmarks that compare dockyard with docker on work that makes bridges and
iptables rules (bench_network, bench_compose): each engine gets a fresh
namespace with only ``lo`` up, so nothing touches the host's networking, and
everything is stopped by PID and removed afterwards, also on failure."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCKER_BRIDGE = "dybench-dk0"  # docker's default bridge inside its namespace
DOCKER_BRIDGE_ADDR = "10.199.0.1/24"
SOCKET_MAX = 107  # sun_path is 108 bytes with its NUL


class Netns:
    """A named network namespace with only ``lo`` up."""

    def __init__(self, label: str) -> None:
        self.name = f"dybench-{label}-{secrets.token_hex(3)}"
        self.path = f"/run/netns/{self.name}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)

    @property
    def enter(self) -> list[str]:
        return ["nsenter", f"--net={self.path}"]

    def pids(self) -> list[int]:
        out = subprocess.run(
            ["ip", "netns", "pids", self.name], capture_output=True, text=True, check=False
        ).stdout
        return [int(p) for p in out.split() if p.isdigit()]

    def close(self) -> None:
        """Stop every process left inside (all started by this benchmark), then delete it."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.pids()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 10
            while pids and self.pids() and time.monotonic() < deadline:
                time.sleep(0.1)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)


@contextlib.contextmanager
def netns_dockerd(
    base: Path,
    ns: Netns,
    *,
    cli: str = "docker",
    label: str = "dy-bench",
    bridge: str = DOCKER_BRIDGE,
    bridge_addr: str = DOCKER_BRIDGE_ADDR,
) -> Iterator[dict[str, str] | None]:
    """A private dockerd inside ``ns`` with docker's defaults (iptables, the userland
    proxy) and its own bridge, data root, exec root and socket; stopped by its PID.
    Yields the environment (DOCKER_HOST) for ``cli`` and Compose, or None when
    dockerd is not installed or does not come up."""
    if shutil.which("dockerd") is None or shutil.which(cli) is None:
        yield None
        return
    base.mkdir(parents=True, exist_ok=True)
    sock = base / "docker.sock"
    if len(str(sock)) > SOCKET_MAX or len(str(base / "exec")) > SOCKET_MAX - 40:
        raise ValueError(f"{base}: too long for unix sockets (use a short work dir)")
    # dockerd makes only a bridge named docker0 itself; one of another name must
    # exist with its address (-b and --bip exclude each other)
    for cmd in (
        ["link", "add", bridge, "type", "bridge"],
        ["addr", "add", bridge_addr, "dev", bridge],
        ["link", "set", bridge, "up"],
    ):
        subprocess.run(["ip", "-n", ns.name, *cmd], check=True)
    args = [
        *ns.enter,  # nsenter execs dockerd: the child's PID is dockerd's
        "dockerd",
        "--bridge",
        bridge,
        "--data-root",
        str(base / "root"),
        "--exec-root",
        str(base / "exec"),
        "-H",
        f"unix://{sock}",
        "--pidfile",
        str(base / "pid"),
        "--containerd-namespace",
        f"{label}-{os.getpid()}",
    ]
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
    with open(base / "dockerd.log", "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=log)
        try:
            ready = False
            for _ in range(300):
                if proc.poll() is not None:
                    break
                probe = subprocess.run([cli, "version"], env=env, capture_output=True)
                if probe.returncode == 0:
                    ready = True
                    break
                time.sleep(0.2)
            if not ready:
                sys.stderr.write((base / "dockerd.log").read_text()[-2000:])
            yield env if ready else None
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def make_busybox_rootfs(dest: Path) -> None:
    """The busybox root filesystem tar both engines run (scripts/make-busybox-rootfs.sh)."""
    subprocess.run(
        [str(REPO / "scripts" / "make-busybox-rootfs.sh"), str(dest)],
        check=True,
        capture_output=True,
    )


def remove_workdir(work: Path) -> None:
    """Unmount whatever the engines left mounted under ``work``, then delete it."""
    subprocess.run(["umount", "-R", "-l", str(work)], capture_output=True, check=False)
    with open("/proc/self/mounts") as f:
        mounts = [line.split()[1] for line in f if line.split()[1].startswith(str(work))]
    for m in reversed(mounts):
        subprocess.run(["umount", "-l", m], capture_output=True, check=False)
    shutil.rmtree(work, ignore_errors=True)
