"""Content-addressed blob store: ``blobs/sha256/<hex>``.

A blob is written to ``blobs/ingest/<pid>-<random>``, hashed while written,
fsynced, verified against the expected digest and only then renamed into
place, so a partial blob is never visible under its digest. The pid in the
ingest name lets :meth:`ContentStore.clean_ingest` tell a live writer from the
leftovers of a killed process.
"""

from __future__ import annotations

import contextlib
import os

from dockyard.errors import Corrupt, InvalidArgument, NotFound
from dockyard.store.procs import pid_alive

TYPE_CHECKING = False  # reading a blob (every container start) needs none of these
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import BinaryIO

_CHUNK = 1 << 20


def _split(digest: str) -> tuple[str, str]:
    algo, sep, hexpart = digest.partition(":")
    if not sep or algo != "sha256" or len(hexpart) != 64 or not _is_hex(hexpart):
        raise InvalidArgument(f"invalid digest {digest!r}")
    return algo, hexpart


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


class BlobWriter:
    """Streams one blob into the ingest area; :meth:`commit` makes it visible."""

    def __init__(
        self, store: ContentStore, expected: str | None, expected_size: int | None
    ) -> None:
        self._store = store
        self._expected = expected
        self._expected_size = expected_size
        import hashlib
        import secrets

        self._hash = hashlib.sha256()
        self.size = 0
        self.temp_path = os.path.join(store.ingest_dir, f"{os.getpid()}-{secrets.token_hex(8)}")
        self._file: BinaryIO | None = open(self.temp_path, "xb")  # noqa: SIM115

    def write(self, data: bytes | bytearray | memoryview) -> int:
        assert self._file is not None
        self._hash.update(data)
        self.size += len(data)
        return self._file.write(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def commit(self, before_publish: Callable[[str], None] | None = None) -> str:
        """Verify, fsync and rename the blob into place; returns its digest.

        ``before_publish`` runs with the digest just before the rename: callers
        use it to take a lease on the blob so no collector can delete it between
        its appearance and its first reference.
        """
        assert self._file is not None
        digest = self.digest
        try:
            if self._expected_size is not None and self.size != self._expected_size:
                raise Corrupt(
                    f"unexpected blob size {self.size}, expected {self._expected_size}"
                    f" for {self._expected or digest}"
                )
            if self._expected is not None and digest != self._expected:
                raise Corrupt(f"digest mismatch: expected {self._expected}, got {digest}")
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            final = self._store.path(digest)
            if before_publish is not None:
                before_publish(digest)
            if os.path.exists(final):
                os.unlink(self.temp_path)
            else:
                os.rename(self.temp_path, final)
        except BaseException:
            self.abort()
            raise
        return digest

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp_path)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self.abort()


class ContentStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self.blob_dir = os.path.join(root, "sha256")
        self.ingest_dir = os.path.join(root, "ingest")
        os.makedirs(self.blob_dir, exist_ok=True)
        os.makedirs(self.ingest_dir, exist_ok=True)

    def path(self, digest: str) -> str:
        _, hexpart = _split(digest)
        return os.path.join(self.blob_dir, hexpart)

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: str) -> int:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def writer(self, expected: str | None = None, expected_size: int | None = None) -> BlobWriter:
        if expected is not None:
            _split(expected)
        return BlobWriter(self, expected, expected_size)

    @staticmethod
    def digest_of(data: bytes) -> str:
        import hashlib

        return "sha256:" + hashlib.sha256(data).hexdigest()

    def put(
        self,
        data: bytes,
        expected: str | None = None,
        before_publish: Callable[[str], None] | None = None,
    ) -> str:
        digest = self.digest_of(data)
        if expected is not None and digest != expected:
            raise Corrupt(f"digest mismatch: expected {expected}, got {digest}")
        if before_publish is None and self.exists(digest):
            return digest
        with self.writer() as w:
            w.write(data)
            return w.commit(before_publish)

    def ingest(
        self, stream: BinaryIO, expected: str | None = None, expected_size: int | None = None
    ) -> tuple[str, int]:
        """Copy a whole stream into the store; returns (digest, size)."""
        with self.writer(expected, expected_size) as w:
            while chunk := stream.read(_CHUNK):
                w.write(chunk)
            return w.commit(), w.size

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(digest))

    def walk(self) -> Iterator[str]:
        for name in os.listdir(self.blob_dir):
            if len(name) == 64 and _is_hex(name):
                yield "sha256:" + name

    def verify(self, digest: str) -> bool:
        """Re-hash a stored blob (repair and fsck use this)."""
        import hashlib

        h = hashlib.sha256()
        with self.open(digest) as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        return "sha256:" + h.hexdigest() == digest

    def clean_ingest(self) -> int:
        """Remove ingest files whose writing process is gone; returns bytes freed."""
        freed = 0
        for name in os.listdir(self.ingest_dir):
            pid_text = name.split("-", 1)[0]
            if pid_text.isdigit() and pid_alive(int(pid_text)):
                continue
            path = os.path.join(self.ingest_dir, name)
            try:
                freed += os.stat(path).st_size
                os.unlink(path)
            except FileNotFoundError:
                pass
        return freed
