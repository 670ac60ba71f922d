"""The registry's content on a storage driver, in distribution's layout.

::

    /docker/registry/v2/blobs/<alg>/<hex[:2]>/<hex>/data           blob and manifest bytes
    /docker/registry/v2/repositories/<name>/
        _layers/<alg>/<hex>/link                                   blobs linked into <name>
        _manifests/revisions/<alg>/<hex>/link                      manifests of <name>
        _manifests/tags/<tag>/current/link                         what <tag> points to
        _manifests/tags/<tag>/index/<alg>/<hex>/link               what <tag> pointed to
        _manifests/referrers/<alg>/<hex>/<alg>/<hex>/link          subject -> referrer
        _uploads/<uuid>/data, startedat, algorithm                 uploads in progress

The same layout as distribution's (``referrers`` is dockyard's addition), so
``docker-registry`` can serve a directory this registry wrote, and back. A link
file holds a digest; it is written atomically after the content it points to is
durable, so a reader following links never finds half of anything.
"""

from __future__ import annotations

import time
import uuid as uuidlib

from dockyard.registry.server.driver import StorageDriver

ROOT = "/docker/registry/v2"
BLOBS = f"{ROOT}/blobs"
REPOSITORIES = f"{ROOT}/repositories"


def _split(digest: str) -> tuple[str, str]:
    algorithm, _, encoded = digest.partition(":")
    return algorithm, encoded


def blob_data_path(digest: str) -> str:
    algorithm, encoded = _split(digest)
    return f"{BLOBS}/{algorithm}/{encoded[:2]}/{encoded}/data"


def _repo(name: str) -> str:
    return f"{REPOSITORIES}/{name}"


def _layer_link(name: str, digest: str) -> str:
    algorithm, encoded = _split(digest)
    return f"{_repo(name)}/_layers/{algorithm}/{encoded}/link"


def _revision_link(name: str, digest: str) -> str:
    algorithm, encoded = _split(digest)
    return f"{_repo(name)}/_manifests/revisions/{algorithm}/{encoded}/link"


def _tags_dir(name: str) -> str:
    return f"{_repo(name)}/_manifests/tags"


def _tag_current(name: str, tag: str) -> str:
    return f"{_tags_dir(name)}/{tag}/current/link"


def _tag_index(name: str, tag: str, digest: str) -> str:
    algorithm, encoded = _split(digest)
    return f"{_tags_dir(name)}/{tag}/index/{algorithm}/{encoded}/link"


def _referrers_dir(name: str, subject: str) -> str:
    algorithm, encoded = _split(subject)
    return f"{_repo(name)}/_manifests/referrers/{algorithm}/{encoded}"


def _upload_dir(name: str, upload_id: str) -> str:
    return f"{_repo(name)}/_uploads/{upload_id}"


def upload_data_path(name: str, upload_id: str) -> str:
    return f"{_upload_dir(name, upload_id)}/data"


