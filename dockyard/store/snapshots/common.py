"""What every directory-backed snapshotter shares: rows, directories, crash safety.

Layout under the snapshotter's root::

    driver                       the driver that owns this root ("overlay2", "vfs")
    <id>/fs                      the snapshot's files (overlay: its upper dir)
    <id>/...                     driver files (overlay: work/, link)
    tmp-<pid>-<start>-<rand>/    a snapshot being built by a live process
    trash-<pid>-<start>-<rand>/  a removed snapshot being deleted

The ``snapshots`` table is the truth; a directory belongs to a snapshot only
while a row names its id. The rules that keep the two agreeing when a process
is killed at any instant, and when several processes share the root:

* A new snapshot is built in a ``tmp-`` directory, then, inside one write
  transaction, its id is chosen, its row inserted and the directory renamed to
  ``<id>``. A crash before the commit leaves a ``tmp-`` or ``<id>`` directory
  without a row, which :meth:`cleanup` deletes; a committed row always has its
  complete directory.
* An id is one more than the largest id in the table *and* on disk, so an id is
  never handed out while a directory of that name still exists.
* Removal deletes the row and renames the directory to ``trash-…-<id>`` in one
  write transaction (so the id cannot be handed out again while the directory
  still has its name), then deletes the trash. A crash before the commit
  leaves the row and a trash directory that :meth:`cleanup` renames back; a
  crash after it leaves only trash, which :meth:`cleanup` deletes.
* :meth:`cleanup` lists directories only while holding the write lock, so it
  never mistakes a directory being installed by another process for an orphan;
  ``tmp-``/``trash-`` directories are deleted only when their process is dead.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, cast

from dockyard.errors import Conflict, InvalidArgument, NotFound, SystemFailure
from dockyard.store.metadata import Database
from dockyard.store.procs import pid_alive, self_identity
from dockyard.store.snapshots import _linux
from dockyard.store.snapshots.base import Info, Mount, SnapshotKind, Snapshotter, Usage

DRIVER_MARKER = "driver"
STAGING_PREFIX = "tmp-"
TRASH_PREFIX = "trash-"

_COLUMNS = "key, id, kind, parent, created, labels"


class Row(NamedTuple):
    """One row of the ``snapshots`` table."""

    key: str
    id: int
    kind: SnapshotKind
    parent: str | None
    created: float
    labels: dict[str, str]

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> Row:
        return cls(
            key=row["key"],
            id=int(row["id"]),
            kind=cast(SnapshotKind, row["kind"]),
            parent=row["parent"],
            created=float(row["created"]),
            labels=_load_labels(row["labels"]),
        )

    def info(self) -> Info:
        return Info(
            key=self.key,
            parent=self.parent,
            kind=self.kind,
            created=self.created,
            labels=dict(self.labels),
        )


def _load_labels(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    value = json.loads(text)
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _dump_labels(labels: dict[str, str]) -> str:
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


def _check_labels(labels: dict[str, str] | None) -> dict[str, str]:
    if labels is None:
        return {}
    for k, v in labels.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise InvalidArgument("snapshot labels must map strings to strings")
    return dict(labels)


def _check_key(key: str, what: str = "key") -> None:
    if not isinstance(key, str) or not key:
        raise InvalidArgument(f"snapshot {what} must be a non-empty string")
    if "\x00" in key:
        raise InvalidArgument(f"snapshot {what} must not contain NUL")


def tree_usage(path: str) -> Usage:
    """Apparent size of regular files (hard links once) and distinct inodes under ``path``.

    Does not descend into directories of another filesystem (mount points).
    """
    try:
        top = os.lstat(path)
    except FileNotFoundError:
        return Usage(size=0, inodes=0)
    seen: set[tuple[int, int]] = {(top.st_dev, top.st_ino)}
    size = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            ident = (st.st_dev, st.st_ino)
            if ident in seen:
                continue
            seen.add(ident)
            if entry.is_dir(follow_symlinks=False):
                if st.st_dev == top.st_dev:
                    stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                size += st.st_size
    return Usage(size=size, inodes=len(seen))


def purge(path: str) -> None:
    """Delete a directory tree for good: detach anything mounted in it, then remove it."""
    with contextlib.suppress(OSError):
        for point in _linux.mounts_under(path):
            with contextlib.suppress(OSError):
                _linux.umount(point, _linux.MNT_DETACH)

    def on_error(func: Callable[..., Any], failed: str, exc_info: Any) -> None:
        exc = exc_info[1]
        if isinstance(exc, FileNotFoundError):
            return
        # Root may still be stopped by a directory without write permission
        # when the file system enforces it (e.g. a read-only bit on NFS); try once.
        parent = os.path.dirname(failed)
        with contextlib.suppress(OSError):
            os.chmod(parent, 0o700)
            func(failed)

    if os.path.islink(path) or not os.path.isdir(path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    shutil.rmtree(path, onerror=on_error)


def _owner(name: str, prefix: str) -> tuple[int, str] | None:
    """(pid, start time) encoded in a ``tmp-``/``trash-`` name, or None if malformed.

    Names are ``<prefix><pid>-<start>-<random>``, and a removed snapshot's trash
    has ``-<id>`` appended.
    """
    parts = name[len(prefix) :].split("-")
    if len(parts) not in (3, 4) or not parts[0].isdigit():
        return None
    return int(parts[0]), parts[1]


def _trash_id(name: str) -> int | None:
    """The snapshot id a removal's trash directory was, if its name records it."""
    parts = name[len(TRASH_PREFIX) :].split("-")
    if len(parts) == 4 and _is_id(parts[3]):
        return int(parts[3])
    return None


