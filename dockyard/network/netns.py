"""Named network namespaces: a fresh namespace bind-mounted on a file, so it lives
without a process in it (``ip netns add`` does the same under /run/netns).

Everything here runs on the calling thread: ``unshare``/``setns`` change only the
thread that calls them, and :func:`entered` always switches back.

The four libc calls are bound here from the process's own symbols rather than
through :class:`dockyard.runtime.linux.syscalls.Syscalls`, whose
``ctypes.util.find_library`` runs ``ldconfig`` (10-20 ms on every container start).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MNT_DETACH = 0x2


class _Libc:
    """unshare, setns, mount and umount2, raising OSError like the os module."""

    def __init__(self) -> None:
        self._c = ctypes.CDLL(None, use_errno=True)

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")

    def unshare(self, flags: int) -> None:
        self._check(self._c.unshare(ctypes.c_int(flags)), "unshare")

    def setns(self, fd: int, nstype: int) -> None:
        self._check(self._c.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")

    def mount(self, source: str, target: str, flags: int) -> None:
        self._check(
            self._c.mount(source.encode(), target.encode(), None, ctypes.c_ulong(flags), None),
            f"mount {target}",
        )

    def umount2(self, target: str, flags: int) -> None:
        self._check(self._c.umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")


_sys = _Libc()


def create(path: str) -> None:
    """A new network namespace kept alive by a bind mount on ``path``."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _sys.unshare(CLONE_NEWNET)
        try:
            _sys.mount("/proc/thread-self/ns/net", path, MS_BIND)
        finally:
            _sys.setns(original, CLONE_NEWNET)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    finally:
        os.close(original)


def remove(path: str) -> None:
    """Unmount and delete a namespace file; a missing one is fine."""
    with contextlib.suppress(OSError):
        _sys.umount2(path, MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def lo_up(path: str) -> None:
    """Bring ``lo`` up in the namespace at ``path`` with two ioctls, as ``ip link set
    lo up`` would: the ``--network none`` path then needs no netlink client."""
    import _socket
    import fcntl
    import struct

    with entered(path):
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM, 0)
        try:
            request = struct.pack("16sh22x", b"lo", 0)
            (_, flags) = struct.unpack_from(
                "16sh", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request)
            )
            if not flags & IFF_UP:
                fcntl.ioctl(
                    sock.fileno(), SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | IFF_UP)
                )
        finally:
            sock.close()


def exists(path: str) -> bool:
    return os.path.exists(path)


@contextlib.contextmanager
def entered(path: str) -> Iterator[None]:
    """Run the block with this thread inside the namespace at ``path`` (a netns
    file or ``/proc/<pid>/ns/net``); sockets made inside keep that namespace."""
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _sys.setns(target, CLONE_NEWNET)
        try:
            yield
        finally:
            _sys.setns(original, CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(original)
