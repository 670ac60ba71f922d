from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from dockyard.errors import Corrupt, InvalidArgument, SystemFailure, Unsupported
from dockyard.store.layers import apply_layer, open_decompressed, write_diff
from dockyard.store.layers.saferoot import remove_tree
from tests.unit._layers_support import MTIME, TarBuilder, needs_root, snapshot

pytestmark = needs_root


def _apply(blob: bytes, target: Path, whiteouts: str = "oci", **kw: object):  # type: ignore[no-untyped-def]
    target.mkdir(exist_ok=True)
    return apply_layer(io.BytesIO(blob), str(target), whiteouts=whiteouts, **kw)  # type: ignore[arg-type]


def test_all_entry_types_and_metadata(tmp_path: Path) -> None:
    blob = (
        TarBuilder()
        .dir("etc", mode=0o755, mtime=1000)
        .file("etc/passwd", b"root:x:0:0\n", mode=0o644, mtime=2000)
        .dir("tmp", mode=0o1777, mtime=1001)
        .file("bin/su", b"\x7fELF", mode=0o4755, uid=0, gid=0)
        .file("bin/wall", b"\x7fELF2", mode=0o2755, uid=0, gid=5)
        .file("home/u/f", b"mine", mode=0o600, uid=1000, gid=1000)
        .symlink("bin/sh", "busybox", mtime=3000)
        .file("bin/busybox", b"bb", mode=0o755)
        .hardlink("bin/ls", "bin/busybox", mode=0o755)
        .device("dev/null", 1, 3, mode=0o666)
        .device("dev/loop0", 7, 0, block=True, mode=0o660, gid=6)
        .fifo("run/fifo", mode=0o620)
        .file("x", b"attrs", xattrs={"user.one": "1", "user.two": "zwei"})
        .bytes()
    )
    stats = _apply(blob, tmp_path / "t")
    t = tmp_path / "t"
    assert stats.diff_id == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert stats.tar_size == len(blob)
    assert stats.compression == "none"
    assert stats.entries == 13

    def st(p: str) -> os.stat_result:
        return os.lstat(t / p)

    assert (t / "etc/passwd").read_bytes() == b"root:x:0:0\n"
    assert stat.S_IMODE(st("tmp").st_mode) == 0o1777
    assert stat.S_IMODE(st("bin/su").st_mode) == 0o4755
    assert stat.S_IMODE(st("bin/wall").st_mode) == 0o2755 and st("bin/wall").st_gid == 5
    assert (st("home/u/f").st_uid, st("home/u/f").st_gid) == (1000, 1000)
    assert os.readlink(t / "bin/sh") == "busybox"
    assert st("bin/sh").st_mtime == 3000
    assert st("bin/ls").st_ino == st("bin/busybox").st_ino
    assert stat.S_ISCHR(st("dev/null").st_mode) and st("dev/null").st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(st("dev/null").st_mode) == 0o666
    assert stat.S_ISBLK(st("dev/loop0").st_mode) and st("dev/loop0").st_gid == 6
    assert stat.S_ISFIFO(st("run/fifo").st_mode) and stat.S_IMODE(st("run/fifo").st_mode) == 0o620
    assert os.getxattr(t / "x", "user.one") == b"1"
    assert os.getxattr(t / "x", "user.two") == b"zwei"
    # Times: files and directories (directories set after their contents).
    assert st("etc/passwd").st_mtime == 2000
    assert st("etc").st_mtime == 1000
    assert st("tmp").st_mtime == 1001
    # Implied directories: 0755 root.
    assert stat.S_IMODE(st("home/u").st_mode) == 0o755 and st("home/u").st_uid == 0
    # content size: regular files once per inode, plus symlink targets
    assert stats.content_size == 11 + 4 + 5 + 4 + 2 + 5 + len("busybox")


