"""Flushing an unpacked layer to disk: one ``syncfs(2)`` for the whole filesystem.

Applying a layer writes thousands of files without fsyncing any of them; the
caller makes the result durable once, before committing the snapshot.
"""

from __future__ import annotations

import os
from typing import Any

from dockyard.errors import SystemFailure

_libc: Any = None


def _syncfs_fn() -> Any:
    global _libc
    if _libc is None:
        import ctypes
        import ctypes.util

        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return getattr(_libc, "syncfs", None)


def syncfs(path: str) -> None:
    """Flush the filesystem holding ``path`` (``syncfs(2)``; ``sync(2)`` without it)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fn = _syncfs_fn()
        if fn is None:
            os.sync()
            return
        if fn(fd) != 0:
            import ctypes

            err = ctypes.get_errno()
            raise SystemFailure(f"syncfs {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


def fsync_path(path: str) -> None:
    """fsync one file or directory by path."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
