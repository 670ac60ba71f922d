"""Media types of OCI and Docker image content, and predicates over them."""

from __future__ import annotations

from typing import Literal

# --- OCI image spec ---------------------------------------------------------------
OCI_DESCRIPTOR = "application/vnd.oci.descriptor.v1+json"
OCI_LAYOUT_HEADER = "application/vnd.oci.layout.header.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
# Deprecated by the spec but still met in the wild (Windows base layers).
OCI_LAYER_NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDISTRIBUTABLE_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDISTRIBUTABLE_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

# --- Docker image manifest v2 schema 2 ----------------------------------------------
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_LAYER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar"
DOCKER_LAYER_FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_PLUGIN_CONFIG = "application/vnd.docker.plugin.v1+json"

# --- Docker schema 1: recognised only so that it can be refused ----------------------
DOCKER_SCHEMA1_MANIFEST = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED_MANIFEST = "application/vnd.docker.distribution.manifest.v1+prettyjws"

# --- things found inside indexes that are not runnable images ----------------------
BUILDKIT_CACHE_CONFIG = "application/vnd.buildkit.cacheconfig.v0"
IN_TOTO = "application/vnd.in-toto+json"
# Annotation BuildKit puts on attestation manifests inside an index.
DOCKER_REFERENCE_TYPE_ANNOTATION = "vnd.docker.reference.type"
ATTESTATION_MANIFEST = "attestation-manifest"

MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
SCHEMA1_TYPES = frozenset({DOCKER_SCHEMA1_MANIFEST, DOCKER_SCHEMA1_SIGNED_MANIFEST})

Compression = Literal["none", "gzip", "zstd"]

_LAYER_COMPRESSION: dict[str, Compression] = {
    OCI_LAYER: "none",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_LAYER_NONDISTRIBUTABLE: "none",
    OCI_LAYER_NONDISTRIBUTABLE_GZIP: "gzip",
    OCI_LAYER_NONDISTRIBUTABLE_ZSTD: "zstd",
    DOCKER_LAYER: "none",
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_LAYER_ZSTD: "zstd",
    DOCKER_LAYER_FOREIGN: "none",
    DOCKER_LAYER_FOREIGN_GZIP: "gzip",
}
LAYER_TYPES = frozenset(_LAYER_COMPRESSION)
NONDISTRIBUTABLE_LAYER_TYPES = frozenset(
    {
        OCI_LAYER_NONDISTRIBUTABLE,
        OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
        DOCKER_LAYER_FOREIGN,
        DOCKER_LAYER_FOREIGN_GZIP,
    }
)

# What a registry client puts in ``Accept`` when fetching a manifest by tag.
MANIFEST_ACCEPT = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)


def is_manifest(media_type: str) -> bool:
    return media_type in MANIFEST_TYPES


def is_index(media_type: str) -> bool:
    return media_type in INDEX_TYPES


def is_config(media_type: str) -> bool:
    return media_type in CONFIG_TYPES


def is_schema1(media_type: str) -> bool:
    return media_type in SCHEMA1_TYPES


def is_layer(media_type: str) -> bool:
    return media_type in _LAYER_COMPRESSION


def is_nondistributable(media_type: str) -> bool:
    """Foreign (Docker) or non-distributable (OCI) layers: not pushed, fetched from ``urls``."""
    return media_type in NONDISTRIBUTABLE_LAYER_TYPES


def layer_compression(media_type: str) -> Compression | None:
    """How a layer blob of this type is compressed; None if it is not a layer type."""
    return _LAYER_COMPRESSION.get(media_type)


def layer_type_for(compression: Compression, *, docker: bool = False) -> str:
    """The layer media type to write for ``compression``, in OCI or Docker flavour."""
    if docker:
        return {"none": DOCKER_LAYER, "gzip": DOCKER_LAYER_GZIP, "zstd": DOCKER_LAYER_ZSTD}[
            compression
        ]
    return {"none": OCI_LAYER, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}[compression]
