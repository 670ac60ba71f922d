from __future__ import annotations

import io
import os
import shutil
import socket
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import Unsupported
from dockyard.store.layers import (
    Change,
    apply_layer,
    changes,
    compressing_writer,
    write_diff,
)
from tests.unit._layers_support import TarBuilder, needs_root, snapshot

pytestmark = needs_root

NS = 123_456_789  # sub-second part of mtimes in the source trees


def _touch(path: Path, secs: int) -> None:
    os.utime(path, ns=(secs * 10**9 + NS, secs * 10**9 + NS), follow_symlinks=False)


def build_tree(root: Path, *, reverse: bool = False) -> None:
    """A tree with every kind of entry a layer carries. ``reverse`` creates it in a
    different order (different inode numbers, same content)."""
    root.mkdir()
    steps = []

    def step(fn):  # type: ignore[no-untyped-def]
        steps.append(fn)
        return fn

    @step
    def dirs() -> None:
        for d, mode in [("etc", 0o755), ("tmp", 0o1777), ("srv", 0o2775), ("empty", 0o700),
                        ("deep/a/b/c/d/e/f/g", 0o755)]:
            (root / d).mkdir(parents=True, exist_ok=True)
            os.chmod(root / d, mode)

    @step
    def files() -> None:
        (root / "etc/passwd").write_bytes(b"root:x:0:0:root:/root:/bin/sh\n")
        (root / "empty-file").write_bytes(b"")
        (root / "big").write_bytes(bytes(range(256)) * 9000)  # > 1 MiB: streamed
        su = root / "su"
        su.write_bytes(b"\x7fELF")
        os.chown(su, 0, 0)
        os.chmod(su, 0o4755)
        sg = root / "srv/sg"
        sg.write_bytes(b"sg")
        os.chown(sg, 1000, 50)
        os.chmod(sg, 0o2750)
        owned = root / "srv/owned"
        owned.write_bytes(b"owned")
        os.chown(owned, 4242, 4343)
        os.setxattr(root / "etc/passwd", "user.note", b"\x00binary\xff")
        os.setxattr(root / "srv", "user.dir", b"yes")
        long = root / ("l" * 120) / ("m" * 200)
        long.parent.mkdir()
        long.write_bytes(b"long name")
        (root / os.fsdecode(b"caf\xe9-latin1")).write_bytes(b"not utf-8 name")

    @step
    def links() -> None:
        os.symlink("etc/passwd", root / "rel-link")
        os.symlink("/etc/shadow", root / "abs-link")
        os.symlink("nowhere/at/all", root / "dangling")
        os.link(root / "etc/passwd", root / "hard1")
        os.link(root / "etc/passwd", root / "deep/hard2")
        os.lchown(root / "rel-link", 7, 8)

    @step
    def nodes() -> None:
        os.mknod(root / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.chmod(root / "null", 0o666)
        os.mknod(root / "loop", 0o660 | stat.S_IFBLK, os.makedev(7, 1))
        os.mkfifo(root / "fifo", 0o640)
        os.chmod(root / "fifo", 0o640)

    # Reversed: devices first, directories later (other inode numbers, same tree).
    for fn in [steps[3], steps[0], steps[1], steps[2]] if reverse else steps:
        fn()
    # Times last (directories after their contents).
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            _touch(Path(dirpath) / name, 1_500_000_000 + len(name))
    _touch(root, 1_500_000_000)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    build_tree(tmp_path / "src")
    return tmp_path / "src"


def _diff(path: Path, parent: Path | None = None, mode: str = "compare") -> bytes:
    out = io.BytesIO()
    stats = write_diff(str(path), out, parent=str(parent) if parent else None, mode=mode)  # type: ignore[arg-type]
    assert stats.size == len(out.getvalue())
    return out.getvalue()


def _apply(blob: bytes, target: Path, whiteouts: str = "oci") -> None:
    target.mkdir(exist_ok=True)
    apply_layer(io.BytesIO(blob), str(target), whiteouts=whiteouts)  # type: ignore[arg-type]


def _tar_members(blob: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(blob)) as tf:
        return tf.getmembers()


# -- round trips -------------------------------------------------------------------

@pytest.mark.parametrize("whiteouts", ["oci", "overlay"])
def test_round_trip_reproduces_the_tree(tree: Path, tmp_path: Path, whiteouts: str) -> None:
    blob = _diff(tree)
    _apply(blob, tmp_path / "dst", whiteouts)
    want = snapshot(tree)
    got = snapshot(tmp_path / "dst")
    assert got == want
    assert want["su"][1] == 0o4755 and want["srv"][1] == 0o2775 and want["tmp"][1] == 0o1777
    # and the copy diffs to the same bytes
    assert _diff(tmp_path / "dst") == blob
    mode = "overlay" if whiteouts == "overlay" else "compare"
    assert _diff(tmp_path / "dst", mode=mode) == blob


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_round_trip_compressed(tree: Path, tmp_path: Path, compression: str) -> None:
    out = io.BytesIO()
    with compressing_writer(out, compression) as w:  # type: ignore[arg-type]
        stats = write_diff(str(tree), w, parent=None, mode="compare")
    (tmp_path / "dst").mkdir()
    applied = apply_layer(io.BytesIO(out.getvalue()), str(tmp_path / "dst"), whiteouts="oci")
    assert applied.diff_id == stats.diff_id
    assert applied.tar_size == stats.size
    assert applied.compression == compression
    assert snapshot(tmp_path / "dst") == snapshot(tree)


def test_same_tree_same_digest(tmp_path: Path) -> None:
    build_tree(tmp_path / "one")
    build_tree(tmp_path / "two", reverse=True)
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")
    a = write_diff(str(tmp_path / "one"), io.BytesIO(), parent=None, mode="compare")
    b = write_diff(str(tmp_path / "two"), io.BytesIO(), parent=None, mode="compare")
    c = write_diff(str(tmp_path / "two"), io.BytesIO(), parent=None, mode="overlay")
    assert a == b == c


def test_tar_looks_like_dockers(tree: Path) -> None:
    members = {m.name: m for m in _tar_members(_diff(tree))}
    names = list(members)
    assert names.index("etc") < names.index("etc/passwd")
    assert all(not n.startswith(("./", "/")) for n in names)
    assert all(m.uname == "" and m.gname == "" for m in members.values())
    assert all(m.mtime == int(m.mtime) for m in members.values())
    # hardlinks: the first name in walk order ("deep" < "etc") carries the data
    assert members["deep/hard2"].isreg()
    assert members["etc/passwd"].islnk() and members["etc/passwd"].linkname == "deep/hard2"
    assert members["hard1"].islnk() and members["hard1"].linkname == "deep/hard2"
    assert members["etc/passwd"].pax_headers["SCHILY.xattr.user.note"]
    null = members["null"]
    assert null.ischr() and (null.devmajor, null.devminor) == (1, 3)
    assert members["loop"].isblk()
    assert members["fifo"].isfifo()
    assert members["abs-link"].linkname == "/etc/shadow"
    assert members["su"].mode & 0o7777 == 0o4755


def test_sockets_and_whiteout_named_files_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    (root / "ok").write_bytes(b"")
    (root / ".wh.looks-like-a-whiteout").write_bytes(b"")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(root / "sock"))
        names = [m.name for m in _tar_members(_diff(root))]
    finally:
        sock.close()
    assert names == ["ok"]


