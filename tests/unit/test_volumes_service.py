"""The volume service on a private root: create, lookup, remove, list filters, prune,
in-use detection, usage, crash leftovers and concurrent creates."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.engine.filters import Filters
from dockyard.engine.volumes import (
    ANONYMOUS_LABEL,
    VolumeService,
    directory_size,
    volumes_in_use,
)
from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.store.metadata import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(str(tmp_path / "dockyard.db"))
    yield database
    database.close()


@pytest.fixture
def vs(db: Database, tmp_path: Path) -> VolumeService:
    return VolumeService(db, str(tmp_path))


def add_container(db: Database, cid: str, mounts: list[dict[str, str]]) -> None:
    """A containers row as the container service will write it (only what we read)."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO containers (id, name, created, config) VALUES (?, ?, ?, ?)",
            (cid, "c-" + cid[:8], time.time(), json.dumps({"Mounts": mounts})),
        )


def vol_mount(name: str) -> dict[str, str]:
    return {"Type": "volume", "Name": name, "Destination": "/data"}


def test_create_makes_row_and_dir(vs: VolumeService, tmp_path: Path) -> None:
    v = vs.create("data", labels={"b": "2", "a": "1"}, options={"type": "tmpfs", "device": "x"})
    assert v.mountpoint == str(tmp_path / "volumes" / "data" / "_data")
    assert stat.S_IMODE(os.stat(v.mountpoint).st_mode) == 0o755
    assert os.listdir(tmp_path / "volumes") == ["data"]
    info = vs.get("data").inspect()
    assert list(info) == [
        "CreatedAt",
        "Driver",
        "Labels",
        "Mountpoint",
        "Name",
        "Options",
        "Scope",
    ]
    assert info["Driver"] == "local" and info["Scope"] == "local"
    assert list(info["Labels"].items()) == [("a", "1"), ("b", "2")]
    assert info["Options"] == {"device": "x", "type": "tmpfs"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", info["CreatedAt"])
    assert vs.mountpoint("data") == v.mountpoint


def test_plain_volume_has_null_labels_and_options(vs: VolumeService) -> None:
    info = vs.create("plain").inspect()
    assert info["Labels"] is None and info["Options"] is None


def test_create_existing_is_a_noop(vs: VolumeService) -> None:
    first = vs.create("same", labels={"x": "1"})
    again = vs.create("same", labels={"y": "2"}, options={"bogus": "1"})
    assert again.labels == {"x": "1"} and again.created == first.created
    assert [v.name for v in vs.all()] == ["same"]


def test_anonymous_name_and_label(vs: VolumeService) -> None:
    v = vs.create()
    assert re.fullmatch(r"[0-9a-f]{64}", v.name)
    assert v.labels == {ANONYMOUS_LABEL: ""} and v.anonymous
    named = vs.create("anon2", anonymous=True)
    assert named.anonymous


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "x/y",
            'create x/y: "x/y" includes invalid characters for a local volume name, only'
            ' "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host'
            " directory, use absolute path",
        ),
        (
            "_ab",
            'create _ab: "_ab" includes invalid characters for a local volume name, only'
            ' "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host'
            " directory, use absolute path",
        ),
        (
            "a",
            "create a: volume name is too short, names should be at least two"
            " alphanumeric characters",
        ),
    ],
)
def test_invalid_names(vs: VolumeService, name: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        vs.create(name)
    assert exc.value.message == message
    assert vs.all() == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"foo": ""}, 'create v1: invalid option: "foo"'),
        ({"type": "tmpfs"}, 'create v1: missing required option: "device"'),
        ({"device": "/x"}, 'create v1: missing required option: "type"'),
        ({"o": "x"}, 'create v1: missing required option: "device"'),
        ({"size": "10m"}, "create v1: quota size requested but no quota support"),
    ],
)
def test_invalid_options(vs: VolumeService, options: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        vs.create("v1", options=options)
    assert exc.value.message == message


def test_valid_local_options(vs: VolumeService) -> None:
    opts = {"type": "tmpfs", "device": "tmpfs", "o": "size=64m", "size": "0"}
    assert vs.create("t1", options=opts).options == opts


def test_unknown_driver_and_driver_conflict(vs: VolumeService, db: Database) -> None:
    with pytest.raises(NotFound) as exc:
        vs.create("v1", driver="other")
    assert exc.value.message == (
        'create v1: error looking up volume plugin other: plugin "other" not found'
    )
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO volumes (name, driver, created) VALUES ('plug', 'other', 0)",
        )
    with pytest.raises(Conflict) as conflict:
        vs.create("plug")
    assert conflict.value.message == (
        "create plug: driver 'other' already has volume 'plug': volume name must be unique"
    )


