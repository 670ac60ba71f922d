#!/usr/bin/env python3
"""Time dockyard's networking and docker's on the same work; print both and the ratios.

    sudo .venv/bin/python benchmarks/bench_network.py [-n 10] [--mib 512] [--no-docker]

Work: ``network create`` + ``network rm`` (median of n); ``run --rm busybox true``
on a user network, on the default bridge and with ``--network none`` (median of
n, so the cost of networking shows as the difference); ``run -d -p`` + ``rm -f``
(publishing: docker starts a docker-proxy per port, dockyard asks its one port
proxy per run root to hold the port); TCP throughput container to container on
a user network (busybox ``dd | nc`` into ``nc -l``) and host to a
published port on 127.0.0.1 (a Python socket into ``nc -l`` behind ``-p``).

Each engine runs in a fresh network namespace of its own (``ip netns add``,
only ``lo`` up), so both can make bridges and iptables rules freely without
touching the host's: dockerd runs there with its defaults (iptables, the
userland proxy; its default bridge named ``dybench-dk0``, 10.199.0.1/24) and a
private data root, exec root and socket; dockyard's
CLI runs there through ``nsenter --net`` (only the network namespace changes,
so its mounts stay visible to its next command). The same busybox image
(made by scripts/make-busybox-rootfs.sh, imported into dockyard, ``save``d and
``docker load``ed) runs in both. Both engines are up at once and take turns
sample by sample, so a machine busy with other work weighs on both alike.
Everything is removed afterwards, also on
failure: containers, dockerd (by PID) and every process left in the
namespaces, the namespaces themselves (their bridges and rules go with them),
mounts and files.

Host to 127.0.0.1:<published>: docker (userland proxy on, its default) carries
it through docker-proxy; dockyard through DNAT (its port proxy only holds the
port and carries IPv6).

The container-to-container number is busybox nc's ceiling here: it copies
through a small buffer, and on a 2-CPU VM a bare veth pair between two
namespaces (no bridge, no engine) moves about the same ~40 MiB/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _netns_dockerd import Netns, make_busybox_rootfs, netns_dockerd, remove_workdir

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
MiB = 1024 * 1024
PORT = 18080  # the published host port: each engine has its namespace to itself

# The sink: busybox's nc shuts its sending side down when its stdin ends and the
# client's nc exits as soon as it reads that EOF, so a sink whose stdin is
# /dev/null stops the sender after a few hundred KiB (dd then dies of SIGPIPE).
# A never-ending stdin keeps the sink quiet until the client's EOF; then it exits,
# and only then does the client's nc see EOF and return: the client's time covers
# every byte read by the sink.
SINK = "sleep 3600 | nc -l -p 9000 > /dev/null"

# The host side of "host -> published port", run inside the engine's namespace.
SENDER = (
    "import socket, sys, time\n"
    "port, mib = int(sys.argv[1]), int(sys.argv[2])\n"
    "chunk = b'\\0' * (1 << 20)\n"
    "conn = socket.create_connection(('127.0.0.1', port), timeout=60)\n"
    "start = time.perf_counter()\n"
    "for _ in range(mib):\n"
    "    conn.sendall(chunk)\n"
    "conn.shutdown(socket.SHUT_WR)\n"
    "if conn.recv(1) != b'':\n"
    "    sys.exit('the published port sink sent data')\n"
    "print(time.perf_counter() - start)\n"
)


class Tool:
    """An engine's CLI with its environment."""

    def __init__(self, name: str, cli: list[str], env: dict[str, str], ns: Netns) -> None:
        self.name, self.cli, self.env, self.ns = name, cli, env, ns

    def __call__(self, *args: str) -> str:
        proc = subprocess.run(
            [*self.cli, *args], env=self.env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout + proc.stderr

    def remove_all(self) -> None:
        with contextlib.suppress(RuntimeError):
            ids = self("ps", "-aq", "--no-trunc").split()
            if ids:
                self("rm", "-f", *ids)


def _listening(tool: Tool, container: str, port: int) -> None:
    """Wait until ``container`` listens on TCP ``port`` (its /proc/PID/net/tcp{,6})."""
    pid = int(tool("inspect", "-f", "{{.State.Pid}}", container).strip())
    wanted = f":{port:04X}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for table in ("tcp", "tcp6"):  # busybox nc -l listens on :: where IPv6 is on
            with open(f"/proc/{pid}/net/{table}") as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[1].endswith(wanted) and fields[3] == "0A":
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


def container_to_container(tool: Tool, mib: int) -> float:
    tool("run", "-d", "--name", "sink", "--network", "benchnet", "busybox", "sh", "-c", SINK)
    try:
        _listening(tool, "sink", 9000)
        out = tool(
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
    finally:
        tool("rm", "-f", "sink")
    return _rate(out, mib)


def host_to_published(tool: Tool, mib: int) -> float:
    publish = f"127.0.0.1:{PORT}:9000"
    tool("run", "-d", "--name", "psink", "-p", publish, "busybox", "sh", "-c", SINK)
    try:
        _listening(tool, "psink", 9000)
        proc = subprocess.run(
            [*tool.ns.enter, sys.executable, "-c", SENDER, str(PORT), str(mib)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{tool.name}: host to published port: {proc.stderr.strip()}")
        elapsed = float(proc.stdout.strip())
    finally:
        tool("rm", "-f", "psink")
    return mib / elapsed


def measure(tools: list[Tool], n: int, mib: int) -> dict[str, dict[str, float]]:
    """Times in seconds, throughputs in MiB/s, per tool. The engines take turns
    sample by sample (ABBA order), so a load that changes during the run (other
    work on the machine) weighs on both alike."""
    out: dict[str, dict[str, float]] = {t.name: {} for t in tools}
    for tool in tools:
        tool("run", "--rm", "busybox", "true")  # warm: the default bridge is made
    counter = iter(range(10**6))

    def timed(label: str, work: Callable[[Tool], object]) -> None:
        samples: dict[str, list[float]] = {t.name: [] for t in tools}
        for i in range(n):
            for tool in tools if i % 2 == 0 else tools[::-1]:
                start = time.perf_counter()
                work(tool)
                samples[tool.name].append(time.perf_counter() - start)
        for name, values in samples.items():
            out[name][label] = statistics.median(values)

    def create_rm(tool: Tool) -> None:
        name = f"bn{next(counter)}"
        tool("network", "create", name)
        tool("network", "rm", name)

    def published(tool: Tool) -> None:
        cid = tool("run", "-d", "-p", "127.0.0.1::80", "busybox", "sleep", "60").split()[0]
        tool("rm", "-f", cid)

    timed("network create + rm", create_rm)
    try:
        for tool in tools:
            tool("network", "create", "benchnet")
        timed(
            "run --rm, user network",
            lambda t: t("run", "--rm", "--network", "benchnet", "busybox", "true"),
        )
        timed("run --rm, default bridge", lambda t: t("run", "--rm", "busybox", "true"))
        timed(
            "run --rm, --network none",
            lambda t: t("run", "--rm", "--network", "none", "busybox", "true"),
        )
        timed("run -d -p 127.0.0.1::80 + rm -f", published)
        for tool in tools:
            out[tool.name]["TCP container -> container"] = container_to_container(tool, mib)
        for tool in tools[::-1]:
            out[tool.name]["TCP host -> published port"] = host_to_published(tool, mib)
    finally:
        for tool in tools:
            tool.remove_all()
            with contextlib.suppress(RuntimeError):
                tool("network", "rm", "benchnet")
    for name, values in out.items():
        print(f"{name}: {values}", flush=True)
    return out


def dockyard_tool(base: Path, ns: Netns) -> Tool:
    (base / "daemon.json").write_text(
        json.dumps({"bridge": "dyb" + secrets.token_hex(4), "bip": "10.198.0.1/24"})
    )
    env = dict(
        os.environ,
        DOCKYARD_ROOT=str(base / "root"),
        DOCKYARD_RUN=str(base / "run"),
        DOCKYARD_CONFIG_FILE=str(base / "daemon.json"),
    )
    return Tool("dockyard", [*ns.enter, DOCKYARD], env, ns)


def report(table: dict[str, dict[str, float]], mib: int) -> None:
    dockyard, docker = table["dockyard"], table.get("docker", {})
    print(f"{'work':<34}{'dockyard':>12}{'docker':>12}{'ratio':>9}")
    for key, value in dockyard.items():
        other = docker.get(key)
        rate = key.startswith("TCP")

        def cell(v: float | None, rate: bool = rate) -> str:
            if v is None:
                return "-"
            return f"{v:.0f} MiB/s" if rate else f"{v * 1000:.1f} ms"

        # below 1.00x: dockyard is better (less time, or more MiB/s)
        ratio = "-" if not other else f"{(other / value if rate else value / other):.2f}x"
        print(f"{key:<34}{cell(value):>12}{cell(other):>12}{ratio:>9}")
    print(f"ratio = dockyard time / docker time, or docker MiB/s / dockyard MiB/s ({mib} MiB):")
    print("below 1.00x dockyard is better")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=10)
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--workdir", default="/var/tmp")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces, bridges, iptables)")
    work = Path(tempfile.mkdtemp(prefix="dy-bench-net-", dir=args.workdir))
    spaces: list[Netns] = []
    table: dict[str, dict[str, float]] = {}
    try:
        rootfs = work / "rootfs.tar"
        make_busybox_rootfs(rootfs)
        spaces.append(Netns("dy"))
        (work / "dockyard").mkdir()
        dy = dockyard_tool(work / "dockyard", spaces[-1])
        tools = [dy]
        with contextlib.ExitStack() as stack:
            stack.callback(dy.remove_all)
            dy("import", "-c", 'CMD ["sh"]', str(rootfs), "busybox:latest")
            image = work / "busybox.tar"
            dy("save", "-o", str(image), "busybox:latest")
            if not args.no_docker:
                spaces.append(Netns("dk"))
                env = stack.enter_context(netns_dockerd(work / "docker", spaces[-1]))
                if env is None:
                    print("docker: could not start a private dockerd; dockyard alone")
                else:
                    docker = Tool("docker", ["docker"], env, spaces[-1])
                    stack.callback(docker.remove_all)  # before dockerd stops
                    docker("load", "-q", "-i", str(image))
                    tools.append(docker)
            table = measure(tools, args.n, args.mib)
        report(table, args.mib)
    finally:
        for ns in spaces:
            ns.close()
        remove_workdir(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
