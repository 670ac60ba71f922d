"""Blob upload sessions: bytes appended in order, hashed as they arrive.

An upload's running hash lives in memory next to the number of bytes it has
seen. When the session is finished the hash is compared with the client's
digest; only a match is moved into the blob store, so a wrong digest leaves
nothing visible. After a restart (no hash in memory) or when the client names
another algorithm, the data file is hashed again from disk.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import BinaryIO

from dockyard.oci.digest import Hasher, is_supported_algorithm, new_hasher
from dockyard.registry.server.errors import RegistryError
from dockyard.registry.server.store import RegistryStore, upload_data_path

CHUNK = 1 << 20
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class _Session:
    algorithm: str
    hasher: Hasher
    offset: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class UploadWriter:
    """Appends to one session's data file, hashing on the way (runs in a thread)."""

    def __init__(self, session: _Session, file: BinaryIO) -> None:
        self._session = session
        self._file = file

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._session.hasher.update(data)
        self._session.offset += len(data)

    def close(self) -> None:
        self._file.close()


class Uploads:
    def __init__(self, store: RegistryStore) -> None:
        self.store = store
        self._sessions: dict[tuple[str, str], _Session] = {}

    def start(self, name: str, algorithm: str = "sha256") -> str:
        if not is_supported_algorithm(algorithm):
            raise RegistryError(
                "DIGEST_INVALID", {"digest-algorithm": algorithm[:100]},
                message="unsupported digest algorithm",
            )
        upload_id = self.store.new_upload(name, algorithm)
        self._sessions[(name, upload_id)] = _Session(algorithm, new_hasher(algorithm), 0)
        return upload_id

    def session(self, name: str, upload_id: str) -> _Session:
        """The live session, rebuilt from disk after a restart; or BLOB_UPLOAD_UNKNOWN."""
        if not _UUID.fullmatch(upload_id):
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"uuid": upload_id[:100]})
        key = (name, upload_id)
        session = self._sessions.get(key)
        if session is not None and self.store.upload_size(name, upload_id) == session.offset:
            return session  # else the file changed under us (another process): rehash
        self._sessions.pop(key, None)
        algorithm = self.store.upload_algorithm(name, upload_id)
        size = self.store.upload_size(name, upload_id)
        if algorithm is None or size is None or not is_supported_algorithm(algorithm):
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"uuid": upload_id})
        hasher = self._hash_file(name, upload_id, algorithm)
        session = _Session(algorithm, hasher, size)
        self._sessions[key] = session
        return session

    def _hash_file(self, name: str, upload_id: str, algorithm: str) -> Hasher:
        hasher = new_hasher(algorithm)
        with open(self.store.driver.local_path(upload_data_path(name, upload_id)), "rb") as f:
            while chunk := f.read(CHUNK):
                hasher.update(chunk)
        return hasher

    def writer(self, name: str, upload_id: str) -> UploadWriter:
        session = self.session(name, upload_id)
        file = self.store.driver.open_append(upload_data_path(name, upload_id))
        if file.tell() != session.offset:  # a write died half-way: trust the file
            file.close()
            self._sessions.pop((name, upload_id), None)
            session = self.session(name, upload_id)
            file = self.store.driver.open_append(upload_data_path(name, upload_id))
        return UploadWriter(session, file)

    def computed_digest(self, name: str, upload_id: str, algorithm: str) -> str:
        session = self.session(name, upload_id)
        if session.algorithm == algorithm:
            return f"{algorithm}:{session.hasher.hexdigest()}"
        return f"{algorithm}:{self._hash_file(name, upload_id, algorithm).hexdigest()}"

    def finish(self, name: str, upload_id: str, digest: str) -> int:
        """Verify and commit; on a mismatch the session is cancelled (DIGEST_INVALID)."""
        algorithm = digest.partition(":")[0]
        computed = self.computed_digest(name, upload_id, algorithm)
        size = self.session(name, upload_id).offset
        if computed != digest:
            self.cancel(name, upload_id)
            raise RegistryError(
                "DIGEST_INVALID", {"expected": digest, "computed": computed},
            )
        self.store.commit_upload(name, upload_id, digest)
        self._sessions.pop((name, upload_id), None)
        return size

    def cancel(self, name: str, upload_id: str) -> None:
        self._sessions.pop((name, upload_id), None)
        self.store.delete_upload(name, upload_id)

    def forget(self, name: str, upload_id: str) -> None:
        self._sessions.pop((name, upload_id), None)
