#!/usr/bin/env python3
"""Time dockyard's networking; print the numbers (and docker's, when it can run here).

    sudo .venv/bin/python benchmarks/bench_network.py [-n 10] [--mib 512]

Work: ``network create`` + ``network rm`` (median of n); ``run --rm busybox true``
on a user network, on the default bridge and with ``--network none`` (median of
n, so the cost of networking shows as the difference); TCP throughput container
to container on a user network (busybox ``dd | nc`` into ``nc -l``) and host to a
published port on 127.0.0.1 (a Python socket into ``nc -l`` behind ``-p``).

The container-to-container number is busybox nc's ceiling here: it copies
through a small buffer, and on a 2-CPU VM a bare veth pair between two
namespaces (no bridge, no dockyard) moves about the same ~40 MiB/s, while the
same nc over loopback inside one container moves ~190 MiB/s.

Docker: the private dockerd of tests/dockerd.py runs with ``--bridge none`` here
(it cannot manage bridges and iptables beside the host's own setup), so this
benchmark times dockyard alone and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SHIM = (
    "import sys\n"
    "from dockyard.cli import main as m\n"
    "extra = {'network create': 'network:cmd_create', 'network rm': 'network:cmd_rm'}\n"
    "for k, v in extra.items():\n"
    "    m.COMMANDS.setdefault(k, v)\n"
    "m.GROUPS.add('network')\n"
    "sys.exit(m.main(sys.argv[1:]))\n"
)
MiB = 1024 * 1024


class Dockyard:
    def __init__(self, base: Path) -> None:
        from tests.integration._network_support import free_subnet

        self.bridge = "dyb" + secrets.token_hex(4)
        subnet = free_subnet()
        (base / "daemon.json").write_text(
            json.dumps({"bridge": self.bridge, "bip": f"{subnet[1]}/24"})
        )
        self.env = dict(
            os.environ,
            DOCKYARD_ROOT=str(base / "root"),
            DOCKYARD_RUN=str(base / "run"),
            DOCKYARD_CONFIG_FILE=str(base / "daemon.json"),
        )
        self.run_root = base / "run"

    def __call__(self, *args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-c", SHIM, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"dockyard {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout + proc.stderr


def median_time(work: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


# The sink: busybox's nc shuts its sending side down when its stdin ends and the
# client's nc exits as soon as it reads that EOF, so a sink whose stdin is
# /dev/null stops the sender after a few hundred KiB (dd then dies of SIGPIPE).
# A never-ending stdin keeps the sink quiet until the client's EOF; then it exits,
# and only then does the client's nc see EOF and return: the client's time covers
# every byte read by the sink.
SINK = "sleep 3600 | nc -l -p 9000 > /dev/null"


def _listening(dy: Dockyard, container: str, port: int) -> None:
    """Wait until ``container`` listens on TCP ``port`` (its /proc/PID/net/tcp{,6})."""
    pid = json.loads(dy("inspect", container))[0]["State"]["Pid"]
    wanted = f":{port:04X} "
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for table in ("tcp", "tcp6"):  # busybox nc -l listens on :: where IPv6 is on
            with open(f"/proc/{pid}/net/{table}") as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if (fields[1][-5:] + " ") == wanted and fields[3] == "0A":
                        return
        time.sleep(0.02)
    raise RuntimeError(f"{container} does not listen on {port}")


def _rate(text: str, mib: int) -> float:
    """MiB/s from the sender's output: dd's record count (proof that every MiB went
    through the pipe into nc) and the "start end" /proc/uptime pair (10 ms resolution)."""
    if f"{mib}+0 records out" not in text:
        raise RuntimeError(f"container to container transfer was cut short: {text!r}")
    start, end = (float(v) for v in text.split()[-2:])
    return mib / max(end - start, 0.01)


def container_to_container(dy: Dockyard, mib: int) -> float:
    dy("run", "-d", "--name", "sink", "--network", "benchnet", "busybox", "sh", "-c", SINK)
    _listening(dy, "sink", 9000)
    out = dy(
        "run",
        "--rm",
        "--network",
        "benchnet",
        "busybox",
        "sh",
        "-c",
        "a=$(cut -d' ' -f1 /proc/uptime);"
        f" dd if=/dev/zero bs=1M count={mib} 2>/tmp/dd | nc sink 9000;"
        " cat /tmp/dd; echo $a $(cut -d' ' -f1 /proc/uptime)",
    )
    dy("rm", "-f", "sink")
    return _rate(out, mib)


def host_to_published(dy: Dockyard, mib: int) -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dy("run", "-d", "--name", "psink", "-p", f"{port}:9000", "busybox", "sh", "-c", SINK)
    _listening(dy, "psink", 9000)
    chunk = b"\0" * MiB
    conn = socket.create_connection(("127.0.0.1", port), timeout=30)
    start = time.perf_counter()
    with conn:
        for _ in range(mib):
            conn.sendall(chunk)
        conn.shutdown(socket.SHUT_WR)
        if conn.recv(1) != b"":  # EOF once the sink has read everything and exited
            raise RuntimeError("the published port's sink sent data")
    elapsed = time.perf_counter() - start
    dy("rm", "-f", "psink")
    return mib / elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=10)
    parser.add_argument("--mib", type=int, default=512)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-net-"))
    dy = Dockyard(base)
    try:
        tar = base / "busybox.tar"
        subprocess.run(
            [str(REPO / "scripts" / "make-busybox-rootfs.sh"), str(tar)],
            check=True,
            capture_output=True,
        )
        dy("import", "-c", 'CMD ["sh"]', str(tar), "busybox:latest")
        dy("run", "--rm", "busybox", "true")  # warm: default bridge made

        counter = iter(range(10**6))

        def create_rm() -> None:
            name = f"bn{next(counter)}"
            dy("network", "create", name)
            dy("network", "rm", name)

        t_net = median_time(create_rm, args.n)
        dy("network", "create", "benchnet")
        t_user = median_time(
            lambda: dy("run", "--rm", "--network", "benchnet", "busybox", "true"), args.n
        )
        t_bridge = median_time(lambda: dy("run", "--rm", "busybox", "true"), args.n)
        t_none = median_time(
            lambda: dy("run", "--rm", "--network", "none", "busybox", "true"), args.n
        )
        c2c = container_to_container(dy, args.mib)
        h2p = host_to_published(dy, args.mib)
        print("dockyard (docker not compared: the private dockerd here runs --bridge none)")
        print(f"  network create + rm          {t_net * 1000:8.1f} ms")
        print(f"  run --rm, user network       {t_user * 1000:8.1f} ms")
        print(f"  run --rm, default bridge     {t_bridge * 1000:8.1f} ms")
        print(f"  run --rm, --network none     {t_none * 1000:8.1f} ms")
        print(f"  TCP container -> container   {c2c:8.0f} MiB/s ({args.mib} MiB)")
        print(f"  TCP host -> published port   {h2p:8.0f} MiB/s ({args.mib} MiB)")
    finally:
        subprocess.run(
            [sys.executable, "-c", SHIM, "rm", "-f", "sink", "psink"],
            env=dy.env,
            capture_output=True,
            check=False,
        )
        subprocess.run(
            [sys.executable, "-c", SHIM, "network", "rm", "benchnet"],
            env=dy.env,
            capture_output=True,
            check=False,
        )
        pid_file = dy.run_root / "network" / "dnsd.pid"
        try:
            pid = int(pid_file.read_text().strip() or 0)
            if pid > 1:
                os.kill(pid, 15)
        except (OSError, ValueError):
            pass
        from dockyard.network.firewall import Firewall

        Firewall().remove(f"dy-net:{dy.bridge}")
        subprocess.run(["ip", "link", "del", dy.bridge], capture_output=True, check=False)
        with open("/proc/mounts") as f:
            mounts = [line.split()[1] for line in f if line.split()[1].startswith(str(base))]
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
