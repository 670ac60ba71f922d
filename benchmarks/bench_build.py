#!/usr/bin/env python3
"""Time ``build`` in dockyard and docker (classic builder and BuildKit); print ratios.

    sudo .venv/bin/python benchmarks/bench_build.py [--no-docker] [-n 3]

Work: a Dockerfile FROM busybox with 8 steps, among them a COPY of 2,000 small
files and a COPY of one 50 MB file. Timed: the cold build (empty cache), a
rebuild with nothing changed (median of ``-n``), and a rebuild after one small
file changed (median of ``-n``, a different file each time). Both tools use the
same busybox image (imported into dockyard, ``save``d and ``docker load``ed).
docker runs privately (its own data root and socket, stopped by PID after):
``DOCKER_BUILDKIT=0`` (classic) and ``=1`` (BuildKit). Docker CLIs from 23 on
need the buildx plugin for BuildKit; the 20.10 CLI (Debian's docker.io) still
has its own BuildKit session client, so when the first ``docker`` in PATH
cannot do it, another CLI that can (``/usr/bin/docker``) is used for that column.
The private dockerd has no bridge (``--bridge none``), where BuildKit's default
RUN network fails ("network bridge not found"), so docker builds with
``--network none``, and its ratios are taken against dockyard's
``--network none`` series (the same work: RUN without a network).
"""

from __future__ import annotations

import argparse
import contextlib
import json
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

from tests.dockerd import private_dockerd  # noqa: E402

DOCKYARD = str(Path(sys.executable).parent / "dockyard")  # the command users run

DOCKERFILE = """\
FROM busybox
ENV APP=/app
WORKDIR /app
COPY big.bin /data/big.bin
COPY small/ /app/small/
RUN ls /app/small | wc -l > /app/count
ARG BUILD=1
RUN echo "build $BUILD" > /app/build.txt
LABEL bench=yes
"""


def make_context(where: Path) -> Path:
    ctx = where / "ctx"
    (ctx / "small").mkdir(parents=True)
    for i in range(2000):
        (ctx / "small" / f"f{i:04d}.txt").write_text(f"small file {i}\n" * 4)
    with open(ctx / "big.bin", "wb") as f:
        f.write(os.urandom(50 * 1024 * 1024))
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    return ctx


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])}...: {proc.stderr[-2000:]}")
    return took


def bench(name: str, build: list[str], env: dict[str, str], ctx: Path, n: int) -> dict[str, float]:
    cold = timed([*build, str(ctx)], env)
    warm = statistics.median(timed([*build, str(ctx)], env) for _ in range(n))
    changed = []
    for i in range(n):
        (ctx / "small" / f"f{i:04d}.txt").write_text(f"changed by {name} {time.time()}\n")
        changed.append(timed([*build, str(ctx)], env))
    result = {"cold": cold, "nothing changed": warm, "one file changed": statistics.median(changed)}
    print(f"{name:22} " + "  ".join(f"{k}: {v:6.2f}s" for k, v in result.items()), flush=True)
    return result


def docker_cli(env: dict[str, str], base: Path) -> str | None:
    """The first docker CLI (PATH's, then Debian's 20.10 one) that builds a
    one-line Dockerfile with ``env``'s DOCKER_BUILDKIT setting."""
    probe = base / "probe"
    probe.mkdir(exist_ok=True)
    (probe / "Dockerfile").write_text("FROM busybox\nLABEL probe=1\n")
    candidates = [shutil.which("docker") or "", "/usr/bin/docker"]
    for cli in dict.fromkeys(c for c in candidates if c and os.path.exists(c)):
        proc = subprocess.run(
            [cli, "build", "-q", "--network", "none", str(probe)], env=env, capture_output=True
        )
        if proc.returncode == 0:
            return cli
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3)
    parser.add_argument("--no-docker", action="store_true")
    ns = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root")
    import compileall

    # as an installed package is: with PYTHONDONTWRITEBYTECODE set and sources being
    # edited, each command would compile changed modules again, which is not the build
    compileall.compile_dir(str(REPO / "dockyard"), quiet=1)
    base = Path(tempfile.mkdtemp(prefix="bench-build-"))
    bridge = ""
    try:
        ctx = make_context(base)
        # a bridge of its own, removed at the end (RUN steps attach to the default bridge)
        from tests.integration._network_support import free_subnet

        bridge = "dyb" + os.urandom(4).hex()
        subnet = free_subnet()
        (base / "daemon.json").write_text(
            json.dumps({"bridge": bridge, "bip": f"{subnet[1]}/{subnet.prefixlen}"})
        )
        env = dict(
            os.environ,
            DOCKYARD_ROOT=str(base / "root"),
            DOCKYARD_RUN=str(base / "run"),
            DOCKYARD_CONFIG_FILE=str(base / "daemon.json"),
        )
        dockyard = [DOCKYARD]
        rootfs = base / "busybox.tar"
        subprocess.run([str(REPO / "scripts" / "make-busybox-rootfs.sh"), str(rootfs)], check=True)
        # the --network none series gets a root of its own, so its cold build is cold
        env_none = dict(env, DOCKYARD_ROOT=str(base / "root-none"))
        for e in (env, env_none):
            subprocess.run(
                [*dockyard, "import", "-c", 'CMD ["sh"]', str(rootfs), "busybox:latest"],
                env=e, check=True, capture_output=True,
            )  # fmt: skip
        results = {
            "dockyard": bench("dockyard", [*dockyard, "build", "-q", "-t", "bench"], env, ctx, ns.n)
        }
        # the same work with RUN in an isolated namespace: what the bridge costs
        results["dockyard --network none"] = bench(
            "dockyard --network none",
            [*dockyard, "build", "-q", "-t", "bench", "--network", "none"],
            env_none,
            ctx,
            ns.n,
        )
        if not ns.no_docker:
            saved = base / "busybox-saved.tar"
            subprocess.run(
                [*dockyard, "save", "-o", str(saved), "busybox:latest"], env=env, check=True
            )
            with private_dockerd(base / "docker") as denv:
                if denv is None:
                    print("docker is not available; dockyard alone")
                else:
                    subprocess.run(
                        ["docker", "load", "-i", str(saved)], env=denv, check=True,
                        capture_output=True,
                    )  # fmt: skip
                    for label, flag in (("docker (classic)", "0"), ("docker (BuildKit)", "1")):
                        denv_flag = dict(denv, DOCKER_BUILDKIT=flag)
                        cli = docker_cli(denv_flag, base)
                        if cli is None:
                            print(f"{label}: not run (no docker CLI here can build this way)")
                            continue
                        try:
                            results[label] = bench(
                                f"{label} [{cli}]",
                                [cli, "build", "-q", "--network", "none", "-t", "bench"],
                                denv_flag,
                                ctx,
                                ns.n,
                            )
                        except RuntimeError as err:
                            print(f"{label}: not run ({str(err).strip().splitlines()[-1]})")
        ours = results["dockyard --network none"]
        for label, theirs in results.items():
            if label.startswith("dockyard"):
                continue
            ratios = "  ".join(f"{k}: {ours[k] / theirs[k]:.2f}x" for k in ours)
            print(f"dockyard --network none / {label}: {ratios}")
    finally:
        with open("/proc/mounts") as f:
            mounts = [line.split()[1] for line in f]
        for point in reversed(mounts):
            if point.startswith(str(base)):
                subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        if bridge:
            from dockyard.network.firewall import Firewall

            with contextlib.suppress(Exception):
                Firewall().remove(f"dy-net:{bridge}")
            subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
