"""Snapshotter life cycle, errors, bookkeeping and crash recovery (no mounting)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.store.metadata import Database
from dockyard.store.procs import self_identity
from dockyard.store.snapshots import (
    Info,
    Mount,
    Snapshotter,
    create_snapshotter,
    recorded_driver,
)
from dockyard.store.snapshots.common import DirectorySnapshotter, tree_usage
from dockyard.store.snapshots.overlay import OverlaySnapshotter

DEAD_PID = 99_999_999  # above the kernel's largest pid_max: never a live process


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(str(tmp_path / "db"))
    yield database
    database.close()


@pytest.fixture(params=["overlay2", "vfs"])
def snap(request: pytest.FixtureRequest, tmp_path: Path, db: Database) -> DirectorySnapshotter:
    s = create_snapshotter(request.param, str(tmp_path / "snapshots"), db)
    assert isinstance(s, DirectorySnapshotter)
    return s


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _layer(s: Snapshotter, name: str, parent: str | None, files: dict[str, str]) -> None:
    key = f"extract-{name}"
    s.prepare(key, parent)
    for rel, text in files.items():
        _write(os.path.join(s.layer_dir(key), rel), text)
    s.commit(name, key)


def _dirs(s: DirectorySnapshotter) -> set[str]:
    return {n for n in os.listdir(s.root) if n.isdigit()}


# ------------------------------------------------------------------ values


def test_mount_to_oci() -> None:
    m = Mount(type="overlay", source="overlay", options=["index=off", "lowerdir=/a:/b"])
    assert m.to_oci("/") == {
        "destination": "/",
        "type": "overlay",
        "source": "overlay",
        "options": ["index=off", "lowerdir=/a:/b"],
    }
    assert not m.readonly
    assert Mount("bind", "/x", ["rbind", "ro"]).readonly
    oci = m.to_oci("/rootfs")
    assert isinstance(oci["options"], list)
    oci["options"].append("changed")
    assert m.options == ["index=off", "lowerdir=/a:/b"]  # a copy, not the same list


def test_factory_names(tmp_path: Path, db: Database) -> None:
    assert create_snapshotter("overlay", str(tmp_path / "o"), db).driver == "overlay2"
    assert create_snapshotter("vfs", str(tmp_path / "v"), db).driver == "vfs"
    with pytest.raises(InvalidArgument):
        create_snapshotter("zfs", str(tmp_path / "z"), db)


def test_root_belongs_to_one_driver(tmp_path: Path, db: Database) -> None:
    root = str(tmp_path / "snapshots")
    assert recorded_driver(root) is None
    create_snapshotter("overlay2", root, db)
    assert recorded_driver(root) == "overlay2"
    create_snapshotter("overlay2", root, db)  # reopening is fine
    with pytest.raises(Conflict, match="overlay2"):
        create_snapshotter("vfs", root, db)


def test_whiteout_formats(tmp_path: Path, db: Database) -> None:
    overlay = create_snapshotter("overlay2", str(tmp_path / "o"), db)
    assert overlay.whiteout_format == "overlay"
    assert isinstance(overlay, OverlaySnapshotter)
    assert overlay.opaque_xattr in ("trusted.overlay.opaque", "user.overlay.opaque")
    assert create_snapshotter("vfs", str(tmp_path / "v"), db).whiteout_format == "oci"


# --------------------------------------------------------------- life cycle


def test_prepare_commit_view_remove(snap: DirectorySnapshotter) -> None:
    mounts = snap.prepare("a-active", labels={"x": "1"})
    assert [m.type for m in mounts] == ["bind"]
    assert mounts[0].options == ["rbind", "rw"]
    info = snap.stat("a-active")
    assert (info.key, info.parent, info.kind, info.labels) == (
        "a-active",
        None,
        "active",
        {"x": "1"},
    )
    _write(os.path.join(snap.layer_dir("a-active"), "hello"), "world")
    snap.commit("A", "a-active", labels={"y": "2"})
    assert not snap.exists("a-active")
    info = snap.stat("A")
    assert info.kind == "committed" and info.labels == {"x": "1", "y": "2"}

    snap.prepare("b-active", "A")
    assert snap.stat("b-active").parent == "A"
    snap.commit("B", "b-active")

    view = snap.view("v", "B")
    assert all(m.readonly for m in view)
    assert snap.stat("v").kind == "view"

    with pytest.raises(Conflict, match="depends"):
        snap.remove("B")
    snap.remove("v")
    snap.remove("B")
    snap.remove("A")
    assert list(snap.walk()) == []
    assert _dirs(snap) == set()
    assert not [n for n in os.listdir(snap.root) if n.startswith(("tmp-", "trash-"))]


def test_errors(snap: DirectorySnapshotter) -> None:
    with pytest.raises(NotFound):
        snap.stat("nope")
    with pytest.raises(NotFound):
        snap.mounts("nope")
    with pytest.raises(NotFound):
        snap.remove("nope")
    with pytest.raises(NotFound):
        snap.usage("nope")
    with pytest.raises(NotFound):
        snap.commit("x", "nope")
    with pytest.raises(NotFound):
        snap.prepare("child", "missing-parent")
    with pytest.raises(InvalidArgument):
        snap.prepare("")

    snap.prepare("a")
    with pytest.raises(Conflict, match="already exists"):
        snap.prepare("a")
    with pytest.raises(InvalidArgument, match="not committed"):
        snap.prepare("child", "a")  # parent is still active
    with pytest.raises(InvalidArgument, match="not committed"):
        snap.view("v", "a")
    snap.commit("A", "a")
    with pytest.raises(InvalidArgument, match="not active"):
        snap.commit("A2", "A")

    snap.prepare("b", "A")
    with pytest.raises(Conflict, match="already exists"):
        snap.commit("A", "b")  # the name is taken
    assert snap.stat("b").kind == "active"  # the loser keeps its snapshot to remove
    snap.remove("b")

    snap.view("v", "A")
    with pytest.raises(InvalidArgument, match="view"):
        snap.layer_dir("v")
    with pytest.raises(InvalidArgument, match="not active"):
        snap.commit("V", "v")
    with pytest.raises(Conflict):
        snap.remove("A")
    # failed creations leave nothing behind
    assert not [n for n in os.listdir(snap.root) if n.startswith(("tmp-", "trash-"))]
    assert len(_dirs(snap)) == 2


def test_walk_lists_every_snapshot(snap: DirectorySnapshotter) -> None:
    _layer(snap, "L1", None, {"a": "1"})
    _layer(snap, "L2", "L1", {"b": "2"})
    snap.prepare("container", "L2")
    snap.view("ro", "L1")
    infos = {i.key: i for i in snap.walk()}
    assert set(infos) == {"L1", "L2", "container", "ro"}
    assert all(isinstance(i, Info) for i in infos.values())
    assert infos["L2"].parent == "L1" and infos["container"].parent == "L2"
    assert infos["container"].kind == "active" and infos["ro"].kind == "view"


def test_usage_counts_own_files_and_hardlinks_once(snap: DirectorySnapshotter) -> None:
    _layer(snap, "L1", None, {"big": "x" * 1000})
    snap.prepare("c", "L1")
    fs = snap.layer_dir("c")
    _write(os.path.join(fs, "a"), "0123456789")
    os.link(os.path.join(fs, "a"), os.path.join(fs, "a-link"))
    _write(os.path.join(fs, "c"), "01234")
    os.mkdir(os.path.join(fs, "d"))
    os.symlink("a", os.path.join(fs, "sym"))
    usage = snap.usage("c")
    if snap.driver == "vfs":  # a full copy: the parent's file is in it too
        assert usage.size == 1000 + 15
        assert usage.inodes == 6  # root, big, a (= a-link), c, d, sym
    else:  # overlay: only the upper dir
        assert usage.size == 15
        assert usage.inodes == 5
    assert snap.usage("L1").size == 1000


def test_graph_driver_data_overlay(tmp_path: Path, db: Database) -> None:
    s = create_snapshotter("overlay2", str(tmp_path / "snapshots"), db)
    _layer(s, "L1", None, {"a": "1"})
    _layer(s, "L2", "L1", {"b": "2"})
    _layer(s, "L3", "L2", {"c": "3"})

    single = s.graph_driver_data("L1")
    assert sorted(single) == ["MergedDir", "UpperDir", "WorkDir"]

    data = s.graph_driver_data("L3")
    assert list(data) == ["LowerDir", "MergedDir", "UpperDir", "WorkDir"]
    assert data["UpperDir"] == s.layer_dir("L3")
    assert data["LowerDir"].split(":") == [s.layer_dir("L2"), s.layer_dir("L1")]
    assert data["WorkDir"] == os.path.join(os.path.dirname(data["UpperDir"]), "work")
    assert data["MergedDir"] == os.path.join(os.path.dirname(data["UpperDir"]), "merged")
    assert all(os.path.isabs(v) for v in data.values())

    s.prepare("ctr", "L3")
    ctr = s.graph_driver_data("ctr")
    assert ctr["LowerDir"].split(":") == [s.layer_dir(k) for k in ("L3", "L2", "L1")]
    assert ctr["UpperDir"] == s.layer_dir("ctr")


def test_graph_driver_data_vfs(tmp_path: Path, db: Database) -> None:
    s = create_snapshotter("vfs", str(tmp_path / "snapshots"), db)
    _layer(s, "L1", None, {"a": "1"})
    assert s.graph_driver_data("L1") == {}
    with pytest.raises(NotFound):
        s.graph_driver_data("nope")


def test_overlay_mounts_use_absolute_paths(tmp_path: Path, db: Database) -> None:
    s = create_snapshotter("overlay2", str(tmp_path / "snapshots"), db)
    _layer(s, "L1", None, {"a": "1"})
    _layer(s, "L2", "L1", {"b": "2"})
    (m,) = s.prepare("ctr", "L2")
    assert (m.type, m.source) == ("overlay", "overlay")
    assert m.options[0] == "index=off"
    opts = dict(o.split("=", 1) for o in m.options if "=" in o)
    assert opts["lowerdir"].split(":") == [s.layer_dir("L2"), s.layer_dir("L1")]
    assert opts["upperdir"] == s.layer_dir("ctr")
    assert opts["workdir"] == os.path.join(os.path.dirname(s.layer_dir("ctr")), "work")
    assert "userxattr" not in m.options or os.geteuid() != 0

    (one,) = s.view("v1", "L1")  # one layer: a read-only bind
    assert (one.type, one.source, one.options) == ("bind", s.layer_dir("L1"), ["rbind", "ro"])
    (two,) = s.view("v2", "L2")  # two layers: a lower-only overlay
    assert two.type == "overlay" and two.readonly
    assert not any(o.startswith(("upperdir=", "workdir=")) for o in two.options)
    assert s.mounts("L2")[0].readonly  # a committed snapshot mounts read-only


def test_vfs_mounts(tmp_path: Path, db: Database) -> None:
    s = create_snapshotter("vfs", str(tmp_path / "snapshots"), db)
    _layer(s, "L1", None, {"a": "1"})
    (m,) = s.prepare("ctr", "L1")
    assert m == Mount("bind", s.layer_dir("ctr"), ["rbind", "rw"])
    with open(os.path.join(s.layer_dir("ctr"), "a")) as f:
        assert f.read() == "1"  # a copy of the parent
    (v,) = s.view("v", "L1")
    assert v == Mount("bind", s.layer_dir("L1"), ["rbind", "ro"])


def test_overlay_short_links(tmp_path: Path, db: Database) -> None:
    s = create_snapshotter("overlay2", str(tmp_path / "snapshots"), db)
    assert isinstance(s, OverlaySnapshotter)
    _layer(s, "L1", None, {"a": "1"})
    directory = os.path.dirname(s.layer_dir("L1"))
    with open(os.path.join(directory, "link")) as f:
        short = f.read()
    assert len(short) < 26
    link = os.path.join(s.root, "l", short)
    assert os.readlink(link) == f"../{os.path.basename(directory)}/fs"
    assert os.path.samefile(link, s.layer_dir("L1"))
    s.remove("L1")
    assert not os.path.lexists(link)
    assert os.listdir(os.path.join(s.root, "l")) == []


# ----------------------------------------------------------- crash safety


def test_ids_are_not_reused_while_a_directory_exists(snap: DirectorySnapshotter) -> None:
    snap.prepare("a")
    (first,) = _dirs(snap)
    os.mkdir(os.path.join(snap.root, "7"))  # an orphan left by a killed process
    snap.prepare("b")
    assert _dirs(snap) == {first, "7", "8"}
    assert os.path.basename(os.path.dirname(snap.layer_dir("b"))) == "8"


def test_cleanup_removes_orphans_only(snap: DirectorySnapshotter) -> None:
    _layer(snap, "L1", None, {"keep": "k" * 100})
    snap.prepare("ctr", "L1")
    live = _dirs(snap)

    # a row deleted, then the process killed before the directory was renamed
    orphan = os.path.join(snap.root, "42")
    os.makedirs(os.path.join(orphan, "fs"))
    _write(os.path.join(orphan, "fs", "junk"), "j" * 1000)
    # a half-built snapshot of a dead process, and its half-deleted trash
    dead_tmp = os.path.join(snap.root, f"tmp-{DEAD_PID}-123-abcdef")
    os.makedirs(os.path.join(dead_tmp, "fs"))
    _write(os.path.join(dead_tmp, "fs", "junk"), "j" * 500)
    dead_trash = os.path.join(snap.root, f"trash-{DEAD_PID}-123-fedcba")
    os.makedirs(dead_trash)
    _write(os.path.join(dead_trash, "junk"), "j" * 24)
    # the same from this (live) process must survive
    pid, start = self_identity()
    live_tmp = os.path.join(snap.root, f"tmp-{pid}-{start}-000000")
    os.makedirs(live_tmp)
    # something that is not ours at all
    foreign = os.path.join(snap.root, "README")
    _write(foreign, "not a snapshot")
    dangling = None
    if snap.driver == "overlay2":
        dangling = os.path.join(snap.root, "l", "DANGLING0000")
        os.symlink("../42/fs", dangling)

    freed = snap.cleanup()

    assert freed == 1000 + 500 + 24
    assert _dirs(snap) == live
    assert not os.path.exists(orphan)
    assert not os.path.exists(dead_tmp)
    assert not os.path.exists(dead_trash)
    assert os.path.isdir(live_tmp)
    assert os.path.exists(foreign)
    if dangling is not None:
        assert not os.path.lexists(dangling)
        assert len(os.listdir(os.path.join(snap.root, "l"))) == 2  # L1 and ctr
    # the live snapshots still work
    with open(os.path.join(snap.layer_dir("L1"), "keep")) as f:
        assert f.read() == "k" * 100
    assert snap.cleanup() == 0
    os.rmdir(live_tmp)


def test_removed_row_with_leftover_directory(snap: DirectorySnapshotter) -> None:
    """A process killed between deleting the row and renaming the directory."""
    snap.prepare("a")
    (d,) = _dirs(snap)
    with snap.db.transaction() as conn:
        conn.execute("DELETE FROM snapshots WHERE key = 'a'")
    assert not snap.exists("a")
    snap.prepare("a")  # the key is free again and gets a fresh directory
    assert len(_dirs(snap)) == 2 and d in _dirs(snap)
    snap.cleanup()
    assert d not in _dirs(snap)
    assert os.path.isdir(snap.layer_dir("a"))


def test_tree_usage_missing_path(tmp_path: Path) -> None:
    usage = tree_usage(str(tmp_path / "missing"))
    assert (usage.size, usage.inodes) == (0, 0)


def test_removal_killed_before_commit_is_undone_by_cleanup(snap: DirectorySnapshotter) -> None:
    """Row still there, directory already renamed to trash by a process now dead."""
    _layer(snap, "L1", None, {"precious": "data"})
    directory = os.path.dirname(snap.layer_dir("L1"))
    snapshot_id = os.path.basename(directory)
    trash = os.path.join(snap.root, f"trash-{DEAD_PID}-1-abcdef-{snapshot_id}")
    os.rename(directory, trash)
    assert snap.cleanup() == 0
    assert not os.path.exists(trash)
    with open(os.path.join(snap.layer_dir("L1"), "precious")) as f:
        assert f.read() == "data"


def test_removal_killed_after_commit_is_finished_by_cleanup(snap: DirectorySnapshotter) -> None:
    _layer(snap, "L1", None, {"a": "x" * 10})
    _layer(snap, "L2", None, {"b": "y" * 20})
    directory = os.path.dirname(snap.layer_dir("L1"))
    snapshot_id = os.path.basename(directory)
    with snap.db.transaction() as conn:
        conn.execute("DELETE FROM snapshots WHERE key = 'L1'")
    os.rename(directory, os.path.join(snap.root, f"trash-{DEAD_PID}-1-abcdef-{snapshot_id}"))
    link_file = 12 if snap.driver == "overlay2" else 0  # overlay's <id>/link
    assert snap.cleanup() == 10 + link_file
    assert not [n for n in os.listdir(snap.root) if n.startswith("trash-")]
    assert snap.exists("L2")
    if snap.driver == "overlay2":  # L1's short link went with it
        assert len(os.listdir(os.path.join(snap.root, "l"))) == 1


def test_stale_short_link_to_a_reused_id(tmp_path: Path, db: Database) -> None:
    s = create_snapshotter("overlay2", str(tmp_path / "snapshots"), db)
    assert isinstance(s, OverlaySnapshotter)
    _layer(s, "L1", None, {"a": "1"})
    snapshot_id = os.path.basename(os.path.dirname(s.layer_dir("L1")))
    stale = os.path.join(s.root, "l", "STALE0000000")
    os.symlink(f"../{snapshot_id}/fs", stale)
    s.cleanup()
    assert not os.path.lexists(stale)
    assert len(os.listdir(os.path.join(s.root, "l"))) == 1


def test_remove_of_a_row_without_directory(snap: DirectorySnapshotter) -> None:
    snap.prepare("a")
    purge_target = os.path.dirname(snap.layer_dir("a"))
    os.rename(purge_target, purge_target + "-gone")
    snap.remove("a")
    assert not snap.exists("a")
    os.rename(purge_target + "-gone", purge_target)
    snap.cleanup()
    assert _dirs(snap) == set()
