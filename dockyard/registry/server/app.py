"""The distribution API over aiohttp: routing, handlers and error bodies.

One catch-all route hands ``/v2/...`` to :meth:`RegistryApp.dispatch`, which
splits the path itself: repository names contain slashes, and a name that
breaks the spec's grammar must still get a NAME_INVALID body rather than a
routing 404. Request bodies are streamed to disk in 1 MiB pieces (hashing and
writing run in worker threads); blobs are served with ``FileResponse``, which
uses sendfile and answers Range requests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import new_hasher
from dockyard.registry.server import manifests
from dockyard.registry.server.auth import Access, Authenticator
from dockyard.registry.server.errors import RegistryError
from dockyard.registry.server.names import (
    check_digest,
    check_name,
    check_tag,
    is_valid_name,
    looks_like_digest,
)
from dockyard.registry.server.store import RegistryStore
from dockyard.registry.server.uploads import CHUNK, Uploads, UploadWriter

log = logging.getLogger("dockyard.registry")

API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")
CATALOG_DEFAULT_ENTRIES = 100  # distribution's defaultReturnedEntries
CATALOG_MAX_ENTRIES = 1000  # distribution's catalog maxentries default
_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?([0-9]{1,18})-([0-9]{1,18})(?:/[0-9*]+)?")

_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("uploads", re.compile(r"(?P<name>.+)/blobs/uploads/?")),
    ("upload", re.compile(r"(?P<name>.+)/blobs/uploads/(?P<uuid>[^/]+)")),
    ("blob", re.compile(r"(?P<name>.+)/blobs/(?P<digest>[^/]+)")),
    ("manifest", re.compile(r"(?P<name>.+)/manifests/(?P<reference>[^/]+)")),
    ("tags", re.compile(r"(?P<name>.+)/tags/list")),
    ("referrers", re.compile(r"(?P<name>.+)/referrers/(?P<digest>[^/]+)")),
]
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Options:
    """What the handlers need to know about the registry's configuration."""

    read_only: bool = False
    delete_enabled: bool = False


Handler = Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse]]