def test_get_and_remove_missing(vs: VolumeService) -> None:
    with pytest.raises(NotFound) as exc:
        vs.get("nothere")
    assert exc.value.message == "get nothere: no such volume"
    with pytest.raises(NotFound) as exc:
        vs.remove("nothere")
    assert exc.value.message == "get nothere: no such volume"
    vs.remove("nothere", force=True)


def test_remove_deletes_row_and_dir(vs: VolumeService, tmp_path: Path) -> None:
    v = vs.create("gone")
    Path(v.mountpoint, "file").write_text("x")
    vs.remove("gone")
    assert vs.all() == []
    assert os.listdir(tmp_path / "volumes") == []


def test_volumes_in_use_reads_container_mounts(db: Database) -> None:
    add_container(db, "a" * 64, [vol_mount("v1"), vol_mount("v2")])
    add_container(db, "b" * 64, [vol_mount("v1"), {"Type": "bind", "Source": "/x"}])
    add_container(db, "c" * 64, [])
    assert volumes_in_use(db) == {"v1": ["a" * 64, "b" * 64], "v2": ["a" * 64]}


def test_remove_in_use_is_a_conflict(vs: VolumeService, db: Database) -> None:
    vs.create("busy")
    add_container(db, "a" * 64, [vol_mount("busy")])
    add_container(db, "b" * 64, [vol_mount("busy")])
    for force in (False, True):
        with pytest.raises(Conflict) as exc:
            vs.remove("busy", force=force)
        assert exc.value.message == (f"remove busy: volume is in use - [{'a' * 64}, {'b' * 64}]")
    assert vs.get("busy").name == "busy"


def test_list_filters(vs: VolumeService, db: Database) -> None:
    vs.create("dytest1", labels={"a": "b", "c": ""})
    vs.create("dytest2", labels={"a": "x"})
    vs.create("other")
    add_container(db, "a" * 64, [vol_mount("dytest2")])

    def names(*args: str) -> list[str]:
        return [v.name for v in vs.list(Filters.from_cli(list(args)))]

    assert names() == ["dytest1", "dytest2", "other"]
    assert names("name=test.") == ["dytest1", "dytest2"]
    assert names("name=^dyt", "name=^oth") == ["dytest1", "dytest2", "other"]
    assert names("name=^ytest") == []
    assert names("label=a") == ["dytest1", "dytest2"]
    assert names("label=a=b", "label=c") == ["dytest1"]
    assert names("label=a", "label=zz") == []
    assert names("driver=local") == ["dytest1", "dytest2", "other"]
    assert names("driver=loc") == []
    assert names("dangling=true") == ["dytest1", "other"]
    assert names("dangling=0") == ["dytest2"]
    with pytest.raises(InvalidArgument) as exc:
        names("bogus=1")
    assert exc.value.message == "Invalid filter 'bogus'"
    with pytest.raises(InvalidArgument) as exc:
        names("dangling=maybe")
    assert exc.value.message == "Invalid filter 'dangling=[maybe]'"


def test_prune_default_takes_only_unused_anonymous(vs: VolumeService, db: Database) -> None:
    anon_free = vs.create()
    anon_used = vs.create()
    vs.create("named")
    add_container(db, "a" * 64, [vol_mount(anon_used.name)])
    Path(anon_free.mountpoint, "f").write_bytes(b"x" * 1234)
    report = vs.prune()
    assert report.deleted == [anon_free.name]
    assert report.reclaimed == 1234
    assert sorted(v.name for v in vs.all()) == sorted([anon_used.name, "named"])


