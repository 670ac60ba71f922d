"""Image manifests and indexes (manifest lists): read, validate, build, choose by platform.

Reading accepts the OCI and the Docker v2 schema 2 flavours; schema 1 is recognised
and refused with Docker's message. Validation errors are :class:`Corrupt` (the
content is not what it claims to be) and name the offending field. Building
returns plain dicts whose keys are in the order Go's structs declare them, ready
for :func:`dockyard.oci.canonical.canonical_json`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import Corrupt, InvalidArgument, NotFound
from dockyard.oci import mediatypes as mt
from dockyard.oci.descriptor import Descriptor, Json, load_json, optional_str, string_map
from dockyard.oci.platform import Platform, PlatformMatcher, best_match, format_platform


def schema1_error(ref: str | None = None) -> InvalidArgument:
    """Docker's refusal of schema 1 images (DeprecatedSchema1ImageError), word for word."""
    msg = (
        "Docker Image Format v1 and Docker Image manifest version 2, "
        "schema 1 support has been removed."
    )
    if ref:
        msg += (
            f" Suggest the author of {ref} to upgrade the image to the OCI Format "
            "or Docker Image manifest v2, schema 2."
        )
    msg += " More information at https://docs.docker.com/go/deprecated-image-specs/"
    return InvalidArgument(msg)


# Content types that say nothing about which kind of document this is.
_GENERIC_TYPES = frozenset({"", "application/json", "application/octet-stream", "text/plain"})


def _hint(content_type: str | None) -> str | None:
    """The media type a transport or descriptor gave, if it says anything specific."""
    if not content_type:
        return None
    base = content_type.split(";")[0].strip()
    return None if base in _GENERIC_TYPES else base


def _is_known(media_type: str) -> bool:
    return mt.is_manifest(media_type) or mt.is_index(media_type) or mt.is_schema1(media_type)


def detect_media_type(doc: Mapping[str, Any], content_type: str | None = None) -> str:
    """What kind of document ``doc`` is.

    Its own ``mediaType`` field when that is a type we know (the field is covered by
    the digest, a Content-Type header is not), else ``content_type`` (a descriptor's
    media type or the transport's), else the field, else its shape.
    """
    field_type = optional_str(doc, "mediaType", "invalid manifest") or None
    if field_type and _is_known(field_type):
        return field_type
    hint = _hint(content_type)
    if hint:
        return hint
    if field_type:
        return field_type
    if doc.get("schemaVersion") == 1 or "fsLayers" in doc or "signatures" in doc:
        return mt.DOCKER_SCHEMA1_MANIFEST
    if "manifests" in doc:
        return mt.OCI_INDEX
    if "config" in doc or "layers" in doc:
        return mt.OCI_MANIFEST
    raise InvalidArgument("unsupported manifest format")


def _check_schema_version(doc: Mapping[str, Any], where: str) -> None:
    version = doc.get("schemaVersion")
    if version == 1 and not isinstance(version, bool):
        raise schema1_error()
    if version != 2 or isinstance(version, bool):
        raise Corrupt(f"{where}: schemaVersion must be 2, not {json.dumps(version)}")


def _optional_descriptor(doc: Mapping[str, Any], key: str, where: str) -> Descriptor | None:
    if doc.get(key) is None:
        return None
    return Descriptor.from_dict(doc[key], f"{where}: {key}")


def _descriptor_list(doc: Mapping[str, Any], key: str, where: str) -> tuple[Descriptor, ...]:
    if key not in doc:
        raise Corrupt(f"{where}: missing {key}")
    items = doc[key]
    if items is None:
        return ()
    if not isinstance(items, list):
        raise Corrupt(f"{where}: {key} must be a list")
    return tuple(Descriptor.from_dict(x, f"{where}: {key}[{i}]") for i, x in enumerate(items))


