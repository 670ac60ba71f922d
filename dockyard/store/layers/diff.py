"""Computing a layer: the changes of a directory tree, and their tar.

``mode="overlay"``: the directory is an overlay upper dir and holds exactly the
changes; a 0/0 character device is a deletion (written as ``.wh.<name>``) and a
directory with ``trusted.overlay.opaque=y`` hides everything below it in the lower
layers (written as the directory followed by ``<dir>/.wh..wh..opq``).
``mode="compare"``: the directory is a full tree and ``parent`` the full tree it
started from (or None for a base layer), compared as Docker's
``archive.ChangesDirs`` does: type and mode, owner, device numbers, and for
non-directories size and mtime (with Docker's tolerance for times truncated to
whole seconds), plus symlink targets and xattrs; a directory that holds changes
is included even when it did not change itself.

The tar is deterministic: each directory's entries in byte order of their names,
after the directory itself, its opaque marker and its whiteouts; whiteouts and
opaque markers carry fixed metadata (mode 0, owner 0:0, mtime 0), so a tree gives
the same bytes, and the same digest, whichever snapshot driver produced it.
Hardlinked files (same st_dev and st_ino) are written once and linked after.
Sockets, and names beginning ``.wh.`` (which a layer cannot represent), are
skipped. Mtimes are whole seconds, as Docker writes them.

The trees are read through directory descriptors, one component at a time and
never following a symlink (:class:`~dockyard.store.layers.saferoot.SafeRoot`): a
container that swaps a directory for a symlink while its layer is computed gets
an error, not a copy of the host's files.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from dockyard.errors import SystemFailure, Unsupported
from dockyard.store.layers.saferoot import Blocked, SafeRoot
from dockyard.store.layers.tarformat import (
    BLK,
    CHR,
    DIR,
    FIFO,
    LNK,
    REG,
    SYM,
    Entry,
    TarWriter,
    Writable,
)

DiffMode = Literal["overlay", "compare"]
ChangeKind = Literal["A", "C", "D"]

_WHITEOUT_PREFIX = b".wh."
_OPAQUE = b".wh..wh..opq"
_OVERLAY_PREFIXES = (b"trusted.overlay.", b"user.overlay.")  # overlayfs' own
_OPAQUE_XATTR = b"trusted.overlay.opaque"
_REDIRECT_XATTR = b"trusted.overlay.redirect"
_METACOPY_XATTR = b"trusted.overlay.metacopy"
_SKIPPED_XATTRS = (b"security.selinux",)  # host labels do not belong in an image
_CHUNK = 1 << 20

# Items of a walk: (kind, path relative to the root).  "A"/"C": an entry taken
# from the tree; "D": a deletion; "O": the opaque marker of directory ``path``.
_Item = tuple[str, bytes]


@dataclass(frozen=True)
class DiffStats:
    """``diff_id``: sha256 of the tar written; ``size``: its length in bytes."""

    diff_id: str
    size: int


@dataclass(frozen=True)
class Change:
    """One line of ``docker diff``: kind A (added), C (changed) or D (deleted)."""

    kind: ChangeKind
    path: str  # absolute inside the container, e.g. "/etc/passwd"


def write_diff(
    upper_or_dir: str,
    out: Writable,
    *,
    parent: str | None,
    mode: DiffMode,
) -> DiffStats:
    """Write the layer tar of ``upper_or_dir`` (see the module doc) to ``out``."""
    _check_mode(mode)
    with _Tree(upper_or_dir) as tree, _Tree.optional(parent) as lower:
        writer = TarWriter(out)
        seen: dict[tuple[int, int], bytes] = {}
        for kind, rel in _items(tree, lower if mode == "compare" else None, mode):
            if kind == "D":
                head, _, base = rel.rpartition(b"/")
                name = (head + b"/" if head else b"") + _WHITEOUT_PREFIX + base
                writer.add(Entry(name, REG, mode=0), b"")
            elif kind == "O":
                writer.add(Entry(rel + b"/" + _OPAQUE, REG, mode=0), b"")
            else:
                tree.guard(rel, _write_entry, writer, tree, rel, seen, mode == "overlay")
        writer.close()
        return DiffStats(writer.diff_id, writer.size)


def changes(upper_or_dir: str, *, parent: str | None, mode: DiffMode) -> list[Change]:
    """The changes ``docker diff`` lists, parents before children.

    In overlay mode ``parent`` is an optional merged view of the lower layers: with
    it, entries present below are "C" rather than "A", and an opaque directory
    lists what it hides as "D".
    """
    _check_mode(mode)
    with _Tree(upper_or_dir) as tree, _Tree.optional(parent) as lower:
        result: list[Change] = []
        if mode == "compare":
            for kind, rel in _items(tree, lower, mode):
                result.append(Change(kind, _display(rel)))  # type: ignore[arg-type]
            return result
        for kind, rel in _items(tree, None, mode):
            if kind == "O":
                if lower is not None:
                    present = set(tree.scan(rel))
                    for name in sorted(lower.scan(rel, missing_ok=True)):
                        if name not in present:
                            result.append(Change("D", _display(_join(rel, name))))
                continue
            if kind != "D" and lower is not None:
                kind = "C" if lower.exists(rel) else "A"
            result.append(Change(kind, _display(rel)))  # type: ignore[arg-type]
        return result


def _check_mode(mode: str) -> None:
    if mode not in ("overlay", "compare"):
        raise ValueError(f"unknown diff mode {mode!r}")


def _display(rel: bytes) -> str:
    return "/" + os.fsdecode(rel)


def _join(rel: bytes, name: bytes) -> bytes:
    return rel + b"/" + name if rel else name


def _never(fd: int, name: bytes, phys: bytes) -> None:
    raise AssertionError("diff never creates directories")


class _Tree:
    """Read-only access to a tree through descriptors (no symlink followed)."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._root = SafeRoot(path, layer_symlinks=set(), on_mkdir=_never)
        except OSError as err:
            raise SystemFailure(f"cannot open {path}: {err.strerror}") from None

    @staticmethod
    def optional(path: str | None) -> _Tree | _NoTree:
        return _Tree(path) if path is not None else _NoTree()

    def __enter__(self) -> _Tree:
        return self

    def __exit__(self, *exc: object) -> None:
        self._root.close()

    def guard(self, rel: bytes, fn: Callable[..., None], *args: object) -> None:
        """Run ``fn(*args)`` turning filesystem failures into clear errors."""
        try:
            fn(*args)
        except Blocked as b:
            raise SystemFailure(
                f"{self.path}: /{os.fsdecode(b.path)} became a symlink while the diff was read"
            ) from None
        except OSError as err:
            raise SystemFailure(
                f"cannot read {self.path}/{os.fsdecode(rel)}: {err.strerror}"
            ) from None

    def _dir(self, rel: bytes) -> int:
        self._root.release()
        return self._root.dir(rel, create=False, follow=False)[0]

    def at(self, rel: bytes) -> tuple[int, bytes]:
        """(descriptor of the parent directory, base name) of ``rel``."""
        head, _, base = rel.rpartition(b"/")
        return self._dir(head), base

    def scan(self, rel: bytes, *, missing_ok: bool = False) -> dict[bytes, os.stat_result]:
        """name -> lstat of the entries of directory ``rel``."""
        try:
            fd = self._dir(rel)
        except Blocked as b:
            raise SystemFailure(
                f"{self.path}: /{os.fsdecode(b.path)} became a symlink while the diff was read"
            ) from None
        except (FileNotFoundError, NotADirectoryError):
            if missing_ok:
                return {}
            raise
        result: dict[bytes, os.stat_result] = {}
        with os.scandir(fd) as it:
            for de in it:
                try:
                    result[os.fsencode(de.name)] = de.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
        return result

    def exists(self, rel: bytes) -> bool:
        try:
            fd, base = self.at(rel)
            os.stat(base, dir_fd=fd, follow_symlinks=False)
        except (OSError, Blocked):
            return False
        return True

    def readlink(self, rel: bytes) -> bytes:
        fd, base = self.at(rel)
        return os.readlink(base, dir_fd=fd)

    def _xpath(self, rel: bytes) -> bytes:
        if not rel:
            return b"/proc/self/fd/%d" % self._dir(b"")
        fd, base = self.at(rel)
        return b"/proc/self/fd/%d/%s" % (fd, base)

    def getxattr(self, rel: bytes, key: bytes) -> bytes | None:
        try:
            return os.getxattr(self._xpath(rel), key, follow_symlinks=False)
        except OSError as e:
            if e.errno in (errno.ENODATA, errno.ENOTSUP, errno.ENOENT):
                return None
            raise

    def xattrs(self, rel: bytes) -> dict[bytes, bytes] | None:
        return xattrs_of(self._xpath(rel))


