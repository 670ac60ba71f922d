#!/usr/bin/env python3
"""Time dockyard and, when installed, docker on the same image work; print ratios.

    sudo .venv/bin/python benchmarks/bench_images.py [--repeat 3] [--no-docker]

Work: load and save of a 200 MB image of 5 incompressible layers, load and save
of an image of 20,000 small files, and ``images`` with 500 images in the store.
Each tool gets a private root on the same disk; dockerd is started privately
(its own data root and socket) and stopped by PID afterwards.
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
from tests.imagegen import (  # noqa: E402
    random_layer,
    small_files_layer,
    write_archive,
    write_many_images,
)

DOCKYARD = str(Path(sys.executable).parent / "dockyard")


def timed(run: Callable[[], None], repeat: int, before: Callable[[], None] | None = None) -> float:
    samples = []
    for _ in range(repeat):
        if before:
            before()
        subprocess.run(["sync"], check=True)
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def sh(args: list[str], env: dict[str, str] | None = None, stdin: Path | None = None) -> None:
    with open(stdin, "rb") if stdin else open(os.devnull, "rb") as f:
        subprocess.run(args, env=env, stdin=f, stdout=subprocess.DEVNULL, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--workdir", default="/var/tmp")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dy-bench-", dir=args.workdir))
    try:
        big = work / "big.tar"
        write_archive(big, [random_layer(n, 40_000_000) for n in range(5)], ["bench/big:1"])
        small = work / "small.tar"
        write_archive(small, [small_files_layer(20_000)], ["bench/small:1"])
        many = work / "many.tar"
        write_many_images(many, 500)

        dy_env = dict(
            os.environ,
            DOCKYARD_ROOT=str(work / "dy-root"),
            DOCKYARD_RUN=str(work / "dy-run"),
            DOCKYARD_CONFIG_FILE=str(work / "daemon.json"),
        )
        (work / "daemon.json").write_text("{}")

        def tool(cli: list[str], env: dict[str, str]) -> dict[str, float]:
            results: dict[str, float] = {}
            for name, archive, ref in (
                ("200MB/5 layers", big, "bench/big:1"),
                ("20k files", small, "bench/small:1"),
            ):

                def rmi(ref: str = ref) -> None:
                    subprocess.run([*cli, "rmi", "-f", ref], env=env, capture_output=True)
                    subprocess.run([*cli, "image", "prune", "-f"], env=env, capture_output=True)

                results[f"load {name}"] = timed(
                    lambda a=archive: sh([*cli, "load", "-q", "-i", str(a)], env),
                    args.repeat,
                    before=rmi,
                )
                out = work / "out.tar"
                results[f"save {name}"] = timed(
                    lambda r=ref, o=out: sh([*cli, "save", "-o", str(o), r], env),
                    args.repeat,
                    before=lambda o=out: o.unlink(missing_ok=True),
                )
                out.unlink(missing_ok=True)
                rmi()
            sh([*cli, "load", "-q", "-i", str(many)], env)
            results["images (500)"] = timed(lambda: sh([*cli, "images"], env), args.repeat + 2)
            return results

        ours = tool([DOCKYARD], dy_env)
        print("dockyard:", {k: round(v, 3) for k, v in ours.items()}, flush=True)
        theirs: dict[str, float] = {}
        if not args.no_docker:
            with private_dockerd(work / "docker", namespace="dy-bench") as docker_env:
                if docker_env is not None:
                    theirs = tool(["docker"], docker_env)
        print(f"{'work':<24}{'dockyard':>10}{'docker':>10}{'ratio':>8}")
        for key, value in ours.items():
            other = theirs.get(key)
            ratio = f"{value / other:.2f}x" if other else "-"
            other_text = f"{other:.3f}s" if other else "-"
            print(f"{key:<24}{value:>9.3f}s{other_text:>10}{ratio:>8}")
        print("ratio = dockyard time / docker time (below 1.00x: dockyard is faster)")
    finally:
        subprocess.run(["umount", "-R", "-l", str(work)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
