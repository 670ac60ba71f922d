#!/usr/bin/env python3
"""Time ``compose up -d`` and ``compose down`` of a 10-service busybox project in
dockyard and in Docker's Compose on a private dockerd: docker-compose 1.x (the
Python one) and ``docker compose`` v2 when installed; print the medians and ratios.

    sudo .venv/bin/python benchmarks/bench_compose.py [-n 5] [--services 10] [--no-docker]

Every service runs ``sh -c "trap 'exit 0' TERM; sleep 2147483647 & wait"`` on the
project network (every third one depends on the one before it), so ``down``
measures stopping, removing and the network teardown rather than a stop timeout:
``wait`` returns as soon as SIGTERM comes. (``--workload loop`` runs the former
``while :; do sleep 1; done`` instead: sh runs its trap only when the sleep ends,
so each dependency level of ``down`` waits for up to a second depending on where
the sleeps were when SIGTERM came, which depends on how long ago ``up`` started
them: a faster ``up`` then makes ``down`` look slower.)

Each engine works in a fresh network namespace of its own (benchmarks/_netns_dockerd.py),
so both make their project bridge and iptables rules without touching the host's:
dockerd runs there with docker's defaults and a private data root, exec root
and socket (the Compose CLIs reach it through DOCKER_HOST); dockyard's CLI runs
there through ``nsenter --net``. The same busybox image (imported into dockyard,
``save``d and ``docker load``ed) runs in both. After one untimed round each, the
engines take turns round by round (the order alternating), each round an
``up -d`` then a ``down``, so a machine busy with other work weighs on all alike.
Everything is removed afterwards, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _netns_dockerd import Netns, make_busybox_rootfs, netns_dockerd, remove_workdir

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
WORKLOADS = {
    "wait": "trap 'exit 0' TERM; sleep 2147483647 & wait",
    "loop": "trap 'exit 0' TERM; while :; do sleep 1; done",
}
PROJECT = "bench"
WORK = ("up -d", "down")


def project_text(count: int, script: str = WORKLOADS["wait"]) -> str:
    lines = ["services:"]
    for i in range(count):
        lines += [
            f"  s{i}:",
            "    image: busybox",
            f'    command: ["sh", "-c", "{script}"]',
        ]
        if i and i % 3 == 0:
            lines.append(f"    depends_on: [s{i - 1}]")
    return "\n".join(lines) + "\n"


class Compose:
    """One Compose implementation: its command line up to the subcommand, and its env."""

    def __init__(self, name: str, base: list[str], env: dict[str, str]) -> None:
        self.name, self.base, self.env = name, base, env

    def __call__(self, *args: str) -> float:
        start = time.perf_counter()
        proc = subprocess.run(
            [*self.base, *args], env=self.env, capture_output=True, text=True, check=False
        )
        took = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: {proc.stderr.strip()}")
        return took

    def up(self) -> float:
        return self("up", "-d")

    def down(self) -> float:
        return self("down", "-t", "5")

    def clean(self) -> None:
        with contextlib.suppress(RuntimeError):
            self("down", "-t", "0", "--remove-orphans")


def docker_clis() -> list[str]:
    """Every ``docker`` on PATH, first first, without duplicates."""
    found: list[str] = []
    for d in os.environ.get("PATH", "").split(os.pathsep):
        path = os.path.join(d, "docker")
        if os.access(path, os.X_OK) and os.path.realpath(path) not in map(os.path.realpath, found):
            found.append(path)
    return found


def compose_v2() -> str | None:
    """The first docker CLI with the Compose v2 plugin, if any."""
    for cli in docker_clis():
        if subprocess.run([cli, "compose", "version"], capture_output=True).returncode == 0:
            return cli
    return None


def docker_cli(v2: str | None) -> str | None:
    """The docker CLI to load the image with: the one with Compose v2, else the one
    installed beside dockerd (its API version matches), else the first on PATH."""
    if v2:
        return v2
    dockerd = shutil.which("dockerd")
    clis = docker_clis()
    if dockerd:
        prefix = Path(os.path.realpath(dockerd)).parent.parent
        for cli in clis:
            if Path(os.path.realpath(cli)).parent.parent == prefix:
                return cli
    return clis[0] if clis else None


def measure(engines: list[Compose], rounds: int) -> dict[str, dict[str, list[float]]]:
    """Seconds per sample; one untimed round each first, then round by round with
    the engines' order alternating."""
    for engine in engines:
        engine.up()
        engine.down()
    out: dict[str, dict[str, list[float]]] = {e.name: {w: [] for w in WORK} for e in engines}
    for i in range(rounds):
        for engine in engines if i % 2 == 0 else engines[::-1]:
            out[engine.name]["up -d"].append(engine.up())
            out[engine.name]["down"].append(engine.down())
    return out


