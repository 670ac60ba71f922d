"""Applying a layer tar to a directory, as Docker's ``UnpackLayer`` does, safely.

``whiteouts="oci"``: the target is a full copy of the parent (vfs); ``.wh.<name>``
entries delete ``<name>``, ``.wh..wh..opq`` deletes what the directory held that
this layer did not write (wherever the marker appears among the entries).
``whiteouts="overlay"``: the target is an empty overlay upper directory; a
whiteout becomes a 0/0 character device, an opaque marker the
``trusted.overlay.opaque=y`` xattr, and a directory that replaces a whiteout made
by the same layer becomes opaque (so both formats give the same merged view).

Safety: names are cleaned (a leading ``/`` is dropped, as Docker does; ``..``
that climbs out of the root is refused), every directory is reached through
:class:`~dockyard.store.layers.saferoot.SafeRoot` (no symlink followed by the
kernel, none created by this layer passed through, lower-layer ones resolved
inside the root), files are created with ``O_EXCL | O_NOFOLLOW`` after removing
what was there, and hardlink targets are found the same way. Nothing outside the
target is ever opened for writing.

The uncompressed stream is hashed as it is read (the DiffID), to its very end.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from dockyard.errors import Corrupt, DockyardError, InvalidArgument, SystemFailure, Unsupported
from dockyard.store.layers.compression import (
    Compression,
    DecompressedStream,
    Readable,
    detect_compression,
    peek,
)
from dockyard.store.layers.saferoot import Blocked, SafeRoot, remove_tree
from dockyard.store.layers.tarformat import (
    BLK,
    CHR,
    DIR,
    FIFO,
    LNK,
    REG,
    SYM,
    Entry,
    TarReader,
)

Whiteouts = Literal["oci", "overlay"]
IdMap = Callable[[int, int], tuple[int, int]]

WHITEOUT_PREFIX = b".wh."
WHITEOUT_META_PREFIX = b".wh..wh."
WHITEOUT_OPAQUE = b".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = b"trusted.overlay.opaque"
_OVERLAY_XATTR_PREFIXES = (b"trusted.overlay.", b"user.overlay.")  # overlayfs' own
_KEPT_XATTR_PREFIXES = (*_OVERLAY_XATTR_PREFIXES, b"security.selinux", b"system.")
_MAX_NAME = 4096  # PATH_MAX: Docker, unpacking by full path, cannot go further either

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_IGNORED_XATTR_ERRNOS = (errno.ENOTSUP, errno.EPERM)  # as Docker: not every fs has xattrs


@dataclass(frozen=True)
class ApplyStats:
    """What applying a layer found.

    ``diff_id``: sha256 of the uncompressed tar stream (all of it, trailing bytes
    included). ``tar_size``: its length. ``content_size``: bytes of the files the
    layer left in place — regular files and symlinks, each inode once — which is
    what Docker's overlay2 driver reports as the layer's size.
    """

    diff_id: str
    tar_size: int
    content_size: int
    compression: Compression
    entries: int
    xattr_errors: tuple[str, ...] = ()


def apply_layer(
    stream: Readable,
    target: str,
    *,
    whiteouts: Whiteouts,
    id_map: IdMap | None = None,
) -> ApplyStats:
    """Apply the (possibly compressed) layer tar read from ``stream`` to ``target``.

    ``id_map`` maps each entry's (uid, gid) to the owner to give it on disk (user
    namespace remapping); directories the layer implies get ``id_map(0, 0)``.
    Raises InvalidArgument for an archive that tries to write outside ``target``,
    Corrupt for a malformed or truncated one, Unsupported for entry types a layer
    cannot hold, SystemFailure when the filesystem refuses an operation.
    """
    if whiteouts not in ("oci", "overlay"):
        raise InvalidArgument(f"unknown whiteout format {whiteouts!r}")
    head, stream = peek(stream)
    compression = detect_compression(head)
    source: Readable = stream if compression == "none" else DecompressedStream(stream, compression)
    reader = TarReader(source)
    try:
        applier = _Applier(target, whiteouts == "overlay", id_map)
    except OSError as err:
        raise SystemFailure(f"cannot open layer directory {target}: {err.strerror}") from None
    try:
        while (entry := reader.next()) is not None:
            applier.apply(entry, reader)
        applier.finish()
    finally:
        applier.close()
    reader.drain()
    return ApplyStats(
        diff_id=reader.diff_id,
        tar_size=reader.bytes_read,
        content_size=applier.content_size(),
        compression=compression,
        entries=applier.entries,
        xattr_errors=tuple(applier.xattr_errors),
    )


def _q(name: bytes) -> str:
    """A name for an error message, quoted like Go's %q."""
    text = name.decode("utf-8", "backslashreplace").replace('"', '\\"')
    return f'"{text}"'


