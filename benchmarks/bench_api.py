#!/usr/bin/env python3
"""Time the docker CLI through ``dockyard serve`` against the same through dockerd.

    sudo .venv/bin/python benchmarks/bench_api.py [-n 20] [--no-docker]

Work (medians): ``docker run --rm busybox true``, ``docker ps -a``, ``docker
inspect``, ``docker exec C true``; also ``dockyard run --rm busybox true`` on the
same root for reference. Both engines use the same busybox image (imported into
dockyard, ``save``d and ``docker load``ed). dockerd is started privately and
``--network none`` is used for both (no networking here). Servers we start are
stopped by PID afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
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
DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
LAUNCHER = (
    "from dockyard.cli.main import COMMANDS, main;"
    "COMMANDS.setdefault('serve', 'serve:cmd_serve');"
    "raise SystemExit(main())"
)


def run(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {proc.stderr.strip()}")
    return proc.stdout


def median_time(work: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure(env: dict[str, str], n: int) -> dict[str, float]:
    def docker(*args: str) -> Callable[[], str]:
        return lambda: run([DOCKER, *args], env)

    docker("run", "--rm", "--network", "none", "busybox", "true")()  # warm up
    cid = docker("run", "-d", "--network", "none", "busybox", "sleep", "300")().strip()
    try:
        return {
            "docker run --rm busybox true": median_time(
                docker("run", "--rm", "--network", "none", "busybox", "true"), n
            ),
            "docker ps -a": median_time(docker("ps", "-a"), n),
            "docker inspect": median_time(docker("inspect", cid), n),
            "docker exec C true": median_time(docker("exec", cid, "true"), n),
        }
    finally:
        run([DOCKER, "rm", "-f", cid], env)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--no-docker", action="store_true")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="dy-bench-api-", dir="/tmp"))
    env = dict(os.environ)
    env.update(
        DOCKYARD_ROOT=str(base / "root"),
        DOCKYARD_RUN=str(base / "run"),
        DOCKYARD_CONFIG_FILE=str(base / "daemon.json"),
        DOCKER_CONFIG=str(base / "docker-config"),
    )
    (base / "daemon.json").write_text("{}")
    (base / "docker-config").mkdir()
    rootfs = base / "busybox.tar"
    subprocess.run([str(REPO / "scripts" / "make-busybox-rootfs.sh"), str(rootfs)], check=True)
    run([DOCKYARD, "import", "-c", 'CMD ["sh"]', str(rootfs), "busybox:latest"], env)
    sock = base / "d.sock"
    server = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, "serve", "-H", f"unix://{sock}"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    results: dict[str, dict[str, float]] = {}
    try:
        while not sock.exists():
            time.sleep(0.02)
        ours = dict(env, DOCKER_HOST=f"unix://{sock}")
        results["dockyard serve"] = measure(ours, args.n)
        results["dockyard serve"]["dockyard run --rm busybox true (CLI)"] = median_time(
            lambda: run([DOCKYARD, "run", "--rm", "busybox", "true"], env), args.n
        )
        if not args.no_docker:
            archive = base / "busybox-save.tar"
            run([DOCKYARD, "save", "-o", str(archive), "busybox"], env)
            with private_dockerd(base / "dockerd") as docker_env:
                if docker_env is not None:
                    theirs = dict(env, **docker_env)
                    theirs["DOCKER_CONFIG"] = env["DOCKER_CONFIG"]
                    run([DOCKER, "load", "-i", str(archive)], theirs)
                    results["dockerd"] = measure(theirs, args.n)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        leftovers = run([DOCKYARD, "ps", "-aq"], env).split()
        if leftovers:
            run([DOCKYARD, "rm", "-f", *leftovers], env)
        release = "from dockyard.config import resolve_options as r; from dockyard.engine import"
        release += " Engine; Engine(r()).networks.release_default_bridge()"
        subprocess.run([sys.executable, "-c", release], env=env, check=False)
        subprocess.run(["umount", "-R", str(base / "run")], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
    ours_times = results["dockyard serve"]
    theirs_times = results.get("dockerd", {})
    print(f"{'work':45} {'dockyard serve':>15} {'dockerd':>10} {'ratio':>7}")
    for work, seconds in ours_times.items():
        other = theirs_times.get(work)
        ratio = f"{seconds / other:.2f}x" if other else "-"
        shown = f"{other * 1000:.0f} ms" if other else "-"
        print(f"{work:45} {seconds * 1000:12.0f} ms {shown:>10} {ratio:>7}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