@pytest.mark.parametrize("whiteouts", ["oci", "overlay"])
def test_content_size_counts_what_the_layer_leaves(tmp_path: Path, whiteouts: str) -> None:
    blob = (
        TarBuilder()
        .file("a", b"x" * 10)
        .file("a", b"y" * 3)  # replaced: 3
        .file("d/x", b"z" * 5)
        .hardlink("d/y", "d/x")
        .whiteout("d")  # removed with its files
        .dir("e")
        .file("e/z", b"w" * 7)
        .file("e", b"vv")  # the directory replaced by a file: 2
        .file("k/h1", b"q" * 11)
        .hardlink("k/h2", "k/h1")  # one inode: 11
        .symlink("s", "abc")  # symlink target: 3
        .bytes()
    )
    stats = _apply(blob, tmp_path / "t", whiteouts)
    assert stats.content_size == 3 + 2 + 11 + 3


def test_atime_is_at_least_mtime(tmp_path: Path) -> None:
    blob = (
        TarBuilder()
        .file("a", b"", mtime=5000, pax={"atime": "7000"})
        .file("b", b"", mtime=5000, pax={"atime": "10"})
        .bytes()
    )
    _apply(blob, tmp_path / "t")
    assert os.lstat(tmp_path / "t/a").st_atime == 7000
    assert os.lstat(tmp_path / "t/b").st_atime == 5000


def test_long_names_gnu_and_pax(tmp_path: Path) -> None:
    long = "/".join(["component-" + str(i) * 40 for i in range(5)]) + "/file"
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        t = tmp_path / f"t{fmt}"
        _apply(TarBuilder(fmt).file(long, b"deep").symlink("s", long).bytes(), t)
        assert (t / long).read_bytes() == b"deep"
        assert os.readlink(t / "s") == long


def test_gzip_and_zstd_layers(tmp_path: Path) -> None:
    blob = TarBuilder().dir("d").file("d/f", os.urandom(100_000)).bytes()
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    gz = _apply(gzip.compress(blob), tmp_path / "gz")
    zs = _apply(zstandard.ZstdCompressor().compress(blob), tmp_path / "zs")
    assert (gz.compression, zs.compression) == ("gzip", "zstd")
    assert gz.diff_id == zs.diff_id == digest
    assert gz.tar_size == zs.tar_size == len(blob)
    assert snapshot(tmp_path / "gz") == snapshot(tmp_path / "zs")


def test_trailing_bytes_are_part_of_the_diff_id(tmp_path: Path) -> None:
    blob = TarBuilder().file("f", b"x").bytes() + bytes(8192)
    stats = _apply(blob, tmp_path / "t")
    assert stats.diff_id == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert stats.tar_size == len(blob)


def test_later_entry_replaces_earlier(tmp_path: Path) -> None:
    blob = (
        TarBuilder()
        .file("a", b"first")
        .file("a", b"second")
        .dir("b", mode=0o700)
        .file("b/keep", b"k")
        .dir("b", mode=0o750)  # dir over dir: merged, metadata replaced
        .dir("c")
        .file("c/x", b"x")
        .file("c", b"now a file")  # file over dir: dir removed
        .file("d", b"was a file")
        .dir("d")  # dir over file
        .symlink("e", "nowhere")
        .file("e", b"file over symlink")
        .bytes()
    )
    t = tmp_path / "t"
    _apply(blob, t)
    assert (t / "a").read_bytes() == b"second"
    assert (t / "b/keep").read_bytes() == b"k"
    assert stat.S_IMODE(os.lstat(t / "b").st_mode) == 0o750
    assert (t / "c").read_bytes() == b"now a file"
    assert (t / "d").is_dir()
    assert (t / "e").read_bytes() == b"file over symlink"