def test_symlinked_directories_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"host data")
    root = tmp_path / "t"
    root.mkdir()
    os.symlink(str(outside), root / "link")
    blob = _diff(root)
    assert b"host data" not in blob
    assert [(m.name, m.issym()) for m in _tar_members(blob)] == [("link", True)]


def test_security_capability_v3_is_stored_as_v2(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    f = root / "ping"
    f.write_bytes(b"")
    # VFS_CAP_REVISION_3 | effective, cap_net_raw permitted, rootid 0
    v3 = (0x03000001).to_bytes(4, "little") + (1 << 13).to_bytes(4, "little") + bytes(12) \
        + (0).to_bytes(4, "little")
    try:
        os.setxattr(f, "security.capability", v3)
    except OSError as e:
        pytest.skip(f"cannot set security.capability here: {e}")
    stored = os.getxattr(f, "security.capability")
    (m,) = _tar_members(_diff(root))
    value = m.pax_headers["SCHILY.xattr.security.capability"].encode("utf-8", "surrogateescape")
    assert len(value) == 20 and value[3] == 2
    assert value[4:8] == stored[4:8]
    _apply(_diff(root), tmp_path / "back")
    assert os.getxattr(tmp_path / "back/ping", "security.capability")[4:8] == stored[4:8]


# -- compare mode (vfs) ----------------------------------------------------------------

def _copy(src: Path, dst: Path) -> None:
    _apply(_diff(src), dst)


def _mutate(root: Path) -> None:
    """Changes a container might make."""
    (root / "etc/passwd").write_bytes(b"changed\n")  # content (and its hardlinks)
    os.unlink(root / "big")  # deletion
    shutil.rmtree(root / "deep/a")  # directory deletion
    os.chmod(root / "srv/owned", 0o600)  # mode only
    os.chown(root / "srv/sg", 1, 1)  # owner only
    os.chmod(root / "srv/sg", 0o2750)
    os.setxattr(root / "empty-file", "user.new", b"x")  # xattr only
    os.unlink(root / "rel-link")
    os.symlink("hard1", root / "rel-link")  # symlink target
    os.lchown(root / "rel-link", 7, 8)
    (root / "new-dir/sub").mkdir(parents=True)  # additions
    (root / "new-dir/sub/file").write_bytes(b"new")
    os.unlink(root / "null")
    (root / "null").mkdir()  # type change: device -> directory
    (root / "null/inside").write_bytes(b"i")
    shutil.rmtree(root / "empty")
    (root / "empty").write_bytes(b"dir -> file")  # type change: directory -> file


def test_compare_diff_applies_to_the_parent_copy(tree: Path, tmp_path: Path) -> None:
    child = tmp_path / "child"
    _copy(tree, child)
    _mutate(child)
    blob = _diff(child, parent=tree)
    target = tmp_path / "vfs"
    _copy(tree, target)
    _apply(blob, target, "oci")
    assert snapshot(target, dir_mtimes=False) == snapshot(child, dir_mtimes=False)
    names = [m.name for m in _tar_members(blob)]
    assert ".wh.big" in names and "deep/.wh.a" in names
    assert "etc" in names  # unchanged parent of a change is included (Docker)
    assert "srv/sg" in names and "srv/owned" in names and "empty-file" in names
    assert "l" * 120 not in names  # unchanged


def test_changes_compare_like_docker(tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    for p in ["a/b/c", "a/d", "e", "keep/x"]:
        (parent / p).parent.mkdir(parents=True, exist_ok=True)
        (parent / p).write_bytes(b"1")
    child = tmp_path / "child"
    _copy(parent, child)
    (child / "a/b/c").write_bytes(b"22")
    os.unlink(child / "e")
    (child / "f").write_bytes(b"")
    assert changes(str(child), parent=str(parent), mode="compare") == [
        Change("D", "/e"),
        Change("C", "/a"),
        Change("C", "/a/b"),
        Change("C", "/a/b/c"),
        Change("A", "/f"),
    ]
    assert changes(str(child), parent=str(child), mode="compare") == []


def test_compare_tolerates_whole_second_mtimes(tmp_path: Path) -> None:
    # A tree unpacked from a tar has whole-second mtimes; the original has nanoseconds.
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(b"x")
    _touch(src / "f", 1_600_000_000)
    copy = tmp_path / "copy"
    _copy(src, copy)
    assert os.lstat(copy / "f").st_mtime_ns == 1_600_000_000 * 10**9
    assert changes(str(copy), parent=str(src), mode="compare") == []
    _touch(copy / "f", 1_600_000_001)
    assert changes(str(copy), parent=str(src), mode="compare") == [Change("C", "/f")]


def test_no_parent_means_everything_added(tmp_path: Path) -> None:
    root = tmp_path / "t"
    (root / "d").mkdir(parents=True)
    (root / "d/f").write_bytes(b"")
    assert changes(str(root), parent=None, mode="compare") == [
        Change("A", "/d"), Change("A", "/d/f")
    ]


# -- overlay mode ------------------------------------------------------------------------

def test_overlay_upper_whiteouts_to_oci(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    _apply(
        TarBuilder()
        .dir("etc")
        .whiteout("etc/gone")
        .dir("opq")
        .opaque("opq")
        .file("opq/new", b"n")
        .bytes(),
        upper,
        "overlay",
    )
    blob = _diff(upper, mode="overlay")
    members = _tar_members(blob)
    assert [m.name for m in members] == [
        "etc", "etc/.wh.gone", "opq", "opq/.wh..wh..opq", "opq/new"
    ]
    assert all("SCHILY.xattr.trusted.overlay.opaque" not in m.pax_headers for m in members)
    # both formats both ways: back to an overlay upper gives the same upper
    again = tmp_path / "again"
    _apply(blob, again, "overlay")
    assert snapshot(again) == snapshot(upper)
    # and onto a full copy (vfs) it deletes
    vfs = tmp_path / "vfs"
    _apply(TarBuilder().file("etc/gone", b"g").file("etc/stay", b"s").file("opq/old", b"o")
           .bytes(), vfs)
    _apply(blob, vfs, "oci")
    assert sorted(str(p.relative_to(vfs)) for p in vfs.rglob("*")) == [
        "etc", "etc/stay", "opq", "opq/new"
    ]


def test_overlay_changes_with_lower_view(tmp_path: Path) -> None:
    lower = tmp_path / "lower"
    _apply(TarBuilder().file("etc/a", b"").file("etc/b", b"").file("opq/x", b"").bytes(), lower)
    upper = tmp_path / "upper"
    _apply(
        TarBuilder().dir("etc").whiteout("etc/a").file("etc/new", b"").dir("opq").opaque("opq")
        .file("opq/y", b"").bytes(),
        upper,
        "overlay",
    )
    assert changes(str(upper), parent=str(lower), mode="overlay") == [
        Change("C", "/etc"),
        Change("D", "/etc/a"),
        Change("A", "/etc/new"),
        Change("C", "/opq"),
        Change("D", "/opq/x"),
        Change("A", "/opq/y"),
    ]
    assert [c.kind for c in changes(str(upper), parent=None, mode="overlay")] == [
        "A", "D", "A", "A", "A"
    ]


def test_overlay_redirect_is_unsupported(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "moved").mkdir(parents=True)
    os.setxattr(upper / "moved", "trusted.overlay.redirect", b"/orig")
    with pytest.raises(Unsupported, match="redirect"):
        _diff(upper, mode="overlay")


def test_overlay_metacopy_is_unsupported(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    upper.mkdir()
    (upper / "f").write_bytes(b"")
    os.setxattr(upper / "f", "trusted.overlay.metacopy", b"")
    with pytest.raises(Unsupported, match="metacopy"):
        _diff(upper, mode="overlay")
    assert [m.name for m in _tar_members(_diff(upper, mode="compare"))] == ["f"]


# -- a real overlay mount ----------------------------------------------------------------

@pytest.fixture
def overlay(tmp_path: Path, tree: Path) -> Iterator[tuple[Path, Path, Path]]:
    lower = tmp_path / "lower"
    _copy(tree, lower)
    upper, work, merged = tmp_path / "upper", tmp_path / "work", tmp_path / "merged"
    for d in (upper, work, merged):
        d.mkdir()
    opts = (f"lowerdir={lower},upperdir={upper},workdir={work},"
            "index=off,metacopy=off,redirect_dir=off")
    r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(merged)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount overlay: {r.stderr.strip()}")
    try:
        yield lower, upper, merged
    finally:
        subprocess.run(["umount", "-l", str(merged)], check=False)


def test_real_overlay_upper_diff_matches_merged_view(
    overlay: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    lower, upper, merged = overlay
    _mutate(merged)
    # a directory deleted and made again: overlayfs marks it opaque
    shutil.rmtree(merged / "srv")
    (merged / "srv").mkdir()
    (merged / "srv/fresh").write_bytes(b"f")
    want = snapshot(merged, dir_mtimes=False)
    subprocess.run(["umount", str(merged)], check=True)

    blob = _diff(upper, mode="overlay")
    names = [m.name for m in _tar_members(blob)]
    assert ".wh.big" in names and "deep/.wh.a" in names and "srv/.wh..wh..opq" in names
    vfs = tmp_path / "vfs"
    _copy(lower, vfs)
    _apply(blob, vfs, "oci")
    assert snapshot(vfs, dir_mtimes=False) == want

    # The overlay-format apply of the same tar, mounted again, gives the same view.
    upper2, work2, merged2 = tmp_path / "upper2", tmp_path / "work2", tmp_path / "merged2"
    for d in (work2, merged2):
        d.mkdir()
    _apply(blob, upper2, "overlay")
    opts = f"lowerdir={lower},upperdir={upper2},workdir={work2},index=off"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(merged2)], check=True)
    try:
        assert snapshot(merged2, dir_mtimes=False) == want
    finally:
        subprocess.run(["umount", str(merged2)], check=True)

    # compare mode over the two full trees sees the same changes
    kinds = {c.path: c.kind for c in changes(str(vfs), parent=str(lower), mode="compare")}
    assert kinds["/big"] == "D" and kinds["/deep/a"] == "D" and kinds["/new-dir"] == "A"
