"""The build service the Engine exposes: build, prune the build cache, its usage.

The builder itself lives in :mod:`dockyard.build`; this is the engine's door to
it, and the one place that knows how cache rows relate to layers and disk
(``builder prune``, the ``Build Cache`` line of ``system df``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.build.builder import BuildRequest, BuildResult
    from dockyard.build.cache import BuildCache, CacheUsage
    from dockyard.build.progress import Progress
    from dockyard.engine import Engine


@dataclass
class PruneResult:
    deleted: list[CacheUsage]
    reclaimed: int


class BuildService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def cache(self) -> BuildCache:
        from dockyard.build.cache import BuildCache

        return BuildCache(self.engine.db)

    @property
    def cache_mounts_dir(self) -> str:
        return os.path.join(self.engine.options.root, "build-cache-mounts")

    def build(self, request: BuildRequest, progress: Progress) -> BuildResult:
        from dockyard.build.builder import Builder

        return Builder(self.engine, request, progress).build()

    def usage(self) -> list[CacheUsage]:
        return self.cache.usage()

    def api_usage(self) -> list[dict[str, object]]:
        """``BuildCache`` of the Engine API's ``/system/df`` (BuildCacheRecord)."""
        from dockyard.timeutil import rfc3339_nano

        return [
            {
                "ID": e.key.removeprefix("sha256:")[:25],
                "Parents": None,
                "Type": "regular",
                "Description": e.step,
                "InUse": e.in_use,
                "Shared": e.shared,
                "Size": e.size,
                "CreatedAt": rfc3339_nano(e.created),
                "LastUsedAt": rfc3339_nano(e.last_used),
                "UsageCount": 1,
            }
            for e in self.usage()
        ]

    def size(self) -> tuple[int, int, int, int]:
        """(entries, active, total bytes, reclaimable bytes) for ``system df``."""
        entries = self.usage()
        total = sum(e.size for e in entries)
        reclaimable = sum(e.size for e in entries if not e.in_use)
        active = sum(1 for e in entries if e.in_use)
        return len(entries), active, total, reclaimable

    def prune(
        self,
        *,
        all_entries: bool = False,
        until: float | None = None,
        keep_storage: int = 0,
        description: str | None = None,
    ) -> PruneResult:
        """Drop cache entries, then the layers nothing else uses; bytes freed."""
        chosen, chains = self.cache.prune(
            all_entries=all_entries,
            until=until,
            keep_storage=keep_storage,
            step_filter=description,
        )
        reclaimed = 0
        if chains:
            sizes = {
                r["chain_id"]: int(r["size"])
                for r in self.engine.db.query("SELECT chain_id, size FROM layers")
            }
            removed = self.engine.layers.collect_garbage(chains)
            reclaimed = sum(sizes.get(c, 0) for c in removed)
        if until is None and description is None and not keep_storage:
            reclaimed += self._prune_cache_mounts()
        return PruneResult(chosen, reclaimed)

    def _prune_cache_mounts(self) -> int:
        """The ``RUN --mount=type=cache`` directories (docker prunes them too)."""
        base = self.cache_mounts_dir
        freed = 0
        if not os.path.isdir(base):
            return 0
        for name in os.listdir(base):
            path = os.path.join(base, name)
            freed += _tree_size(path)
            shutil.rmtree(path, ignore_errors=True)
        return freed


def _tree_size(path: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total