def _is_id(name: str) -> bool:
    return name.isascii() and name.isdigit() and not name.startswith("0")


def syncfs(path: str) -> None:
    """Flush the file system holding ``path`` (so a committed layer survives power loss)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _linux.syncfs(fd)
    finally:
        os.close(fd)


class DirectorySnapshotter(Snapshotter):
    """A snapshotter that keeps each snapshot in ``<root>/<id>/`` (see the module doc).

    Drivers fill in how a new snapshot's directory is populated and how a chain
    of snapshots is mounted.
    """

    driver = "directory"

    def __init__(self, root: str, db: Database, *, sync_on_commit: bool = True) -> None:
        self.root = os.path.abspath(root)
        self.db = db
        self.sync_on_commit = sync_on_commit
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        self._claim_root()

    # ----------------------------------------------------------------- paths

    def _dir(self, snapshot_id: int) -> str:
        return os.path.join(self.root, str(snapshot_id))

    def _fs(self, snapshot_id: int) -> str:
        return os.path.join(self.root, str(snapshot_id), "fs")

    def _new_temp_name(self, prefix: str) -> str:
        pid, start = self_identity()
        return os.path.join(self.root, f"{prefix}{pid}-{start}-{os.urandom(6).hex()}")

    def _claim_root(self) -> None:
        """Record which driver owns this root; refuse to open another driver's root."""
        marker = os.path.join(self.root, DRIVER_MARKER)
        recorded = read_driver_marker(self.root)
        if recorded is None:
            temp = self._new_temp_name(".driver-")
            with open(temp, "w", encoding="utf-8") as f:
                f.write(self.driver + "\n")
            try:
                os.link(temp, marker)  # fails if another process got there first
            except FileExistsError:
                if read_driver_marker(self.root) is None:
                    os.replace(temp, marker)  # an empty marker left by a crash
                    temp = ""
            finally:
                if temp:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temp)
            recorded = read_driver_marker(self.root)
        if recorded != self.driver:
            raise Conflict(
                f"snapshot root {self.root} belongs to the {recorded} storage driver,"
                f" not {self.driver}"
            )

    # ------------------------------------------------------------------ rows

    def _row(self, key: str) -> Row:
        found = self.db.query_one(f"SELECT {_COLUMNS} FROM snapshots WHERE key = ?", (key,))
        if found is None:
            raise NotFound(f"snapshot {key}: not found")
        return Row.from_sql(found)

    def _chain(self, key: str) -> list[Row]:
        """The snapshot and its ancestors, nearest first; NotFound if the key is unknown."""
        rows = self.db.query(
            f"""
            WITH RECURSIVE chain({_COLUMNS}, depth) AS (
                SELECT {_COLUMNS}, 0 FROM snapshots WHERE key = ?
                UNION ALL
                SELECT s.key, s.id, s.kind, s.parent, s.created, s.labels, c.depth + 1
                FROM snapshots s JOIN chain c ON s.key = c.parent
            )
            SELECT {_COLUMNS} FROM chain ORDER BY depth
            """,
            (key,),
        )
        if not rows:
            raise NotFound(f"snapshot {key}: not found")
        return [Row.from_sql(r) for r in rows]

    @staticmethod
    def _next_id(conn: sqlite3.Connection, root: str) -> int:
        top = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM snapshots").fetchone()[0])
        for name in os.listdir(root):
            if _is_id(name):
                top = max(top, int(name))
        return top + 1

    # ------------------------------------------------------ driver hooks

    def _populate(self, staging: str, kind: SnapshotKind, parent: Row | None) -> None:
        """Fill a new snapshot's directory (``staging`` exists and is empty)."""
        os.mkdir(os.path.join(staging, "fs"), 0o755)

    def _installed(self, snapshot_id: int) -> None:
        """Called inside the creating transaction once the directory is ``<id>``."""

    def _discarded(self, snapshot_id: int, trash: str) -> None:
        """Called after a removed snapshot's directory was renamed to ``trash``."""

    def _orphans(self, live_ids: set[int]) -> list[str]:
        """Extra driver paths no snapshot owns (called under the write lock)."""
        return []

    def _usage_path(self, row: Row) -> str:
        return self._fs(row.id)

    # --------------------------------------------------------------- create

    def _create(
        self,
        key: str,
        parent: str | None,
        kind: SnapshotKind,
        labels: dict[str, str] | None,
    ) -> Row:
        _check_key(key)
        if parent is not None:
            _check_key(parent, "parent")
        labels = _check_labels(labels)
        if self.exists(key):
            raise Conflict(f"snapshot {key}: already exists")
        parent_row: Row | None = None
        if parent is not None:
            parent_row = self._row(parent)
            if parent_row.kind != "committed":
                raise InvalidArgument(f"parent snapshot {parent} is not committed")
        staging = self._new_temp_name(STAGING_PREFIX)
        os.mkdir(staging, 0o700)
        try:
            self._populate(staging, kind, parent_row)
            os.chmod(staging, 0o711)
            return self._install(staging, key, kind, parent_row, labels)
        finally:
            if os.path.lexists(staging):
                purge(staging)

    def _install(
        self,
        staging: str,
        key: str,
        kind: SnapshotKind,
        parent: Row | None,
        labels: dict[str, str],
    ) -> Row:
        now = time.time()
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM snapshots WHERE key = ?", (key,)).fetchone():
                raise Conflict(f"snapshot {key}: already exists")
            if parent is not None:
                found = conn.execute(
                    "SELECT id, kind FROM snapshots WHERE key = ?", (parent.key,)
                ).fetchone()
                if found is None:
                    raise NotFound(f"snapshot {parent.key}: not found")
                if found["kind"] != "committed" or int(found["id"]) != parent.id:
                    raise Conflict(f"parent snapshot {parent.key} changed while preparing {key}")
            snapshot_id = self._next_id(conn, self.root)
            conn.execute(
                "INSERT INTO snapshots (key, id, kind, parent, created, labels)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key,
                    snapshot_id,
                    kind,
                    parent.key if parent else None,
                    now,
                    _dump_labels(labels),
                ),
            )
            final = self._dir(snapshot_id)
            os.rename(staging, final)
            try:
                self._installed(snapshot_id)
            except BaseException:
                os.rename(final, staging)
                raise
        return Row(key, snapshot_id, kind, parent.key if parent else None, now, labels)

    # ---------------------------------------------------------- interface

    def prepare(
        self, key: str, parent: str | None = None, labels: dict[str, str] | None = None
    ) -> list[Mount]:
        self._create(key, parent, "active", labels)
        return self.mounts(key)

    def view(
        self, key: str, parent: str | None, labels: dict[str, str] | None = None
    ) -> list[Mount]:
        self._create(key, parent, "view", labels)
        return self.mounts(key)

    def commit(self, name: str, key: str, labels: dict[str, str] | None = None) -> None:
        _check_key(name, "name")
        _check_key(key)
        extra = _check_labels(labels)
        row = self._row(key)
        if row.kind != "active":
            raise InvalidArgument(f"snapshot {key} is not active (it is {row.kind})")
        if self.exists(name):
            raise Conflict(f"snapshot {name}: already exists")
        if self.sync_on_commit:
            try:
                syncfs(self._dir(row.id))
            except OSError as e:
                raise SystemFailure(f"syncing snapshot {key}: {e}") from e
        with self.db.transaction() as conn:
            found = conn.execute(
                "SELECT id, kind, labels FROM snapshots WHERE key = ?", (key,)
            ).fetchone()
            if found is None:
                raise NotFound(f"snapshot {key}: not found")
            if found["kind"] != "active":
                raise InvalidArgument(f"snapshot {key} is not active (it is {found['kind']})")
            if conn.execute("SELECT 1 FROM snapshots WHERE key = ?", (name,)).fetchone():
                raise Conflict(f"snapshot {name}: already exists")
            merged = _load_labels(found["labels"])
            merged.update(extra)
            conn.execute(
                "UPDATE snapshots SET key = ?, kind = 'committed', created = ?, labels = ?"
                " WHERE key = ?",
                (name, time.time(), _dump_labels(merged), key),
            )

    def remove(self, key: str) -> None:
        """Remove ``key``; Conflict if snapshots depend on it or something is mounted in it.

        Mounts elsewhere that use its files (a running container's overlay) are
        not detected: unmount before removing.
        """
        _check_key(key)
        mounted = _linux.mounts_under(self._dir(self._row(key).id))
        if mounted:
            raise Conflict(f"cannot remove snapshot {key}: {mounted[0]} is mounted")
        snapshot_id = 0
        trash = ""
        moved = False
        try:
            with self.db.transaction() as conn:
                found = conn.execute(
                    f"SELECT {_COLUMNS} FROM snapshots WHERE key = ?", (key,)
                ).fetchone()
                if found is None:
                    raise NotFound(f"snapshot {key}: not found")
                child = conn.execute(
                    "SELECT key FROM snapshots WHERE parent = ? LIMIT 1", (key,)
                ).fetchone()
                if child is not None:
                    raise Conflict(
                        f"cannot remove snapshot {key}: snapshot {child['key']} depends on it"
                    )
                snapshot_id = int(found["id"])
                conn.execute("DELETE FROM snapshots WHERE key = ?", (key,))
                # Renamed under the write lock: once the lock is released the id
                # may be handed out again, and the directory must be gone by then.
                # The id in the trash name lets cleanup() put the directory back
                # if this process dies before the deletion is committed.
                trash = f"{self._new_temp_name(TRASH_PREFIX)}-{snapshot_id}"
                try:
                    os.rename(self._dir(snapshot_id), trash)
                    moved = True
                except FileNotFoundError:
                    pass  # a row without its directory: dropping the row is all there is
        except BaseException:
            if moved:
                with contextlib.suppress(OSError):
                    os.rename(trash, self._dir(snapshot_id))
            raise
        if moved:
            self._discarded(snapshot_id, trash)
            purge(trash)

    def stat(self, key: str) -> Info:
        _check_key(key)
        return self._row(key).info()

    def exists(self, key: str) -> bool:
        return self.db.query_one("SELECT 1 FROM snapshots WHERE key = ?", (key,)) is not None

    def walk(self) -> Iterator[Info]:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM snapshots ORDER BY id")
        for row in rows:
            yield Row.from_sql(row).info()

    def usage(self, key: str) -> Usage:
        _check_key(key)
        return tree_usage(self._usage_path(self._row(key)))

    def layer_dir(self, key: str) -> str:
        """The snapshot's own files: where a layer is extracted while it is active.

        Committed snapshots are accepted too (read their layer, never write it);
        views have no layer of their own.
        """
        _check_key(key)
        row = self._row(key)
        if row.kind == "view":
            raise InvalidArgument(f"snapshot {key} is a read-only view")
        return self._fs(row.id)

    def unmount(self, target: str) -> None:
        try:
            _linux.umount(target)
        except OSError as e:
            if e.errno == errno.EBUSY:
                try:
                    _linux.umount(target, _linux.MNT_DETACH)
                except OSError as e2:
                    raise SystemFailure(str(e2)) from e2
                return
            if e.errno == errno.EINVAL:
                raise InvalidArgument(f"{target} is not a mount point") from e
            if e.errno == errno.ENOENT:
                raise NotFound(f"{target}: no such directory") from e
            raise SystemFailure(str(e)) from e

    def cleanup(self) -> int:
        doomed: list[str] = []
        with self.db.transaction() as conn:
            live = {int(r[0]) for r in conn.execute("SELECT id FROM snapshots").fetchall()}
            for name in sorted(os.listdir(self.root)):
                path = os.path.join(self.root, name)
                if _is_id(name):
                    if int(name) in live or not os.path.isdir(path):
                        continue
                elif name.startswith((STAGING_PREFIX, TRASH_PREFIX)):
                    prefix = STAGING_PREFIX if name.startswith(STAGING_PREFIX) else TRASH_PREFIX
                    owner = _owner(name, prefix)
                    if owner is None or pid_alive(*owner):
                        continue
                    restore = _trash_id(name) if prefix == TRASH_PREFIX else None
                    if (
                        restore is not None
                        and restore in live
                        and not os.path.lexists(self._dir(restore))
                    ):
                        # A removal killed before its deletion was committed: the
                        # row is still there, so the directory is still its.
                        os.rename(path, self._dir(restore))
                        continue
                elif name.startswith(".driver-"):
                    owner = _owner(name, ".driver-")
                    if owner is None or pid_alive(*owner):
                        continue
                else:
                    continue
                # Claim it: if another cleanup renamed it first, this rename fails.
                trash = self._new_temp_name(TRASH_PREFIX)
                try:
                    os.rename(path, trash)
                except FileNotFoundError:
                    continue
                doomed.append(trash)
            doomed.extend(self._orphans(live))
        freed = 0
        for path in doomed:
            if os.path.isdir(path) and not os.path.islink(path):
                freed += tree_usage(path).size
            purge(path)
        return freed

    # ------------------------------------------------------------ mounting

    def _wrap_mount_error(self, key: str, target: str, exc: OSError) -> SystemFailure:
        return SystemFailure(f"mounting snapshot {key} on {target}: {exc.strerror or exc}")


def read_driver_marker(root: str) -> str | None:
    """The storage driver recorded in a snapshot root, or None if there is none yet."""
    try:
        with open(os.path.join(root, DRIVER_MARKER), encoding="utf-8") as f:
            name = f.read().strip()
    except FileNotFoundError:
        return None
    return name or None
