"""Snapshotters: filesystem trees for image layers and container layers.

``create_snapshotter("overlay2" | "vfs", root, db)`` returns a :class:`Snapshotter`
keeping its directories under ``root`` (the engine passes
``$DOCKYARD_ROOT/snapshots``) and its rows in ``db``'s ``snapshots`` table.
A root belongs to the driver that first used it (recorded in ``root/driver``);
:func:`recorded_driver` tells which, :func:`overlay_supported` whether overlayfs
works there so the engine can fall back to vfs and say so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockyard.errors import InvalidArgument
from dockyard.store.snapshots.base import Info, Mount, Snapshotter, Usage

if TYPE_CHECKING:
    from dockyard.store.metadata import Database

__all__ = [
    "DRIVERS",
    "Info",
    "Mount",
    "Snapshotter",
    "Usage",
    "check_overlay",
    "create_snapshotter",
    "overlay_supported",
    "recorded_driver",
]

#: Accepted driver names and the driver each selects.
DRIVERS: dict[str, str] = {
    "overlay2": "overlay2",
    "overlay": "overlay2",
    "overlayfs": "overlay2",
    "vfs": "vfs",
}


def create_snapshotter(driver: str, root: str, db: Database) -> Snapshotter:
    """The snapshotter for ``driver`` ("overlay2", "overlay", "overlayfs" or "vfs")."""
    name = DRIVERS.get(driver.lower())
    if name == "overlay2":
        from dockyard.store.snapshots.overlay import OverlaySnapshotter

        return OverlaySnapshotter(root, db)
    if name == "vfs":
        from dockyard.store.snapshots.vfs import VfsSnapshotter

        return VfsSnapshotter(root, db)
    raise InvalidArgument(f"unknown storage driver {driver!r} (use overlay2 or vfs)")


def overlay_supported(root: str) -> bool:
    """Whether overlayfs works under ``root``: tries a real mount once, caches the answer."""
    from dockyard.store.snapshots.overlay import overlay_supported as probe

    return probe(root)


def check_overlay(root: str, *, refresh: bool = False) -> tuple[bool, str]:
    """Like :func:`overlay_supported`, with the reason when it is not."""
    from dockyard.store.snapshots.overlay import check_overlay as probe

    return probe(root, refresh=refresh)


def recorded_driver(root: str) -> str | None:
    """The driver that owns the snapshot root ``root``, or None for a new root."""
    from dockyard.store.snapshots.common import read_driver_marker

    return read_driver_marker(root)
