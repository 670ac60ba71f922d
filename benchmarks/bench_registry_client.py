#!/usr/bin/env python3
"""Time dockyard's registry client and, when it can run, docker's on the same work.

    sudo .venv/bin/python benchmarks/bench_registry_client.py [--repeat 1] [--no-docker]

Work, against Debian's docker-registry on 127.0.0.1 (a fresh registry per push):
push and pull of a 200 MB image of 5 incompressible layers, and of a 20,000-small-file
image. Both tools pull the same repository (the one dockyard pushed, uncompressed
layers), into an emptied store each time. Docker gzips layers when it pushes; dockyard
sends the stored blobs as they are. Prints times and dockyard/docker ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import registryd  # noqa: E402
from tests.dockerd import private_dockerd  # noqa: E402
from tests.imagegen import random_layer, small_files_layer, write_archive  # noqa: E402
from tests.integration._distribution_support import COMMANDS  # noqa: E402

SHIM = (
    "import sys\nfrom dockyard.cli import main as m\n"
    f"for k, v in {COMMANDS!r}.items():\n    m.COMMANDS.setdefault(k, v)\n"
    "sys.exit(m.main(sys.argv[1:]))\n"
)
DOCKYARD = [sys.executable, "-c", SHIM]


def sh(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(args, env=env, stdout=subprocess.DEVNULL, check=True)


def timed(run: Callable[[], None], repeat: int, before: Callable[[], None]) -> float:
    samples = []
    for _ in range(repeat):
        before()
        subprocess.run(["sync"], check=True)
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--workdir", default="/var/tmp")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dy-bench-reg-", dir=args.workdir))
    stack = contextlib.ExitStack()
    try:
        images = {
            "200MB/5 layers": (work / "big.tar", "bench/big:1"),
            "20k files": (work / "small.tar", "bench/small:1"),
        }
        write_archive(
            images["200MB/5 layers"][0],
            [random_layer(n, 40_000_000) for n in range(5)],
            [images["200MB/5 layers"][1]],
        )
        write_archive(images["20k files"][0], [small_files_layer(20_000)], [images["20k files"][1]])
        (work / "daemon.json").write_text("{}")

        def dy_env(name: str) -> dict[str, str]:
            return dict(
                os.environ,
                DOCKYARD_ROOT=str(work / name / "root"),
                DOCKYARD_RUN=str(work / name / "run"),
                DOCKYARD_CONFIG_FILE=str(work / "daemon.json"),
                DOCKER_CONFIG=str(work / "docker-config"),
            )

        source = dy_env("dy-source")
        puller = dy_env("dy-pull")
        serial = iter(range(1_000_000))

        @contextlib.contextmanager
        def fresh_registry() -> Iterator[registryd.Registry]:
            with registryd.registry(work / f"registry-{next(serial)}") as reg:
                yield reg

        shared = stack.enter_context(fresh_registry())
        ours: dict[str, float] = {}
        for label, (archive, ref) in images.items():
            sh([*DOCKYARD, "load", "-q", "-i", str(archive)], source)

            ours_push: list[float] = []

            def push(ref: str = ref, samples: list[float] = ours_push) -> None:
                with fresh_registry() as reg:
                    target = f"{reg.host}/{ref}"
                    sh([*DOCKYARD, "tag", ref, target], source)
                    start = time.perf_counter()
                    sh([*DOCKYARD, "push", "-q", target], source)
                    samples.append(time.perf_counter() - start)

            for _ in range(args.repeat):
                push()
            ours[f"push {label}"] = statistics.median(ours_push)
            target = f"{shared.host}/{ref}"
            sh([*DOCKYARD, "tag", ref, target], source)
            sh([*DOCKYARD, "push", "-q", target], source)

            def wipe() -> None:
                subprocess.run(["umount", "-R", "-l", str(work / "dy-pull")], capture_output=True)
                shutil.rmtree(work / "dy-pull", ignore_errors=True)

            ours[f"pull {label}"] = timed(
                lambda t=target: sh([*DOCKYARD, "pull", "-q", t], puller), args.repeat, wipe
            )
        print("dockyard:", {k: round(v, 3) for k, v in ours.items()}, flush=True)

        theirs: dict[str, float] = {}
        if not args.no_docker:
            docker_env = stack.enter_context(private_dockerd(work / "docker", namespace="dy-reg"))
            if docker_env is not None:
                for label, (archive, ref) in images.items():
                    sh(["docker", "load", "-q", "-i", str(archive)], docker_env)
                    samples = []
                    for _ in range(args.repeat):
                        with fresh_registry() as reg:
                            target = f"{reg.host}/{ref}"
                            sh(["docker", "tag", ref, target], docker_env)
                            start = time.perf_counter()
                            sh(["docker", "push", "-q", target], docker_env)
                            samples.append(time.perf_counter() - start)
                            sh(["docker", "rmi", target], docker_env)
                    theirs[f"push {label}"] = statistics.median(samples)
                    target = f"{shared.host}/{ref}"

                    def drop(t: str = target, r: str = ref) -> None:
                        for name in (t, r):
                            subprocess.run(["docker", "rmi", "-f", name], env=docker_env,
                                           capture_output=True)  # fmt: skip
                        subprocess.run(["docker", "image", "prune", "-af"], env=docker_env,
                                       capture_output=True)  # fmt: skip

                    theirs[f"pull {label}"] = timed(
                        lambda t=target: sh(["docker", "pull", "-q", t], docker_env),
                        args.repeat,
                        drop,
                    )
                    drop()
                print("docker:", {k: round(v, 3) for k, v in theirs.items()}, flush=True)
        print(f"{'work':<24}{'dockyard':>10}{'docker':>10}{'ratio':>8}")
        for key, value in ours.items():
            other = theirs.get(key)
            ratio = f"{value / other:.2f}x" if other else "-"
            other_text = f"{other:.3f}s" if other else "-"
            print(f"{key:<24}{value:>9.3f}s{other_text:>10}{ratio:>8}")
        print("ratio = dockyard time / docker time (below 1.00x: dockyard is faster)")
    finally:
        stack.close()
        subprocess.run(["umount", "-R", "-l", str(work)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
