"""``save`` and ``load``: Docker's image archive, which is also an OCI image layout.

What ``save`` writes is what Docker 25+ writes: an OCI layout (``oci-layout``,
``index.json``, ``blobs/sha256/...``) that also carries Docker's ``manifest.json``
and ``repositories``, so ``docker load`` of any version, ``skopeo`` with either
``docker-archive:`` or ``oci-archive:``, and dockyard itself all read it. Layers
are written as uncompressed tars straight from the content store, so a save is a
copy of stored bytes and the same images always give the same archive bytes.

``load`` reads Docker's legacy layout (``<id>/layer.tar``), the combined layout
and a plain OCI layout, from a file or a pipe, gzip/zstd/xz/bzip2 compressed or
not. Every regular member is streamed into the content store (hashed as it is
written) before the manifest is read, because a pipe cannot be rewound and
``manifest.json`` comes last in Docker's archives.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from dockyard.engine.images import ImageService
from dockyard.engine.layerstore import Layer, LayerStore
from dockyard.errors import Corrupt, DockyardError, InvalidArgument
from dockyard.oci import mediatypes as mt
from dockyard.oci import reference as refs
from dockyard.oci.config import parse_config
from dockyard.store.content import ContentStore
from dockyard.store.layers.compression import open_decompressed
from dockyard.store.metadata import Leases

_SMALL = 1 << 20  # members up to this size are kept in memory while reading
_EPOCH = 0


@dataclass(frozen=True)
class _Blob:
    digest: str
    size: int


_Member = bytes | _Blob


class ImageArchive:
    def __init__(
        self,
        images: ImageService,
        layers: LayerStore,
        content: ContentStore,
        leases: Leases,
    ) -> None:
        self.images = images
        self.layers = layers
        self.content = content
        self.leases = leases

    # ------------------------------------------------------------------ load

    def load(self, stream: BinaryIO, progress: Callable[[Layer], None] | None = None) -> list[str]:
        """Load every image in the archive; returns Docker's output lines.

        ``progress`` is called with each layer as it becomes available.
        """
        lease = self.leases.create()
        created: list[str] = []
        try:
            members = self._read_members(stream, lease)
            if "manifest.json" in members:
                entries = list(self._docker_entries(members))
            elif "index.json" in members:
                entries = list(self._oci_entries(members))
            else:
                raise InvalidArgument(
                    "invalid archive: no manifest.json or index.json found"
                    " (not a docker save or OCI layout archive)"
                )
            if not entries:
                raise InvalidArgument("invalid archive: it holds no images")
            lines: list[str] = []
            for entry in entries:
                lines.extend(self._load_entry(entry, lease, created, progress))
            return lines
        except BaseException:
            self.layers.abandon(lease, set(created))
            raise
        finally:
            self.leases.release(lease)

    def _read_members(self, stream: BinaryIO, lease: str) -> dict[str, _Member]:
        members: dict[str, _Member] = {}
        links: dict[str, str] = {}
        try:
            source = open_decompressed(stream)
            with tarfile.open(fileobj=source, mode="r|") as tar:
                for info in tar:
                    name = _clean(info.name)
                    if info.isreg():
                        f = tar.extractfile(info)
                        assert f is not None
                        if info.size <= _SMALL:
                            data = f.read()
                            if len(data) != info.size:
                                raise Corrupt("unexpected EOF")
                            members[name] = data
                        else:
                            writer = self.content.writer(expected_size=info.size)
                            with writer:
                                while chunk := f.read(1 << 20):
                                    writer.write(chunk)
                                digest = writer.commit(
                                    before_publish=lambda d: self.leases.add(lease, "blob", d)
                                )
                            members[name] = _Blob(digest, info.size)
                    elif info.issym():
                        links[name] = _clean(posixpath.join(posixpath.dirname(name), info.linkname))
                    elif info.islnk():
                        links[name] = _clean(info.linkname)
        except tarfile.ReadError as exc:
            raise Corrupt(f"invalid archive: {_tar_reason(exc)}") from None
        except (EOFError, OSError) as exc:
            if isinstance(exc, DockyardError):
                raise
            raise Corrupt(f"invalid archive: {exc or 'unexpected EOF'}") from None
        for name, target in links.items():
            for _ in range(16):
                if target in members or target not in links:
                    break
                target = links[target]
            if target in members:
                members.setdefault(name, members[target])
        return members

    def _docker_entries(self, members: dict[str, _Member]) -> Iterator[_Entry]:
        manifest = _json_member(members, "manifest.json")
        if not isinstance(manifest, list):
            raise InvalidArgument("invalid archive: manifest.json is not a list")
        for item in manifest:
            if not isinstance(item, dict) or "Config" not in item:
                raise InvalidArgument("invalid archive: malformed entry in manifest.json")
            layers = item.get("Layers") or []
            yield _Entry(
                config=_require(members, _clean(item["Config"])),
                layers=[(_require(members, _clean(p)), None) for p in layers],
                tags=list(item.get("RepoTags") or []),
            )

    def _oci_entries(self, members: dict[str, _Member]) -> Iterator[_Entry]:
        index = _json_member(members, "index.json")
        for desc in index.get("manifests") or []:
            yield from self._oci_descriptor(members, desc, desc.get("annotations") or {})

    def _oci_descriptor(
        self, members: dict[str, _Member], desc: dict[str, Any], annotations: dict[str, str]
    ) -> Iterator[_Entry]:
        media = desc.get("mediaType", "")
        data = _read(self.content, _blob_member(members, desc["digest"]))
        if mt.is_index(media):
            from dockyard.oci.manifest import parse_index, select_manifest
            from dockyard.oci.platform import host_platform

            chosen = select_manifest(parse_index(data).manifests, host_platform())
            yield from self._oci_descriptor(members, chosen.to_dict(), annotations)
            return
        manifest = json.loads(data)
        tags: list[str] = []
        name = annotations.get("io.containerd.image.name")
        ref_name = annotations.get("org.opencontainers.image.ref.name")
        if name:
            tags.append(name)
        elif ref_name and not refs.is_valid_tag(ref_name):
            tags.append(ref_name)
        yield _Entry(
            config=_blob_member(members, manifest["config"]["digest"]),
            layers=[
                (_blob_member(members, layer["digest"]), layer.get("mediaType"))
                for layer in manifest.get("layers") or []
            ],
            tags=tags,
        )

    def _load_entry(
        self,
        entry: _Entry,
        lease: str,
        created: list[str],
        progress: Callable[[Layer], None] | None,
    ) -> list[str]:
        config_bytes = _read(self.content, entry.config)
        try:
            config = json.loads(config_bytes)
        except ValueError:
            raise Corrupt("invalid archive: the image config is not valid JSON") from None
        parse_config(config_bytes)
        diff_ids: list[str] = list(config["rootfs"]["diff_ids"])
        if len(diff_ids) != len(entry.layers):
            raise Corrupt(
                f"invalid manifest, layers length mismatch: expected {len(diff_ids)},"
                f" got {len(entry.layers)}"
            )
        tags = [str(refs.parse_reference(t).with_default_tag()) for t in entry.tags]
        parent: str | None = None
        chain: list[str] = []
        for n, ((member, media), diff_id) in enumerate(zip(entry.layers, diff_ids, strict=True)):
            blob = self._as_blob(member, lease)
            try:
                layer = self.layers.unpack(
                    lease, blob.digest, media or mt.DOCKER_LAYER, parent, diff_id
                )
            except Corrupt as exc:
                if "invalid diffID" in exc.message:
                    detail = exc.message.split(": ", 1)[1]
                    raise Corrupt(f"invalid diffID for layer {n}: {detail}") from None
                raise
            created.append(layer.chain_id)
            if progress is not None:
                progress(layer)
            chain.append(layer.chain_id)
            parent = layer.chain_id
        image_id, moved = self.images.create(config_bytes, chain, tags=tags)
        lines = [
            f"The image {refs.parse_reference(tag).familiar()} already exists, renaming the"
            f" old one with ID {old} to empty string"
            for tag, old in moved
        ]
        if tags:
            lines.extend(f"Loaded image: {refs.parse_reference(t).familiar()}" for t in tags)
        else:
            lines.append(f"Loaded image ID: {image_id}")
        return lines

    def _as_blob(self, member: _Member, lease: str) -> _Blob:
        if isinstance(member, _Blob):
            return member
        digest = self.content.put(
            member, before_publish=lambda d: self.leases.add(lease, "blob", d)
        )
        return _Blob(digest, len(member))

    # ------------------------------------------------------------------ save

    def save(self, names: list[str], out: BinaryIO) -> None:
        """Write the named images (tags, repositories or IDs) as one archive."""
        selected: dict[str, list[str]] = {}
        for name in names:
            for image_id, tag in self._select(name):
                tags = selected.setdefault(image_id, [])
                if tag is not None and tag not in tags:
                    tags.append(tag)
        writer = _TarWriter(out)
        index_manifests: list[dict[str, Any]] = []
        docker_manifest: list[dict[str, Any]] = []
        repositories: dict[str, dict[str, str]] = {}
        written: set[str] = set()
        for image_id, tags in selected.items():
            image = self.images.get(image_id)
            config_bytes = self.content.read(image_id)
            layer_descs: list[dict[str, Any]] = []
            layer_paths: list[str] = []
            for chain_id in image.chain:
                layer = self.layers.require(chain_id)
                path = f"blobs/sha256/{layer.diff_id.removeprefix('sha256:')}"
                if path not in written:
                    self._write_layer(writer, path, layer.blob_digest, layer.diff_id)
                    written.add(path)
                layer_paths.append(path)
                layer_descs.append(
                    {
                        "mediaType": mt.OCI_LAYER,
                        "digest": layer.diff_id,
                        "size": self._tar_size(layer.blob_digest, layer.diff_id),
                    }
                )
            config_path = f"blobs/sha256/{image_id.removeprefix('sha256:')}"
            if config_path not in written:
                writer.add_bytes(config_path, config_bytes)
                written.add(config_path)
            manifest = {
                "schemaVersion": 2,
                "mediaType": mt.OCI_MANIFEST,
                "config": {
                    "mediaType": mt.OCI_CONFIG,
                    "digest": image_id,
                    "size": len(config_bytes),
                },
                "layers": layer_descs,
            }
            manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()
            manifest_digest = self.content.digest_of(manifest_bytes)
            manifest_path = f"blobs/sha256/{manifest_digest.removeprefix('sha256:')}"
            if manifest_path not in written:
                writer.add_bytes(manifest_path, manifest_bytes)
                written.add(manifest_path)
            descriptor = {
                "mediaType": mt.OCI_MANIFEST,
                "digest": manifest_digest,
                "size": len(manifest_bytes),
            }
            familiar_tags = [refs.parse_reference(t).familiar() for t in tags]
            # Docker's legacy "repositories" file names each tag's top layer.
            top = layer_paths[-1].rsplit("/", 1)[-1] if layer_paths else image_id[7:]
            for tag in tags:
                ref = refs.parse_reference(tag)
                name = ref.tag or "latest"
                annotations = {
                    "io.containerd.image.name": tag,
                    "org.opencontainers.image.ref.name": name,
                }
                index_manifests.append(descriptor | {"annotations": annotations})
                repositories.setdefault(ref.familiar_name, {})[name] = top
            if not tags:
                index_manifests.append(descriptor)
            docker_manifest.append(
                {
                    "Config": config_path,
                    "RepoTags": familiar_tags or None,
                    "Layers": layer_paths,
                }
            )
        index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": index_manifests}
        writer.add_bytes("index.json", json.dumps(index, separators=(",", ":")).encode())
        writer.add_bytes(
            "manifest.json", json.dumps(docker_manifest, separators=(",", ":")).encode()
        )
        writer.add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        if repositories:
            writer.add_bytes(
                "repositories", json.dumps(repositories, separators=(",", ":")).encode()
            )
        writer.close()

    def _select(self, name: str) -> list[tuple[str, str | None]]:
        """Docker's save naming: a bare repository name means all its tags."""
        try:
            parsed = refs.parse_any_reference(name)
        except InvalidArgument:
            parsed = None
        if parsed is not None and not isinstance(parsed, str) and parsed.is_name_only:
            rows = self.layers.db.query(
                "SELECT name, image_id FROM refs WHERE name >= ? AND name < ? ORDER BY name",
                (parsed.name + ":", parsed.name + ";"),
            )
            if rows:
                return [(r["image_id"], r["name"]) for r in rows]
        image_id = self.images.resolve(name)
        if parsed is not None and not isinstance(parsed, str):
            full = str(parsed.docker_ref())
            if parsed.digest is None:
                return [(image_id, full)]
        return [(image_id, None)]

    def _write_layer(self, writer: _TarWriter, path: str, blob: str, diff_id: str) -> None:
        if blob == diff_id:
            with self.content.open(blob) as f:
                writer.add_file(path, f, self.content.size(blob))
            return
        # A compressed blob (pulled): spool the plain tar into the store's ingest area.
        import tempfile

        with (
            self.content.open(blob) as f,
            tempfile.TemporaryFile(dir=self.content.ingest_dir) as tmp,
        ):
            plain = open_decompressed(f)
            while chunk := plain.read(1 << 20):
                tmp.write(chunk)
            size = tmp.tell()
            tmp.seek(0)
            writer.add_file(path, tmp, size)

    def _tar_size(self, blob: str, diff_id: str) -> int:
        if blob == diff_id:
            return self.content.size(blob)
        with self.content.open(blob) as f:
            plain = open_decompressed(f)
            total = 0
            while chunk := plain.read(1 << 20):
                total += len(chunk)
            return total


