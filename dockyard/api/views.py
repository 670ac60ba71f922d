"""The Engine API's JSON for containers and images, as dockerd returns them.

``inspect`` shapes are the ones the CLI prints (it already speaks the API's
vocabulary); they are taken from the CLI's presenters so that ``dockyard
inspect`` and ``docker inspect`` through the server cannot drift apart.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.engine import Engine
    from dockyard.engine.containers import Container
    from dockyard.engine.images import Image


def command_text(container: Container) -> str:
    """dockerd's summary Command: the path and arguments, those with spaces quoted."""
    args = [f"'{a}'" if " " in a else a for a in container.spec.get("Args", [])]
    return " ".join([container.spec.get("Path", ""), *args]).strip()


def _mount_points(container: Container) -> list[dict[str, Any]]:
    out = []
    for m in container.spec.get("Mounts") or []:
        point = {
            "Type": m.get("Type", ""),
            "Name": m.get("Name", ""),
            "Source": m.get("Source", ""),
            "Destination": m.get("Destination", ""),
            "Driver": m.get("Driver", ""),
            "Mode": m.get("Mode", ""),
            "RW": bool(m.get("RW", True)),
            "Propagation": m.get("Propagation", ""),
        }
        if not point["Name"]:
            point.pop("Name")
            point.pop("Driver")
        out.append(point)
    return out


def container_summary(
    engine: Engine, container: Container, *, size: bool = False
) -> dict[str, Any]:
    from dockyard.engine.views import status_text

    network_settings = container.spec.get("NetworkSettings") or {}
    summary: dict[str, Any] = {
        "Id": container.id,
        "Names": ["/" + container.name],
        "Image": engine.containers.image_name(container),
        "ImageID": container.image_id,
        "Command": command_text(container),
        "Created": int(container.created),
        "Ports": _ports(network_settings),
        "Labels": container.config.get("Labels") or {},
        "State": container.status,
        "Status": status_text(container, time.time()),
        "HostConfig": {"NetworkMode": container.host_config.get("NetworkMode") or "default"},
        "NetworkSettings": {"Networks": network_settings.get("Networks") or {}},
        "Mounts": _mount_points(container),
    }
    if size:
        rw = engine.containers.size(container)
        summary["SizeRw"] = rw
        summary["SizeRootFs"] = rw + (
            engine.images.get(container.image_id).size if container.image_id else 0
        )
    return summary


def _ports(network_settings: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key, bindings in sorted((network_settings.get("Ports") or {}).items()):
        port, _, proto = key.partition("/")
        if not bindings:
            out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
            continue
        for b in bindings:
            entry: dict[str, Any] = {"PrivatePort": int(port), "Type": proto or "tcp"}
            if b.get("HostIp"):
                entry["IP"] = b["HostIp"]
            if b.get("HostPort"):
                entry["PublicPort"] = int(b["HostPort"])
            out.append(entry)
    return out


def container_inspect(
    engine: Engine, container: Container, *, size: bool = False
) -> dict[str, Any]:
    from dockyard.engine.views import inspect_container

    return inspect_container(engine, container, size)


def image_summary(engine: Engine, image: Image, containers: dict[str, int]) -> dict[str, Any]:
    from dockyard.oci import reference as refs

    tags = [refs.parse_reference(t).familiar() for t in image.repo_tags]
    digests = [refs.parse_reference(d).familiar() for d in image.repo_digests]
    if not tags and not digests:
        tags, digests = ["<none>:<none>"], ["<none>@<none>"]
    return {
        "Id": image.id,
        "ParentId": image.parent,
        "RepoTags": tags,
        "RepoDigests": digests,
        "Created": int(image.created_unix),
        "Size": image.size,
        "SharedSize": -1,
        "VirtualSize": image.size,
        "Labels": image.labels or {},
        "Containers": containers.get(image.id, -1),
    }


def image_inspect(engine: Engine, name: str) -> dict[str, Any]:
    from dockyard.engine.views import inspect_image

    return inspect_image(engine, name)
