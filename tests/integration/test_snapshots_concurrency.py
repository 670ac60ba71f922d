"""Several dockyard processes sharing one snapshot root (and one database)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from dockyard.errors import Conflict
from dockyard.store.metadata import Database
from dockyard.store.snapshots import _linux, create_snapshotter
from dockyard.store.snapshots.common import DirectorySnapshotter

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="runs as root like the engine")

DRIVERS = ["overlay2", "vfs"]
ctx = multiprocessing.get_context("fork")


def _open(driver: str, tmp: str) -> DirectorySnapshotter:
    s = create_snapshotter(driver, os.path.join(tmp, "snapshots"), Database(f"{tmp}/db"))
    assert isinstance(s, DirectorySnapshotter)
    return s


def _race_commit(
    driver: str, tmp: str, key: str, barrier: Barrier, results: Queue[tuple[str, str]]
) -> None:
    """What an image pull does: extract into a fresh key, commit under the chain id."""
    s = _open(driver, tmp)
    s.prepare(key, "base")
    with open(os.path.join(s.layer_dir(key), "who"), "w") as f:
        f.write(key)
    barrier.wait(timeout=30)
    try:
        s.commit("chain", key)
        results.put(("won", key))
    except Conflict as e:
        assert "already exists" in str(e)
        s.remove(key)
        results.put(("lost", key))


@pytest.mark.parametrize("driver", DRIVERS)
def test_racing_commits_have_one_winner(tmp_path: Path, driver: str) -> None:
    tmp = str(tmp_path)
    s = _open(driver, tmp)
    s.prepare("x")
    s.commit("base", "x")
    for round_ in range(4):
        workers = 4
        barrier = ctx.Barrier(workers)
        results: Queue[tuple[str, str]] = ctx.Queue()
        procs = [
            ctx.Process(target=_race_commit, args=(driver, tmp, f"r{round_}-{i}", barrier, results))
            for i in range(workers)
        ]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        winners = [key for what, key in outcomes if what == "won"]
        assert len(winners) == 1, outcomes
        with open(os.path.join(s.layer_dir("chain"), "who")) as f:
            assert f.read() == winners[0]
        assert sorted(i.key for i in s.walk()) == ["base", "chain"]
        assert len([n for n in os.listdir(s.root) if n.isdigit()]) == 2
        s.remove("chain")
    assert s.cleanup() == 0


def _churn(driver: str, tmp: str, worker: int, rounds: int, barrier: Barrier) -> None:
    s = _open(driver, tmp)
    barrier.wait(timeout=30)
    for i in range(rounds):
        key = f"w{worker}-{i}"
        s.prepare(key, "base")
        path = os.path.join(s.layer_dir(key), "mine")
        with open(path, "w") as f:
            f.write(key)
        s.cleanup()  # must never take another process's snapshot
        with open(path) as f:
            assert f.read() == key
        if i % 2:
            s.remove(key)
        else:
            s.commit(f"c-{key}", key)


@pytest.mark.parametrize("driver", DRIVERS)
def test_concurrent_prepare_remove_and_cleanup(tmp_path: Path, driver: str) -> None:
    tmp = str(tmp_path)
    s = _open(driver, tmp)
    s.prepare("x")
    with open(os.path.join(s.layer_dir("x"), "base"), "w") as f:
        f.write("base")
    s.commit("base", "x")
    workers, rounds = 4, 12
    barrier = ctx.Barrier(workers)
    procs = [
        ctx.Process(target=_churn, args=(driver, tmp, w, rounds, barrier)) for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    infos = list(s.walk())
    assert len(infos) == 1 + workers * rounds // 2
    dirs = {n for n in os.listdir(s.root) if n.isdigit()}
    assert len(dirs) == len(infos)  # one directory per row, nothing more
    for info in infos:
        if info.key != "base":
            with open(os.path.join(s.layer_dir(info.key), "mine")) as f:
                assert f.read() == info.key.removeprefix("c-")
    assert not [n for n in os.listdir(s.root) if n.startswith(("tmp-", "trash-"))]
    assert s.cleanup() == 0


def _prepare_big_copy(tmp: str) -> None:
    s = _open("vfs", tmp)
    s.prepare("victim", "big")


def test_killed_during_vfs_copy_leaves_nothing_that_disagrees(tmp_path: Path) -> None:
    tmp = str(tmp_path)
    s = _open("vfs", tmp)
    s.prepare("x")
    fs = s.layer_dir("x")
    for i in range(8):
        os.mkdir(f"{fs}/d{i}")
        for j in range(100):
            with open(f"{fs}/d{i}/f{j}", "w") as f:
                f.write("x" * 1000)
    s.commit("big", "x")

    proc = ctx.Process(target=_prepare_big_copy, args=(tmp,))
    proc.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.is_alive():
        # cp has started (and armed its parent-death signal) once fs/ exists
        staging = [n for n in os.listdir(s.root) if n.startswith("tmp-")]
        if staging and os.path.exists(os.path.join(s.root, staging[0], "fs")):
            break
        time.sleep(0.001)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)  # its cp child dies with it (parent-death signal)
    proc.join(timeout=30)

    if s.exists("victim"):  # it finished before the kill: a complete copy
        assert len(os.listdir(s.layer_dir("victim"))) == 8
    else:
        staging = [n for n in os.listdir(s.root) if n.startswith("tmp-")]
        assert len(staging) == 1
        size = sum(len(files) for _, _, files in os.walk(os.path.join(s.root, staging[0])))
        time.sleep(0.2)
        after = sum(len(files) for _, _, files in os.walk(os.path.join(s.root, staging[0])))
        assert after == size  # nothing is still copying into it
        freed = s.cleanup()
        assert freed >= 0
        assert sorted(n for n in os.listdir(s.root) if n.isdigit()) == ["1"]
    assert not [n for n in os.listdir(s.root) if n.startswith(("tmp-", "trash-"))]
    assert _linux.mounts_under(tmp) == []
    # the store keeps working
    s.prepare("after", "big")
    assert len(os.listdir(s.layer_dir("after"))) == 8