def test_applies_over_existing_tree(tmp_path: Path) -> None:
    t = tmp_path / "t"
    _apply(TarBuilder().dir("etc").file("etc/a", b"A").file("etc/b", b"B").bytes(), t)
    _apply(TarBuilder().file("etc/a", b"A2").hardlink("etc/c", "etc/b").bytes(), t)
    assert (t / "etc/a").read_bytes() == b"A2"
    assert os.lstat(t / "etc/c").st_ino == os.lstat(t / "etc/b").st_ino  # link to a lower file


def test_oci_whiteouts(tmp_path: Path) -> None:
    t = tmp_path / "t"
    _apply(
        TarBuilder()
        .file("file1", b"1")
        .file("a/file2", b"2")
        .dir("b")
        .file("b/x", b"x")
        .file("c/file3", b"3")
        .bytes(),
        t,
    )
    _apply(
        TarBuilder()
        .whiteout("file1")
        .whiteout("a/file2")
        .whiteout("b")
        .whiteout("nonexistent")
        .file("file4", b"4")
        .bytes(),
        t,
    )
    assert sorted(p.name for p in t.iterdir()) == ["a", "c", "file4"]
    assert list((t / "a").iterdir()) == []
    assert (t / "c/file3").read_bytes() == b"3"


@pytest.mark.parametrize("marker_first", [True, False])
def test_oci_opaque_dir_keeps_only_this_layers_entries(tmp_path: Path, marker_first: bool) -> None:
    t = tmp_path / "t"
    _apply(
        TarBuilder()
        .dir("a")
        .dir("a/b")
        .dir("a/b/c")
        .file("a/b/c/bar", b"old")
        .file("a/top", b"old")
        .file("keep", b"k")
        .bytes(),
        t,
    )
    b = TarBuilder().dir("a")
    if marker_first:
        b.opaque("a")
    b.dir("a/b").dir("a/b/c").file("a/b/c/foo", b"new")
    if not marker_first:
        b.opaque("a")  # OCI: the opaque marker applies first wherever it appears
    _apply(b.bytes(), t)
    assert sorted(str(p.relative_to(t)) for p in t.rglob("*")) == [
        "a", "a/b", "a/b/c", "a/b/c/foo", "keep"
    ]


def test_opaque_dir_with_implied_parent(tmp_path: Path) -> None:
    t = tmp_path / "t"
    _apply(TarBuilder().file("a/b/old", b"o").file("a/other", b"o").bytes(), t)
    # a/b/new written first (a/b implied, not listed), then the opaque marker for a.
    _apply(TarBuilder().file("a/b/new", b"n").opaque("a").bytes(), t)
    assert sorted(str(p.relative_to(t)) for p in t.rglob("*")) == ["a", "a/b", "a/b/new"]


def test_root_opaque(tmp_path: Path) -> None:
    t = tmp_path / "t"
    _apply(TarBuilder().file("old", b"o").dir("olddir").bytes(), t)
    _apply(TarBuilder().file(".wh..wh..opq", b"").file("new", b"n").bytes(), t)
    assert [p.name for p in t.iterdir()] == ["new"]


def test_overlay_whiteouts(tmp_path: Path) -> None:
    t = tmp_path / "upper"
    blob = (
        TarBuilder()
        .dir("etc")
        .whiteout("etc/gone")
        .dir("opq")
        .opaque("opq")
        .file("opq/new", b"n")
        .whiteout("deep/er/gone")
        .bytes()
    )
    _apply(blob, t, "overlay")
    wh = os.lstat(t / "etc/gone")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    assert os.getxattr(t / "opq", "trusted.overlay.opaque") == b"y"
    assert "trusted.overlay.opaque" not in os.listxattr(t / "etc")
    assert (t / "opq/new").read_bytes() == b"n"
    assert not (t / ".wh..wh..opq").exists() and not (t / "opq/.wh..wh..opq").exists()
    assert stat.S_ISCHR(os.lstat(t / "deep/er/gone").st_mode)
    assert sorted(os.listdir(t / "etc")) == ["gone"]


