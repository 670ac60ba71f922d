"""The content hashes of context files, remembered between builds.

A step's cache key holds the content digest of what it copies, never times; but
reading every file of the context again on each build costs more than the rest
of a no-change rebuild. So, as git's index does, the digest of a file is kept
under its identity and change times (device, inode, size, mtime and ctime, in
nanoseconds; ctime cannot be set back by users) in ``$DOCKYARD_ROOT/build-hashes.json``:
a file whose stat is unchanged is not read again. The file is replaced atomically
(concurrent builds each write a whole one; the last wins, losing at worst some
entries, which are then computed again) and holds at most :data:`LIMIT` entries,
the most recently added kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile

NAME = "build-hashes.json"
LIMIT = 200_000


def load(root: str) -> dict[str, str]:
    try:
        with open(os.path.join(root, NAME), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def save(root: str, memo: dict[str, str]) -> None:
    """Write ``memo`` (its last :data:`LIMIT` entries); failures are ignored, as the
    memo only saves work."""
    items = list(memo.items())[-LIMIT:]
    try:
        fd, tmp = tempfile.mkstemp(prefix=".build-hashes-", dir=root)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(dict(items), f, separators=(",", ":"))
        os.replace(tmp, os.path.join(root, NAME))
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


__all__ = ["LIMIT", "NAME", "load", "save"]
