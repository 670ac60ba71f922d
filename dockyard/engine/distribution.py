"""Pull, push, login, logout and search: the registry verbs of the engine.

A pull resolves the reference's manifest (choosing this host's platform from a
manifest list or OCI index), fetches the config and the missing layer blobs in
parallel into the content store, unpacks the layers in order with the same
:class:`LayerStore` ``load`` uses, and records the image with
:meth:`ImageService.create`, the same call ``load`` ends with -- so a pulled
image is the same record as a loaded one. Everything a pull stores is held under
one lease: a failure anywhere abandons it and leaves nothing half-done behind.

A push sends each layer's stored blob (as it arrived: compressed when pulled, a
plain tar when loaded), skipping blobs the registry has and mounting blobs from
another repository of the same registry the image is known in, then the config
and a Docker schema 2 manifest.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from dockyard.errors import Corrupt, DockyardError, InvalidArgument, NotFound, Unauthorized
from dockyard.oci import mediatypes as mt
from dockyard.oci import reference as refs
from dockyard.oci.config import parse_config
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.image import chain_ids
from dockyard.oci.manifest import (
    Index,
    Manifest,
    build_manifest,
    parse_manifest_or_index,
    schema1_error,
)
from dockyard.oci.platform import Platform, format_platform, host_platform, normalize
from dockyard.registry.client.credentials import AuthConfig, CredentialStore, server_key
from dockyard.registry.client.errors import RegistryError, TransientError
from dockyard.registry.client.hosts import RegistrySettings
from dockyard.registry.client.repository import Repository
from dockyard.registry.client.session import Session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.engine import Engine
    from dockyard.engine.layerstore import Layer

PULL_POLICIES = ("always", "missing", "never")


@dataclass(frozen=True)
class ProgressEvent:
    """One line of Docker's progress stream: ``<id>: <status> <bar>``.

    ``id`` is empty for lines that belong to no layer; ``total`` > 0 marks a
    progress update (shown as a bar on a terminal, not at all otherwise).
    """

    id: str
    status: str
    current: int = 0
    total: int = 0


Progress = Callable[[ProgressEvent], None]


def _quiet(_: ProgressEvent) -> None:
    pass


@dataclass(frozen=True)
class PullResult:
    reference: refs.Reference  # what was pulled (tag or digest), normalised
    image_id: str
    digest: str  # the manifest (or index) digest the reference resolved to
    updated: bool  # False when the reference already named this image


@dataclass(frozen=True)
class PushResult:
    tag: str
    digest: str
    size: int


class DistributionService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.settings = RegistrySettings.from_daemon(engine.options.daemon)
        self.credentials = CredentialStore()

    # ------------------------------------------------------------------ connecting

    def _auth_for(self, domain: str) -> AuthConfig:
        return self.credentials.get(server_key(domain))

    def _sessions(self, domain: str, *, push: bool, auth: AuthConfig | None = None):  # type: ignore[no-untyped-def]
        """Yield a pinged session per usable endpoint, in Docker's order."""
        auth = self._auth_for(domain) if auth is None else auth
        last: DockyardError | None = None
        for endpoint in self.settings.endpoints(domain, push=push):
            session = Session(endpoint, self.settings, auth)
            try:
                resp = session.ping()
                if resp.status_code not in (200, 401):
                    raise RegistryError(
                        f"{endpoint.url}/v2/ does not look like a registry"
                        f" (status {resp.status_code})",
                        resp.status_code,
                    )
            except DockyardError as exc:
                session.close()
                last = exc
                continue
            try:
                yield session
            finally:
                session.close()
        if last is not None:
            raise last

    # ------------------------------------------------------------------ pull

    def pull(
        self,
        name: str,
        *,
        platform: str | None = None,
        all_tags: bool = False,
        progress: Progress | None = None,
        auth: AuthConfig | None = None,
    ) -> list[PullResult]:
        """``auth``: credentials for this pull (the API's X-Registry-Auth) instead of
        the stored ones."""
        emit = progress or _quiet
        ref = refs.parse_reference(name)
        if all_tags and not ref.is_name_only:
            raise InvalidArgument("tag can't be used with --all-tags/-a")
        if not all_tags:
            ref = ref.docker_ref()
        from dockyard.oci.platform import parse_platform

        wanted = normalize(parse_platform(platform)) if platform else host_platform()
        failure: DockyardError | None = None
        for session in self._sessions(ref.domain, push=False, auth=auth):
            repo = Repository(session, ref.path)
            try:
                targets = [ref.with_tag(t) for t in sorted(repo.tags())] if all_tags else [ref]
                return [
                    self._pull_one(repo, target, wanted, platform is not None, emit)
                    for target in targets
                ]
            except (TransientError, RegistryError) as exc:
                if not session.endpoint.mirror:
                    raise _pull_error(exc, ref) from None
                failure = exc  # a mirror failed: fall back to the next endpoint
        raise failure or NotFound(f"no endpoint for {ref.domain}")

    def _resolve(
        self, repo: Repository, ref: refs.Reference, wanted: Platform, explicit: bool
    ) -> tuple[str, Manifest]:
        """(digest the reference names, the image manifest chosen for ``wanted``)."""
        assert ref.digest or ref.tag
        try:
            fetched = repo.get_manifest(ref.digest or ref.tag or "latest")
        except RegistryError as exc:
            raise _pull_error(exc, ref) from None
        try:
            doc = parse_manifest_or_index(fetched.data, fetched.media_type)
        except InvalidArgument as exc:
            if "schema 1" in exc.message:
                raise schema1_error(ref.familiar()) from None
            raise
        top_digest = fetched.digest
        depth = 0
        while isinstance(doc, Index):
            depth += 1
            if depth > 3:
                raise Corrupt("manifest lists nest too deeply")
            chosen = doc.select(wanted)
            child = repo.get_manifest(chosen.digest)
            doc = parse_manifest_or_index(child.data, chosen.media_type)
        if not doc.is_image:
            raise InvalidArgument(
                f"{ref.familiar()} is not a container image"
                f" (config media type {doc.config.media_type})"
            )
        return top_digest, doc

    def _pull_one(
        self,
        repo: Repository,
        ref: refs.Reference,
        wanted: Platform,
        explicit: bool,
        emit: Progress,
    ) -> PullResult:
        from dockyard.registry.client.blobs import fetch_blob

        engine = self.engine
        content, layers, leases = engine.content, engine.layers, engine.leases
        label = ref.digest or ref.tag or "latest"
        top_digest, manifest = self._resolve(repo, ref, wanted, explicit)
        emit(ProgressEvent(label, f"Pulling from {_familiar_path(ref)}"))
        lease = leases.create()
        created: list[str] = []
        try:
            config_desc = manifest.config
            leases.add(lease, "blob", config_desc.digest)
            if not content.exists(config_desc.digest):
                fetch_blob(
                    repo,
                    content,
                    config_desc.digest,
                    config_desc.size,
                    before_publish=lambda d: None,
                )
            config_bytes = content.read(config_desc.digest)
            config = parse_config(config_bytes)
            actual = normalize(config.platform)
            if explicit and (actual.os, actual.architecture) != (wanted.os, wanted.architecture):
                raise NotFound(
                    f"image with reference {ref.familiar()} was found but does not match the"
                    f" specified platform: wanted {format_platform(wanted)},"
                    f" actual: {format_platform(actual)}"
                )
            diff_ids = list(config.diff_ids)
            if len(diff_ids) != len(manifest.layers):
                raise Corrupt(
                    f"invalid manifest, layers length mismatch: expected {len(diff_ids)},"
                    f" got {len(manifest.layers)}"
                )
            chains = chain_ids(diff_ids)
            present = self._present_layers(lease, chains)
            chain = self._fetch_and_unpack(
                repo,
                lease,
                manifest.layers,
                diff_ids,
                chains,
                present,
                created,
                emit,
                fetch_blob,
            )
            full_tag = str(ref) if ref.digest is None else None
            old = None
            if full_tag is not None:
                old = engine.images.try_resolve(full_tag)
            else:
                row = engine.db.query_one(
                    "SELECT image_id FROM repo_digests WHERE name = ?",
                    (f"{ref.name}@{top_digest}",),
                )
                old = row["image_id"] if row is not None else None
            image_id, _ = engine.images.create(
                config_bytes,
                chain,
                tags=[full_tag] if full_tag else [],
                repo_digests=[f"{ref.name}@{top_digest}"],
                lease=lease,
            )
        except BaseException:
            layers.abandon(lease, set(created))
            raise
        finally:
            leases.release(lease)
        emit(ProgressEvent("", f"Digest: {top_digest}"))
        updated = old != image_id
        if updated:
            engine.events.record("image", "pull", str(ref), {"name": str(ref)})
        return PullResult(ref, image_id, top_digest, updated)

    def _present_layers(self, lease: str, chains: list[str]) -> set[str]:
        present: set[str] = set()
        for chain_id in chains:
            if self.engine.layers.claim(lease, chain_id) is None:
                break
            present.add(chain_id)
        return present

    def _fetch_and_unpack(
        self,
        repo: Repository,
        lease: str,
        descriptors: tuple[Descriptor, ...],
        diff_ids: list[str],
        chains: list[str],
        present: set[str],
        created: list[str],
        emit: Progress,
        fetch_blob: Callable[..., None],
    ) -> list[str]:
        engine = self.engine
        content, layers, leases = engine.content, engine.layers, engine.leases
        wanted: dict[str, Descriptor] = {}
        for desc, chain_id in zip(descriptors, chains, strict=True):
            short = _short(desc.digest)
            if chain_id in present:
                emit(ProgressEvent(short, "Already exists"))
                continue
            if mt.is_nondistributable(desc.media_type) and desc.urls:
                raise InvalidArgument(f"foreign layer {desc.digest} is not supported")
            if desc.digest not in wanted:
                emit(ProgressEvent(short, "Pulling fs layer"))
                wanted[desc.digest] = desc
        # Leases go in before any download, from this thread: the store's
        # database connection is not shared with the download threads.
        for digest in wanted:
            leases.add(lease, "blob", digest)
        futures: dict[str, Future[None]] = {}
        cancelled = threading.Event()
        workers = self.settings.max_concurrent_downloads
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pull")
        try:
            for n, (digest, desc) in enumerate(wanted.items()):
                if n >= workers:
                    emit(ProgressEvent(_short(digest), "Waiting"))
                if content.exists(digest):
                    futures[digest] = pool.submit(lambda: None)
                    continue
                futures[digest] = pool.submit(
                    self._download, repo, desc, emit, cancelled, fetch_blob
                )
            chain: list[str] = []
            parent: str | None = None
            for desc, diff_id, chain_id in zip(descriptors, diff_ids, chains, strict=True):
                if chain_id in present:
                    chain.append(chain_id)
                    parent = chain_id
                    continue
                futures[desc.digest].result()
                short = _short(desc.digest)
                emit(ProgressEvent(short, "Extracting", desc.size, desc.size))
                layer: Layer = layers.unpack(lease, desc.digest, desc.media_type, parent, diff_id)
                created.append(layer.chain_id)
                emit(ProgressEvent(short, "Pull complete"))
                chain.append(layer.chain_id)
                parent = layer.chain_id
            return chain
        finally:
            cancelled.set()  # running downloads stop at their next chunk
            pool.shutdown(wait=True, cancel_futures=True)

    def _download(
        self,
        repo: Repository,
        desc: Descriptor,
        emit: Progress,
        cancelled: threading.Event,
        fetch_blob: Callable[..., None],
    ) -> None:
        short = _short(desc.digest)

        def step(current: int) -> None:
            if cancelled.is_set():
                raise DockyardError("pull cancelled")
            emit(ProgressEvent(short, "Downloading", current, desc.size))

        fetch_blob(
            repo,
            self.engine.content,
            desc.digest,
            desc.size,
            before_publish=lambda d: None,
            progress=step,
        )
        emit(ProgressEvent(short, "Verifying Checksum"))
        emit(ProgressEvent(short, "Download complete"))

    # ------------------------------------------------------------------ push

    def push(
        self,
        name: str,
        *,
        all_tags: bool = False,
        progress: Progress | None = None,
        auth: AuthConfig | None = None,
    ) -> list[PushResult]:
        emit = progress or _quiet
        ref = refs.parse_reference(name)
        if ref.digest is not None:
            raise InvalidArgument("cannot push a digest reference")
        if all_tags and not ref.is_name_only:
            raise InvalidArgument("tag can't be used with --all-tags/-a")
        db = self.engine.db
        if all_tags:
            rows = db.query(
                "SELECT name, image_id FROM refs WHERE name >= ? AND name < ? ORDER BY name",
                (ref.name + ":", ref.name + ";"),
            )
            targets = [
                (refs.split_canonical(r["name"])[1] or "latest", r["image_id"]) for r in rows
            ]
        else:
            full = ref.with_default_tag()
            row = db.query_one("SELECT image_id FROM refs WHERE name = ?", (str(full),))
            targets = [(full.tag or "latest", row["image_id"])] if row is not None else []
        if not targets:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
        emit(ProgressEvent("", f"The push refers to repository [{ref.name}]"))
        results: list[PushResult] = []
        for session in self._sessions(ref.domain, push=True, auth=auth):
            repo = Repository(session, ref.path, push=True)
            try:
                for tag, image_id in targets:
                    results.append(self._push_one(repo, ref, tag, image_id, emit))
            except RegistryError as exc:
                if exc.access_denied:
                    raise Unauthorized(exc.message) from None
                raise
            return results
        return results

    def _push_one(
        self, repo: Repository, ref: refs.Reference, tag: str, image_id: str, emit: Progress
    ) -> PushResult:
        engine = self.engine
        image = engine.images.get(image_id)
        stack = [engine.layers.require(c) for c in image.chain]
        sources = _mount_sources(ref, image.repo_tags + image.repo_digests)
        for layer in stack:
            emit(ProgressEvent(_short(layer.diff_id), "Preparing"))
        workers = self.settings.max_concurrent_uploads
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push") as pool:
            futures = []
            seen: set[str] = set()
            for n, layer in enumerate(stack):
                if layer.blob_digest in seen:
                    continue
                seen.add(layer.blob_digest)
                if n >= workers:
                    emit(ProgressEvent(_short(layer.diff_id), "Waiting"))
                futures.append(pool.submit(self._push_layer, repo, layer, sources, emit))
            for f in futures:
                f.result()
        config_bytes = engine.content.read(image_id)
        if not repo.blob_exists(image_id):
            self._upload(repo, image_id, len(config_bytes), lambda n: None)
        descriptors = [
            Descriptor(_docker_layer_type(layer.media_type), layer.blob_digest, layer.blob_size)
            for layer in stack
        ]
        manifest = build_manifest(
            Descriptor(mt.DOCKER_CONFIG, image_id, len(config_bytes)),
            descriptors,
            media_type=mt.DOCKER_MANIFEST,
        )
        data = json.dumps(manifest, indent=3).encode()
        digest = repo.put_manifest(tag, data, mt.DOCKER_MANIFEST)
        engine.images.create(config_bytes, image.chain, repo_digests=[f"{ref.name}@{digest}"])
        engine.events.record("image", "push", f"{ref.name}:{tag}", {"name": f"{ref.name}:{tag}"})
        emit(ProgressEvent("", f"{tag}: digest: {digest} size: {len(data)}"))
        return PushResult(tag, digest, len(data))

    def _push_layer(
        self, repo: Repository, layer: Layer, sources: list[str], emit: Progress
    ) -> None:
        short = _short(layer.diff_id)
        if repo.blob_exists(layer.blob_digest):
            emit(ProgressEvent(short, "Layer already exists"))
            return
        for source in sources:
            location = repo.mount_or_start(layer.blob_digest, source)
            if location is None:
                emit(ProgressEvent(short, f"Mounted from {_familiar_repo(repo, source)}"))
                return
            # Not mountable from there; the registry opened an upload session instead.
            self._upload(
                repo, layer.blob_digest, layer.blob_size, _pushing(emit, short, layer), location
            )
            emit(ProgressEvent(short, "Pushed"))
            return
        self._upload(repo, layer.blob_digest, layer.blob_size, _pushing(emit, short, layer))
        emit(ProgressEvent(short, "Pushed"))

    def _upload(
        self,
        repo: Repository,
        digest: str,
        size: int,
        progress: Callable[[int], None],
        location: str | None = None,
    ) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                if location is None:
                    location = repo.mount_or_start(digest, None)
                assert location is not None
                with self.engine.content.open(digest) as f:
                    repo.upload(location, f, size, digest, progress)
                return
            except (TransientError, RegistryError) as exc:
                location = None
                transient = isinstance(exc, TransientError) or exc.transient
                if not transient or attempt >= self.settings.attempts:
                    raise
                import time

                time.sleep(self.settings.backoff_delay(attempt))

    # ------------------------------------------------------------------ login, logout, search

    def verify_login(self, server: str | None, username: str, password: str) -> str:
        """Check the credentials against the registry, storing nothing (dockerd's
        ``/auth``: the client keeps them); returns the key they are stored under."""
        domain = registry_domain(server)
        key = server_key(domain)
        auth = AuthConfig(username=username, password=password, server_address=key)
        for session in self._sessions(domain, push=False, auth=auth):
            challenge = session.challenge
            if challenge is not None and challenge.scheme == "basic":
                resp = session.send("GET", "/v2/")
                if resp.status_code != 200:
                    raise Unauthorized(
                        f"login attempt to {session.endpoint.url}/v2/ failed with status:"
                        f" {resp.status_code} {resp.reason_phrase}"
                    )
            elif challenge is not None and challenge.scheme == "bearer":
                session.token([])
            break
        return key

    def login(self, server: str | None, username: str, password: str) -> bool:
        """Check the credentials against the registry and store them.

        Returns True when they were stored unencrypted in config.json.
        """
        key = self.verify_login(server, username, password)
        auth = AuthConfig(username=username, password=password, server_address=key)
        return self.credentials.store(key, auth)

    def logout(self, server: str | None) -> tuple[str, bool]:
        """Forget the credentials; returns (the config key, whether any were stored)."""
        key = server_key(registry_domain(server))
        return key, self.credentials.erase(key)

    def search(self, term: str, limit: int) -> list[dict[str, Any]]:
        from dockyard.registry.client.search import search

        domain, query = split_search_term(term)
        if domain == "docker.io":
            # Docker Hub answers v1 search on the index, not on the registry or mirrors.
            from dockyard.registry.client.hosts import Endpoint

            host = "index.docker.io"
            endpoint = Endpoint(f"https://{host}", self.settings.tls_context(host, verify=True))
            session = Session(endpoint, self.settings, AuthConfig())
            try:
                return search(session, query, limit)
            finally:
                session.close()
        for session in self._sessions(domain, push=False):
            return search(session, query, limit)
        return []

    # ------------------------------------------------------------------ implicit pulls

    def ensure(
        self,
        name: str,
        policy: str = "missing",
        platform: str | None = None,
        progress: Progress | None = None,
        on_missing: Callable[[refs.Reference], None] | None = None,
    ) -> str:
        """``run``/``create`` ``--pull``: the image ID, pulled first when the policy says."""
        if policy not in PULL_POLICIES:
            raise InvalidArgument(
                f'invalid pull option: \'{policy}\': must be one of "always", "missing" or "never"'
            )
        ref = refs.parse_reference(name).docker_ref()
        if policy != "always":
            image_id = self.engine.images.try_resolve(name)
            if image_id is not None:
                return image_id
            if policy == "never":
                raise NotFound(f"No such image: {ref.familiar()}")
            if on_missing is not None:
                on_missing(ref)
        return self.pull(str(ref), platform=platform, progress=progress)[0].image_id