@dataclass
class _Entry:
    config: _Member
    layers: list[tuple[_Member, str | None]]
    tags: list[str]


class _TarWriter:
    """A minimal streaming tar writer that copies file data in the kernel when it can."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.dirs: set[str] = set()
        try:
            self.fd: int | None = out.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            self.fd = None

    def _dir(self, path: str) -> None:
        parent = posixpath.dirname(path)
        if not parent or parent in self.dirs:
            return
        self._dir(parent)
        self.dirs.add(parent)
        info = tarfile.TarInfo(parent + "/")
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        info.mtime = _EPOCH
        self.out.write(info.tobuf(tarfile.PAX_FORMAT))

    def _header(self, path: str, size: int) -> None:
        self._dir(path)
        info = tarfile.TarInfo(path)
        info.size = size
        info.mode = 0o644
        info.mtime = _EPOCH
        self.out.write(info.tobuf(tarfile.PAX_FORMAT))

    def _pad(self, size: int) -> None:
        remainder = size % 512
        if remainder:
            self.out.write(b"\0" * (512 - remainder))

    def add_bytes(self, path: str, data: bytes) -> None:
        self._header(path, len(data))
        self.out.write(data)
        self._pad(len(data))

    def add_file(self, path: str, src: BinaryIO, size: int) -> None:
        self._header(path, size)
        copied = 0
        if self.fd is not None:
            self.out.flush()
            copied = _kernel_copy(src.fileno(), self.fd, size)
        if copied < size:
            src.seek(copied)
            remaining = size - copied
            while remaining:
                chunk = src.read(min(remaining, 1 << 20))
                if not chunk:
                    raise Corrupt(f"blob for {path} is shorter than recorded")
                self.out.write(chunk)
                remaining -= len(chunk)
        self._pad(size)

    def close(self) -> None:
        self.out.write(b"\0" * 1024)
        self.out.flush()


def _kernel_copy(src_fd: int, dst_fd: int, size: int) -> int:
    """copy_file_range, then sendfile; returns bytes copied (0 if neither applies)."""
    copied = 0
    offset = 0
    try:
        while copied < size:
            n = os.copy_file_range(src_fd, dst_fd, size - copied, offset)
            if n == 0:
                break
            copied += n
            offset += n
        return copied
    except OSError:
        pass
    try:
        while copied < size:
            n = os.sendfile(dst_fd, src_fd, copied, size - copied)
            if n == 0:
                break
            copied += n
    except OSError:
        pass
    return copied


def _clean(name: str) -> str:
    cleaned = posixpath.normpath("/" + name).lstrip("/")
    return cleaned


def _tar_reason(exc: tarfile.ReadError) -> str:
    text = str(exc)
    if "unexpected end" in text or "truncated" in text:
        return "unexpected EOF"
    return text or "not a tar archive"


def _require(members: dict[str, _Member], name: str) -> _Member:
    if name not in members:
        raise InvalidArgument(f"invalid archive: {name} is named in the manifest but missing")
    return members[name]


def _blob_member(members: dict[str, _Member], digest: str) -> _Member:
    algo, _, hexpart = digest.partition(":")
    member = _require(members, f"blobs/{algo}/{hexpart}")
    actual = member.digest if isinstance(member, _Blob) else ContentStore.digest_of(member)
    if actual != digest:
        raise Corrupt(f"invalid archive: blob {digest} has digest {actual}")
    return member


def _json_member(members: dict[str, _Member], name: str) -> Any:
    data = members[name]
    if isinstance(data, _Blob):
        raise InvalidArgument(f"invalid archive: {name} is too large")
    try:
        return json.loads(data)
    except ValueError:
        raise InvalidArgument(f"invalid archive: {name} is not valid JSON") from None


def _read(content: ContentStore, member: _Member) -> bytes:
    if isinstance(member, _Blob):
        return content.read(member.digest)
    return member
