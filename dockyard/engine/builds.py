"""The build cache as the Engine exposes it: its usage, its records, pruning it.

The one place that knows how cache rows relate to layers and disk (``builder
prune``, the ``Build Cache`` line of ``system df``). The builder itself lives
above the engine, in :mod:`dockyard.build`, and is called directly by the CLI,
the API server and Compose.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from dataclasses import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.engine import Engine
    from dockyard.store.buildcache import BuildCache, CacheUsage


@dataclass
class PruneResult:
    deleted: list[CacheUsage]
    reclaimed: int
    cache_mounts: list[str] = field(default_factory=list)  # record ids of removed ones

    @property
    def ids(self) -> list[str]:
        """The removed records' ids, as ``Deleted build cache objects:`` lists them."""
        return [record_id(e.key) for e in self.deleted] + self.cache_mounts


@dataclass
class CacheMount:
    name: str
    path: str
    description: str
    size: int
    created: float
    last_used: float
    in_use: bool


class BuildService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def cache(self) -> BuildCache:
        from dockyard.store.buildcache import BuildCache

        return BuildCache(self.engine.db)

    @property
    def cache_mounts_dir(self) -> str:
        return os.path.join(self.engine.options.root, "build-cache-mounts")

    def usage(self) -> list[CacheUsage]:
        return self.cache.usage(self.engine.leases.held("layer"))

    def records(self) -> list[dict[str, object]]:
        """``BuildCache`` of the Engine API's ``/system/df``: BuildKit's records.

        One ``regular`` record per cached step (its layer's size; ``Shared`` when
        an image or another record counts the same layer) and one
        ``exec.cachemount`` record per ``RUN --mount=type=cache`` directory.
        """
        entries = self.usage()
        keys = {e.key for e in entries}
        out = [_regular_record(e, keys) for e in entries]
        out += [_mount_record(m) for m in self.cache_mounts()]
        return out

    def cache_mounts(self) -> list[CacheMount]:
        """The ``RUN --mount=type=cache`` directories, with what they hold."""
        base = self.cache_mounts_dir
        try:
            names = sorted(os.listdir(base))
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            path = os.path.join(base, name)
            if not os.path.isdir(path) or os.path.islink(path):
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            description = ""
            with contextlib.suppress(OSError), open(path + ".desc") as f:
                description = f.read().strip()
            in_use = False
            with contextlib.suppress(OSError), open(path + ".lock", "a+") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    in_use = True
            out.append(
                CacheMount(
                    name=name,
                    path=path,
                    description=description or f"cached mount {name}",
                    size=_tree_size(path),
                    created=st.st_ctime,
                    last_used=st.st_mtime,
                    in_use=in_use,
                )
            )
        return out

    def size(self) -> tuple[int, int, int, int]:
        """(entries, active, size, reclaimable) as docker's ``system df`` prints them."""
        return summarize(self.records())

    def prune(
        self,
        *,
        all_entries: bool = False,
        until: float | None = None,
        keep_storage: int = 0,
        filters: dict[str, str] | None = None,
    ) -> PruneResult:
        """Drop cache entries, then the layers nothing else uses; bytes freed.

        ``filters`` are BuildKit's record filters as docker passes them (``id``
        matches a pattern, the others equal: ``parent``, ``type``, ``description``,
        ``inuse``, ``shared``, ``private``); what a running build uses stays.
        """
        wanted = dict(filters or {})
        entries = self.usage()
        keys = {e.key for e in entries}
        chosen, chains = self.cache.prune(
            all_entries=all_entries,
            until=until,
            keep_storage=keep_storage,
            held=self.engine.leases.held("layer"),
            match=lambda e: record_matches(_regular_record(e, keys), wanted),
        )
        reclaimed = 0
        if chains:
            sizes = {
                r["chain_id"]: int(r["size"])
                for r in self.engine.db.query("SELECT chain_id, size FROM layers")
            }
            removed = self.engine.layers.collect_garbage(chains)
            reclaimed = sum(sizes.get(c, 0) for c in removed)
        mounts: list[str] = []
        if not keep_storage:
            freed, mounts = self._prune_cache_mounts(until, wanted)
            reclaimed += freed
        return PruneResult(chosen, reclaimed, mounts)

    def _prune_cache_mounts(
        self, until: float | None, filters: dict[str, str]
    ) -> tuple[int, list[str]]:
        """The ``RUN --mount=type=cache`` directories no build uses (docker prunes
        them too): bytes freed and their record ids. Each is removed while its lock
        is held, so a build that starts meanwhile waits and finds it gone."""
        freed = 0
        removed = []
        for mount in self.cache_mounts():
            if until is not None and mount.last_used >= until:
                continue
            if not record_matches(_mount_record(mount), filters):
                continue
            with contextlib.suppress(OSError), open(mount.path + ".lock", "a+") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                freed += mount.size
                removed.append(mount.name[:25])
                shutil.rmtree(mount.path, ignore_errors=True)
                for suffix in (".desc", ".lock"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(mount.path + suffix)
        return freed, removed


PRUNE_FILTERS = ("id", "parent", "type", "description", "inuse", "shared", "private")


def record_matches(record: dict[str, object], filters: dict[str, str]) -> bool:
    """BuildKit's record filters: ``id~=value`` (a regular expression), the
    others ``field==value``."""
    import re

    for name, value in filters.items():
        if name == "id":
            try:
                if not re.search(value, str(record["ID"])):
                    return False
            except re.error:
                return False
        elif name == "parent":
            if value not in (record["Parents"] or []):  # type: ignore[operator]
                return False
        elif name in ("type", "description"):
            if str(record[name.capitalize()]) != value:
                return False
        elif name in ("inuse", "shared", "private"):
            actual = {
                "inuse": bool(record["InUse"]),
                "shared": bool(record["Shared"]),
                "private": not record["Shared"],
            }[name]
            if str(actual).lower() != value.lower():
                return False
    return True


def _regular_record(e: CacheUsage, keys: set[str]) -> dict[str, object]:
    from dockyard.timeutil import rfc3339_nano

    return {
        "ID": record_id(e.key),
        "Parents": [record_id(e.parent)] if e.parent in keys else None,
        "Type": "regular",
        "Description": e.step,
        "InUse": e.in_use,
        "Shared": e.shared,
        "Size": e.size,
        "CreatedAt": rfc3339_nano(e.created),
        "LastUsedAt": rfc3339_nano(e.last_used),
        "UsageCount": e.usage_count,
    }


def _mount_record(mount: CacheMount) -> dict[str, object]:
    from dockyard.timeutil import rfc3339_nano

    return {
        "ID": mount.name[:25],
        "Parents": None,
        "Type": "exec.cachemount",
        "Description": mount.description,
        "InUse": mount.in_use,
        "Shared": False,
        "Size": mount.size,
        "CreatedAt": rfc3339_nano(mount.created),
        "LastUsedAt": rfc3339_nano(mount.last_used),
        "UsageCount": 1,
    }


def record_id(key: str) -> str:
    """A cache entry's record id: 25 characters, like BuildKit's."""
    return key.removeprefix("sha256:")[:25]


def summarize(records: list[dict[str, object]]) -> tuple[int, int, int, int]:
    """docker's Build Cache row: (total, active, size, reclaimable). The size leaves
    out shared records (their bytes are counted elsewhere); what is in use and not
    shared cannot be reclaimed."""
    def size_of(r: dict[str, object]) -> int:
        value = r["Size"]
        return value if isinstance(value, int) else 0

    size = sum(size_of(r) for r in records if not r["Shared"])
    in_use = sum(size_of(r) for r in records if r["InUse"] and not r["Shared"])
    active = sum(1 for r in records if r["InUse"])
    return len(records), active, size, size - in_use


def _tree_size(path: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total