def test_overlay_dir_replacing_own_whiteout_becomes_opaque(tmp_path: Path) -> None:
    t = tmp_path / "upper"
    _apply(TarBuilder().whiteout("d").dir("d").file("d/f", b"f").bytes(), t, "overlay")
    assert (t / "d").is_dir()
    assert os.getxattr(t / "d", "trusted.overlay.opaque") == b"y"
    # and in OCI mode the same layer removes the lower d first
    v = tmp_path / "vfs"
    _apply(TarBuilder().dir("d").file("d/lower", b"l").bytes(), v)
    _apply(TarBuilder().whiteout("d").dir("d").file("d/f", b"f").bytes(), v)
    assert sorted(os.listdir(v / "d")) == ["f"]


def test_overlay_mode_ignores_overlay_xattrs_from_the_archive(tmp_path: Path) -> None:
    t = tmp_path / "upper"
    blob = (
        TarBuilder()
        .dir("d", xattrs={"trusted.overlay.opaque": "y", "trusted.overlay.redirect": "/etc",
                          "user.ok": "1"})
        .bytes()
    )
    _apply(blob, t, "overlay")
    assert sorted(os.listxattr(t / "d")) == ["user.ok"]


def test_directory_over_directory_takes_the_entrys_xattrs(tmp_path: Path) -> None:
    t = tmp_path / "t"
    _apply(TarBuilder().dir("d", xattrs={"user.old": "1", "user.both": "1"}).bytes(), t)
    _apply(TarBuilder().dir("d", xattrs={"user.both": "2", "user.new": "3"}).bytes(), t)
    assert sorted(os.listxattr(t / "d")) == ["user.both", "user.new"]
    assert os.getxattr(t / "d", "user.both") == b"2"


def test_refused_xattrs_are_reported_not_fatal(tmp_path: Path) -> None:
    # user.* xattrs are not allowed on symlinks (EPERM): Docker skips those.
    stats = _apply(TarBuilder().symlink("s", "t", xattrs={"user.x": "1"}).bytes(), tmp_path / "t")
    assert len(stats.xattr_errors) == 1 and "user.x" in stats.xattr_errors[0]
    assert os.readlink(tmp_path / "t/s") == "t"


def test_already_decompressed_stream(tmp_path: Path) -> None:
    blob = TarBuilder().file("f", b"data").bytes()
    stream = open_decompressed(io.BytesIO(gzip.compress(blob)))
    stats = _apply_stream(stream, tmp_path / "t")
    assert stats.compression == "none"
    assert stats.diff_id == "sha256:" + hashlib.sha256(blob).hexdigest()


def _apply_stream(stream: object, target: Path):  # type: ignore[no-untyped-def]
    target.mkdir()
    return apply_layer(stream, str(target), whiteouts="oci")  # type: ignore[arg-type]


def test_missing_target(tmp_path: Path) -> None:
    with pytest.raises(SystemFailure, match="cannot open layer directory"):
        apply_layer(io.BytesIO(b""), str(tmp_path / "nope"), whiteouts="oci")


def test_bad_whiteout_format(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        apply_layer(io.BytesIO(b""), str(tmp_path), whiteouts="aufs")  # type: ignore[arg-type]


def test_root_entry_sets_root_metadata(tmp_path: Path) -> None:
    t = tmp_path / "t"
    _apply(TarBuilder().dir(".", mode=0o711, mtime=4242).file("f", b"").bytes(), t)
    st = os.lstat(t)
    assert stat.S_IMODE(st.st_mode) == 0o711
    assert st.st_mtime == 4242


def test_root_entry_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="would replace the layer root"):
        _apply(_root_file(), tmp_path / "t")


def _root_file() -> bytes:
    ti = tarfile.TarInfo("./")
    ti.type = tarfile.SYMTYPE
    ti.linkname = "/etc"
    return TarBuilder().raw(ti).bytes()