class RegistryApp:
    def __init__(
        self,
        store: RegistryStore,
        options: Options | None = None,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.store = store
        self.uploads = Uploads(store)
        self.options = options or Options()
        self.authenticator = authenticator
        self._handlers: dict[tuple[str, str], Handler] = {
            ("uploads", "POST"): self.start_upload,
            ("upload", "GET"): self.upload_status,
            ("upload", "PATCH"): self.patch_upload,
            ("upload", "PUT"): self.finish_upload,
            ("upload", "DELETE"): self.cancel_upload,
            ("blob", "GET"): self.get_blob,
            ("blob", "HEAD"): self.get_blob,
            ("blob", "DELETE"): self.delete_blob,
            ("manifest", "GET"): self.get_manifest,
            ("manifest", "HEAD"): self.get_manifest,
            ("manifest", "PUT"): self.put_manifest,
            ("manifest", "DELETE"): self.delete_manifest,
            ("tags", "GET"): self.list_tags,
            ("referrers", "GET"): self.list_referrers,
        }

    def application(self) -> web.Application:
        app = web.Application(client_max_size=manifests.MAX_MANIFEST_SIZE + 1)
        app.router.add_route("*", "/v2", self.dispatch)
        app.router.add_route("*", "/v2/{tail:.*}", self.dispatch)
        app.on_response_prepare.append(_add_version_header)
        return app

    # --------------------------------------------------------------- dispatch

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._dispatch(request)
        except RegistryError as err:
            return error_response(err)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return error_response(RegistryError("UNKNOWN"))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        tail = request.path[len("/v2/"):] if request.path.startswith("/v2/") else ""
        if tail == "":
            await self._authorize(request, [])
            if request.method not in ("GET", "HEAD"):
                raise _method_not_allowed()
            return web.json_response({})
        if tail == "_catalog":
            await self._authorize(request, [Access("registry", "catalog", ("*",))])
            if request.method not in ("GET", "HEAD"):
                raise _method_not_allowed()
            return await self.catalog(request)
        for route, pattern in _ROUTES:
            match = pattern.fullmatch(tail)
            if match is None:
                continue
            params = match.groupdict()
            await self._authorize(request, _required_access(route, request, params["name"]))
            check_name(params["name"])
            handler = self._handlers.get((route, request.method))
            if handler is None:
                raise _method_not_allowed()
            if self.options.read_only and request.method in _WRITE_METHODS:
                raise RegistryError(
                    "UNSUPPORTED", message="registry is in read-only mode", status=405
                )
            return await handler(request, params)
        return web.Response(status=404, text="404 page not found\n")

    async def _authorize(self, request: web.Request, access: list[Access]) -> None:
        if self.authenticator is not None:
            await self.authenticator.authorize(request, access)

    def _deletes_allowed(self) -> None:
        if not self.options.delete_enabled:
            raise RegistryError("UNSUPPORTED", message="The operation is unsupported.")

    # -------------------------------------------------------------- manifests

    def _resolve(self, name: str, reference: str) -> str:
        """The digest a manifest reference names in ``name``; MANIFEST_UNKNOWN otherwise."""
        if looks_like_digest(reference):
            return check_digest(reference)
        check_tag(reference)
        digest = self.store.resolve_tag(name, reference)
        if digest is None:
            raise RegistryError(
                "MANIFEST_UNKNOWN", {"Name": name, "Revision": None, "Tag": reference}
            )
        return digest

    async def get_manifest(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        name, reference = p["name"], p["reference"]
        digest = self._resolve(name, reference)
        data = self.store.read_manifest(name, digest)
        if data is None:
            raise RegistryError("MANIFEST_UNKNOWN", {"Name": name, "Revision": digest})
        headers = {
            "Docker-Content-Digest": digest,
            "Etag": f'"{digest}"',
            "Content-Type": manifests.stored_media_type(data),
        }
        if request.headers.get("If-None-Match", "").strip() == f'"{digest}"':
            return web.Response(status=304, headers=headers)
        return web.Response(body=data, headers=headers)

    async def put_manifest(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        name, reference = p["name"], p["reference"]
        by_digest = looks_like_digest(reference)
        if by_digest:
            check_digest(reference)
        else:
            check_tag(reference)
        extra_tags = [check_tag(t) for t in request.query.getall("tag", [])] if by_digest else []
        data = await _read_limited(request, manifests.MAX_MANIFEST_SIZE)
        parsed = manifests.parse(data, request.headers.get("Content-Type", ""))
        algorithm = reference.partition(":")[0] if by_digest else "sha256"
        hasher = new_hasher(algorithm)
        hasher.update(data)
        digest = f"{algorithm}:{hasher.hexdigest()}"
        if by_digest and digest != reference:
            raise RegistryError("DIGEST_INVALID", {"expected": reference, "computed": digest})
        self._verify_references(name, parsed)
        tags = extra_tags if by_digest else [reference]
        await asyncio.to_thread(self._store_manifest, name, digest, data, parsed.subject, tags)
        headers = {
            "Location": f"/v2/{name}/manifests/{digest}",
            "Docker-Content-Digest": digest,
        }
        if parsed.subject is not None:
            headers["OCI-Subject"] = parsed.subject
        response = web.Response(status=201, headers=headers)
        if extra_tags:
            response.headers["OCI-Tag"] = ", ".join(extra_tags)
        return response

    def _store_manifest(
        self, name: str, digest: str, data: bytes, subject: str | None, tags: list[str]
    ) -> None:
        self.store.put_manifest(name, digest, data, subject)
        for tag in tags:
            self.store.set_tag(name, tag, digest)

    def _verify_references(self, name: str, parsed: manifests.ParsedManifest) -> None:
        """As distribution: every blob (except foreign layers with URLs) must be linked
        in the repository and every referenced manifest present there."""
        missing = [
            ref.digest for ref in parsed.blobs
            if not ref.urls and self.store.linked_blob_size(name, ref.digest) is None
        ]
        missing += [
            ref.digest for ref in parsed.manifests
            if not self.store.manifest_exists(name, ref.digest)
        ]
        if missing:
            raise RegistryError(
                "MANIFEST_BLOB_UNKNOWN", {"digest": missing[0], "missing": missing},
                message=f"blob unknown to registry: {missing[0]}",
            )

    async def delete_manifest(
        self, request: web.Request, p: dict[str, str]
    ) -> web.StreamResponse:
        self._deletes_allowed()
        name, reference = p["name"], p["reference"]
        if not looks_like_digest(reference):
            check_tag(reference)
            if not await asyncio.to_thread(self.store.delete_tag, name, reference):
                raise RegistryError("MANIFEST_UNKNOWN", {"Name": name, "Tag": reference})
            return web.Response(status=202)
        digest = check_digest(reference)
        data = self.store.read_manifest(name, digest)
        if data is None:
            raise RegistryError("MANIFEST_UNKNOWN", {"Name": name, "Revision": digest})
        try:
            subject = manifests.parse(data, "").subject
        except RegistryError:
            subject = None
        await asyncio.to_thread(self.store.delete_manifest, name, digest, subject)
        return web.Response(status=202)

    # ------------------------------------------------------------------ blobs

    async def get_blob(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        name, digest = p["name"], check_digest(p["digest"])
        if self.store.linked_blob_size(name, digest) is None:
            raise RegistryError("BLOB_UNKNOWN", {"digest": digest})
        return web.FileResponse(
            self.store.blob_local_path(digest),
            chunk_size=CHUNK,
            headers={
                "Docker-Content-Digest": digest,
                "Content-Type": "application/octet-stream",
                "Cache-Control": "max-age=31536000",
            },
        )

    async def delete_blob(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        self._deletes_allowed()
        name, digest = p["name"], check_digest(p["digest"])
        if not await asyncio.to_thread(self.store.unlink_blob, name, digest):
            raise RegistryError("BLOB_UNKNOWN", {"digest": digest})
        return web.Response(status=202, headers={"Docker-Content-Digest": digest})

    # ---------------------------------------------------------------- uploads

    async def start_upload(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        name = p["name"]
        mount = request.query.get("mount")
        if mount is not None:
            digest = check_digest(mount)
            source = request.query.get("from", "")
            if (
                is_valid_name(source)
                and self.store.linked_blob_size(source, digest) is not None
            ):
                await asyncio.to_thread(self.store.link_blob, name, digest)
                return _blob_created(name, digest)
        digest_param = request.query.get("digest")
        if digest_param is not None:
            digest = check_digest(digest_param)
            upload_id = await asyncio.to_thread(
                self.uploads.start, name, digest.partition(":")[0]
            )
            try:
                await self._receive(request, name, upload_id)
                await asyncio.to_thread(self.uploads.finish, name, upload_id, digest)
            except BaseException:
                await asyncio.to_thread(self.uploads.cancel, name, upload_id)
                raise
            return _blob_created(name, digest)
        algorithm = request.query.get("digest-algorithm", "sha256")
        upload_id = await asyncio.to_thread(self.uploads.start, name, algorithm)
        return _upload_response(202, name, upload_id, 0)

    async def upload_status(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        session = self.uploads.session(p["name"], p["uuid"])
        return _upload_response(204, p["name"], p["uuid"], session.offset)

    async def patch_upload(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        name, upload_id = p["name"], p["uuid"]
        session = self.uploads.session(name, upload_id)
        async with session.lock:
            await self._receive(request, name, upload_id)
            offset = self.uploads.session(name, upload_id).offset
        return _upload_response(202, name, upload_id, offset)

    async def finish_upload(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        name, upload_id = p["name"], p["uuid"]
        session = self.uploads.session(name, upload_id)
        digest_param = request.query.get("digest")
        if digest_param is None:
            raise RegistryError("DIGEST_INVALID", message="digest missing")
        digest = check_digest(digest_param)
        async with session.lock:
            await self._receive(request, name, upload_id)
            await asyncio.to_thread(self.uploads.finish, name, upload_id, digest)
        return _blob_created(name, digest)

    async def cancel_upload(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        name, upload_id = p["name"], p["uuid"]
        session = self.uploads.session(name, upload_id)
        async with session.lock:
            await asyncio.to_thread(self.uploads.cancel, name, upload_id)
        return web.Response(status=204)

    async def _receive(self, request: web.Request, name: str, upload_id: str) -> None:
        """Append the request body to an upload, honouring Content-Range.

        A range that does not start at the upload's current size is 416 with the
        size in ``Range``. A chunked body whose length disagrees with its range is
        cut back to where it began (the hash is then rebuilt from the file).
        """
        start = self.uploads.session(name, upload_id).offset
        expected = _check_content_range(request, name, upload_id, start)
        if not request.body_exists:
            return
        writer = await asyncio.to_thread(self.uploads.writer, name, upload_id)
        try:
            received = await _stream_body(request, writer)
        finally:
            await asyncio.to_thread(writer.close)
        if expected is not None and received != expected:
            await asyncio.to_thread(self._truncate_upload, name, upload_id, start)
            raise RegistryError(
                "SIZE_INVALID", {"expected": expected, "received": received},
            )

    def _truncate_upload(self, name: str, upload_id: str, size: int) -> None:
        from dockyard.registry.server.store import upload_data_path

        path = self.store.driver.local_path(upload_data_path(name, upload_id))
        with open(path, "r+b") as f:
            f.truncate(size)
        self.uploads.forget(name, upload_id)

    # -------------------------------------------------------------- discovery

    async def list_tags(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        name = p["name"]
        if not self.store.repository_exists(name):
            raise RegistryError("NAME_UNKNOWN", {"name": name})
        tags = await asyncio.to_thread(self.store.tags, name)
        n = _page_size(request, None)
        page, more = _paginate(tags, request.query.get("last"), n)
        response = web.json_response({"name": name, "tags": page})
        if more:
            query = urllib.parse.urlencode({"n": n, "last": page[-1]})
            response.headers["Link"] = f'</v2/{name}/tags/list?{query}>; rel="next"'
        return response

    async def catalog(self, request: web.Request) -> web.StreamResponse:
        n = _page_size(request, CATALOG_DEFAULT_ENTRIES)
        assert n is not None
        n = min(n, CATALOG_MAX_ENTRIES)
        repositories = await asyncio.to_thread(self.store.repositories)
        page, more = _paginate(repositories, request.query.get("last"), n)
        response = web.json_response({"repositories": page})
        if more:
            query = urllib.parse.urlencode({"last": page[-1], "n": n})
            response.headers["Link"] = f'</v2/_catalog?{query}>; rel="next"'
        return response

    async def list_referrers(
        self, request: web.Request, p: dict[str, str]
    ) -> web.StreamResponse:
        name, subject = p["name"], check_digest(p["digest"])
        wanted = request.query.get("artifactType")
        descriptors = await asyncio.to_thread(self._referrer_descriptors, name, subject)
        headers = {}
        if wanted is not None:
            descriptors = [d for d in descriptors if d.get("artifactType") == wanted]
            headers["OCI-Filters-Applied"] = "artifactType"
        body = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": descriptors}
        return web.Response(
            body=json.dumps(body).encode(),
            content_type=mt.OCI_INDEX,
            headers=headers,
        )

    def _referrer_descriptors(self, name: str, subject: str) -> list[dict[str, Any]]:
        found = []
        for digest in self.store.referrers(name, subject):
            data = self.store.read_manifest(name, digest)
            if data is None:
                continue
            try:
                parsed = manifests.parse(data, "")
            except RegistryError:
                continue
            descriptor: dict[str, Any] = {
                "mediaType": parsed.media_type,
                "digest": digest,
                "size": len(data),
            }
            if parsed.artifact_type:
                descriptor["artifactType"] = parsed.artifact_type
            if parsed.annotations:
                descriptor["annotations"] = parsed.annotations
            found.append(descriptor)
        return found


# --------------------------------------------------------------------- helpers


def error_response(err: RegistryError) -> web.Response:
    response = web.Response(
        status=err.status,
        body=json.dumps(err.body()).encode(),
        content_type="application/json",
    )
    for key, value in err.headers.items():
        response.headers[key] = value
    return response


async def _add_version_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]


def _method_not_allowed() -> RegistryError:
    return RegistryError("UNSUPPORTED", message="The operation is unsupported.", status=405)


def _required_access(route: str, request: web.Request, name: str) -> list[Access]:
    """The token scopes a request needs (distribution's ``appendAccessRecords``)."""
    method = request.method
    if method in ("GET", "HEAD"):
        return [Access("repository", name, ("pull",))]
    if method == "DELETE" and route in ("blob", "manifest"):
        return [Access("repository", name, ("delete",))]
    access = [Access("repository", name, ("pull", "push"))]
    source = request.query.get("from") if route == "uploads" else None
    if source and request.query.get("mount"):
        access.append(Access("repository", source, ("pull",)))
    return access


def _blob_created(name: str, digest: str) -> web.Response:
    return web.Response(
        status=201,
        headers={
            "Location": f"/v2/{name}/blobs/{digest}",
            "Docker-Content-Digest": digest,
        },
    )


def _range_header(size: int) -> str:
    """distribution's ``0-<size-1>``, with ``0-0`` for an empty upload."""
    return f"0-{max(size - 1, 0)}"


def _upload_response(status: int, name: str, upload_id: str, size: int) -> web.Response:
    return web.Response(
        status=status,
        headers={
            "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
            "Range": _range_header(size),
            "Docker-Upload-UUID": upload_id,
        },
    )


def _check_content_range(
    request: web.Request, name: str, upload_id: str, current: int
) -> int | None:
    """The byte count a Content-Range promises, after checking it starts at ``current``."""
    header = request.headers.get("Content-Range")
    length = request.content_length
    if header is None:
        return None
    match = _CONTENT_RANGE.fullmatch(header.strip())
    headers = {
        "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
        "Range": _range_header(current),
        "Docker-Upload-UUID": upload_id,
    }
    if match is None:
        raise RegistryError(
            "BLOB_UPLOAD_INVALID", {"Content-Range": header[:100]},
            message="invalid content range", status=416, headers=headers,
        )
    start, end = int(match.group(1)), int(match.group(2))
    if start != current or end < start:
        raise RegistryError(
            "BLOB_UPLOAD_INVALID", {"Content-Range": header, "offset": current},
            message="content range does not continue the upload", status=416, headers=headers,
        )
    expected = end - start + 1
    if length is not None and length != expected:
        raise RegistryError(
            "SIZE_INVALID", {"Content-Range": header, "Content-Length": length},
        )
    return expected


async def _stream_body(request: web.Request, writer: UploadWriter) -> int:
    """Copy the body to ``writer`` in pieces of about CHUNK bytes; returns the count."""
    total = 0
    pending: list[bytes] = []
    pending_size = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            break
        pending.append(chunk)
        pending_size += len(chunk)
        if pending_size >= CHUNK:
            data = b"".join(pending)
            pending.clear()
            pending_size = 0
            await asyncio.to_thread(writer.write, data)
            total += len(data)
    if pending:
        data = b"".join(pending)
        await asyncio.to_thread(writer.write, data)
        total += len(data)
    return total


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body, or 413 SIZE_INVALID once it passes ``limit``."""
    too_large = RegistryError(
        "SIZE_INVALID", {"limit": limit},
        message=f"manifest too large: the limit is {limit} bytes", status=413,
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    pieces: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            raise too_large
        pieces.append(chunk)
    return b"".join(pieces)


def _page_size(request: web.Request, default: int | None) -> int | None:
    raw = request.query.get("n")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 9:
        raise RegistryError("PAGINATION_NUMBER_INVALID", {"n": raw[:50]})
    return int(raw)


def _paginate(items: list[str], last: str | None, n: int | None) -> tuple[list[str], bool]:
    """Entries after ``last`` (exclusive), at most ``n``; and whether more follow."""
    if last:
        items = [i for i in items if i > last]
    if n is None:
        return items, False
    return items[:n], n > 0 and len(items) > n
