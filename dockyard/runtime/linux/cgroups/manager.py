"""CgroupManager: one container's cgroup across whatever hierarchies the host has."""

from __future__ import annotations

import os
from typing import Any

from dockyard import log
from dockyard.errors import Conflict, Unsupported

from . import fs
from .v1 import V1Driver
from .v2 import V2Driver

_V1_EXPECTED = {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "pids", "blkio"}


def detect_mode() -> str:
    """ "v1", "hybrid" (v1 controllers plus an unused-or-mostly-empty unified
    tree) or "v2" (unified hierarchy at /sys/fs/cgroup)."""
    return fs.mode_from_mounts(fs.read_mounts())


class CgroupManager:
    """Creates, fills, limits, freezes and removes one container's cgroup.

    ``cgroups_path`` is OCI ``linux.cgroupsPath``: absolute paths are taken from
    each hierarchy's root, relative ones from the caller's own cgroup.
    ``resources`` (OCI ``linux.resources``) are written by :meth:`create`, so
    the limits are in place before any process moves in.
    """

    def __init__(self, cgroups_path: str, resources: dict[str, Any] | None = None) -> None:
        self.cgroups_path = cgroups_path
        self.resources: dict[str, Any] = dict(resources or {})
        mounts = fs.read_mounts()
        own = fs.read_own_cgroups()
        self.mode = fs.mode_from_mounts(mounts)
        self._v1: V1Driver | None = None
        self._v2: V2Driver | None = None
        if self.mode == "v2":
            self._v2 = V2Driver.discover(cgroups_path, mounts, own)
        else:
            self._v1 = V1Driver.discover(cgroups_path, mounts, own)
            if self.mode == "hybrid":
                self._v2 = V2Driver.discover(cgroups_path, mounts, own)

    def paths(self) -> dict[str, str]:
        """controller -> directory; the unified v2 directory is under the key ""."""
        out = dict(self._v1.paths) if self._v1 else {}
        if self._v2:
            out[""] = self._v2.path
        return out

    def create(self) -> None:
        """Make the cgroup directories (idempotent) and write the initial resources."""
        if self._v1:
            missing = sorted(_V1_EXPECTED - set(self._v1.paths))
            if missing:
                log.debug(f"cgroup: v1 controllers not mounted here: {', '.join(missing)}")
            self._v1.create()
        if self._v2:
            self._v2.create()
        if self.resources:
            self.set(self.resources)

    def apply(self, pid: int) -> None:
        """Move process ``pid`` into the cgroup (every hierarchy)."""
        if self._v1:
            self._v1.apply(pid)
        if self._v2:
            self._v2.apply(pid)

    def set(self, resources: dict[str, Any]) -> None:
        """Write OCI ``linux.resources`` limits (unset ones are left alone)."""
        resources = resources or {}
        if self._v1:
            self._v1.set(resources)
        elif self._v2:
            self._v2.set(resources)
        self.resources = dict(resources)

    def _freezer(self) -> V1Driver | V2Driver:
        if self._v1 and self._v1.can_freeze():
            return self._v1
        if self._v2 and self._v2.can_freeze():
            return self._v2
        raise Unsupported("no cgroup freezer is available on this host")

    def freeze(self) -> None:
        self._freezer().freeze()

    def thaw(self) -> None:
        self._freezer().thaw()

    def state(self) -> str:
        """ "frozen" or "thawed"."""
        try:
            return self._freezer().state()
        except Unsupported:
            return "thawed"

    def pids(self) -> list[int]:
        """Every process in the cgroup and its sub-cgroups."""
        found: set[int] = set()
        if self._v1:
            found.update(self._v1.pids())
        if self._v2:
            found.update(self._v2.pids())
        return sorted(found)

    def oom_killed(self) -> bool:
        """True once the kernel OOM killer has killed a process in this cgroup."""
        if self._v1 and self._v1.has("memory"):
            return self._v1.oom_killed()
        return self._v2.oom_killed() if self._v2 else False

    def stats(self) -> dict[str, Any]:
        """Usage numbers for `docker stats`.

        ``cpu.usage.total`` (ns, plus ``percpu``/``user``/``kernel``), ``cpu.throttling``,
        ``memory`` (``usage``, ``max_usage``, ``limit`` with 0 = unlimited, ``cache``,
        ``inactive_file``, raw ``stats``), ``pids`` (``current``, ``limit`` 0 = unlimited),
        ``blkio`` (``read_bytes``, ``write_bytes``). Keys absent where the controller is.
        """
        if self._v1:
            return self._v1.stats()
        return self._v2.stats() if self._v2 else {}

    def destroy(self) -> None:
        """Remove the cgroup directories, deepest first; idempotent.

        Conflict if processes remain (kill them first, see :meth:`kill_all`).
        """
        remaining = self.pids()
        if remaining:
            raise Conflict(
                f"cgroup {self.cgroups_path} still has processes: {', '.join(map(str, remaining))}"
            )
        if self._v1:
            if self._v1.state() == "frozen":
                self._v1.thaw()
            self._v1.destroy()
        if self._v2:
            self._v2.destroy()

    def kill_all(self, sig: int) -> None:
        """Send ``sig`` to every process; frozen meanwhile so none forks away.

        A no-op when the cgroup is empty or already removed.
        """
        if not self.pids():
            return
        try:
            freezer: V1Driver | V2Driver | None = self._freezer()
        except Unsupported:
            freezer = None
        was_frozen = freezer is not None and freezer.state() == "frozen"
        if freezer is not None and not was_frozen:
            freezer.freeze()
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    continue
        finally:
            if freezer is not None and not was_frozen:
                freezer.thaw()