def test_aufs_metadata_is_skipped(tmp_path: Path) -> None:
    t = tmp_path / "t"
    _apply(
        TarBuilder()
        .dir(".wh..wh.plnk")
        .file(".wh..wh.plnk/123.456", b"x")
        .file(".wh..wh.aufs", b"")
        .file("real", b"r")
        .bytes(),
        t,
    )
    assert [p.name for p in t.iterdir()] == ["real"]


def test_id_map(tmp_path: Path) -> None:
    t = tmp_path / "t"
    _apply(
        TarBuilder().file("a/f", b"", uid=1, gid=2).bytes(),
        t,
        id_map=lambda u, g: (u + 100000, g + 100000),
    )
    assert (os.lstat(t / "a/f").st_uid, os.lstat(t / "a/f").st_gid) == (100001, 100002)
    assert os.lstat(t / "a").st_uid == 100000  # implied directory: mapped root


def test_unknown_entry_type_is_unsupported(tmp_path: Path) -> None:
    ti = tarfile.TarInfo("vol")
    ti.type = b"V"
    with pytest.raises(Unsupported, match="unhandled tar header type 86"):
        _apply(TarBuilder(tarfile.GNU_FORMAT).raw(ti).bytes(), tmp_path / "t")


def test_hardlink_to_missing_target(tmp_path: Path) -> None:
    with pytest.raises(Corrupt, match="target does not exist"):
        _apply(TarBuilder().hardlink("h", "missing").bytes(), tmp_path / "t")


def test_hardlink_to_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="directory"):
        _apply(TarBuilder().dir("d").hardlink("h", "d").bytes(), tmp_path / "t")


def test_empty_stream_is_an_empty_layer(tmp_path: Path) -> None:
    stats = _apply(b"", tmp_path / "t")
    assert stats.entries == 0
    assert stats.diff_id == "sha256:" + hashlib.sha256(b"").hexdigest()


def test_whiteout_without_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="invalid whiteout"):
        _apply(TarBuilder().file("d/.wh.", b"").bytes(), tmp_path / "t")


def test_file_in_place_of_a_parent_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="not a directory"):
        _apply(TarBuilder().file("a", b"").file("a/b", b"").bytes(), tmp_path / "t")


def test_large_file(tmp_path: Path) -> None:
    data = os.urandom(1 << 20) * 5 + b"tail"
    t = tmp_path / "t"
    stats = _apply(gzip.compress(TarBuilder().file("big", data).bytes(), 1), t)
    assert (t / "big").read_bytes() == data
    assert stats.content_size == len(data)


@pytest.fixture
def deep_tmp(tmp_path: Path) -> Iterator[Path]:
    """tmp_path, emptied at teardown without recursion (pytest's cleanup recurses)."""
    yield tmp_path
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in os.listdir(fd):
            remove_tree(fd, os.fsencode(name))
    finally:
        os.close(fd)


def test_very_deep_tree_beyond_the_recursion_limit(deep_tmp: Path) -> None:
    deep = "d/" * 1100 + "leaf"
    t = deep_tmp / "t"
    # the opaque marker descends the tree; the last entry removes a deep tree
    _apply(TarBuilder().file(deep, b"deep").opaque("d").file("x/" + deep, b"").file("x", b"")
           .bytes(), t)
    assert (t / deep).read_bytes() == b"deep"
    assert (t / "x").read_bytes() == b""
    out = io.BytesIO()
    write_diff(str(t), out, parent=None, mode="compare")
    copy = deep_tmp / "copy"
    _apply(out.getvalue(), copy)
    assert (copy / deep).read_bytes() == b"deep"
    _apply(TarBuilder().whiteout("d").bytes(), copy)
    assert os.listdir(copy) == ["x"]


def test_mtime_fixture_sanity(tmp_path: Path) -> None:
    _apply(TarBuilder().file("f", b"").bytes(), tmp_path / "t")
    assert os.lstat(tmp_path / "t/f").st_mtime == MTIME