# --- manifests ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Manifest:
    """An image manifest (OCI or Docker schema 2)."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: dict[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None
    artifact_type: str | None = None

    @property
    def is_image(self) -> bool:
        """True for a runnable image (its config is an image config, not an artifact's)."""
        return mt.is_config(self.config.media_type)

    def to_dict(self) -> dict[str, Any]:
        return build_manifest(
            self.config,
            self.layers,
            media_type=self.media_type,
            annotations=self.annotations,
            subject=self.subject,
            artifact_type=self.artifact_type,
        )


def parse_manifest(data: Json, media_type: str | None = None) -> Manifest:
    """Read and validate an image manifest; ``media_type`` is the transport's, if known."""
    doc = load_json(data, "manifest")
    kind = detect_media_type(doc, media_type)
    if mt.is_schema1(kind):
        raise schema1_error()
    if mt.is_index(kind):
        raise Corrupt(f"media-type: expected manifest but found index ({kind})")
    if not mt.is_manifest(kind):
        raise InvalidArgument("unsupported manifest format")
    where = "invalid manifest"
    _check_schema_version(doc, where)
    if doc.get("manifests") is not None:
        raise Corrupt(f"media-type: expected manifest but found index ({kind})")
    if doc.get("config") is None:
        raise Corrupt(f"{where}: missing config")
    return Manifest(
        media_type=kind,
        config=Descriptor.from_dict(doc["config"], f"{where}: config"),
        layers=_descriptor_list(doc, "layers", where),
        annotations=string_map(doc, "annotations", where),
        subject=_optional_descriptor(doc, "subject", where),
        artifact_type=optional_str(doc, "artifactType", where),
    )


def build_manifest(
    config: Descriptor,
    layers: Sequence[Descriptor],
    *,
    media_type: str = mt.OCI_MANIFEST,
    annotations: Mapping[str, str] | None = None,
    subject: Descriptor | None = None,
    artifact_type: str | None = None,
) -> dict[str, Any]:
    """A manifest dict in Go's field order (schemaVersion, mediaType, artifactType, config, …)."""
    if not mt.is_manifest(media_type):
        raise InvalidArgument(f"not a manifest media type: {media_type}")
    d: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type:
        d["artifactType"] = artifact_type
    d["config"] = config.to_dict()
    d["layers"] = [layer.to_dict() for layer in layers]
    if subject is not None:
        d["subject"] = subject.to_dict()
    if annotations:
        d["annotations"] = dict(sorted(annotations.items()))
    return d


# --- indexes / manifest lists ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Index:
    """An OCI image index or a Docker manifest list."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: dict[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None
    artifact_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return build_index(
            self.manifests,
            media_type=self.media_type,
            annotations=self.annotations,
            subject=self.subject,
            artifact_type=self.artifact_type,
        )

    def select(self, wanted: Platform, *, strict: bool = False) -> Descriptor:
        return select_manifest(self.manifests, wanted, strict=strict)


def parse_index(data: Json, media_type: str | None = None) -> Index:
    """Read and validate an OCI index or a Docker manifest list."""
    doc = load_json(data, "image index")
    kind = detect_media_type(doc, media_type)
    if mt.is_schema1(kind):
        raise schema1_error()
    if mt.is_manifest(kind):
        raise Corrupt(f"media-type: expected index but found manifest ({kind})")
    if not mt.is_index(kind):
        raise InvalidArgument("unsupported manifest format")
    where = "invalid image index"
    _check_schema_version(doc, where)
    if doc.get("config") is not None or doc.get("layers") is not None:
        raise Corrupt(f"media-type: expected index but found manifest ({kind})")
    return Index(
        media_type=kind,
        manifests=_descriptor_list(doc, "manifests", where),
        annotations=string_map(doc, "annotations", where),
        subject=_optional_descriptor(doc, "subject", where),
        artifact_type=optional_str(doc, "artifactType", where),
    )


def parse_manifest_or_index(data: Json, media_type: str | None = None) -> Manifest | Index:
    """Read whichever of the two ``data`` is (by its mediaType, the transport's, or its shape)."""
    doc = load_json(data, "manifest")
    kind = detect_media_type(doc, media_type)
    if mt.is_index(kind):
        return parse_index(doc, kind)
    return parse_manifest(doc, kind)


def build_index(
    manifests: Sequence[Descriptor],
    *,
    media_type: str = mt.OCI_INDEX,
    annotations: Mapping[str, str] | None = None,
    subject: Descriptor | None = None,
    artifact_type: str | None = None,
) -> dict[str, Any]:
    """An index dict in Go's field order (schemaVersion, mediaType, artifactType, manifests, …)."""
    if not mt.is_index(media_type):
        raise InvalidArgument(f"not an index media type: {media_type}")
    d: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type:
        d["artifactType"] = artifact_type
    d["manifests"] = [m.to_dict() for m in manifests]
    if subject is not None:
        d["subject"] = subject.to_dict()
    if annotations:
        d["annotations"] = dict(sorted(annotations.items()))
    return d


def _is_attestation(d: Descriptor) -> bool:
    return d.annotations.get(mt.DOCKER_REFERENCE_TYPE_ANNOTATION) == mt.ATTESTATION_MANIFEST


def select_manifest(
    manifests: Iterable[Descriptor], wanted: Platform, *, strict: bool = False
) -> Descriptor:
    """The index entry to pull for ``wanted``: best platform fit, first on ties.

    Attestation manifests and entries of unknown media types are skipped; entries
    without a platform are taken only if nothing else fits. NotFound carries
    Docker's message.
    """
    candidates = [
        d
        for d in manifests
        if (mt.is_manifest(d.media_type) or mt.is_index(d.media_type)) and not _is_attestation(d)
    ]
    chosen = best_match(candidates, PlatformMatcher(wanted, strict=strict), lambda d: d.platform)
    if chosen is None:
        raise NotFound(
            f"no matching manifest for {format_platform(wanted)} in the manifest list entries"
        )
    return chosen