def xattrs_of(path: bytes, *, overlay_check: bool = False) -> dict[bytes, bytes] | None:
    """The xattrs a layer records for ``path`` (not overlayfs' own, not SELinux labels).

    With ``overlay_check``, an overlayfs metacopy or redirect marker raises Unsupported.
    """
    try:
        keys = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.ENOENT):
            return None
        raise
    if not keys:
        return None
    result: dict[bytes, bytes] = {}
    for key in sorted(keys):
        k = os.fsencode(key)
        if k.startswith(_OVERLAY_PREFIXES):
            if overlay_check and k in (_METACOPY_XATTR, _REDIRECT_XATTR):
                raise Unsupported(f"overlay upper directory uses {key}: diff it in compare mode")
            continue
        if k in _SKIPPED_XATTRS:
            continue
        try:
            value = os.getxattr(path, k, follow_symlinks=False)
        except OSError as e:
            if e.errno == errno.ENODATA:
                continue
            raise
        if k == b"security.capability" and len(value) > 20 and value[3] == 3:
            # VFS_CAP_REVISION_3 carries a namespace root uid that means nothing
            # outside this host: store revision 2, as Docker does.
            value = value[:3] + b"\x02" + value[4:20]
        result[k] = value
    return result or None


class _NoTree:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        pass


