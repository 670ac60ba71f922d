"""Image documents in one place: descriptors, manifests, indexes, configs, canonical JSON.

The work is done in :mod:`.descriptor`, :mod:`.manifest`, :mod:`.config` and
:mod:`.canonical`; this module gathers their public names so that callers import
from one place.
"""

from __future__ import annotations

from dockyard.oci.canonical import canonical_json
from dockyard.oci.config import (
    HistoryEntry,
    ImageConfig,
    align_history,
    build_config,
    chain_id,
    chain_ids,
    image_id,
    non_empty_history,
    parse_config,
)
from dockyard.oci.descriptor import Descriptor, Json, load_json
from dockyard.oci.manifest import (
    Index,
    Manifest,
    build_index,
    build_manifest,
    detect_media_type,
    parse_index,
    parse_manifest,
    parse_manifest_or_index,
    schema1_error,
    select_manifest,
)

__all__ = [
    "Descriptor",
    "HistoryEntry",
    "ImageConfig",
    "Index",
    "Json",
    "Manifest",
    "align_history",
    "build_config",
    "build_index",
    "build_manifest",
    "canonical_json",
    "chain_id",
    "chain_ids",
    "detect_media_type",
    "image_id",
    "load_json",
    "non_empty_history",
    "parse_config",
    "parse_index",
    "parse_manifest",
    "parse_manifest_or_index",
    "schema1_error",
    "select_manifest",
]
