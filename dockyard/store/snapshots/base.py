"""The snapshotter interface (containerd's model) and the values it passes around.

A snapshot is a filesystem tree identified by a key. ``prepare`` makes an
*active* (writable) snapshot on top of a *committed* parent; ``commit`` freezes
an active snapshot under a new name so that it can be a parent; ``view`` makes
a read-only snapshot of a committed parent. Image layers are committed
snapshots keyed by chain id; a container's writable layer is an active one.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import Literal, NamedTuple

SnapshotKind = Literal["active", "committed", "view"]
WhiteoutFormat = Literal["overlay", "oci"]

KINDS: tuple[SnapshotKind, ...] = ("active", "committed", "view")


class Mount:
    """One mount(2) call: what containerd calls a mount and the runtime spec a mount entry.

    Plain classes and NamedTuples here, not dataclasses: each of those costs ~0.5 ms
    to define, and every container start imports this module."""

    __slots__ = ("options", "source", "type")

    def __init__(self, type: str, source: str, options: list[str] | None = None) -> None:
        self.type = type
        self.source = source
        self.options: list[str] = [] if options is None else options

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mount):
            return NotImplemented
        return (self.type, self.source, self.options) == (other.type, other.source, other.options)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass was

    def __repr__(self) -> str:
        return f"Mount(type={self.type!r}, source={self.source!r}, options={self.options!r})"

    @property
    def readonly(self) -> bool:
        return "ro" in self.options

    def to_oci(self, destination: str = "/") -> dict[str, object]:
        """This mount as an OCI runtime-spec ``mounts[]`` entry at ``destination``."""
        return {
            "destination": destination,
            "type": self.type,
            "source": self.source,
            "options": list(self.options),
        }


class Info(NamedTuple):
    """What is known about a snapshot without looking at its files."""

    key: str
    parent: str | None
    kind: SnapshotKind
    created: float
    labels: dict[str, str]


class Usage(NamedTuple):
    """Disk use of a snapshot's own files: apparent bytes of regular files
    (each hard-linked inode once) and the number of distinct inodes."""

    size: int
    inodes: int


class Snapshotter(abc.ABC):
    """Creates, freezes, mounts and removes snapshots under one root directory.

    Every state change is one database transaction, so several dockyard
    processes may share a root.
    """

    #: The storage-driver name ``docker info`` shows ("overlay2", "vfs").
    driver: str

    @property
    @abc.abstractmethod
    def whiteout_format(self) -> WhiteoutFormat:
        """How deletions must be written into :meth:`layer_dir`.

        ``"overlay"``: as overlayfs whiteouts (0/0 character devices, opaque
        directories marked with the ``trusted.overlay.opaque`` xattr).
        ``"oci"``: applied directly (the file is removed from a full copy).
        """

    @abc.abstractmethod
    def prepare(
        self, key: str, parent: str | None = None, labels: dict[str, str] | None = None
    ) -> list[Mount]:
        """Create the active (writable) snapshot ``key`` on the committed ``parent``."""

    @abc.abstractmethod
    def view(
        self, key: str, parent: str | None, labels: dict[str, str] | None = None
    ) -> list[Mount]:
        """Create the read-only snapshot ``key`` of the committed ``parent``."""

    @abc.abstractmethod
    def commit(self, name: str, key: str, labels: dict[str, str] | None = None) -> None:
        """Freeze the active snapshot ``key`` as the committed snapshot ``name``.

        Raises Conflict ("already exists") if ``name`` is taken; ``key`` is then
        left as it was, for the caller to remove.
        """

    @abc.abstractmethod
    def remove(self, key: str) -> None:
        """Remove a snapshot; Conflict if other snapshots are built on it."""

    @abc.abstractmethod
    def mounts(self, key: str) -> list[Mount]:
        """The mounts that assemble ``key`` (absolute paths, for runc and friends)."""

    @abc.abstractmethod
    def stat(self, key: str) -> Info: ...

    @abc.abstractmethod
    def usage(self, key: str) -> Usage: ...

    @abc.abstractmethod
    def walk(self) -> Iterator[Info]: ...

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def layer_dir(self, key: str) -> str:
        """The directory a layer tar is extracted into for the active snapshot ``key``."""

    @abc.abstractmethod
    def mount(self, key: str, target: str) -> None:
        """Mount snapshot ``key`` on the existing directory ``target``."""

    @abc.abstractmethod
    def unmount(self, target: str) -> None:
        """Unmount what :meth:`mount` put on ``target`` (lazily if it is busy)."""

    @abc.abstractmethod
    def graph_driver_data(self, key: str) -> dict[str, str]:
        """What ``docker inspect`` shows under ``GraphDriver.Data`` for ``key``."""

    @abc.abstractmethod
    def cleanup(self) -> int:
        """Delete directories no snapshot owns (left by killed processes); bytes freed."""