def clean_name(name: bytes) -> list[bytes]:
    """The components of a tar name relative to the root: leading ``/`` dropped, ``.``
    and empty components skipped, ``..`` applied; climbing above the root raises."""
    if b"\0" in name:
        shown = _q(name.replace(b"\0", b"?"))
        raise Corrupt(f"invalid tar header: path {shown} contains a NUL byte")
    if len(name) > _MAX_NAME:
        raise InvalidArgument(f"invalid tar header: path {_q(name[:64])}... is too long")
    parts: list[bytes] = []
    for c in name.split(b"/"):
        if not c or c == b".":
            continue
        if c == b"..":
            if not parts:
                raise InvalidArgument(f"invalid tar header: path {_q(name)} escapes the layer root")
            parts.pop()
        else:
            parts.append(c)
    return parts


class _Applier:
    def __init__(self, target: str, overlay: bool, id_map: IdMap | None) -> None:
        self.overlay = overlay
        self.id_map = id_map
        self.root_ids = id_map(0, 0) if id_map else (0, 0)
        self.unpacked: set[bytes] = {b""}  # physical paths written, and their ancestors
        self.symlinks: set[bytes] = set()  # symlinks this layer made (never traversed)
        self.overlay_whiteouts: set[bytes] = set()
        self.dirs: list[tuple[bytes, int, int]] = []  # deferred (path, atime, mtime)
        # Files and symlinks written, for content_size: parent -> {name: (file id, size)},
        # and directory -> its subdirectories holding some, so that removing a tree
        # forgets what it held in time proportional to the tree.
        self._files: dict[bytes, dict[bytes, tuple[int, int]]] = {}
        self._subdirs: dict[bytes, set[bytes]] = {}
        self._next_id = 0
        self.xattr_errors: list[str] = []
        self.entries = 0
        self.root = SafeRoot(target, layer_symlinks=self.symlinks, on_mkdir=self._implied_dir)

    def close(self) -> None:
        self.root.close()

    # -- bookkeeping ----------------------------------------------------------
    def _implied_dir(self, parent_fd: int, name: bytes, phys: bytes) -> None:
        uid, gid = self.root_ids
        os.chown(name, uid, gid, dir_fd=parent_fd, follow_symlinks=False)
        os.chmod(name, 0o755, dir_fd=parent_fd)
        self.unpacked.add(phys)

    def _mark(self, phys: bytes) -> None:
        unpacked = self.unpacked
        while phys not in unpacked:
            unpacked.add(phys)
            phys = phys.rpartition(b"/")[0]

    def _record(self, phys: bytes, size: int, same_as: bytes | None = None) -> None:
        """Note a file (or symlink) written at ``phys``; a hardlink shares ``same_as``'s id."""
        if same_as is not None:
            known = self._lookup(same_as)
            if known is None:
                return  # a link to a lower layer's file: not this layer's content
            value = known
        else:
            self._next_id += 1
            value = (self._next_id, size)
        parent, _, base = phys.rpartition(b"/")
        names = self._files.get(parent)
        if names is None:
            names = self._files[parent] = {}
            child = parent
            while child:
                up = child.rpartition(b"/")[0]
                subdirs = self._subdirs.setdefault(up, set())
                if child in subdirs:
                    break
                subdirs.add(child)
                child = up
        names[base] = value

    def _lookup(self, phys: bytes) -> tuple[int, int] | None:
        parent, _, base = phys.rpartition(b"/")
        names = self._files.get(parent)
        return names.get(base) if names else None

    def _forget(self, phys: bytes, was_dir: bool) -> None:
        self.overlay_whiteouts.discard(phys)
        parent, _, base = phys.rpartition(b"/")
        names = self._files.get(parent)
        if names:
            names.pop(base, None)
        if was_dir:
            subdirs = self._subdirs.get(parent)
            if subdirs:
                subdirs.discard(phys)
            stack = [phys]
            while stack:
                d = stack.pop()
                self._files.pop(d, None)
                stack.extend(self._subdirs.pop(d, ()))

    def content_size(self) -> int:
        sizes: dict[int, int] = {}
        for names in self._files.values():
            sizes.update(names.values())
        return sum(sizes.values())

    def _ids(self, e: Entry) -> tuple[int, int]:
        return self.id_map(e.uid, e.gid) if self.id_map else (e.uid, e.gid)

    # -- entries ----------------------------------------------------------------
    def apply(self, e: Entry, reader: TarReader) -> None:
        self.root.release()
        self.entries += 1
        name = e.name
        try:
            comps = clean_name(name)
            if not comps:
                self._root_entry(e)
                return
            base = comps[-1]
            if comps[0].startswith(WHITEOUT_META_PREFIX) and not (
                len(comps) == 1 and base == WHITEOUT_OPAQUE
            ):
                return  # AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): skipped, as Docker does
            parent = b"/".join(comps[:-1])
            if base.startswith(WHITEOUT_PREFIX):
                self._whiteout(e, parent, base)
                return
            typ = e.type
            if typ not in _HANDLERS:
                raise Unsupported(f"unhandled tar header type {typ[0]} for {_q(name)}")
            pfd, pphys = self._parent(parent, name)
            phys = pphys + b"/" + base if pphys else base
            _HANDLERS[typ](self, e, reader, pfd, base, phys)
            self._mark(phys)
        except DockyardError:
            raise
        except Blocked as b:
            raise self._blocked(name, b) from None
        except OSError as err:
            raise _os_error(name, err) from None
        except (OverflowError, ValueError) as err:  # ids, times or devices out of range
            raise Corrupt(f"invalid tar header for {_q(name)}: {err}") from None

    def _blocked(self, name: bytes, b: Blocked) -> InvalidArgument:
        if b.reason == "loop":
            return InvalidArgument(
                f"invalid tar header: path {_q(name)}: too many levels of symbolic links"
            )
        return InvalidArgument(
            f"invalid tar header: path {_q(name)} passes through symlink {_q(b.path)}"
            " created by this layer"
        )

    def _parent(self, parent: bytes, name: bytes) -> tuple[int, bytes]:
        try:
            return self.root.dir(parent, create=True)
        except NotADirectoryError as err:
            where = err.filename if isinstance(err.filename, bytes) else parent
            raise InvalidArgument(
                f"cannot apply {_q(name)}: {_q(where)} is not a directory"
            ) from None

    def _exists(self, pfd: int, base: bytes) -> os.stat_result | None:
        try:
            return os.stat(base, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def _remove(self, pfd: int, base: bytes, phys: bytes, st: os.stat_result | None = None) -> None:
        """Remove whatever is at ``base`` (a whole tree for a directory)."""
        if st is None:
            st = self._exists(pfd, base)
            if st is None:
                return
        is_dir = stat.S_ISDIR(st.st_mode)
        if is_dir:
            self.root.invalidate()
            remove_tree(pfd, base)
        else:
            os.unlink(base, dir_fd=pfd)
            if stat.S_ISLNK(st.st_mode):
                self.root.invalidate()
        self._forget(phys, is_dir)

    def _xattrs(self, target: int | bytes, e: Entry) -> None:
        assert e.xattrs is not None
        for key, value in e.xattrs.items():
            if key.startswith(_OVERLAY_XATTR_PREFIXES):
                continue  # never let a layer steer overlayfs (opaque, redirect, metacopy)
            try:
                if isinstance(target, int):
                    os.setxattr(target, key, value)
                else:
                    os.setxattr(target, key, value, follow_symlinks=False)
            except OSError as err:
                if err.errno in _IGNORED_XATTR_ERRNOS:
                    self.xattr_errors.append(
                        f"{e.name.decode('utf-8', 'backslashreplace')}: "
                        f"{key.decode('utf-8', 'backslashreplace')}: {err.strerror}"
                    )
                    continue
                raise

    def _meta(self, pfd: int, base: bytes, e: Entry, *, chmod: bool = True) -> None:
        """Owner, xattrs and mode (in Docker's order: chown clears setuid bits and
        file capabilities, so it goes first) of a non-regular entry."""
        uid, gid = self._ids(e)
        os.chown(base, uid, gid, dir_fd=pfd, follow_symlinks=False)
        if e.xattrs:
            self._xattrs(b"/proc/self/fd/%d/%s" % (pfd, base), e)
        if chmod:
            os.chmod(base, e.mode, dir_fd=pfd)

    def _drop_stale_xattrs(self, pfd: int, base: bytes, e: Entry) -> None:
        """OCI: a directory over a directory takes the entry's attributes, so xattrs the
        entry does not list go (Docker leaves them; host labels and overlay's own stay)."""
        path = b"/proc/self/fd/%d/%s" % (pfd, base)
        for key in os.listxattr(path, follow_symlinks=False):
            k = os.fsencode(key)
            if k.startswith(_KEPT_XATTR_PREFIXES) or (e.xattrs and k in e.xattrs):
                continue
            try:
                os.removexattr(path, k, follow_symlinks=False)
            except OSError as err:
                if err.errno not in (*_IGNORED_XATTR_ERRNOS, errno.ENODATA):
                    raise

    @staticmethod
    def _times(e: Entry) -> tuple[int, int]:
        mtime = e.mtime_ns
        atime = mtime if e.atime_ns is None or e.atime_ns < mtime else e.atime_ns
        return atime, mtime

    def _root_entry(self, e: Entry) -> None:
        if e.type != DIR:
            raise InvalidArgument(f"invalid tar header: {_q(e.name)} would replace the layer root")
        uid, gid = self._ids(e)
        fd = self.root.fd
        os.chown(fd, uid, gid)
        if e.xattrs:
            self._xattrs(fd, e)
        os.chmod(fd, e.mode)
        atime, mtime = self._times(e)
        self.dirs.append((b"", atime, mtime))

    def _file(self, e: Entry, reader: TarReader, pfd: int, base: bytes, phys: bytes) -> None:
        try:
            fd = os.open(base, _FILE_FLAGS, 0o600, dir_fd=pfd)
        except FileExistsError:
            self._remove(pfd, base, phys)
            fd = os.open(base, _FILE_FLAGS, 0o600, dir_fd=pfd)
        try:
            if e.size:
                write = os.write
                for chunk in reader.chunks():
                    while chunk:
                        n = write(fd, chunk)
                        chunk = chunk[n:]
            uid, gid = self._ids(e)
            os.fchown(fd, uid, gid)
            if e.xattrs:
                self._xattrs(fd, e)
            os.fchmod(fd, e.mode)
            os.utime(fd, ns=self._times(e))
        finally:
            os.close(fd)
        self._record(phys, e.size)

    def _dir(self, e: Entry, reader: TarReader, pfd: int, base: bytes, phys: bytes) -> None:
        # In an overlay upper, a directory that replaces this layer's own whiteout
        # must hide the lower directory's contents: it becomes opaque.
        replaces_whiteout = self.overlay and phys in self.overlay_whiteouts
        try:
            os.mkdir(base, 0o700, dir_fd=pfd)
        except FileExistsError:
            st = self._exists(pfd, base)
            if st is None or not stat.S_ISDIR(st.st_mode):
                self._remove(pfd, base, phys, st)
                os.mkdir(base, 0o700, dir_fd=pfd)
            else:
                self._drop_stale_xattrs(pfd, base, e)
        self._meta(pfd, base, e)
        if replaces_whiteout:
            os.setxattr(
                b"/proc/self/fd/%d/%s" % (pfd, base),
                OVERLAY_OPAQUE_XATTR,
                b"y",
                follow_symlinks=False,
            )
        self.dirs.append((phys, *self._times(e)))

    def _symlink(self, e: Entry, reader: TarReader, pfd: int, base: bytes, phys: bytes) -> None:
        if not e.linkname:
            raise Corrupt(f"invalid tar header: symlink {_q(e.name)} has an empty target")
        self.symlinks.add(phys)
        try:
            os.symlink(e.linkname, base, dir_fd=pfd)
        except FileExistsError:
            self._remove(pfd, base, phys)
            os.symlink(e.linkname, base, dir_fd=pfd)
        self._meta(pfd, base, e, chmod=False)
        os.utime(base, ns=self._times(e), dir_fd=pfd, follow_symlinks=False)
        self._record(phys, len(e.linkname))

    def _node(self, e: Entry, reader: TarReader, pfd: int, base: bytes, phys: bytes) -> None:
        if e.type == FIFO:

            def make() -> None:
                os.mkfifo(base, 0o600, dir_fd=pfd)
        else:
            kind = stat.S_IFCHR if e.type == CHR else stat.S_IFBLK
            device = os.makedev(e.devmajor, e.devminor)

            def make() -> None:
                os.mknod(base, kind | 0o600, device, dir_fd=pfd)

        try:
            make()
        except FileExistsError:
            self._remove(pfd, base, phys)
            make()
        self._meta(pfd, base, e)
        os.utime(base, ns=self._times(e), dir_fd=pfd, follow_symlinks=False)

    def _hardlink(self, e: Entry, reader: TarReader, pfd: int, base: bytes, phys: bytes) -> None:
        name, linkname = e.name, e.linkname
        try:
            lcomps = clean_name(linkname)
        except InvalidArgument:
            raise InvalidArgument(
                f"invalid hardlink {_q(name)} -> {_q(linkname)}: target escapes the layer root"
            ) from None
        if not lcomps:
            raise InvalidArgument(
                f"invalid hardlink {_q(name)} -> {_q(linkname)}: target is the root"
            )
        try:
            lfd, lparent = self.root.dir(b"/".join(lcomps[:-1]), create=False)
            lbase = lcomps[-1]
            lst = os.stat(lbase, dir_fd=lfd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            raise Corrupt(
                f"invalid hardlink {_q(name)} -> {_q(linkname)}: target does not exist"
            ) from None
        except Blocked as b:
            raise InvalidArgument(
                f"invalid hardlink {_q(name)} -> {_q(linkname)}: "
                f"passes through symlink {_q(b.path)} created by this layer"
            ) from None
        lphys = lparent + b"/" + lbase if lparent else lbase
        if stat.S_ISDIR(lst.st_mode):
            raise InvalidArgument(
                f"invalid hardlink {_q(name)} -> {_q(linkname)}: target is a directory"
            )
        if lphys == phys:
            raise Corrupt(f"invalid hardlink {_q(name)} -> {_q(linkname)}: links to itself")
        is_link = stat.S_ISLNK(lst.st_mode)
        if is_link:
            self.symlinks.add(phys)
        st = self._exists(pfd, base)
        if st is not None:
            self._remove(pfd, base, phys, st)
        os.link(lbase, base, src_dir_fd=lfd, dst_dir_fd=pfd, follow_symlinks=False)
        self._meta(pfd, base, e, chmod=not is_link)
        self._record(phys, 0, same_as=lphys)

    def _whiteout(self, e: Entry, parent: bytes, base: bytes) -> None:
        pfd, pphys = self._parent(parent, e.name)
        self._mark(pphys)
        if base == WHITEOUT_OPAQUE:
            if self.overlay:
                os.setxattr(pfd, OVERLAY_OPAQUE_XATTR, b"y")
            else:
                self._clear_opaque(pfd, pphys)
            return
        orig = base[len(WHITEOUT_PREFIX) :]
        if orig in (b"", b".", b".."):
            raise InvalidArgument(f"invalid tar header: invalid whiteout {_q(e.name)}")
        ophys = pphys + b"/" + orig if pphys else orig
        self._remove(pfd, orig, ophys)
        if self.overlay:
            os.mknod(orig, stat.S_IFCHR, os.makedev(0, 0), dir_fd=pfd)
            uid, gid = self._ids(e)
            os.chown(orig, uid, gid, dir_fd=pfd, follow_symlinks=False)
            self.overlay_whiteouts.add(ophys)

    def _clear_opaque(self, dfd: int, dphys: bytes) -> None:
        """Delete what ``dfd`` holds that this layer did not write (OCI opaque whiteout),
        descending into the directories this layer did write (depth first: one open
        descriptor per level)."""
        stack: list[tuple[int, bytes, Iterator[str]]] = [(dfd, dphys, iter(os.listdir(dfd)))]
        try:
            while stack:
                fd, phys, names = stack[-1]
                raw = next(names, None)
                if raw is None:
                    stack.pop()
                    if fd != dfd:
                        os.close(fd)
                    continue
                child = os.fsencode(raw)
                cphys = phys + b"/" + child if phys else child
                if cphys not in self.unpacked:
                    self._remove(fd, child, cphys)
                    continue
                st = self._exists(fd, child)
                if st is not None and stat.S_ISDIR(st.st_mode):
                    cfd = os.open(child, _DIR_FLAGS, dir_fd=fd)
                    try:
                        listing = os.listdir(cfd)
                    except BaseException:
                        os.close(cfd)
                        raise
                    stack.append((cfd, cphys, iter(listing)))
        finally:
            for fd, _, _ in stack:
                if fd != dfd:
                    os.close(fd)

    def finish(self) -> None:
        """Directory times, last: creating entries in a directory changes its mtime."""
        self.root.release()
        for phys, atime, mtime in self.dirs:
            try:
                if not phys:
                    os.utime(self.root.fd, ns=(atime, mtime))
                    continue
                parent, _, base = phys.rpartition(b"/")
                pfd, _ = self.root.dir(parent, create=False, follow=False)
                os.utime(base, ns=(atime, mtime), dir_fd=pfd, follow_symlinks=False)
            except (OSError, Blocked):
                continue  # removed or replaced by a later entry


def _os_error(name: bytes, err: OSError) -> DockyardError:
    if err.errno in (errno.ENAMETOOLONG, errno.EINVAL, errno.EEXIST, errno.ENOTEMPTY):
        return InvalidArgument(f"cannot apply {_q(name)}: {err.strerror}")
    return SystemFailure(f"failed to apply layer entry {_q(name)}: {err.strerror}")


_Handler = Callable[[_Applier, Entry, TarReader, int, bytes, bytes], None]
_HANDLERS: dict[bytes, _Handler] = {
    REG: _Applier._file,
    DIR: _Applier._dir,
    SYM: _Applier._symlink,
    LNK: _Applier._hardlink,
    CHR: _Applier._node,
    BLK: _Applier._node,
    FIFO: _Applier._node,
}
