"""Directory file descriptors inside a root, opened without ever leaving it.

Every path is opened one component at a time, relative to the directory before
it, with ``O_NOFOLLOW``: a symlink is never followed by the kernel. When a
component is a symlink, it is resolved here the way the kernel resolves it in a
chroot (``openat2``'s ``RESOLVE_IN_ROOT``): an absolute target restarts from the
root, ``..`` stops at the root. So whatever the tree holds, the directory reached
is inside the root.

Symlinks the current layer created itself may not be passed through at all
(``layer_symlinks``): a well-formed layer never writes through its own symlinks,
a hostile one does so to reach what it should not (``link -> /etc`` then
``link/passwd``). Symlinks from lower layers are followed within the root, as
Docker (unpacking in a chroot) and containerd (``fs.RootPath``) do — a layer may
legitimately add ``lib/foo`` where a lower layer made ``lib -> usr/lib``.

Opened directories are cached by the path asked for; the cache is dropped
whenever the caller removes a directory or a symlink. Descriptors handed out stay
open until :meth:`SafeRoot.release`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections import OrderedDict, deque
from collections.abc import Callable

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_CACHED = 128
_MAX_HOPS = 40


class Blocked(Exception):
    """A path could not be followed safely: ``reason`` is "symlink" or "loop"."""

    def __init__(self, reason: str, path: bytes) -> None:
        super().__init__(reason, path)
        self.reason = reason
        self.path = path


class SafeRoot:
    def __init__(
        self,
        path: str,
        *,
        layer_symlinks: set[bytes],
        on_mkdir: Callable[[int, bytes, bytes], None],
    ) -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._layer_symlinks = layer_symlinks
        self._on_mkdir = on_mkdir
        self._cache: OrderedDict[bytes, tuple[int, bytes]] = OrderedDict()
        self._graveyard: list[int] = []

    def close(self) -> None:
        self.invalidate()
        self.release()
        os.close(self.fd)

    def invalidate(self) -> None:
        """Forget every cached directory (their descriptors close at :meth:`release`)."""
        self._graveyard.extend(fd for fd, _ in self._cache.values())
        self._cache.clear()

    def release(self) -> None:
        """Close descriptors dropped from the cache; earlier results become invalid."""
        for fd in self._graveyard:
            os.close(fd)
        self._graveyard.clear()

    def dir(self, path: bytes, *, create: bool, follow: bool = True) -> tuple[int, bytes]:
        """A descriptor of directory ``path`` (normalised, relative, no ``..``) and its
        physical path inside the root. Missing directories are made (mode 0755) when
        ``create``; otherwise FileNotFoundError. A non-directory on the way raises
        NotADirectoryError; a forbidden symlink raises :class:`Blocked`."""
        if not path:
            return self.fd, b""
        hit = self._cache.get(path)
        if hit is not None:
            self._cache.move_to_end(path)
            return hit
        comps = path.split(b"/")
        start_fd, start_phys, i = self.fd, b"", 0
        for j in range(len(comps) - 1, 0, -1):
            hit = self._cache.get(b"/".join(comps[:j]))
            if hit is not None:
                start_fd, start_phys, i = hit[0], hit[1], j
                break
        fd, phys = self._walk(start_fd, start_phys, comps[i:], create, follow)
        result = (fd, phys)
        self._cache[path] = result
        if len(self._cache) > _MAX_CACHED:
            _, (old_fd, _) = self._cache.popitem(last=False)
            self._graveyard.append(old_fd)
        return result

    def _walk(
        self, start_fd: int, start_phys: bytes, comps: list[bytes], create: bool, follow: bool
    ) -> tuple[int, bytes]:
        fd = start_fd
        owned = False
        phys = start_phys.split(b"/") if start_phys else []
        pending = deque(comps)
        hops = 0
        try:
            while pending:
                c = pending.popleft()
                if not c or c == b".":
                    continue
                if c == b"..":
                    # The parent of a real directory: walk again from the root.
                    if phys:
                        phys.pop()
                    if owned:
                        os.close(fd)
                        owned = False
                    fd = self.fd
                    pending.extendleft(reversed(phys))
                    phys = []
                    continue
                try:
                    nfd = os.open(c, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(c, 0o755, dir_fd=fd)
                    self._on_mkdir(fd, c, b"/".join([*phys, c]))
                    nfd = os.open(c, _DIR_FLAGS, dir_fd=fd)
                except OSError as e:
                    if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    where = b"/".join([*phys, c])
                    st = os.stat(c, dir_fd=fd, follow_symlinks=False)
                    if not stat.S_ISLNK(st.st_mode):
                        raise NotADirectoryError(errno.ENOTDIR, "not a directory", where) from None
                    if not follow or where in self._layer_symlinks:
                        raise Blocked("symlink", where) from None
                    hops += 1
                    if hops > _MAX_HOPS:
                        raise Blocked("loop", where) from None
                    target = os.readlink(c, dir_fd=fd)
                    if target.startswith(b"/"):
                        if owned:
                            os.close(fd)
                            owned = False
                        fd = self.fd
                        phys = []
                    pending.extendleft(reversed(target.split(b"/")))
                    continue
                if owned:
                    os.close(fd)
                fd, owned = nfd, True
                phys.append(c)
            if not owned:
                fd = os.dup(fd)
                owned = True
            return fd, b"/".join(phys)
        except BaseException:
            if owned:
                os.close(fd)
            raise


def remove_tree(parent_fd: int, name: bytes) -> None:
    """Remove directory ``name`` of ``parent_fd`` and everything below it.

    Like ``shutil.rmtree(name, dir_fd=...)`` — descriptors only, no symlink
    followed — but iterative, so no tree is too deep for it.
    """
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    stack: list[tuple[int, bytes, list[tuple[bytes, bool]]]] = []
    try:
        stack.append((fd, name, _children(fd)))
        while stack:
            fd, dname, children = stack[-1]
            if children:
                child, is_dir = children.pop()
                if is_dir:
                    try:
                        cfd = os.open(child, _DIR_FLAGS, dir_fd=fd)
                    except (FileNotFoundError, NotADirectoryError):
                        is_dir = False
                    else:
                        try:
                            stack.append((cfd, child, _children(cfd)))
                        except BaseException:
                            os.close(cfd)
                            raise
                        continue
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(child, dir_fd=fd)
                continue
            stack.pop()
            os.close(fd)
            os.rmdir(dname, dir_fd=stack[-1][0] if stack else parent_fd)
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def _children(fd: int) -> list[tuple[bytes, bool]]:
    with os.scandir(fd) as it:
        return [(os.fsencode(de.name), de.is_dir(follow_symlinks=False)) for de in it]
