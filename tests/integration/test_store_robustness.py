"""The store survives kill -9 at random points, and many processes at once."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import DOCKYARD, Dockyard, needs_root
from tests.imagegen import random_layer, small_files_layer, write_archive
from tests.integration.test_image_commands import store_is_empty

pytestmark = [needs_root, pytest.mark.slow]


def _assert_listed_images_complete(dy: Dockyard) -> None:
    """Every listed image inspects, and each of its layers is on disk."""
    for image_id in dy("images", "-aq", "--no-trunc").lines:
        info = json.loads(dy("image", "inspect", image_id).out)[0]
        engine = dy.engine()
        try:
            image = engine.images.get(image_id)
            assert len(image.chain) == len(info["RootFS"]["Layers"])
            for chain_id in image.chain:
                layer = engine.layers.require(chain_id)
                assert engine.content.exists(layer.blob_digest)
                assert engine.snapshots.exists(chain_id)
        finally:
            engine.close()


def _kill_at_random(
    dy: Dockyard, args: list[str], rounds: int, span: float, stdin_path: Path | None = None
) -> int:
    """Run ``args`` ``rounds`` times, SIGKILLing each at a random instant; returns kills."""
    rng = random.Random(1234)
    killed = 0
    for _ in range(rounds):
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            proc = subprocess.Popen(
                [DOCKYARD, *args],
                env=dy.env,
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.0, 0.9 * span))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.wait()
        finally:
            if stdin_path:
                stdin.close()  # type: ignore[union-attr]
        # The store opens, and what it lists is whole.
        _assert_listed_images_complete(dy)
    return killed


def test_kill_during_load_and_import(dy: Dockyard, tmp_path: Path, busybox_tar: Path) -> None:
    archive = tmp_path / "img.tar"
    layers = [random_layer(n, 3_000_000) for n in range(3)] + [small_files_layer(3000)]
    write_archive(archive, layers, ["victim:1"])
    start = time.monotonic()
    dy("load", "-i", str(archive))
    load_time = time.monotonic() - start
    start = time.monotonic()
    dy("import", str(busybox_tar), "imp:1")
    import_time = time.monotonic() - start
    dy("rmi", "victim:1", "imp:1")
    dy("system", "prune", "-f")
    store_is_empty(dy)

    killed = _kill_at_random(dy, ["load", "-i", str(archive)], 12, load_time)
    killed += _kill_at_random(
        dy, ["import", "-", "imp:1"], 8, import_time, stdin_path=busybox_tar
    )
    assert killed >= 5, "the commands finished before they could be killed"

    # Whatever survived is whole; a load after the kills works; prune reclaims the rest.
    dy("load", "-i", str(archive))
    _assert_listed_images_complete(dy)
    for image_id in dy("images", "-aq", "--no-trunc").lines:
        dy("rmi", "-f", image_id)
    dy("system", "prune", "-f")
    store_is_empty(dy)


def test_eight_processes_load_tag_rmi(dy: Dockyard, tmp_path: Path) -> None:
    shared = [random_layer(0, 500_000), small_files_layer(500)]
    archives = []
    for n in range(8):
        path = tmp_path / f"p{n}.tar"
        own = random_layer(100 + n, 100_000)
        write_archive(path, [*shared, own], [f"p{n}:latest"], labels={"n": str(n)})
        archives.append(path)

    def worker(n: int) -> list[str]:
        failures = []
        for _ in range(4):
            for args in (
                ["load", "-q", "-i", str(archives[n])],
                ["tag", f"p{n}:latest", f"p{n}:copy"],
                ["images", "-q"],
                ["rmi", f"p{n}:latest", f"p{n}:copy"],
            ):
                result = dy(*args, check=False, timeout=300)
                if result.code != 0:
                    failures.append(f"{args}: {result.err}")
        return failures

    with ThreadPoolExecutor(8) as pool:
        failures = [f for fs in pool.map(worker, range(8)) for f in fs]
    assert failures == []
    assert dy("images", "-aq").out == ""
    dy("system", "prune", "-f")
    store_is_empty(dy)
