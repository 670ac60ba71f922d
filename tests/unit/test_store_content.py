"""The content store and the metadata database, without root."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
from pathlib import Path

import pytest

from dockyard.errors import Corrupt, InvalidArgument, NotFound
from dockyard.store.content import ContentStore
from dockyard.store.metadata import MIGRATIONS, SCHEMA_VERSION, Database, Leases


def test_blob_is_invisible_until_committed(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    data = b"hello" * 1000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    writer = store.writer(expected=digest, expected_size=len(data))
    writer.write(data[:100])
    assert not store.exists(digest)
    assert os.listdir(store.ingest_dir) == [os.path.basename(writer.temp_path)]
    writer.write(data[100:])
    assert writer.commit() == digest
    assert store.read(digest) == data
    assert os.listdir(store.ingest_dir) == []
    assert store.verify(digest)


def test_wrong_digest_or_size_is_refused_and_cleaned(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    with pytest.raises(Corrupt, match="digest mismatch"):
        store.ingest(io.BytesIO(b"abc"), expected="sha256:" + "0" * 64)
    with pytest.raises(Corrupt, match="unexpected blob size"):
        store.ingest(io.BytesIO(b"abc"), expected_size=4)
    assert os.listdir(store.ingest_dir) == []
    assert list(store.walk()) == []
    with pytest.raises(InvalidArgument):
        store.path("md5:abc")
    with pytest.raises(NotFound):
        store.read("sha256:" + "1" * 64)


def test_abort_on_exception_and_publish_hook(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    with pytest.raises(RuntimeError), store.writer() as w:
        w.write(b"partial")
        raise RuntimeError("boom")
    assert os.listdir(store.ingest_dir) == []
    seen: list[str] = []
    digest = store.put(b"x", before_publish=seen.append)
    assert seen == [digest] and store.exists(digest)


def test_clean_ingest_keeps_live_writers(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    live = store.writer()
    live.write(b"still writing")
    dead = Path(store.ingest_dir) / "999999999-deadbeef"
    dead.write_bytes(b"left by a killed process")
    assert store.clean_ingest() == len(b"left by a killed process")
    assert os.path.exists(live.temp_path)
    live.abort()


def test_schema_and_migrations(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "d.db"))
    assert db.query_one("PRAGMA user_version")[0] == SCHEMA_VERSION == len(MIGRATIONS)
    assert db.query_one("PRAGMA journal_mode")[0] == "wal"
    assert db.query_one("PRAGMA foreign_keys")[0] == 1
    tables = {r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in ("images", "refs", "layers", "image_layers", "repo_digests", "snapshots",
                  "leases", "containers", "volumes", "networks", "build_cache", "events"):
        assert table in tables
    db.close()
    # Opening again is a no-op migration; a second connection sees the same schema.
    again = Database(str(tmp_path / "d.db"))
    assert again.query_one("PRAGMA user_version")[0] == SCHEMA_VERSION
    # Foreign keys are enforced.
    with pytest.raises(sqlite3.IntegrityError), again.transaction() as conn:
        conn.execute("INSERT INTO refs (name, image_id, created) VALUES ('x', 'nope', 0)")
    again.close()


def test_transactions_roll_back_and_nest(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "d.db"))
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO volumes (name, created) VALUES ('a', 0)")
        with db.transaction() as inner:
            inner.execute("INSERT INTO volumes (name, created) VALUES ('b', 0)")
        raise RuntimeError
    assert db.query("SELECT * FROM volumes") == []


def test_leases_of_dead_processes_are_reaped(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "d.db"))
    leases = Leases(db)
    mine = leases.create()
    leases.add(mine, "blob", "sha256:aa")
    with db.transaction() as conn:
        conn.execute("INSERT INTO leases VALUES ('dead', 999999999, '1', 0)")
        conn.execute("INSERT INTO lease_resources VALUES ('dead', 'blob', 'sha256:bb')")
    assert leases.held("blob") == {"sha256:aa"}
    assert leases.reap() == 1
    assert db.query("SELECT key FROM lease_resources")[0]["key"] == "sha256:aa"
    leases.release(mine)
    assert db.query("SELECT * FROM lease_resources") == []