def test_prune_all_and_label_filters(vs: VolumeService, db: Database) -> None:
    vs.create("keep", labels={"keep": "1"})
    vs.create("drop1", labels={"tier": "a"})
    vs.create("drop2", labels={"tier": "b"})
    vs.create("used")
    add_container(db, "a" * 64, [vol_mount("used")])
    assert vs.prune(all=True, filters=Filters.from_cli(["label=tier=a"])).deleted == ["drop1"]
    assert vs.prune(all=True, filters=Filters.from_cli(["label!=keep"])).deleted == ["drop2"]
    assert vs.prune(filters=Filters.from_cli(["all=true"])).deleted == ["keep"]
    assert [v.name for v in vs.all()] == ["used"]
    with pytest.raises(InvalidArgument) as exc:
        vs.prune(filters=Filters.from_cli(["until=1h"]))
    assert exc.value.message == "Invalid filter 'until'"


def test_ensure_creates_on_first_use(vs: VolumeService) -> None:
    first = vs.ensure("cache")
    assert vs.ensure("cache").created == first.created
    assert first.labels == {}
    with pytest.raises(InvalidArgument):
        vs.ensure("bad/name")


def test_usage_counts_sizes_and_refs(vs: VolumeService, db: Database) -> None:
    a = vs.create("a1")
    vs.create("b1")
    vs.create("opts", options={"type": "tmpfs", "device": "tmpfs"})
    Path(a.mountpoint, "f").write_bytes(b"x" * 1000)
    os.link(Path(a.mountpoint, "f"), Path(a.mountpoint, "hard"))
    os.mkdir(Path(a.mountpoint, "d"))
    Path(a.mountpoint, "d", "g").write_bytes(b"y" * 10)
    add_container(db, "c" * 64, [vol_mount("b1")])
    usage = {u["Name"]: u for u in vs.usage()}
    assert set(usage) == {"a1", "b1"}  # volumes with mount options are left out
    assert usage["a1"]["UsageData"] == {"RefCount": 0, "Size": 1010}
    assert usage["b1"]["UsageData"] == {"RefCount": 1, "Size": 0}
    assert directory_size(a.mountpoint) == 1010


def test_killed_create_and_remove_leave_no_damage(vs: VolumeService, tmp_path: Path) -> None:
    root = tmp_path / "volumes"
    vs.create("first")
    # what a kill -9 leaves: a temp dir and a trash dir of a dead process, and a
    # renamed-into-place directory whose row never committed
    dead = 2**22 + 12345
    (root / f".tmp-{dead}-aa" / "_data").mkdir(parents=True)
    (root / f".trash-{dead}-bb" / "_data").mkdir(parents=True)
    (root / "orphan" / "_data").mkdir(parents=True)
    v = vs.create("orphan")
    assert v.mountpoint == str(root / "orphan" / "_data")
    assert sorted(os.listdir(root)) == ["first", "orphan"]
    # a row whose directory went away (killed mid-rm): lookups give it a fresh dir
    os.rename(root / "first", root / f".trash-{dead}-cc")
    assert os.path.isdir(vs.get("first").mountpoint)
    vs.prune()
    assert sorted(os.listdir(root)) == ["first", "orphan"]


def _create_in_child(db_path: str, root: str, barrier: object, out: object) -> None:
    database = Database(db_path)
    service = VolumeService(database, root)
    barrier.wait()  # type: ignore[attr-defined]
    try:
        out.put(service.create("shared").name)  # type: ignore[attr-defined]
    except Exception as exc:  # reported to the parent, which fails the test
        out.put(f"error: {exc!r}")  # type: ignore[attr-defined]
    finally:
        database.close()


def test_concurrent_creates_of_one_name(tmp_path: Path) -> None:
    db_path = str(tmp_path / "dockyard.db")
    Database(db_path).close()
    ctx = multiprocessing.get_context("fork")
    count = 6
    barrier = ctx.Barrier(count)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_create_in_child, args=(db_path, str(tmp_path), barrier, out))
        for _ in range(count)
    ]
    for proc in procs:
        proc.start()
    try:
        results = [out.get(timeout=60) for _ in range(count)]
    finally:
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
                proc.join()
    assert results == ["shared"] * count
    assert os.listdir(tmp_path / "volumes") == ["shared"]
    database = Database(db_path)
    try:
        rows = database.query("SELECT name FROM volumes")
        assert [r["name"] for r in rows] == ["shared"]
        events = database.query("SELECT action FROM events WHERE type = 'volume'")
        assert events == []  # no recorder given
    finally:
        database.close()
