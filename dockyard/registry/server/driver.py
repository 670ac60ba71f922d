"""Storage drivers: where the registry's files live.

The interface is distribution's ``storagedriver.StorageDriver`` cut down to what
this registry uses. Paths are absolute, ``/``-separated and driver-relative
(``/docker/registry/v2/blobs/...``). Every write that makes something visible
is atomic: content goes to a temporary file in the same directory, is fsynced,
and is renamed into place, so a reader sees the old content or the new, never a
half-written file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from abc import ABC, abstractmethod
from typing import BinaryIO


class StorageDriver(ABC):
    """What the registry needs from storage."""

    @abstractmethod
    def read(self, path: str) -> bytes:
        """The whole file; FileNotFoundError when absent."""

    @abstractmethod
    def write_atomic(self, path: str, data: bytes) -> None:
        """Replace ``path`` with ``data`` in one step (parents created)."""

    @abstractmethod
    def size(self, path: str) -> int | None:
        """Size of a file, None when absent (or not a file)."""

    @abstractmethod
    def list(self, path: str) -> list[str]:
        """Names of the entries of a directory, sorted; [] when absent."""

    @abstractmethod
    def is_dir(self, path: str) -> bool: ...

    @abstractmethod
    def move(self, source: str, dest: str) -> None:
        """Rename ``source`` over ``dest`` atomically and durably (parents created)."""

    @abstractmethod
    def delete(self, path: str) -> None:
        """Remove a file or a directory tree; absent is fine."""

    @abstractmethod
    def open_append(self, path: str) -> BinaryIO:
        """A file opened for appending (created with its parents when absent)."""

    @abstractmethod
    def sync_file(self, path: str) -> None:
        """fsync a file written through :meth:`open_append`."""

    @abstractmethod
    def local_path(self, path: str) -> str:
        """The host path of ``path``, for sendfile."""

    @abstractmethod
    def mtime(self, path: str) -> float | None: ...


class FilesystemDriver(StorageDriver):
    """Files under a root directory (distribution's ``filesystem`` driver)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)

    def local_path(self, path: str) -> str:
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise ValueError(f"invalid storage path {path!r}")
        return os.path.join(self.root, *parts)

    def read(self, path: str) -> bytes:
        with open(self.local_path(path), "rb") as f:
            return f.read()

    def write_atomic(self, path: str, data: bytes) -> None:
        target = self.local_path(path)
        directory = os.path.dirname(target)
        os.makedirs(directory, exist_ok=True)
        temp = os.path.join(directory, f".tmp-{secrets.token_hex(8)}")
        try:
            with open(temp, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.rename(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        _fsync_dir(directory)

    def size(self, path: str) -> int | None:
        try:
            st = os.stat(self.local_path(path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_size if not os.path.isdir(self.local_path(path)) else None

    def mtime(self, path: str) -> float | None:
        try:
            return os.stat(self.local_path(path)).st_mtime
        except (FileNotFoundError, NotADirectoryError):
            return None

    def list(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self.local_path(path)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(self.local_path(path))

    def move(self, source: str, dest: str) -> None:
        target = self.local_path(dest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(self.local_path(source), target)
        _fsync_dir(os.path.dirname(target))

    def delete(self, path: str) -> None:
        local = self.local_path(path)
        if os.path.isdir(local) and not os.path.islink(local):
            shutil.rmtree(local, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                os.unlink(local)

    def open_append(self, path: str) -> BinaryIO:
        local = self.local_path(path)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        return open(local, "ab")

    def sync_file(self, path: str) -> None:
        fd = os.open(self.local_path(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
