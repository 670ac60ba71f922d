"""``stat`` of a path inside a container, as the Engine API's archive routes report it
(the ``X-Docker-Container-Path-Stat`` header: name, size, Go FileMode, mtime, link)."""

from __future__ import annotations

import os
import posixpath
import stat
from typing import TYPE_CHECKING, Any

from dockyard.engine.fsops import _lookup_in, not_found

if TYPE_CHECKING:
    from dockyard.engine import Engine
    from dockyard.engine.containers import Container

# Go's os.FileMode type bits
_MODE_DIR = 1 << 31
_MODE_SYMLINK = 1 << 27
_MODE_DEVICE = 1 << 26
_MODE_PIPE = 1 << 25
_MODE_SOCKET = 1 << 24
_MODE_SETUID = 1 << 23
_MODE_SETGID = 1 << 22
_MODE_CHARDEV = 1 << 21
_MODE_STICKY = 1 << 20


def go_file_mode(mode: int) -> int:
    out = mode & 0o777
    if stat.S_ISDIR(mode):
        out |= _MODE_DIR
    elif stat.S_ISLNK(mode):
        out |= _MODE_SYMLINK
    elif stat.S_ISFIFO(mode):
        out |= _MODE_PIPE
    elif stat.S_ISSOCK(mode):
        out |= _MODE_SOCKET
    elif stat.S_ISBLK(mode):
        out |= _MODE_DEVICE
    elif stat.S_ISCHR(mode):
        out |= _MODE_DEVICE | _MODE_CHARDEV
    if mode & stat.S_ISUID:
        out |= _MODE_SETUID
    if mode & stat.S_ISGID:
        out |= _MODE_SETGID
    if mode & stat.S_ISVTX:
        out |= _MODE_STICKY
    return out


def path_stat(engine: Engine, container: Container, path: str) -> dict[str, Any]:
    """dockerd's ContainerStatPath; NotFound with Docker's message when it is not there."""
    from dockyard.timeutil import rfc3339_nano

    with _lookup_in(engine, container, path) as (root, inner):
        try:
            loc = root.locate(inner, follow=False)
        except (FileNotFoundError, NotADirectoryError):
            raise not_found(path, container.name) from None
        if loc.st is None:
            raise not_found(path, container.name)
        st = loc.st
        link = ""
        if stat.S_ISLNK(st.st_mode):
            target = os.fsdecode(os.readlink(loc.name, dir_fd=loc.dir_fd))
            base = posixpath.dirname("/" + loc.path.lstrip("/"))
            link = posixpath.normpath(posixpath.join(base, target))
    name = posixpath.basename(path.rstrip("/")) or "/"
    return {
        "name": name,
        "size": st.st_size,
        "mode": go_file_mode(st.st_mode),
        "mtime": rfc3339_nano(st.st_mtime),
        "linkTarget": link,
    }