def registry_domain(server: str | None) -> str:
    """The registry a login/logout argument names: ``docker.io`` when none."""
    if not server:
        return "docker.io"
    from dockyard.registry.client.credentials import hostname_of

    host = hostname_of(server.strip())
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return "docker.io"
    return host


def split_search_term(term: str) -> tuple[str, str]:
    domain, sep, rest = term.partition("/")
    if sep and ("." in domain or ":" in domain or domain == "localhost"):
        return domain, rest
    return "docker.io", term


def _pull_error(exc: DockyardError, ref: refs.Reference) -> DockyardError:
    if isinstance(exc, RegistryError):
        if exc.status == 404 and "NAME_UNKNOWN" not in exc.codes:
            return NotFound(f"manifest for {ref.familiar()} not found: {exc.message}")
        if exc.access_denied:
            return Unauthorized(
                f"pull access denied for {ref.familiar_name}, repository does not exist or may"
                f" require 'docker login': {exc.message}"
            )
    return exc


def _familiar_path(ref: refs.Reference) -> str:
    """Docker's "Pulling from" path: ``library/busybox`` on Docker Hub, else the path."""
    return ref.path


def _familiar_repo(repo: Repository, path: str) -> str:
    return path


def _short(digest: str) -> str:
    return digest.partition(":")[2][:12]


def _docker_layer_type(media_type: str) -> str:
    compression = mt.layer_compression(media_type) or "none"
    return mt.layer_type_for(compression, docker=True)


def _mount_sources(ref: refs.Reference, names: list[str]) -> list[str]:
    """Other repositories of the same registry this image is known in."""
    sources: list[str] = []
    for name in names:
        parsed = refs.parse_reference(name)
        if parsed.domain == ref.domain and parsed.path != ref.path and parsed.path not in sources:
            sources.append(parsed.path)
    return sources[:3]


def _pushing(emit: Progress, short: str, layer: Layer) -> Callable[[int], None]:
    sent = [0]

    def step(n: int) -> None:
        sent[0] += n
        emit(ProgressEvent(short, "Pushing", sent[0], layer.blob_size))

    return step
