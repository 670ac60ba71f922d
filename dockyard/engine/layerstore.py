"""Image layers: a layer tar in the content store plus its unpacked snapshot.

A layer is known by its chain id. Adding one: the blob is already in the content
store; it is unpacked into a fresh active snapshot on its parent, the unpacked
bytes are hashed and checked against the expected diff id, the filesystem is
synced, the snapshot is committed under the chain id, and only then the
``layers`` row is written. A process killed at any point leaves an active
snapshot, a committed snapshot without a row, or nothing — all of which
:meth:`LayerStore.collect_garbage` reclaims, and none of which is visible as a layer.

Every resource a process is working with is recorded under its lease first, so a
concurrent ``rmi`` or ``prune`` in another process never deletes it underneath.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from dockyard import log
from dockyard.errors import Conflict, Corrupt, NotFound
from dockyard.oci import mediatypes as mt
from dockyard.oci.image import chain_ids
from dockyard.store.content import BlobWriter, ContentStore
from dockyard.store.layers.apply import apply_layer
from dockyard.store.layers.compression import Readable, open_decompressed
from dockyard.store.metadata import Database, Leases
from dockyard.store.snapshots.base import Snapshotter


@dataclass(frozen=True)
class Layer:
    chain_id: str
    diff_id: str
    parent: str | None
    size: int
    blob_digest: str
    blob_size: int
    media_type: str


def _layer(row: object) -> Layer:
    r = row  # sqlite3.Row
    return Layer(
        chain_id=r["chain_id"],  # type: ignore[index]
        diff_id=r["diff_id"],  # type: ignore[index]
        parent=r["parent"],  # type: ignore[index]
        size=r["size"],  # type: ignore[index]
        blob_digest=r["blob_digest"],  # type: ignore[index]
        blob_size=r["blob_size"],  # type: ignore[index]
        media_type=r["media_type"],  # type: ignore[index]
    )


class LayerStore:
    def __init__(
        self, db: Database, content: ContentStore, snapshots: Snapshotter, leases: Leases
    ) -> None:
        self.db = db
        self.content = content
        self.snapshots = snapshots
        self.leases = leases

    def get(self, chain_id: str) -> Layer | None:
        row = self.db.query_one("SELECT * FROM layers WHERE chain_id = ?", (chain_id,))
        return _layer(row) if row is not None else None

    def require(self, chain_id: str) -> Layer:
        layer = self.get(chain_id)
        if layer is None:
            raise NotFound(f"layer {chain_id} does not exist")
        return layer

    def claim(self, lease: str, chain_id: str) -> Layer | None:
        """Protect a layer under ``lease`` and return it if it exists.

        The lease row is written first, in the same transaction as the lookup, so a
        garbage collector in another process either sees the lease or the layer is
        already gone and we unpack it anew.
        """
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO lease_resources (lease_id, kind, key)"
                " VALUES (?, 'layer', ?)",
                (lease, chain_id),
            )
            row = conn.execute("SELECT * FROM layers WHERE chain_id = ?", (chain_id,)).fetchone()
        return _layer(row) if row is not None else None

    def unpack(
        self,
        lease: str,
        blob_digest: str,
        media_type: str,
        parent: str | None,
        expected_diff_id: str | None,
    ) -> Layer:
        """Unpack a stored blob on ``parent``; returns the (possibly existing) layer."""
        if expected_diff_id is not None:
            existing = self.claim(lease, _chain(parent, expected_diff_id))
            if existing is not None:
                return existing

        def fill(target: str) -> tuple[str, int, str]:
            with self.content.open(blob_digest) as blob:
                stats = apply_layer(blob, target, whiteouts=self.snapshots.whiteout_format)
            if expected_diff_id is not None and stats.diff_id != expected_diff_id:
                raise Corrupt(
                    f"invalid diffID for layer: expected {expected_diff_id}, got {stats.diff_id}"
                )
            return stats.diff_id, stats.content_size, blob_digest

        return self._new_layer(lease, parent, media_type, fill)

    def unpack_stream(self, lease: str, stream: BinaryIO, parent: str | None) -> Layer:
        """Unpack a (possibly compressed) layer tar from a stream, storing it as it goes.

        The uncompressed tar is written to the content store while it is unpacked,
        in one pass; its digest is the diff id.
        """

        def fill(target: str) -> tuple[str, int, str]:
            with self.content.writer() as writer:
                tee = _Tee(open_decompressed(stream), writer)
                stats = apply_layer(tee, target, whiteouts=self.snapshots.whiteout_format)
                tee.drain()
                blob = writer.commit(before_publish=lambda d: self.leases.add(lease, "blob", d))
            return stats.diff_id, stats.content_size, blob

        return self._new_layer(lease, parent, mt.DOCKER_LAYER, fill)

    def _new_layer(
        self,
        lease: str,
        parent: str | None,
        media_type: str,
        fill: Callable[[str], tuple[str, int, str]],
    ) -> Layer:
        key = f"extract-{lease}-{secrets.token_hex(6)}"
        self.leases.add(lease, "snapshot", key)
        self.snapshots.prepare(key, parent)
        log.debug(f"unpacking a layer into snapshot {key} on {parent or 'nothing'}")
        try:
            target = self.snapshots.layer_dir(key)
            diff_id, size, blob_digest = fill(target)
            # The snapshotter's commit flushes the filesystem (syncfs) before it
            # records the snapshot as committed, so the layer is durable first.
            chain = _chain(parent, diff_id)
            existing = self.claim(lease, chain)
            if existing is not None:
                log.debug(f"layer {chain} appeared meanwhile; using it")
                self.snapshots.remove(key)
                return existing
            try:
                self.snapshots.commit(chain, key)
            except Conflict:
                # Another process committed the same chain first: use theirs.
                self.snapshots.remove(key)
        except BaseException:
            if self.snapshots.exists(key):
                self.snapshots.remove(key)
            raise
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, blob_digest,"
                " blob_size, media_type, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    chain,
                    diff_id,
                    parent,
                    size,
                    blob_digest,
                    self.content.size(blob_digest),
                    media_type,
                    time.time(),
                ),
            )
            row = conn.execute("SELECT * FROM layers WHERE chain_id = ?", (chain,)).fetchone()
        return _layer(row)

    def abandon(self, lease: str, chains: set[str]) -> None:
        """Undo a failed operation: drop its lease, then what it alone had stored."""
        blobs = [
            r["key"]
            for r in self.db.query(
                "SELECT key FROM lease_resources WHERE lease_id = ? AND kind = 'blob'", (lease,)
            )
        ]
        self.leases.release(lease)
        self.collect_garbage(chains)
        for digest in blobs:
            self.drop_blob_if_unused(digest)

    def collect_garbage(self, candidates: set[str] | None = None) -> list[str]:
        """Remove layers no image, child layer, build cache entry or live lease uses.

        ``candidates`` limits the sweep (rmi passes the removed image's chain);
        None sweeps every layer. Returns the removed chain ids, top layers first.
        """
        removed: list[str] = []
        blobs: list[str] = []
        while True:
            with self.db.transaction() as conn:
                held = self.leases.held("layer")
                rows = conn.execute(
                    "SELECT chain_id, blob_digest FROM layers l"
                    " WHERE NOT EXISTS"
                    " (SELECT 1 FROM image_layers il WHERE il.chain_id = l.chain_id)"
                    " AND NOT EXISTS (SELECT 1 FROM layers c WHERE c.parent = l.chain_id)"
                    " AND NOT EXISTS (SELECT 1 FROM build_cache b WHERE b.chain_id = l.chain_id)"
                    " AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.parent = l.chain_id)"
                ).fetchall()
                victims = [
                    r
                    for r in rows
                    if r["chain_id"] not in held
                    and (candidates is None or r["chain_id"] in candidates)
                ]
                if not victims:
                    break
                for r in victims:
                    conn.execute("DELETE FROM layers WHERE chain_id = ?", (r["chain_id"],))
                    if self.snapshots.exists(r["chain_id"]):
                        self.snapshots.remove(r["chain_id"])
                    removed.append(r["chain_id"])
                    blobs.append(r["blob_digest"])
        for digest in blobs:
            self.drop_blob_if_unused(digest)
        if removed:
            log.debug(f"removed {len(removed)} unused layers")
        return removed

    def drop_blob_if_unused(self, digest: str) -> None:
        with self.db.transaction() as conn:
            used = conn.execute(
                "SELECT 1 FROM layers WHERE blob_digest = ? UNION ALL"
                " SELECT 1 FROM images WHERE id = ? UNION ALL"
                " SELECT 1 FROM lease_resources WHERE kind = 'blob' AND key = ?",
                (digest, digest, digest),
            ).fetchone()
            if used is None:
                self.content.delete(digest)


def _chain(parent: str | None, diff_id: str) -> str:
    if parent is None:
        return diff_id
    return chain_ids([parent, diff_id])[1]


class _Tee:
    """A read stream that copies everything read into a blob writer."""

    def __init__(self, source: Readable, sink: BlobWriter) -> None:
        self.source = source
        self.sink = sink

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        if data:
            self.sink.write(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        """Read to the end, so the stored tar includes the archive's trailing blocks."""
        while self.read(1 << 20):
            pass
