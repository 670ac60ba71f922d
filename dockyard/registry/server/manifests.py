"""Manifests a client pushes: which kind, what they reference, and whether it is sound.

The registry stores a manifest's bytes exactly as pushed; this module only reads
them to check them (distribution's ``verifyManifest``) and to describe them to
the referrers API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import is_digest
from dockyard.registry.server.errors import RegistryError

MAX_MANIFEST_SIZE = 4 << 20  # distribution's maxManifestBodySize

_LOOSE_CONTENT_TYPES = ("", "application/json", "application/octet-stream", "text/plain")


@dataclass
class Reference:
    """A descriptor inside a manifest."""

    media_type: str
    digest: str
    size: int
    urls: list[str] = field(default_factory=list)

    @property
    def is_manifest(self) -> bool:
        return mt.is_manifest(self.media_type) or mt.is_index(self.media_type)


@dataclass
class ParsedManifest:
    media_type: str
    blobs: list[Reference]  # config and layers: must be blobs of the repository
    manifests: list[Reference]  # children of an index (and manifests used as layers)
    subject: str | None
    artifact_type: str | None
    annotations: dict[str, str] | None


def _invalid(message: str) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", message, message="manifest invalid")


def _descriptor(value: Any, where: str) -> Reference:
    if not isinstance(value, dict):
        raise _invalid(f"{where}: descriptor must be an object")
    media_type = value.get("mediaType")
    digest = value.get("digest")
    size = value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise _invalid(f"{where}: mediaType missing")
    if not isinstance(digest, str) or not is_digest(digest):
        raise _invalid(f"{where}: invalid digest {str(digest)[:100]!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where}: invalid size")
    urls = value.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise _invalid(f"{where}: invalid urls")
    return Reference(media_type, digest, size, urls)


def _media_type(content_type: str, body: dict[str, Any]) -> str:
    """The manifest's type from Content-Type and its ``mediaType`` field.

    A declared ``mediaType`` must agree with a specific Content-Type. With no
    usable Content-Type the field decides; an OCI manifest may omit both, and
    then its shape does (``manifests`` → index, ``config`` → manifest).
    """
    declared = body.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType must be a string")
    header = content_type.split(";", 1)[0].strip().lower()
    if header not in _LOOSE_CONTENT_TYPES:
        if declared and declared != header:
            raise _invalid(f"mediaType {declared!r} does not match Content-Type {header!r}")
        return header
    if declared:
        return declared
    return mt.OCI_INDEX if "manifests" in body else mt.OCI_MANIFEST


def parse(data: bytes, content_type: str) -> ParsedManifest:
    """Check a pushed manifest's structure; MANIFEST_INVALID when it is not sound."""
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        raise _invalid("manifest is not valid JSON") from None
    if not isinstance(body, dict):
        raise _invalid("manifest must be a JSON object")
    media_type = _media_type(content_type, body)
    if mt.is_schema1(media_type) or body.get("schemaVersion") == 1:
        raise _invalid("schema 1 manifests are not supported")
    if not (mt.is_manifest(media_type) or mt.is_index(media_type)):
        raise _invalid(f"unsupported manifest media type {media_type[:200]!r}")
    if body.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    subject = None
    if "subject" in body and body["subject"] is not None:
        subject = _descriptor(body["subject"], "subject").digest
    artifact_type = body.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _invalid("artifactType must be a string")
    annotations = body.get("annotations")
    if annotations is not None and not (
        isinstance(annotations, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in annotations.items())
    ):
        raise _invalid("annotations must map strings to strings")

    blobs: list[Reference] = []
    manifests: list[Reference] = []
    if mt.is_index(media_type):
        children = body.get("manifests")
        if not isinstance(children, list):
            raise _invalid("manifests must be a list")
        manifests = [_descriptor(c, f"manifests[{i}]") for i, c in enumerate(children)]
    else:
        config = _descriptor(body.get("config"), "config")
        if artifact_type is None and media_type == mt.OCI_MANIFEST:
            artifact_type = config.media_type
        layers = body.get("layers")
        if layers is None and media_type == mt.OCI_MANIFEST:
            layers = []
        if not isinstance(layers, list):
            raise _invalid("layers must be a list")
        blobs.append(config)
        for i, layer in enumerate(layers):
            ref = _descriptor(layer, f"layers[{i}]")
            (manifests if ref.is_manifest else blobs).append(ref)
    return ParsedManifest(media_type, blobs, manifests, subject, artifact_type or None,
                          annotations)


def all_references(data: bytes) -> list[Reference]:
    """Every descriptor of a stored manifest (for garbage collection); [] if unreadable."""
    try:
        parsed = parse(data, "")
    except RegistryError:
        return []
    return parsed.blobs + parsed.manifests


def stored_media_type(data: bytes) -> str:
    """The media type a stored manifest is served with."""
    try:
        body = json.loads(data)
    except ValueError:
        return mt.OCI_MANIFEST
    if isinstance(body, dict):
        declared = body.get("mediaType")
        if isinstance(declared, str) and declared:
            return declared
        return mt.OCI_INDEX if "manifests" in body else mt.OCI_MANIFEST
    return mt.OCI_MANIFEST