def _items(tree: _Tree, parent: _Tree | None, mode: DiffMode) -> Iterator[_Item]:
    if mode == "overlay":
        return _overlay_items(tree)
    return iter(_compare_items(tree, parent))


def _skipped(name: bytes, st: os.stat_result) -> bool:
    return name.startswith(_WHITEOUT_PREFIX) or stat.S_ISSOCK(st.st_mode)


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _check_overlay_feature(tree: _Tree, rel: bytes, key: bytes) -> None:
    # Renamed directories (redirect_dir) and metadata-only copy-ups (metacopy) keep
    # their data in the lower layers: the upper alone does not describe the change.
    if tree.getxattr(rel, key) is not None:
        raise Unsupported(
            f"overlay upper directory uses {key.decode()} on /{os.fsdecode(rel)}: "
            "diff it in compare mode"
        )


# Walks are depth first with an explicit stack of per-directory generators (trees
# may be deeper than Python's recursion limit). A directory generator yields items,
# and ("recurse", path) where the subtree of ``path`` goes.


def _overlay_items(tree: _Tree) -> Iterator[_Item]:
    frames: list[Iterator[_Item]] = [_overlay_dir(tree, b"")]
    while frames:
        item = next(frames[-1], None)
        if item is None:
            frames.pop()
        elif item[0] == "recurse":
            frames.append(_overlay_dir(tree, item[1]))
        else:
            yield item


def _overlay_dir(tree: _Tree, rel: bytes) -> Iterator[_Item]:
    entries = tree.scan(rel)
    names = sorted(entries)
    for name in names:
        if _is_whiteout(entries[name]):
            yield "D", _join(rel, name)
    for name in names:
        st = entries[name]
        if _is_whiteout(st) or _skipped(name, st):
            continue
        path = _join(rel, name)
        is_dir = stat.S_ISDIR(st.st_mode)
        if is_dir:
            _check_overlay_feature(tree, path, _REDIRECT_XATTR)
        yield "A", path
        if is_dir:
            if tree.getxattr(path, _OPAQUE_XATTR) == b"y":
                yield "O", path
            yield "recurse", path


def _same_time(a: int, b: int) -> bool:
    # Docker's sameFsTime: a time read back from a tar has no sub-second part.
    if a == b:
        return True
    return a // 1_000_000_000 == b // 1_000_000_000 and (
        a % 1_000_000_000 == 0 or b % 1_000_000_000 == 0
    )


def _different(
    tree: _Tree, parent: _Tree, rel: bytes, nst: os.stat_result, ost: os.stat_result
) -> bool:
    if (
        nst.st_mode != ost.st_mode
        or nst.st_uid != ost.st_uid
        or nst.st_gid != ost.st_gid
        or nst.st_rdev != ost.st_rdev
    ):
        return True
    # Docker ignores the size and mtime of directories (moby#9874).
    if not stat.S_ISDIR(nst.st_mode) and (
        nst.st_size != ost.st_size or not _same_time(nst.st_mtime_ns, ost.st_mtime_ns)
    ):
        return True
    if stat.S_ISLNK(nst.st_mode) and tree.readlink(rel) != parent.readlink(rel):
        return True
    return tree.xattrs(rel) != parent.xattrs(rel)


