"""The metadata database: SQLite in WAL mode, foreign keys on, versioned schema.

Every dockyard process opens the same ``dockyard.db``; SQLite's locking makes
concurrent CLI processes safe. Writers use ``BEGIN IMMEDIATE`` so two writers
never deadlock on a lock upgrade, and a generous busy timeout makes them queue.
The schema version lives in ``PRAGMA user_version``; :data:`MIGRATIONS` holds
one script per version, applied in order inside one transaction each.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from dockyard.store.procs import pid_alive, self_identity

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import Any

BUSY_TIMEOUT_MS = 60_000

MIGRATIONS: list[str] = [
    # version 1: images, layers, snapshots, leases, and room for the other objects.
    """
    CREATE TABLE layers (
        chain_id     TEXT PRIMARY KEY,
        diff_id      TEXT NOT NULL,
        parent       TEXT REFERENCES layers(chain_id),
        size         INTEGER NOT NULL,          -- bytes of file content in the layer
        blob_digest  TEXT NOT NULL,             -- the layer tar in the content store
        blob_size    INTEGER NOT NULL,
        media_type   TEXT NOT NULL,
        created      REAL NOT NULL
    );
    CREATE INDEX layers_parent ON layers(parent);

    CREATE TABLE images (
        id             TEXT PRIMARY KEY,        -- sha256 of the config blob
        created        TEXT NOT NULL,           -- the config's created, RFC 3339
        created_unix   REAL NOT NULL,
        added          REAL NOT NULL,           -- when this store got it
        size           INTEGER NOT NULL,
        parent         TEXT,                    -- local parent image (build, commit)
        top_layer      TEXT REFERENCES layers(chain_id),
        os             TEXT NOT NULL DEFAULT 'linux',
        architecture   TEXT NOT NULL DEFAULT 'amd64',
        labels         TEXT NOT NULL DEFAULT '{}'  -- JSON, copied from the config for filters
    );

    CREATE TABLE image_layers (
        image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        position  INTEGER NOT NULL,
        chain_id  TEXT NOT NULL REFERENCES layers(chain_id),
        PRIMARY KEY (image_id, position)
    );
    CREATE INDEX image_layers_chain ON image_layers(chain_id);

    CREATE TABLE refs (
        name      TEXT PRIMARY KEY,             -- docker.io/library/busybox:latest
        image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        created   REAL NOT NULL
    );
    CREATE INDEX refs_image ON refs(image_id);

    CREATE TABLE repo_digests (
        name      TEXT NOT NULL,                -- docker.io/library/busybox@sha256:...
        image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        PRIMARY KEY (name, image_id)
    );
    CREATE INDEX repo_digests_image ON repo_digests(image_id);

    CREATE TABLE snapshots (
        key       TEXT PRIMARY KEY,
        id        INTEGER NOT NULL UNIQUE,      -- directory name under snapshots/
        kind      TEXT NOT NULL CHECK (kind IN ('active', 'committed', 'view')),
        parent    TEXT REFERENCES snapshots(key),
        created   REAL NOT NULL,
        labels    TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX snapshots_parent ON snapshots(parent);

    CREATE TABLE leases (
        id          TEXT PRIMARY KEY,
        pid         INTEGER NOT NULL,
        pid_start   TEXT NOT NULL,
        created     REAL NOT NULL
    );
    CREATE TABLE lease_resources (
        lease_id  TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
        kind      TEXT NOT NULL,                -- 'layer', 'blob', 'snapshot'
        key       TEXT NOT NULL,
        PRIMARY KEY (lease_id, kind, key)
    );
    CREATE INDEX lease_resources_key ON lease_resources(kind, key);

    CREATE TABLE containers (
        id        TEXT PRIMARY KEY,
        name      TEXT NOT NULL UNIQUE,
        image_id  TEXT REFERENCES images(id),
        created   REAL NOT NULL,
        config    TEXT NOT NULL DEFAULT '{}',
        state     TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX containers_image ON containers(image_id);

    CREATE TABLE volumes (
        name     TEXT PRIMARY KEY,
        driver   TEXT NOT NULL DEFAULT 'local',
        created  REAL NOT NULL,
        labels   TEXT NOT NULL DEFAULT '{}',
        options  TEXT NOT NULL DEFAULT '{}'
    );

    CREATE TABLE networks (
        id       TEXT PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE,
        driver   TEXT NOT NULL,
        created  REAL NOT NULL,
        config   TEXT NOT NULL DEFAULT '{}'
    );

    CREATE TABLE build_cache (
        key        TEXT PRIMARY KEY,
        parent     TEXT,
        image_id   TEXT,
        chain_id   TEXT REFERENCES layers(chain_id),
        created    REAL NOT NULL,
        last_used  REAL NOT NULL,
        description TEXT NOT NULL DEFAULT ''
    );

    CREATE TABLE events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        time_nano  INTEGER NOT NULL,
        type       TEXT NOT NULL,
        action     TEXT NOT NULL,
        actor_id   TEXT NOT NULL,
        attributes TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_time ON events(time_nano);
    """,
    # networking: a container's endpoint on a network (its address allocation) and
    # its published host ports.
    """
    CREATE TABLE network_endpoints (
        network_id    TEXT NOT NULL REFERENCES networks(id),
        container_id  TEXT NOT NULL,
        address       TEXT NOT NULL,            -- IPv4, no prefix
        mac           TEXT NOT NULL,
        aliases       TEXT NOT NULL DEFAULT '[]',
        host_if       TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (network_id, container_id),
        UNIQUE (network_id, address)
    );
    CREATE INDEX network_endpoints_container ON network_endpoints(container_id);

    CREATE TABLE published_ports (
        container_id    TEXT NOT NULL,
        proto           TEXT NOT NULL,
        host_ip         TEXT NOT NULL,
        host_port       INTEGER NOT NULL,
        container_port  INTEGER NOT NULL,
        PRIMARY KEY (proto, host_ip, host_port)
    );
    CREATE INDEX published_ports_container ON published_ports(container_id);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """One connection to the metadata database, with transaction helpers."""

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        self.conn.row_factory = sqlite3.Row
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._set_wal()
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self._depth = 0
        self.migrate()

    def _set_wal(self) -> None:
        # Switching the journal mode needs a moment without other connections
        # mid-write; retry briefly instead of failing a command for it.
        for _ in range(200):
            try:
                self.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError:
                time.sleep(0.05)
        self.conn.execute("PRAGMA journal_mode = WAL")

    def migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return
        with self.transaction():
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            for number in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[number]):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE); nested calls join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def close(self) -> None:
        self.conn.close()


