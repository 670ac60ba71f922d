"""Real overlay mounts: whiteouts, opaque dirs, long chains, both mount paths."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import Conflict, InvalidArgument
from dockyard.store.metadata import Database
from dockyard.store.snapshots import _linux, check_overlay, create_snapshotter, overlay_supported
from dockyard.store.snapshots.overlay import SUPPORT_CACHE, OverlaySnapshotter

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts, mknod, trusted xattrs)"),
]


@pytest.fixture(autouse=True)
def no_leftover_mounts(tmp_path: Path) -> Iterator[None]:
    yield
    left = _linux.mounts_under(str(tmp_path))
    for point in left:
        _linux.umount(point, _linux.MNT_DETACH)
    assert left == [], f"test left mounts behind: {left}"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(str(tmp_path / "db"))
    yield database
    database.close()


@pytest.fixture
def snap(tmp_path: Path, db: Database) -> OverlaySnapshotter:
    root = str(tmp_path / "snapshots")
    if not overlay_supported(root):
        pytest.skip("overlayfs does not work here: " + check_overlay(root)[1])
    s = create_snapshotter("overlay2", root, db)
    assert isinstance(s, OverlaySnapshotter)
    return s


@pytest.fixture
def target(tmp_path: Path) -> str:
    path = tmp_path / "mnt"
    path.mkdir()
    return str(path)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _whiteout(path: str) -> None:
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def _is_whiteout(path: str) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)


def _spy(calls: list[str], name: str, func: Callable[..., None]) -> Callable[..., None]:
    def wrapper(*args: Any, **kwargs: Any) -> None:
        calls.append(name)
        func(*args, **kwargs)

    return wrapper


def _build_three_layers(s: OverlaySnapshotter) -> None:
    s.prepare("x1")
    fs = s.layer_dir("x1")
    _write(f"{fs}/gone", "deleted in layer 2")
    _write(f"{fs}/kept", "from layer 1")
    os.makedirs(f"{fs}/opaque/sub")
    _write(f"{fs}/opaque/old", "hidden by the opaque dir")
    _write(f"{fs}/opaque/sub/deep", "hidden too")
    os.mkdir(f"{fs}/merged-dir")
    _write(f"{fs}/merged-dir/one", "1")
    s.commit("L1", "x1")

    s.prepare("x2", "L1")
    fs = s.layer_dir("x2")
    _whiteout(f"{fs}/gone")
    os.mkdir(f"{fs}/opaque")
    os.setxattr(f"{fs}/opaque", s.opaque_xattr, b"y")
    _write(f"{fs}/opaque/new", "from layer 2")
    os.mkdir(f"{fs}/merged-dir")
    _write(f"{fs}/merged-dir/two", "2")
    s.commit("L2", "x2")

    s.prepare("x3", "L2")
    fs = s.layer_dir("x3")
    _write(f"{fs}/kept", "from layer 3")
    os.mkdir(f"{fs}/merged-dir")
    _write(f"{fs}/merged-dir/three", "3")
    s.commit("L3", "x3")


def _check_three_layers(root: str) -> None:
    assert sorted(os.listdir(root)) == ["kept", "merged-dir", "opaque"]
    assert not os.path.lexists(f"{root}/gone")
    assert _read(f"{root}/kept") == "from layer 3"
    assert os.listdir(f"{root}/opaque") == ["new"]
    assert sorted(os.listdir(f"{root}/merged-dir")) == ["one", "three", "two"]


@pytest.mark.parametrize("new_api", [True, False], ids=["fsconfig", "mount2"])
def test_three_layer_view_whiteout_and_opaque(
    snap: OverlaySnapshotter, target: str, new_api: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if new_api and not _linux.lowerdir_plus_supported():
        pytest.skip("this kernel has no fsconfig(lowerdir+) (Linux 6.8+)")
    snap.prefer_new_mount_api = new_api
    used: list[str] = []
    for name in ("mount_overlay_new_api", "mount_in_directory", "mount"):
        monkeypatch.setattr(_linux, name, _spy(used, name, getattr(_linux, name)))
    _build_three_layers(snap)
    snap.view("v", "L3")
    snap.mount("v", target)
    assert used == (["mount_overlay_new_api"] if new_api else ["mount"])
    try:
        _check_three_layers(target)
        with pytest.raises(OSError) as info:
            _write(f"{target}/nope", "x")
        assert info.value.errno == errno.EROFS
    finally:
        snap.unmount(target)
    assert os.listdir(target) == []


def test_active_snapshot_writes_go_to_the_upper_dir(snap: OverlaySnapshotter, target: str) -> None:
    _build_three_layers(snap)
    snap.prepare("ctr", "L3")
    snap.mount("ctr", target)
    try:
        _check_three_layers(target)
        _write(f"{target}/added", "new file")
        os.unlink(f"{target}/kept")  # exists in layers 1 and 3
        os.unlink(f"{target}/merged-dir/one")
    finally:
        snap.unmount(target)
    upper = snap.layer_dir("ctr")
    assert _read(f"{upper}/added") == "new file"
    assert _is_whiteout(f"{upper}/kept")
    assert _is_whiteout(f"{upper}/merged-dir/one")
    # the lower layers are untouched
    assert _read(f"{snap.layer_dir('L3')}/kept") == "from layer 3"
    assert os.path.exists(f"{snap.layer_dir('L1')}/merged-dir/one")

    snap.commit("L4", "ctr")
    snap.view("v4", "L4")
    snap.mount("v4", target)
    try:
        assert sorted(os.listdir(target)) == ["added", "merged-dir", "opaque"]
        assert sorted(os.listdir(f"{target}/merged-dir")) == ["three", "two"]
    finally:
        snap.unmount(target)


def test_directory_rename_copies_the_whole_directory_up(
    snap: OverlaySnapshotter, target: str
) -> None:
    """The upper dir must be a complete diff: no redirect xattrs, no metacopy-only files."""
    snap.prepare("x1")
    os.makedirs(f"{snap.layer_dir('x1')}/dir/sub")
    _write(f"{snap.layer_dir('x1')}/dir/sub/file", "content")
    _write(f"{snap.layer_dir('x1')}/owned", "data")
    snap.commit("L1", "x1")
    snap.prepare("x2", "L1")
    snap.commit("L2", "x2")
    snap.prepare("ctr", "L2")
    snap.mount("ctr", target)
    try:
        shutil.move(f"{target}/dir", f"{target}/renamed")  # EXDEV -> copy + delete
        os.chown(f"{target}/owned", 1234, 1234)
    finally:
        snap.unmount(target)
    upper = snap.layer_dir("ctr")
    assert _read(f"{upper}/renamed/sub/file") == "content"
    assert _is_whiteout(f"{upper}/dir")
    for name in os.listxattr(f"{upper}/renamed"):
        assert not name.endswith((".overlay.redirect", ".overlay.metacopy")), name
    assert _read(f"{upper}/owned") == "data"  # a full copy-up, not metadata only
    assert os.stat(f"{upper}/owned").st_uid == 1234


def test_single_layer_and_empty_mounts_are_binds(snap: OverlaySnapshotter, target: str) -> None:
    snap.prepare("base")  # no parent: the fs dir itself, writable
    snap.mount("base", target)
    try:
        _write(f"{target}/f", "written through a bind")
    finally:
        snap.unmount(target)
    assert _read(f"{snap.layer_dir('base')}/f") == "written through a bind"
    snap.commit("L1", "base")
    snap.view("v", "L1")
    snap.mount("v", target)
    try:
        assert _read(f"{target}/f") == "written through a bind"
        with pytest.raises(OSError) as info:
            _write(f"{target}/g", "x")
        assert info.value.errno == errno.EROFS
    finally:
        snap.unmount(target)


@pytest.mark.slow
@pytest.mark.parametrize("new_api", [True, False], ids=["fsconfig", "short-links"])
def test_130_layer_chain(
    snap: OverlaySnapshotter, target: str, new_api: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if new_api and not _linux.lowerdir_plus_supported():
        pytest.skip("this kernel has no fsconfig(lowerdir+) (Linux 6.8+)")
    snap.prefer_new_mount_api = new_api
    used: list[str] = []
    for name in ("mount_overlay_new_api", "mount_in_directory", "mount"):
        monkeypatch.setattr(_linux, name, _spy(used, name, getattr(_linux, name)))
    parent = None
    for i in range(130):
        key = f"extract-{i}"
        snap.prepare(key, parent)
        _write(f"{snap.layer_dir(key)}/layer-{i}", str(i))
        _write(f"{snap.layer_dir(key)}/top", str(i))
        parent = f"layer-{i}"
        snap.commit(parent, key)
    assert parent is not None
    snap.prepare("ctr", parent)
    (m,) = snap.mounts("ctr")
    assert len(",".join(m.options)) > os.sysconf("SC_PAGESIZE")  # absolute paths cannot fit

    snap.mount("ctr", target)
    assert used == (["mount_overlay_new_api"] if new_api else ["mount_in_directory"])
    try:
        assert _read(f"{target}/layer-0") == "0"
        assert _read(f"{target}/layer-129") == "129"
        assert _read(f"{target}/top") == "129"
        assert len(os.listdir(target)) == 131
        _write(f"{target}/written", "w")
    finally:
        snap.unmount(target)
    assert _read(f"{snap.layer_dir('ctr')}/written") == "w"

    snap.view("v", parent)
    snap.mount("v", target)
    try:
        assert _read(f"{target}/layer-0") == "0"
        assert _read(f"{target}/top") == "129"
    finally:
        snap.unmount(target)


def test_paths_too_long_for_fsconfig_fall_back(tmp_path: Path, db: Database) -> None:
    deep = tmp_path / ("d" * 200) / ("e" * 60)
    s = create_snapshotter("overlay2", str(deep / "snapshots"), db)
    assert isinstance(s, OverlaySnapshotter)
    for i, parent in enumerate([None, "L0", "L1"]):
        s.prepare(f"x{i}", parent)
        _write(f"{s.layer_dir(f'x{i}')}/f{i}", str(i))
        s.commit(f"L{i}", f"x{i}")
    assert len(os.fsencode(s.layer_dir("L0"))) > _linux.FSCONFIG_MAX_STRING
    s.prepare("ctr", "L2")
    target = tmp_path / "mnt"
    target.mkdir()
    s.mount("ctr", str(target))
    try:
        assert sorted(os.listdir(target)) == ["f0", "f1", "f2"]
    finally:
        s.unmount(str(target))


def test_unmount_errors(snap: OverlaySnapshotter, target: str) -> None:
    with pytest.raises(InvalidArgument, match="not a mount point"):
        snap.unmount(target)


def test_unmount_busy_mount_is_detached(snap: OverlaySnapshotter, target: str) -> None:
    _build_three_layers(snap)
    snap.view("v", "L3")
    snap.mount("v", target)
    try:
        handle = open(f"{target}/kept")  # noqa: SIM115 - held open on purpose
    except BaseException:
        snap.unmount(target)
        raise
    try:
        cwd = os.open(f"{target}/opaque", os.O_RDONLY | os.O_DIRECTORY)
        try:
            snap.unmount(target)  # busy: falls back to a lazy detach
        finally:
            os.close(cwd)
    finally:
        handle.close()
    assert _linux.mounts_under(target) == []


def test_cleanup_detaches_mounts_in_orphans(snap: OverlaySnapshotter) -> None:
    snap.prepare("a")
    _write(f"{snap.layer_dir('a')}/f", "x")
    orphan = os.path.join(snap.root, "99")
    os.makedirs(f"{orphan}/merged")
    _linux.bind_mount(snap.layer_dir("a"), f"{orphan}/merged", readonly=True)
    try:
        snap.cleanup()
    finally:
        if _linux.mounts_under(orphan):
            _linux.umount(f"{orphan}/merged", _linux.MNT_DETACH)
    assert not os.path.exists(orphan)
    assert _read(f"{snap.layer_dir('a')}/f") == "x"  # the bind source was not emptied


def test_overlay_supported_caches_the_answer(tmp_path: Path) -> None:
    root = str(tmp_path / "snapshots")
    supported, reason = check_overlay(root)
    assert supported, reason  # a Debian 12 VM with a 6.x kernel has overlayfs
    cache = os.path.join(root, SUPPORT_CACHE)
    with open(cache) as f:
        saved = json.load(f)
    assert saved == {"kernel": os.uname().release, "supported": True, "reason": ""}
    assert [n for n in os.listdir(root) if n.startswith("tmp-")] == []

    # the cached answer is used as long as the kernel is the same ...
    with open(cache, "w") as f:
        json.dump({"kernel": os.uname().release, "supported": False, "reason": "cached"}, f)
    assert check_overlay(root) == (False, "cached")
    assert not overlay_supported(root)
    # ... and recomputed for another kernel or on request
    with open(cache, "w") as f:
        json.dump({"kernel": "0.0.0-old", "supported": False, "reason": "stale"}, f)
    assert overlay_supported(root)
    assert check_overlay(root, refresh=True) == (True, "")


def test_remove_refuses_a_snapshot_with_a_mount_inside(snap: OverlaySnapshotter) -> None:
    _build_three_layers(snap)
    snap.prepare("ctr", "L3")
    merged = snap.graph_driver_data("ctr")["MergedDir"]
    os.mkdir(merged)
    snap.mount("ctr", merged)
    try:
        with pytest.raises(Conflict, match="is mounted"):
            snap.remove("ctr")
        assert _read(f"{merged}/kept") == "from layer 3"
    finally:
        snap.unmount(merged)
    snap.remove("ctr")
    assert not snap.exists("ctr")
