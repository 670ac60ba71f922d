#!/usr/bin/env python3
"""Time ``compose up -d`` and ``compose down`` of a 10-service busybox project in
dockyard, and in Docker Compose v2 on a private dockerd when ``docker compose`` is
installed; print the medians and ratios.

    sudo .venv/bin/python benchmarks/bench_compose.py [-n 5] [--services 10]

Every service runs ``sh -c "trap 'exit 0' TERM; while :; do sleep 1; done"`` on the
project network, so ``down`` measures stopping, removing and the network teardown
rather than a stop timeout.
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
LOOP = "trap 'exit 0' TERM; while :; do sleep 1; done"


def project_text(count: int) -> str:
    lines = ["services:"]
    for i in range(count):
        lines += [
            f"  s{i}:",
            "    image: busybox",
            f'    command: ["sh", "-c", "{LOOP}"]',
        ]
        if i:
            lines.append(f"    depends_on: [s{i - 1}]" if i % 3 == 0 else "")
    return "\n".join(line for line in lines if line) + "\n"


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return took


def bench(cli: list[str], env: dict[str, str], file: Path, rounds: int) -> tuple[float, float]:
    base = [*cli, "compose", "-f", str(file), "-p", "bench", "--progress", "quiet"]
    ups, downs = [], []
    for _ in range(rounds):
        ups.append(timed([*base, "up", "-d"], env))
        downs.append(timed([*base, "down", "-t", "5"], env))
    return statistics.median(ups), statistics.median(downs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5, help="rounds (median reported)")
    parser.add_argument("--services", type=int, default=10)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-compose-") as tmp:
        work = Path(tmp)
        env = dict(os.environ)
        env.update(
            DOCKYARD_ROOT=str(work / "root"),
            DOCKYARD_RUN=str(work / "run"),
            DOCKYARD_CONFIG_FILE=str(work / "daemon.json"),
        )
        (work / "daemon.json").write_text("{}")
        rootfs = work / "busybox.tar"
        subprocess.run(
            [str(REPO / "scripts" / "make-busybox-rootfs.sh"), str(rootfs)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [DOCKYARD, "import", "-c", 'CMD ["sh"]', str(rootfs), "busybox"],
            env=env,
            check=True,
            capture_output=True,
        )
        file = work / "project" / "compose.yaml"
        file.parent.mkdir()
        file.write_text(project_text(args.services))
        try:
            up, down = bench([DOCKYARD], env, file, args.n)
        finally:
            subprocess.run(
                [DOCKYARD, "compose", "-f", str(file), "-p", "bench", "down", "-t", "0"],
                env=env,
                capture_output=True,
                check=False,
            )
            subprocess.run(
                ["umount", "-R", "-l", str(work / "run")], capture_output=True, check=False
            )
        print(f"{args.services} services, median of {args.n}")
        print(f"dockyard compose up -d   {up:7.3f} s")
        print(f"dockyard compose down    {down:7.3f} s")
        have_compose = (
            shutil.which("docker") is not None
            and subprocess.run(
                ["docker", "compose", "version"], capture_output=True, check=False
            ).returncode
            == 0
        )
        if not have_compose:
            print("docker compose: not installed here, no ratio")
            return 0
        from tests.dockerd import private_dockerd

        with private_dockerd(work / "docker") as docker_env:
            if docker_env is None:
                print("docker compose: dockerd cannot start here, no ratio")
                return 0
            denv = dict(os.environ, **docker_env)
            subprocess.run(
                ["docker", "import", "-c", 'CMD ["sh"]', str(rootfs), "busybox"],
                env=denv,
                check=True,
                capture_output=True,
            )
            dup, ddown = bench(["docker"], denv, file, args.n)
        print(f"docker compose up -d     {dup:7.3f} s   ratio {dup / up:5.2f}x")
        print(f"docker compose down      {ddown:7.3f} s   ratio {ddown / down:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
