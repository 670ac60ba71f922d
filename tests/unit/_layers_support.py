"""Helpers for the layer tests: build tars with tarfile, snapshot trees for comparison."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest

needs_root = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown, mknod, xattrs)"),
]

MTIME = 1_600_000_000


class TarBuilder:
    """A layer tar built entry by entry with Python's tarfile."""

    def __init__(self, fmt: int = tarfile.PAX_FORMAT) -> None:
        self._buf = io.BytesIO()
        self._tf = tarfile.open(fileobj=self._buf, mode="w", format=fmt)  # noqa: SIM115

    def _info(self, name: str, typ: bytes, *, mode: int, uid: int = 0, gid: int = 0,
              mtime: int = MTIME, xattrs: dict[str, str] | None = None,
              pax: dict[str, str] | None = None) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type = typ
        ti.mode = mode
        ti.uid = uid
        ti.gid = gid
        ti.mtime = mtime
        headers: dict[str, str] = dict(pax or {})
        for k, v in (xattrs or {}).items():
            headers["SCHILY.xattr." + k] = v
        if headers:
            ti.pax_headers = headers
        return ti

    def file(self, name: str, data: bytes = b"", *, mode: int = 0o644, **kw: Any) -> TarBuilder:
        ti = self._info(name, tarfile.REGTYPE, mode=mode, **kw)
        ti.size = len(data)
        self._tf.addfile(ti, io.BytesIO(data))
        return self

    def dir(self, name: str, *, mode: int = 0o755, **kw: Any) -> TarBuilder:
        self._tf.addfile(self._info(name, tarfile.DIRTYPE, mode=mode, **kw))
        return self

    def symlink(self, name: str, target: str, **kw: Any) -> TarBuilder:
        ti = self._info(name, tarfile.SYMTYPE, mode=0o777, **kw)
        ti.linkname = target
        self._tf.addfile(ti)
        return self

    def hardlink(self, name: str, target: str, *, mode: int = 0o644, **kw: Any) -> TarBuilder:
        ti = self._info(name, tarfile.LNKTYPE, mode=mode, **kw)
        ti.linkname = target
        self._tf.addfile(ti)
        return self

    def device(self, name: str, major: int, minor: int, *, block: bool = False,
               mode: int = 0o600, **kw: Any) -> TarBuilder:
        ti = self._info(name, tarfile.BLKTYPE if block else tarfile.CHRTYPE, mode=mode, **kw)
        ti.devmajor = major
        ti.devminor = minor
        self._tf.addfile(ti)
        return self

    def fifo(self, name: str, *, mode: int = 0o644, **kw: Any) -> TarBuilder:
        self._tf.addfile(self._info(name, tarfile.FIFOTYPE, mode=mode, **kw))
        return self

    def whiteout(self, path: str) -> TarBuilder:
        head, _, base = path.rpartition("/")
        return self.file((head + "/" if head else "") + ".wh." + base, mode=0o600, mtime=0)

    def opaque(self, dirpath: str) -> TarBuilder:
        return self.file(dirpath.rstrip("/") + "/.wh..wh..opq", mode=0o600, mtime=0)

    def raw(self, ti: tarfile.TarInfo, data: bytes = b"") -> TarBuilder:
        self._tf.addfile(ti, io.BytesIO(data) if data else None)
        return self

    def bytes(self) -> bytes:
        self._tf.close()
        return self._buf.getvalue()


def snapshot(root: str | Path, *, dir_mtimes: bool = True, xattr_prefixes: tuple[str, ...] = (
        "user.", "trusted.overlay.opaque")) -> dict[str, tuple[Any, ...]]:
    """Everything a layer can carry about each path below ``root`` (not root itself)."""
    root = os.fspath(root)
    result: dict[str, tuple[Any, ...]] = {}
    inodes: dict[tuple[int, int], list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            fmt = stat.S_IFMT(st.st_mode)
            extra: Any = None
            if fmt == stat.S_IFREG:
                with open(full, "rb") as f:
                    extra = hashlib.sha256(f.read()).hexdigest()
            elif fmt == stat.S_IFLNK:
                extra = os.readlink(full)
            elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
                extra = (os.major(st.st_rdev), os.minor(st.st_rdev))
            xattrs: dict[str, bytes] = {}
            if fmt != stat.S_IFLNK:
                for key in os.listxattr(full, follow_symlinks=False):
                    if key.startswith(xattr_prefixes):
                        xattrs[key] = os.getxattr(full, key, follow_symlinks=False)
            mtime = st.st_mtime_ns // 1_000_000_000
            if fmt == stat.S_IFDIR and not dir_mtimes:
                mtime = None
            result[rel] = (fmt, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, mtime,
                           extra, tuple(sorted(xattrs.items())))
            if fmt != stat.S_IFDIR and st.st_nlink > 1:
                inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
    # Hardlink groups: every member names the group's first path.
    for names in inodes.values():
        first = min(names)
        for n in names:
            result[n] = (*result[n], ("link-group", first))
    return result


def outside_state(tmp: Path, target: Path) -> dict[str, tuple[Any, ...]]:
    """Snapshot of everything in ``tmp`` except ``target``'s own contents."""
    snap = snapshot(tmp)
    rel = os.path.relpath(target, tmp)
    return {k: v for k, v in snap.items() if k != rel and not k.startswith(rel + os.sep)}


def walk_names(root: str | Path) -> list[str]:
    return sorted(snapshot(root))