def report(
    samples: dict[str, dict[str, list[float]]], services: int, rounds: int, workload: str
) -> None:
    names = list(samples)
    rows: list[list[str]] = [["work", *names, *(f"ratio vs {n}" for n in names[1:])]]
    for work in WORK:
        med = {n: statistics.median(samples[n][work]) for n in names}
        rows.append(
            [
                work,
                *(
                    f"{med[n]:.2f} s [{min(samples[n][work]):.2f}-{max(samples[n][work]):.2f}]"
                    for n in names
                ),
                *(f"{med[names[0]] / med[n]:.2f}x" for n in names[1:]),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print(f"{services} services ({workload}), median of {rounds} rounds [min-max]")
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if len(names) > 1:
        print("ratio = dockyard time / the other's time: below 1.00x dockyard is faster")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5, help="rounds (median reported)")
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="wait")
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--workdir", default="/tmp", help="short: dockerd's sockets live here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces, bridges, iptables)")
    work = Path(tempfile.mkdtemp(prefix="dy-bc-", dir=args.workdir))
    spaces: list[Netns] = []
    samples: dict[str, dict[str, list[float]]] = {}
    try:
        rootfs = work / "rootfs.tar"
        make_busybox_rootfs(rootfs)
        file = work / "project" / "compose.yaml"
        file.parent.mkdir()
        file.write_text(project_text(args.services, WORKLOADS[args.workload]))
        spaces.append(Netns("dy"))
        dy_base = work / "dockyard"
        dy_base.mkdir()
        (dy_base / "daemon.json").write_text(
            json.dumps({"bridge": "dyb" + secrets.token_hex(4), "bip": "10.198.0.1/24"})
        )
        dy_env = dict(
            os.environ,
            DOCKYARD_ROOT=str(dy_base / "root"),
            DOCKYARD_RUN=str(dy_base / "run"),
            DOCKYARD_CONFIG_FILE=str(dy_base / "daemon.json"),
        )
        dy_cli = [*spaces[-1].enter, DOCKYARD]
        engines = [
            Compose(
                "dockyard compose",
                [*dy_cli, "compose", "-f", str(file), "-p", PROJECT, "--ansi", "never"],
                dy_env,
            )
        ]
        with contextlib.ExitStack() as stack:
            stack.callback(engines[0].clean)
            image = work / "busybox.tar"
            for argv in (
                ["import", "-c", 'CMD ["sh"]', str(rootfs), "busybox:latest"],
                ["save", "-o", str(image), "busybox:latest"],
            ):
                subprocess.run([*dy_cli, *argv], env=dy_env, check=True, capture_output=True)
            v2 = compose_v2()
            cli = docker_cli(v2)
            legacy = shutil.which("docker-compose")
            if args.no_docker or cli is None or (legacy is None and v2 is None):
                print("docker: no docker CLI or no Compose installed; dockyard alone")
            else:
                spaces.append(Netns("dk"))
                env = stack.enter_context(
                    netns_dockerd(work / "docker", spaces[-1], cli=cli, label="dy-bench-compose")
                )
                if env is None:
                    print("docker: could not start a private dockerd; dockyard alone")
                else:
                    subprocess.run(
                        [cli, "load", "-q", "-i", str(image)],
                        env=env,
                        check=True,
                        capture_output=True,
                    )
                    target = ["-f", str(file), "-p", PROJECT, "--ansi", "never"]
                    if legacy is not None:
                        version = subprocess.run(
                            [legacy, "version", "--short"], capture_output=True, text=True
                        ).stdout.strip()
                        engines.append(Compose(f"docker-compose {version}", [legacy, *target], env))
                        stack.callback(engines[-1].clean)  # before dockerd stops
                    if v2 is not None:
                        engines.append(Compose("docker compose v2", [v2, "compose", *target], env))
                        stack.callback(engines[-1].clean)
            samples = measure(engines, args.n)
        report(samples, args.services, args.n, args.workload)
    finally:
        for ns in spaces:
            ns.close()
        remove_workdir(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
