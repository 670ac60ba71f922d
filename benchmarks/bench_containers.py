#!/usr/bin/env python3
"""Time container work in dockyard (runc and ``--runtime dockyard``) and docker; print ratios.

    sudo .venv/bin/python benchmarks/bench_containers.py [-n 20] [--no-docker]

Work: ``run --rm busybox true`` (median of 20), ``run -d busybox sleep 100`` +
``stop -t 0`` + ``rm`` (median of 10), ``ps -a`` with 100 created containers
(median of 5), and the memory kept per idle running container: the PSS
(/proc/<pid>/smaps_rollup) of every process that exists for it besides the
container's own processes — dockyard's monitor (and its share of the monitor
zygote the monitors are forked from), docker's containerd-shim — with ``-n``
containers running. Both use the same busybox image (imported into
dockyard, ``save``d and ``docker load``ed). dockerd is started privately (its
own data root, exec root and socket) and stopped by PID afterwards.

dockyard's package is byte-compiled first (as an installed package is): with
``PYTHONDONTWRITEBYTECODE`` set and sources being edited, every command would
otherwise compile the changed modules again, and that is not dockyard's time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.dockerd import private_dockerd  # noqa: E402

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
MiB = 1024 * 1024


class Tool:
    """A CLI (dockyard or docker) with its environment and extra ``run``/``create`` flags."""

    def __init__(self, name: str, cli: list[str], env: dict[str, str], flags: list[str]) -> None:
        self.name, self.cli, self.env, self.flags = name, cli, env, flags

    def __call__(self, *args: str) -> str:
        proc = subprocess.run(
            [*self.cli, *args], env=self.env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def run(self, *args: str) -> str:
        return self("run", *self.flags, *args)

    def remove_all(self) -> None:
        ids = self("ps", "-aq", "--no-trunc").split()
        for start in range(0, len(ids), 50):
            self("rm", "-f", *ids[start : start + 50])


def median_time(work: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def pss(pid: int) -> int:
    """Proportional set size of a process in bytes (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def kept_pss(root: int, container_pid: int, tree: dict[int, list[int]]) -> int:
    """PSS of ``root`` and its descendants, without the container's process tree."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid == container_pid:
            continue
        total += pss(pid)
        todo.extend(tree.get(pid, []))
    return total


def shared_helpers_pss(tool: Tool) -> int:
    """PSS of dockyard's per-run-root helpers that exist for the containers: the
    monitor zygote (monitors are forked from it and share its pages, so part of
    their memory is accounted to it). Divided among the containers by the caller."""
    run_root = tool.env.get("DOCKYARD_RUN")
    if not run_root:
        return 0
    try:
        with open(os.path.join(run_root, "monitor", "zygote.pid")) as f:
            text = f.read().strip()
    except OSError:
        return 0
    return pss(int(text)) if text else 0


def docker_shim(container_id: str) -> int:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if b"containerd-shim" in argv[0] and container_id.encode() in argv:
                return int(entry)
    raise RuntimeError(f"no containerd-shim for {container_id}")


def measure(tool: Tool, count: int) -> dict[str, float]:
    results: dict[str, float] = {}
    tool.run("--rm", "busybox", "true")  # warm up caches
    results["run --rm true"] = median_time(lambda: tool.run("--rm", "busybox", "true"), 20)

    def lifecycle() -> None:
        cid = tool.run("-d", "busybox", "sleep", "100").strip()
        tool("stop", "-t", "0", cid)
        tool("rm", cid)

    results["run -d/stop/rm"] = median_time(lifecycle, 10)

    for _ in range(100):
        tool("create", *tool.flags, "busybox", "true")
    results["ps -a (100)"] = median_time(lambda: tool("ps", "-a"), 5)
    tool.remove_all()

    ids = [tool.run("-d", "busybox", "sleep", "1000").strip() for _ in range(count)]
    try:
        time.sleep(2)  # let every helper settle into its idle state
        tree = children()
        total = 0
        for cid in ids:
            container_pid = int(tool("inspect", "-f", "{{.State.Pid}}", cid))
            if tool.name == "docker":
                keeper = docker_shim(tool("inspect", "-f", "{{.Id}}", cid).strip())
            else:
                keeper = int(tool("inspect", "-f", "{{.State.MonitorPid}}", cid))
            total += kept_pss(keeper, container_pid, tree)
        total += shared_helpers_pss(tool)
        results[f"PSS/container ({count})"] = total / count / MiB
    finally:
        tool.remove_all()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=20, help="idle containers for the memory test")
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--workdir", default="/var/tmp")
    args = parser.parse_args()

    import compileall

    compileall.compile_dir(str(REPO / "dockyard"), quiet=1)
    work = Path(tempfile.mkdtemp(prefix="dy-bench-ctr-", dir=args.workdir))
    try:
        (work / "daemon.json").write_text("{}")
        dy_env = dict(
            os.environ,
            DOCKYARD_ROOT=str(work / "dy-root"),
            DOCKYARD_RUN=str(work / "dy-run"),
            DOCKYARD_CONFIG_FILE=str(work / "daemon.json"),
        )
        rootfs = work / "rootfs.tar"
        subprocess.run([str(REPO / "scripts" / "make-busybox-rootfs.sh"), str(rootfs)], check=True)
        # the same work as docker's: its private dockerd runs without a bridge here
        dockyard = Tool("dockyard", [DOCKYARD], dy_env, ["--network", "none"])
        dockyard("import", "-c", 'CMD ["sh"]', str(rootfs), "busybox:latest")
        image = work / "busybox.tar"
        dockyard("save", "-o", str(image), "busybox:latest")

        table: dict[str, dict[str, float]] = {}
        try:
            table["dockyard/runc"] = measure(dockyard, args.n)
            print("dockyard/runc:", table["dockyard/runc"], flush=True)
            own = Tool(
                "dockyard/own", [DOCKYARD], dy_env, ["--network", "none", "--runtime", "dockyard"]
            )
            table["dockyard/own"] = measure(own, args.n)
            print("dockyard/own:", table["dockyard/own"], flush=True)
        finally:
            dockyard.remove_all()
        if not args.no_docker:
            with private_dockerd(work / "docker", namespace="dy-bench") as docker_env:
                if docker_env is not None:
                    docker = Tool("docker", ["docker"], docker_env, ["--network", "none"])
                    try:
                        docker("load", "-q", "-i", str(image))
                        table["docker"] = measure(docker, args.n)
                        print("docker:", table["docker"], flush=True)
                    finally:
                        docker.remove_all()
        report(table)
    finally:
        subprocess.run(["umount", "-R", "-l", str(work)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(table: dict[str, dict[str, float]]) -> None:
    docker = table.get("docker", {})
    header = f"{'work':<22}{'dockyard':>10}{'own rt':>10}{'docker':>10}{'ratio':>8}{'own':>8}"
    print(header)
    for key, value in table["dockyard/runc"].items():
        own = table.get("dockyard/own", {}).get(key)
        other = docker.get(key)
        unit = "M" if key.startswith("PSS") else "s"

        def cell(v: float | None, unit: str = unit) -> str:
            return f"{v:.3f}{unit}" if v is not None else "-"

        ratio = f"{value / other:.2f}x" if other else "-"
        own_ratio = f"{own / other:.2f}x" if other and own is not None else "-"
        print(f"{key:<22}{cell(value):>10}{cell(own):>10}{cell(other):>10}{ratio:>8}{own_ratio:>8}")
    print("ratio = dockyard (runc) / docker, own = dockyard --runtime dockyard / docker")
    print("(below 1.00x: dockyard is faster or smaller); M = MiB of PSS per container")


if __name__ == "__main__":
    sys.exit(main())
