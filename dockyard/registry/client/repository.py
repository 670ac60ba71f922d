"""The distribution API calls on one repository: manifests, tags, blob existence,
cross-repository mounts, uploads (monolithic or chunked) and manifest PUT."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urljoin

import httpx

from dockyard import log
from dockyard.errors import Corrupt
from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import sha256_digest
from dockyard.registry.client.errors import (
    RegistryError,
    TransientError,
    registry_error,
)
from dockyard.registry.client.session import Session, pull_scope, push_scope, retry_after

MANIFEST_ACCEPT = ", ".join(
    [*mt.MANIFEST_ACCEPT, mt.DOCKER_SCHEMA1_SIGNED_MANIFEST, mt.DOCKER_SCHEMA1_MANIFEST]
)
MAX_MANIFEST_SIZE = 4 << 20
MONOLITHIC_LIMIT = 32 << 20  # blobs up to this size are uploaded in one PUT
CHUNK_SIZE = 64 << 20


@dataclass(frozen=True)
class FetchedManifest:
    data: bytes
    media_type: str
    digest: str


class Repository:
    def __init__(self, session: Session, path: str, *, push: bool = False) -> None:
        self.session = session
        self.path = path
        self.scopes = [push_scope(path) if push else pull_scope(path)]

    # ------------------------------------------------------------------ manifests

    def get_manifest(self, reference: str) -> FetchedManifest:
        """GET a manifest by tag or digest; a digest reference is verified."""
        resp = self.session.call(
            "GET",
            f"/v2/{self.path}/manifests/{reference}",
            scopes=self.scopes,
            headers={"Accept": MANIFEST_ACCEPT},
        )
        data = resp.content
        if len(data) > MAX_MANIFEST_SIZE:
            raise Corrupt(f"manifest for {self.path}:{reference} is too large")
        digest = sha256_digest(data)
        if reference.startswith("sha256:") and digest != reference:
            raise Corrupt(f"manifest verification failed for digest {reference}")
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        return FetchedManifest(data, media_type, digest)

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        url = f"/v2/{self.path}/manifests/{reference}"
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self.session.send(
                    "PUT",
                    url,
                    scopes=self.scopes,
                    headers={"Content-Type": media_type},
                    content=data,
                )
                if resp.status_code in (200, 201, 202):
                    return str(resp.headers.get("docker-content-digest") or sha256_digest(data))
                err = registry_error(resp, "PUT")
                if not err.transient or attempt >= self.session.settings.attempts:
                    raise err
                delay = retry_after(resp)
            except TransientError:
                if attempt >= self.session.settings.attempts:
                    raise
                delay = None
            time.sleep(delay if delay is not None else self.session.settings.backoff_delay(attempt))

    def tags(self) -> list[str]:
        """Every tag, following ``Link`` pagination."""
        result: list[str] = []
        path: str | None = f"/v2/{self.path}/tags/list"
        while path:
            resp = self.session.call("GET", path, scopes=self.scopes)
            doc = resp.json()
            result.extend(str(t) for t in doc.get("tags") or [])
            link = resp.links.get("next", {}).get("url")
            path = urljoin(self.session.url(path), link) if link else None
        return result

    # ------------------------------------------------------------------ blobs

    def blob_exists(self, digest: str) -> bool:
        resp = self.session.call(
            "HEAD", f"/v2/{self.path}/blobs/{digest}", scopes=self.scopes, ok=(200, 404)
        )
        return resp.status_code == 200

    def mount_or_start(self, digest: str, source: str | None) -> str | None:
        """Try a cross-repository mount; None when mounted, else a new upload URL."""
        scopes = list(self.scopes)
        params: dict[str, str] = {}
        if source:
            scopes.append(pull_scope(source))
            params = {"mount": digest, "from": source}
        resp = self.session.send(
            "POST",
            f"/v2/{self.path}/blobs/uploads/",
            scopes=scopes,
            params=params,
            headers={"Content-Length": "0"},
        )
        if resp.status_code == 201 and source:
            return None
        if resp.status_code != 202:
            raise registry_error(resp, "POST")
        return self._location(resp)

    def _location(self, resp: httpx.Response) -> str:
        location = resp.headers.get("location")
        if not location:
            raise RegistryError("the registry gave no upload location", resp.status_code)
        return str(urljoin(str(resp.request.url), str(location)))

    def upload(
        self,
        location: str,
        source: BinaryIO,
        size: int,
        digest: str,
        progress: Callable[[int], None],
    ) -> None:
        """Send a blob to an upload session: one PUT, or PATCH chunks then PUT."""
        if size <= MONOLITHIC_LIMIT:
            body = _Reader(source, size, progress)
            resp = self.session.send(
                "PUT",
                str(httpx.URL(location).copy_merge_params({"digest": digest})),
                scopes=self.scopes,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                content=body,
            )
            _expect(resp, (201, 204), "PUT")
            return
        offset = 0
        while offset < size:
            length = min(CHUNK_SIZE, size - offset)
            body = _Reader(source, length, progress)
            resp = self.session.send(
                "PATCH",
                location,
                scopes=self.scopes,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(length),
                    "Content-Range": f"{offset}-{offset + length - 1}",
                },
                content=body,
            )
            _expect(resp, (202,), "PATCH")
            location = self._location(resp)
            offset += length
        resp = self.session.send(
            "PUT",
            str(httpx.URL(location).copy_merge_params({"digest": digest})),
            scopes=self.scopes,
            headers={"Content-Length": "0"},
            content=b"",
        )
        _expect(resp, (201, 204), "PUT")
        log.debug(f"uploaded {digest} in chunks")


def _expect(resp: httpx.Response, ok: tuple[int, ...], method: str) -> None:
    if resp.status_code not in ok:
        resp.read()
        raise registry_error(resp, method)


class _Reader:
    """An iterable request body over ``length`` bytes of a file, reporting progress."""

    def __init__(self, source: BinaryIO, length: int, progress: Callable[[int], None]) -> None:
        self.source = source
        self.length = length
        self.progress = progress

    def __iter__(self):  # type: ignore[no-untyped-def]
        left = self.length
        while left:
            chunk = self.source.read(min(left, 1 << 20))
            if not chunk:
                raise Corrupt("blob is shorter than recorded")
            left -= len(chunk)
            self.progress(len(chunk))
            yield chunk


def file_size(f: BinaryIO) -> int:
    return os.fstat(f.fileno()).st_size