class RegistryStore:
    """Blobs, manifests, tags and uploads of every repository."""

    def __init__(self, driver: StorageDriver) -> None:
        self.driver = driver

    # ------------------------------------------------------------------ links

    def _read_link(self, path: str) -> str | None:
        try:
            return self.driver.read(path).decode().strip() or None
        except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
            return None

    def _write_link(self, path: str, digest: str) -> None:
        self.driver.write_atomic(path, digest.encode())

    # ------------------------------------------------------------------ blobs

    def blob_size(self, digest: str) -> int | None:
        """Size of a stored blob, whichever repository it came through."""
        return self.driver.size(blob_data_path(digest))

    def blob_local_path(self, digest: str) -> str:
        return self.driver.local_path(blob_data_path(digest))

    def linked_blob_size(self, name: str, digest: str) -> int | None:
        """Size of a blob that ``name`` may serve: linked there and present."""
        if self._read_link(_layer_link(name, digest)) != digest:
            return None
        return self.blob_size(digest)

    def link_blob(self, name: str, digest: str) -> None:
        self._write_link(_layer_link(name, digest), digest)

    def unlink_blob(self, name: str, digest: str) -> bool:
        path = _layer_link(name, digest)
        if self._read_link(path) is None:
            return False
        self.driver.delete(path.rsplit("/", 1)[0])
        return True

    def layer_links(self, name: str) -> list[str]:
        return self._links_under(f"{_repo(name)}/_layers")

    def _links_under(self, directory: str) -> list[str]:
        """Digests of ``<directory>/<alg>/<hex>/link`` entries."""
        found = []
        for algorithm in self.driver.list(directory):
            for encoded in self.driver.list(f"{directory}/{algorithm}"):
                if self._read_link(f"{directory}/{algorithm}/{encoded}/link"):
                    found.append(f"{algorithm}:{encoded}")
        return found

    def all_blobs(self) -> list[str]:
        found = []
        for algorithm in self.driver.list(BLOBS):
            for prefix in self.driver.list(f"{BLOBS}/{algorithm}"):
                for encoded in self.driver.list(f"{BLOBS}/{algorithm}/{prefix}"):
                    found.append(f"{algorithm}:{encoded}")
        return found

    def delete_blob_data(self, digest: str) -> None:
        self.driver.delete(blob_data_path(digest).rsplit("/", 1)[0])

    # ------------------------------------------------------------- manifests

    def manifest_exists(self, name: str, digest: str) -> bool:
        return self._read_link(_revision_link(name, digest)) == digest and (
            self.blob_size(digest) is not None
        )

    def read_manifest(self, name: str, digest: str) -> bytes | None:
        if self._read_link(_revision_link(name, digest)) != digest:
            return None
        try:
            return self.driver.read(blob_data_path(digest))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def put_manifest(self, name: str, digest: str, data: bytes, subject: str | None) -> None:
        """Store the bytes as a blob, then link the revision (and the referrer)."""
        if self.blob_size(digest) != len(data):
            self.driver.write_atomic(blob_data_path(digest), data)
        self._write_link(_revision_link(name, digest), digest)
        if subject is not None:
            algorithm, encoded = _split(digest)
            self._write_link(
                f"{_referrers_dir(name, subject)}/{algorithm}/{encoded}/link", digest
            )

    def revisions(self, name: str) -> list[str]:
        return self._links_under(f"{_repo(name)}/_manifests/revisions")

    def referrers(self, name: str, subject: str) -> list[str]:
        return [
            d for d in self._links_under(_referrers_dir(name, subject))
            if self.manifest_exists(name, d)
        ]

    def delete_manifest(self, name: str, digest: str, subject: str | None) -> bool:
        """Unlink a revision, every tag pointing at it and its referrer entry."""
        if not self.manifest_exists(name, digest):
            return False
        for tag in self.tags(name):
            if self.resolve_tag(name, tag) == digest:
                self.delete_tag(name, tag)
        if subject is not None:
            algorithm, encoded = _split(digest)
            self.driver.delete(f"{_referrers_dir(name, subject)}/{algorithm}/{encoded}")
        self.driver.delete(_revision_link(name, digest).rsplit("/", 1)[0])
        return True

    # ------------------------------------------------------------------ tags

    def resolve_tag(self, name: str, tag: str) -> str | None:
        return self._read_link(_tag_current(name, tag))

    def set_tag(self, name: str, tag: str, digest: str) -> None:
        self._write_link(_tag_index(name, tag, digest), digest)
        self._write_link(_tag_current(name, tag), digest)

    def delete_tag(self, name: str, tag: str) -> bool:
        if self.resolve_tag(name, tag) is None:
            return False
        self.driver.delete(f"{_tags_dir(name)}/{tag}")
        return True

    def tags(self, name: str) -> list[str]:
        """Tags in Go's ``sort.Strings`` order (byte order)."""
        return sorted(
            t for t in self.driver.list(_tags_dir(name)) if self.resolve_tag(name, t) is not None
        )

    # ----------------------------------------------------------- repositories

    def repository_exists(self, name: str) -> bool:
        return any(e.startswith("_") for e in self.driver.list(_repo(name)))

    def repositories(self) -> list[str]:
        """Every repository name, sorted: directories holding ``_layers``,
        ``_manifests`` or ``_uploads``, as distribution's catalog walk finds them."""
        found: list[str] = []
        self._walk_repositories("", found)
        return sorted(found)

    def _walk_repositories(self, prefix: str, found: list[str]) -> None:
        base = f"{REPOSITORIES}/{prefix}" if prefix else REPOSITORIES
        entries = self.driver.list(base)
        if prefix and any(e.startswith("_") for e in entries):
            found.append(prefix)
        for entry in entries:
            if not entry.startswith("_") and not entry.startswith("."):
                child = f"{prefix}/{entry}" if prefix else entry
                if self.driver.is_dir(f"{REPOSITORIES}/{child}"):
                    self._walk_repositories(child, found)

    # ---------------------------------------------------------------- uploads

    def new_upload(self, name: str, algorithm: str) -> str:
        upload_id = str(uuidlib.uuid4())
        directory = _upload_dir(name, upload_id)
        self.driver.write_atomic(f"{directory}/algorithm", algorithm.encode())
        self.driver.write_atomic(f"{directory}/startedat", f"{time.time():.6f}".encode())
        self.driver.write_atomic(f"{directory}/data", b"")
        return upload_id

    def upload_algorithm(self, name: str, upload_id: str) -> str | None:
        try:
            return self.driver.read(f"{_upload_dir(name, upload_id)}/algorithm").decode()
        except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
            return None

    def upload_size(self, name: str, upload_id: str) -> int | None:
        return self.driver.size(upload_data_path(name, upload_id))

    def upload_started(self, name: str, upload_id: str) -> float | None:
        return self.driver.mtime(f"{_upload_dir(name, upload_id)}/startedat")

    def uploads(self, name: str) -> list[str]:
        return self.driver.list(f"{_repo(name)}/_uploads")

    def purge_uploads(self, older_than: float) -> list[tuple[str, str]]:
        """Delete uploads started before ``older_than`` (a time.time() value)."""
        purged = []
        for name in self.repositories():
            for upload_id in self.uploads(name):
                started = self.upload_started(name, upload_id)
                if started is None or started < older_than:
                    self.delete_upload(name, upload_id)
                    purged.append((name, upload_id))
        return purged

    def delete_upload(self, name: str, upload_id: str) -> None:
        self.driver.delete(_upload_dir(name, upload_id))

    def commit_upload(self, name: str, upload_id: str, digest: str) -> None:
        """Make a verified upload the blob ``digest`` and link it into ``name``."""
        data = upload_data_path(name, upload_id)
        if self.blob_size(digest) is None:
            self.driver.sync_file(data)
            self.driver.move(data, blob_data_path(digest))
        self.link_blob(name, digest)
        self.delete_upload(name, upload_id)
