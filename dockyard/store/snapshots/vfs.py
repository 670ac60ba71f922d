"""The vfs snapshotter: every active snapshot is a full copy of its parent.

Works on any file system (no overlayfs needed) at the cost of space and time.
``prepare`` copies the parent's ``fs/`` with ``cp -a --reflink=auto`` (owners,
modes, setuid bits, hard links, xattrs, devices, fifos, sockets, mtimes; cheap
clones on btrfs/xfs). A view binds its parent's tree read-only instead of
copying it (the parent cannot be removed while the view exists).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from dockyard.errors import SystemFailure
from dockyard.store.snapshots import _linux
from dockyard.store.snapshots.base import Mount, SnapshotKind, WhiteoutFormat
from dockyard.store.snapshots.common import DirectorySnapshotter, Row


class VfsSnapshotter(DirectorySnapshotter):
    driver = "vfs"

    @property
    def whiteout_format(self) -> WhiteoutFormat:
        return "oci"

    def _populate(self, staging: str, kind: SnapshotKind, parent: Row | None) -> None:
        target = os.path.join(staging, "fs")
        if kind != "active" or parent is None:
            os.mkdir(target, 0o755)
            return
        source = self._fs(parent.id)
        command = ["cp", "-a", "--reflink=auto", "--no-target-directory", "--", source, target]
        result = subprocess.run(
            _die_with_parent(command),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            detail = result.stderr.strip().splitlines()
            raise SystemFailure(
                f"copying snapshot {parent.key}: {detail[-1] if detail else 'cp failed'}"
            )

    def _bind_source(self, key: str) -> tuple[str, bool]:
        """The directory that is ``key``'s tree, and whether it is mounted read-only."""
        chain = self._chain(key)
        me = chain[0]
        if me.kind == "active":
            return self._fs(me.id), False
        if me.kind == "view" and len(chain) > 1:
            return self._fs(chain[1].id), True
        return self._fs(me.id), True

    def mounts(self, key: str) -> list[Mount]:
        source, readonly = self._bind_source(key)
        return [Mount(type="bind", source=source, options=["rbind", "ro" if readonly else "rw"])]

    def mount(self, key: str, target: str) -> None:
        target = os.path.abspath(target)
        source, readonly = self._bind_source(key)
        try:
            _linux.bind_mount(source, target, readonly=readonly)
        except OSError as e:
            raise self._wrap_mount_error(key, target, e) from e

    def graph_driver_data(self, key: str) -> dict[str, str]:
        """Docker's vfs driver reports no data (``"Data": null``)."""
        self._row(key)
        return {}


@functools.cache
def _setpriv() -> str | None:
    return shutil.which("setpriv")


def _die_with_parent(command: list[str]) -> list[str]:
    """Run ``command`` so that it is killed if this process is (no copy outlives us)."""
    setpriv = _setpriv()
    if setpriv is None:
        return command
    return [setpriv, "--pdeathsig", "KILL", "--", *command]
