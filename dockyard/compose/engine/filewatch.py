"""Changed files under a set of paths, by polling.

Compose uses fsnotify (inotify); dockyard polls with ``os.scandir`` every
``interval`` seconds and compares (mtime, size, inode, mode) per entry. That needs no
dependency and no inotify watch limits, and costs one ``lstat`` per watched file per
poll, which suits source trees of a few thousand files. Directories are reported
when they appear or disappear, not when their mtime changes (a new file already
reports itself), so a ``sync`` never re-sends a whole directory for one file.

Changes are batched as Compose's BatchDebounceEvents does: a batch ends after
``quiet`` seconds without a new change.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable

Signature = tuple[int, int, int, int]

QUIET_PERIOD = 0.5  # compose's watch.QuietPeriod
POLL_INTERVAL = 0.1


def snapshot(paths: list[str], skip: Callable[[str], bool] | None = None) -> dict[str, Signature]:
    """Every file and directory under ``paths`` (the paths themselves included),
    without descending into directories ``skip`` rejects (ignored ones: their
    changes would be dropped anyway, and a node_modules costs thousands of lstat
    calls per poll)."""
    result: dict[str, Signature] = {}
    for root in paths:
        _scan(root, result, skip)
    return result


def _signature(st: os.stat_result) -> Signature:
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode)


def _scan(path: str, into: dict[str, Signature], skip: Callable[[str], bool] | None) -> None:
    try:
        st = os.lstat(path)
    except OSError:
        return
    into[path] = _signature(st)
    if not stat.S_ISDIR(st.st_mode):
        return
    pending = [path]
    while pending:
        directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if skip is not None and skip(entry.path):
                    continue
                pending.append(entry.path)
            into[entry.path] = _signature(st)


def differences(before: dict[str, Signature], after: dict[str, Signature]) -> set[str]:
    """Paths added, removed or changed; a directory only when added or removed."""
    changed: set[str] = set()
    for path, sig in after.items():
        old = before.get(path)
        both_dirs = old is not None and stat.S_ISDIR(sig[3]) and stat.S_ISDIR(old[3])
        if old != sig and not both_dirs:
            changed.add(path)
    changed.update(path for path in before if path not in after)
    return changed


class PollingWatcher:
    def __init__(
        self,
        paths: list[str],
        *,
        interval: float = POLL_INTERVAL,
        quiet: float = QUIET_PERIOD,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        skip: Callable[[str], bool] | None = None,
    ) -> None:
        self.paths = list(dict.fromkeys(paths))
        self.skip = skip
        self.interval = interval
        self.quiet = quiet
        self._clock = clock
        self._sleep = sleep
        self._state = snapshot(self.paths, skip)
        self._pending: set[str] = set()
        self._last = 0.0

    def poll(self) -> set[str]:
        """The changes since the last poll."""
        current = snapshot(self.paths, self.skip)
        changed = differences(self._state, current)
        self._state = current
        return changed

    def tick(self) -> set[str]:
        """One non-blocking step of :meth:`next_batch` (for a caller with a loop of its
        own): the batch once it has been quiet long enough, else an empty set."""
        changed = self.poll()
        now = self._clock()
        if changed:
            self._pending |= changed
            self._last = now
            return set()
        if self._pending and now - self._last >= self.quiet:
            batch, self._pending = self._pending, set()
            return batch
        return set()

    def next_batch(self, stop: Callable[[], bool] = lambda: False) -> set[str]:
        """Block until something changed and then stayed quiet for ``quiet`` seconds;
        an empty set when ``stop()`` turned true first."""
        batch: set[str] = set()
        last = 0.0
        while not stop():
            changed = self.poll()
            now = self._clock()
            if changed:
                batch |= changed
                last = now
            elif batch and now - last >= self.quiet:
                return batch
            self._sleep(self.interval)
        return set()