def _compare_items(tree: _Tree, parent: _Tree | None) -> list[_Item]:
    """Docker's ChangesDirs. An unchanged directory gets a slot that is filled with
    "C" if anything below it changed (so its metadata travels with the changes)."""
    out: list[_Item | None] = []
    real = 0  # items appended so far, slots not counted
    # (generator, slot index or -1, path, real count when the directory was entered)
    frames: list[tuple[Iterator[tuple[str, bytes, bool]], int, bytes, int]] = [
        (_compare_dir(tree, parent, b"", parent is not None), -1, b"", 0)
    ]
    while frames:
        it, slot, path, real_at_entry = frames[-1]
        step = next(it, None)
        if step is None:
            frames.pop()
            if slot >= 0 and real > real_at_entry:
                out[slot] = ("C", path)
                real += 1
            continue
        kind, child, old_is_dir = step
        if kind.startswith("dir"):
            sub = _compare_dir(tree, parent, child, old_is_dir)
            if kind == "dir":
                out.append(None)
                frames.append((sub, len(out) - 1, child, real))
            else:
                out.append((kind[3], child))
                real += 1
                frames.append((sub, -1, child, real))
        else:
            out.append((kind, child))
            real += 1
    return [item for item in out if item is not None]


def _compare_dir(
    tree: _Tree, parent: _Tree | None, rel: bytes, has_old: bool
) -> Iterator[tuple[str, bytes, bool]]:
    new_entries = tree.scan(rel)
    old_entries: dict[bytes, os.stat_result] = {}
    if has_old and parent is not None:
        old_entries = parent.scan(rel, missing_ok=True)
    for name in sorted(old_entries.keys() - new_entries.keys()):
        yield "D", _join(rel, name), False
    for name in sorted(new_entries):
        st = new_entries[name]
        if _skipped(name, st):
            continue
        path = _join(rel, name)
        old = old_entries.get(name)
        if old is None:
            kind = "A"
        elif parent is not None and _different(tree, parent, path, st, old):
            kind = "C"
        else:
            kind = ""
        if stat.S_ISDIR(st.st_mode):
            old_is_dir = old is not None and stat.S_ISDIR(old.st_mode)
            yield ("dir" + kind), path, old_is_dir
        elif kind:
            yield kind, path, False


def _write_entry(
    writer: TarWriter,
    tree: _Tree,
    rel: bytes,
    seen: dict[tuple[int, int], bytes],
    overlay: bool,
) -> None:
    fd, base = tree.at(rel)
    try:
        st = os.stat(base, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return  # vanished since the walk
    fmt = stat.S_IFMT(st.st_mode)
    xattrs = xattrs_of(b"/proc/self/fd/%d/%s" % (fd, base), overlay_check=overlay)
    e = Entry(
        rel,
        REG,
        mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
        mtime_ns=st.st_mtime_ns,
        xattrs=xattrs,
    )
    if fmt == stat.S_IFDIR:
        e.type = DIR
        e.name = rel + b"/"
        writer.add(e)
        return
    if st.st_nlink > 1:
        key = (st.st_dev, st.st_ino)
        first = seen.get(key)
        if first is not None:
            e.type = LNK
            e.linkname = first
            writer.add(e)
            return
        seen[key] = rel
    if fmt == stat.S_IFREG:
        e.size = st.st_size
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        _write_file(writer, tree.path, rel, os.open(base, flags, dir_fd=fd), e)
    elif fmt == stat.S_IFLNK:
        e.type = SYM
        e.linkname = os.readlink(base, dir_fd=fd)
        writer.add(e)
    elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
        e.type = CHR if fmt == stat.S_IFCHR else BLK
        e.devmajor = os.major(st.st_rdev)
        e.devminor = os.minor(st.st_rdev)
        writer.add(e)
    elif fmt == stat.S_IFIFO:
        e.type = FIFO
        writer.add(e)


def _write_file(writer: TarWriter, where: str, rel: bytes, fd: int, e: Entry) -> None:
    """A regular file's header and exactly ``e.size`` bytes (zero-padded if it shrank);
    closes ``fd``."""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SystemFailure(f"{where}/{os.fsdecode(rel)} changed while the diff was read")
        size = e.size
        if size <= _CHUNK:
            data = os.read(fd, size) if size else b""
            while len(data) < size:
                more = os.read(fd, size - len(data))
                if not more:
                    data += bytes(size - len(data))
                    break
                data += more
            writer.add(e, data)
            return
        writer.add(e)
        left = size
        while left:
            chunk = os.read(fd, min(_CHUNK, left))
            if not chunk:
                chunk = bytes(min(_CHUNK, left))
            writer.write_data(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
