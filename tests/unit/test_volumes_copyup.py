"""copy_up: filling an empty new volume from an image directory, metadata intact."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.engine.volumes import VolumeService
from dockyard.store.metadata import Database
from tests.conftest import needs_root


@pytest.fixture
def vs(tmp_path: Path) -> Iterator[VolumeService]:
    database = Database(str(tmp_path / "dockyard.db"))
    yield VolumeService(database, str(tmp_path / "root"))
    database.close()


def _xattrs_supported(path: Path) -> bool:
    probe = path / ".xattr-probe"
    probe.write_text("")
    try:
        os.setxattr(probe, "user.probe", b"1")
        return True
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return False
        raise
    finally:
        probe.unlink()


def _snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything copy_up promises to keep, per relative path."""
    result: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            content: object = None
            if stat.S_ISREG(st.st_mode):
                content = Path(path).read_bytes()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            xattrs = {}
            if not stat.S_ISLNK(st.st_mode):
                xattrs = {n: os.getxattr(path, n) for n in os.listxattr(path)}
            result[rel] = (
                st.st_mode,
                st.st_uid,
                st.st_gid,
                st.st_nlink,
                st.st_rdev if stat.S_ISCHR(st.st_mode) else 0,
                st.st_mtime_ns,
                content,
                tuple(sorted(xattrs.items())),
            )
    return result


def _make_image_dir(src: Path, xattrs: bool) -> None:
    src.mkdir()
    (src / "etc").mkdir()
    (src / "etc" / "conf").write_text("key=value\n")
    os.chown(src / "etc" / "conf", 1000, 1001)
    os.chmod(src / "etc" / "conf", 0o640)
    (src / "bin").mkdir(mode=0o755)
    (src / "bin" / "tool").write_bytes(b"\x7fELF" + os.urandom(300_000))
    os.chmod(src / "bin" / "tool", 0o4755)
    os.link(src / "bin" / "tool", src / "bin" / "tool-link")
    os.symlink("../etc/conf", src / "bin" / "conf-link")
    os.symlink("/nonexistent/target", src / "dangling")
    os.lchown(src / "dangling", 7, 8)
    (src / "tmp").mkdir()
    os.chmod(src / "tmp", 0o1777)
    os.mkfifo(src / "fifo", 0o620)
    os.mknod(src / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    (src / "empty").mkdir()
    os.chown(src / "empty", 33, 33)
    if xattrs:
        os.setxattr(src / "etc" / "conf", "user.origin", b"image")
        os.setxattr(src / "etc", "user.dir", b"yes")
    for path in (src / "etc" / "conf", src / "bin" / "tool"):
        os.utime(path, ns=(1_600_000_000_123_456_789, 1_500_000_000_987_654_321))
    os.utime(src / "dangling", ns=(1_000_000_000, 1_100_000_000), follow_symlinks=False)
    os.utime(src / "etc", ns=(1_400_000_000_000_000_000, 1_400_000_000_000_000_000))
    os.chown(src, 5, 6)
    os.chmod(src, 0o750)


@needs_root
def test_copy_up_keeps_everything(vs: VolumeService, tmp_path: Path) -> None:
    src = tmp_path / "image-dir"
    xattrs = _xattrs_supported(tmp_path)
    _make_image_dir(src, xattrs)
    volume = vs.create("filled")
    assert vs.copy_up("filled", str(src)) is True
    dst = Path(volume.mountpoint)
    assert _snapshot(dst) == _snapshot(src)
    root_st, src_st = os.stat(dst), os.stat(src)
    assert (root_st.st_uid, root_st.st_gid, root_st.st_mode) == (5, 6, src_st.st_mode)
    tool = os.stat(dst / "bin" / "tool")
    assert tool.st_ino == os.stat(dst / "bin" / "tool-link").st_ino
    assert stat.S_IMODE(tool.st_mode) == 0o4755
    if xattrs:
        assert os.getxattr(dst / "etc" / "conf", "user.origin") == b"image"


@needs_root
def test_copy_up_only_into_an_empty_volume(vs: VolumeService, tmp_path: Path) -> None:
    src = tmp_path / "image-dir"
    src.mkdir()
    (src / "from-image").write_text("image")
    volume = vs.create("used")
    Path(volume.mountpoint, "mine").write_text("data")
    assert vs.copy_up("used", str(src)) is False
    assert os.listdir(volume.mountpoint) == ["mine"]
    # a second copy_up into a volume already filled does nothing either
    fresh = vs.create("fresh")
    assert vs.copy_up("fresh", str(src)) is True
    (src / "later").write_text("x")
    assert vs.copy_up("fresh", str(src)) is False
    assert os.listdir(fresh.mountpoint) == ["from-image"]


def test_copy_up_of_a_missing_source_is_a_noop(vs: VolumeService, tmp_path: Path) -> None:
    volume = vs.create("nosrc")
    assert vs.copy_up("nosrc", str(tmp_path / "absent")) is False
    assert os.listdir(volume.mountpoint) == []
