"""Blob download into the content store: verified while streaming, resumed, retried.

Bytes go straight into a content-store writer, which hashes them as they are
written; only a blob of the right size and digest is committed (renamed into
place). A dropped connection, a short body or a stall resumes where it stopped
with a ``Range`` request (or starts over if the registry ignores ranges); a
digest mismatch starts over; 5xx and 429 answers wait and retry. After the
configured number of attempts the last failure is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from dockyard import log
from dockyard.errors import Corrupt, DockyardError
from dockyard.registry.client.errors import RegistryError, TransientError, registry_error
from dockyard.registry.client.repository import Repository
from dockyard.registry.client.session import retry_after
from dockyard.store.content import BlobWriter, ContentStore


class BlobFetchError(DockyardError):
    pass


def fetch_blob(
    repo: Repository,
    content: ContentStore,
    digest: str,
    size: int,
    *,
    before_publish: Callable[[str], None],
    progress: Callable[[int], None] | None = None,
) -> None:
    """Download ``digest`` into ``content``; ``progress`` gets the bytes so far."""
    settings = repo.session.settings
    writer: BlobWriter = content.writer(digest, size)
    attempt = 0
    try:
        while True:
            attempt += 1
            delay: float | None = None
            try:
                writer = _stream_into(repo, content, digest, size, writer, progress)
                writer.commit(before_publish)
                return
            except Corrupt:
                log.debug(f"{digest}: content does not match its digest; fetching again")
                if attempt >= settings.attempts:
                    raise BlobFetchError(
                        f"filesystem layer verification failed for digest {digest}"
                    ) from None
                writer.abort()
                writer = content.writer(digest, size)
            except TransientError as exc:
                if attempt >= settings.attempts:
                    raise BlobFetchError(
                        f"failed to fetch blob {digest} after {attempt} attempts: {exc.message}"
                    ) from None
                log.debug(f"{digest}: {exc.message}; resuming at {writer.size}")
            except RegistryError as exc:
                if not exc.transient or attempt >= settings.attempts:
                    if exc.transient:
                        raise BlobFetchError(
                            f"failed to fetch blob {digest} after {attempt} attempts: {exc.message}"
                        ) from None
                    raise
                delay = getattr(exc, "retry_after", None)
            time.sleep(delay if delay is not None else settings.backoff_delay(attempt))
    except BaseException:
        writer.abort()
        raise


def _stream_into(
    repo: Repository,
    content: ContentStore,
    digest: str,
    size: int,
    writer: BlobWriter,
    progress: Callable[[int], None] | None,
) -> BlobWriter:
    """One GET (ranged when resuming) into ``writer``, or a fresh writer if the registry
    ignores the range; raises TransientError if the body ends short."""
    offset = writer.size
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    url = f"/v2/{repo.path}/blobs/{digest}"
    resp = repo.session.send("GET", url, scopes=repo.scopes, headers=headers, stream=True)
    try:
        if resp.status_code == 200 and offset:
            # The registry ignored the range: start over.
            writer.abort()
            writer = content.writer(digest, size)
        elif resp.status_code not in (200, 206):
            resp.read()
            err = registry_error(resp, "GET")
            err.retry_after = retry_after(resp)  # type: ignore[attr-defined]
            raise err
        try:
            for chunk in resp.iter_raw():
                if writer.size + len(chunk) > size:
                    raise Corrupt(f"blob {digest} is larger than its descriptor's size {size}")
                writer.write(chunk)
                if progress is not None:
                    progress(writer.size)
        except httpx.HTTPError as exc:
            raise TransientError(
                f'Get "{repo.session.url(url)}": {_reason(exc)} after {writer.size} of {size} bytes'
            ) from None
    finally:
        resp.close()
    if writer.size < size:
        raise TransientError(f"unexpected EOF after {writer.size} of {size} bytes")
    return writer


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "the registry stalled (read timeout)"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "unexpected EOF"
    return str(exc) or type(exc).__name__