def _statements(script: str) -> Iterator[str]:
    buffer = ""
    for line in script.splitlines(keepends=True):
        code = line.split("--", 1)[0]
        buffer += code
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()


class Leases:
    """Protects resources a process is still working with from garbage collection.

    A lease is owned by a process (pid plus start time); when that process dies,
    the lease is stale and :meth:`reap` removes it. This is containerd's lease idea
    reduced to what a daemonless engine needs.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self) -> str:
        import secrets

        pid, start = self_identity()
        lease_id = secrets.token_hex(8)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO leases (id, pid, pid_start, created) VALUES (?, ?, ?, ?)",
                (lease_id, pid, start, time.time()),
            )
        return lease_id

    def add(self, lease_id: str, kind: str, key: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO lease_resources (lease_id, kind, key) VALUES (?, ?, ?)",
                (lease_id, kind, key),
            )

    def release(self, lease_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM leases WHERE id = ?", (lease_id,))

    def reap(self) -> int:
        """Drop leases whose process is gone; returns how many."""
        stale = [
            row["id"]
            for row in self.db.query("SELECT id, pid, pid_start FROM leases")
            if not pid_alive(row["pid"], row["pid_start"])
        ]
        if stale:
            with self.db.transaction() as conn:
                conn.executemany("DELETE FROM leases WHERE id = ?", [(s,) for s in stale])
        return len(stale)

    def held(self, kind: str) -> set[str]:
        """Keys of this kind that a live lease protects."""
        rows = self.db.query(
            "SELECT r.key, l.pid, l.pid_start FROM lease_resources r"
            " JOIN leases l ON l.id = r.lease_id WHERE r.kind = ?",
            (kind,),
        )
        return {row["key"] for row in rows if pid_alive(row["pid"], row["pid_start"])}
