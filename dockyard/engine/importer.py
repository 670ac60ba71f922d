"""``import``: a filesystem tarball becomes a one-layer image."""

from __future__ import annotations

import json
import time
from typing import Any, BinaryIO

from dockyard import __version__
from dockyard.engine.changes import apply_changes, empty_container_config
from dockyard.engine.images import ImageService
from dockyard.engine.layerstore import LayerStore
from dockyard.oci import reference as refs
from dockyard.oci.platform import host_platform
from dockyard.store.metadata import Leases
from dockyard.timeutil import rfc3339_nano


def import_image(
    images: ImageService,
    layers: LayerStore,
    leases: Leases,
    stream: BinaryIO,
    *,
    source: str,
    reference: str | None,
    changes: list[str],
    message: str,
    platform_spec: str | None = None,
) -> str:
    """Import a tar stream; returns the new image ID."""
    tag = str(refs.parse_reference(reference).with_default_tag()) if reference else None
    container_config = apply_changes(empty_container_config(), changes) if changes else None
    lease = leases.create()
    chain: set[str] = set()
    try:
        layer = layers.unpack_stream(lease, stream, None)
        chain.add(layer.chain_id)
        created = rfc3339_nano(time.time())
        target = host_platform()
        if platform_spec:
            from dockyard.oci.platform import parse_platform

            target = parse_platform(platform_spec)
        config: dict[str, Any] = {
            "architecture": target.architecture,
            "comment": message or f"Imported from {source}",
            "config": container_config if container_config is not None else {},
            "created": created,
            "docker_version": f"dockyard-{__version__}",
            "history": [{"created": created, "comment": message or f"Imported from {source}"}],
            "os": target.os,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        }
        if target.variant:
            config["variant"] = target.variant
        config_bytes = json.dumps(config, separators=(",", ":")).encode()
        image_id, _ = images.create(
            config_bytes, [layer.chain_id], tags=[tag] if tag else [], lease=lease
        )
    except BaseException:
        layers.abandon(lease, chain)
        raise
    finally:
        leases.release(lease)
    return image_id
