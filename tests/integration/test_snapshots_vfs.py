"""The vfs snapshotter's full copies keep everything, and its bind mounts work."""

from __future__ import annotations

import errno
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.store.metadata import Database
from dockyard.store.snapshots import _linux, create_snapshotter
from dockyard.store.snapshots.vfs import VfsSnapshotter

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown, mknod, trusted xattrs)"),
]

MTIME = 1_500_000_000.5


@pytest.fixture(autouse=True)
def no_leftover_mounts(tmp_path: Path) -> Iterator[None]:
    yield
    left = _linux.mounts_under(str(tmp_path))
    for point in left:
        _linux.umount(point, _linux.MNT_DETACH)
    assert left == [], f"test left mounts behind: {left}"


@pytest.fixture
def snap(tmp_path: Path) -> Iterator[VfsSnapshotter]:
    db = Database(str(tmp_path / "db"))
    s = create_snapshotter("vfs", str(tmp_path / "snapshots"), db)
    assert isinstance(s, VfsSnapshotter)
    yield s
    db.close()


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _populate_base(fs: str) -> None:
    _write(f"{fs}/file", "content")
    os.link(f"{fs}/file", f"{fs}/hardlink")
    _write(f"{fs}/suid", "#!/bin/sh\n")
    os.chmod(f"{fs}/suid", 0o4755 | stat.S_ISGID)
    _write(f"{fs}/owned", "x")
    os.chown(f"{fs}/owned", 1234, 5678)
    os.setxattr(f"{fs}/file", "user.comment", b"hello")
    os.setxattr(f"{fs}/file", "trusted.overlay.opaque", b"y")
    os.mkdir(f"{fs}/dir")
    os.chmod(f"{fs}/dir", 0o1777)  # mkdir's mode is filtered by the umask
    os.setxattr(f"{fs}/dir", "trusted.something", b"dir-xattr")
    os.symlink("file", f"{fs}/dir/link")
    os.mkfifo(f"{fs}/fifo", 0o640)
    os.mknod(f"{fs}/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(f"{fs}/blk", stat.S_IFBLK | 0o600, os.makedev(7, 0))
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(f"{fs}/sock")
    os.utime(f"{fs}/file", (MTIME, MTIME))
    os.utime(f"{fs}/dir/link", (MTIME, MTIME), follow_symlinks=False)
    os.utime(f"{fs}/dir", (MTIME, MTIME))


def test_copy_preserves_everything(snap: VfsSnapshotter) -> None:
    snap.prepare("x")
    _populate_base(snap.layer_dir("x"))
    snap.commit("base", "x")
    snap.prepare("ctr", "base")
    src, fs = snap.layer_dir("base"), snap.layer_dir("ctr")
    assert src != fs

    a, b = os.lstat(f"{fs}/file"), os.lstat(f"{fs}/hardlink")
    assert a.st_ino == b.st_ino and a.st_nlink == 2
    assert a.st_ino != os.lstat(f"{src}/file").st_ino  # a copy, not the parent's inode
    assert a.st_mtime == MTIME
    assert os.getxattr(f"{fs}/file", "user.comment") == b"hello"
    assert os.getxattr(f"{fs}/file", "trusted.overlay.opaque") == b"y"
    assert os.getxattr(f"{fs}/dir", "trusted.something") == b"dir-xattr"
    assert stat.S_IMODE(os.lstat(f"{fs}/suid").st_mode) == 0o4755 | stat.S_ISGID
    owned = os.lstat(f"{fs}/owned")
    assert (owned.st_uid, owned.st_gid) == (1234, 5678)
    d = os.lstat(f"{fs}/dir")
    assert stat.S_IMODE(d.st_mode) == 0o1777 and d.st_mtime == MTIME
    assert os.readlink(f"{fs}/dir/link") == "file"
    assert os.lstat(f"{fs}/dir/link").st_mtime == MTIME
    fifo = os.lstat(f"{fs}/fifo")
    assert stat.S_ISFIFO(fifo.st_mode) and stat.S_IMODE(fifo.st_mode) == 0o640
    null = os.lstat(f"{fs}/null")
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    blk = os.lstat(f"{fs}/blk")
    assert stat.S_ISBLK(blk.st_mode) and blk.st_rdev == os.makedev(7, 0)
    assert stat.S_ISSOCK(os.lstat(f"{fs}/sock").st_mode)

    # changes to the copy do not reach the parent
    _write(f"{fs}/file", "changed")
    os.unlink(f"{fs}/owned")
    assert _read(f"{src}/file") == "content"
    assert os.path.exists(f"{src}/owned")
    assert _read(f"{fs}/hardlink") == "changed"


def test_bind_mounts(snap: VfsSnapshotter, tmp_path: Path) -> None:
    target = tmp_path / "mnt"
    target.mkdir()
    snap.prepare("x")
    _write(f"{snap.layer_dir('x')}/a", "1")
    snap.commit("base", "x")
    snap.prepare("ctr", "base")
    snap.mount("ctr", str(target))
    try:
        assert _read(f"{target}/a") == "1"
        _write(f"{target}/b", "2")
    finally:
        snap.unmount(str(target))
    assert _read(f"{snap.layer_dir('ctr')}/b") == "2"
    assert not os.path.exists(f"{snap.layer_dir('base')}/b")

    snap.view("v", "base")
    snap.mount("v", str(target))
    try:
        assert sorted(os.listdir(target)) == ["a"]
        with pytest.raises(OSError) as info:
            _write(f"{target}/c", "3")
        assert info.value.errno == errno.EROFS
    finally:
        snap.unmount(str(target))
    assert os.listdir(target) == []


def test_copy_of_a_chain(snap: VfsSnapshotter) -> None:
    parent = None
    for i in range(5):
        key = f"x{i}"
        snap.prepare(key, parent)
        fs = snap.layer_dir(key)
        _write(f"{fs}/layer-{i}", str(i))
        if i == 3:
            os.unlink(f"{fs}/layer-1")  # oci whiteout format: applied directly
        parent = f"L{i}"
        snap.commit(parent, key)
    assert parent is not None
    snap.prepare("ctr", parent)
    assert sorted(os.listdir(snap.layer_dir("ctr"))) == [
        "layer-0",
        "layer-2",
        "layer-3",
        "layer-4",
    ]
