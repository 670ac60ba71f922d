"""A container's mounts from ``-v`` (Binds), ``--mount`` (Mounts) and the image's VOLUMEs.

The result is Docker's inspect ``Mounts`` list; named volumes are created on first
use and every image VOLUME not covered by the user gets an anonymous volume, as
dockerd does at create time. A ``-v`` host directory that does not exist is made
when the container starts; ``--mount type=bind`` refuses a missing source here.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.engine.volumes import VolumeService

_MODES = {
    "ro",
    "rw",
    "z",
    "Z",
    "nocopy",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
    "cached",
    "delegated",
    "consistent",
}
_PROPAGATIONS = {"shared", "rshared", "slave", "rslave", "private", "rprivate"}


def parse_bind(spec: str) -> dict[str, Any]:
    """One ``-v`` value: ``[source:]destination[:mode]`` (Docker's Linux parser)."""
    parts = spec.split(":")
    if len(parts) > 3 or not all(parts):
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    mode = ""
    if len(parts) == 3:
        source, destination, mode = parts
    elif len(parts) == 2 and all(m in _MODES for m in parts[1].split(",")):
        # "/dest:ro" — an anonymous volume with a mode.
        source, destination, mode = "", parts[0], parts[1]
    elif len(parts) == 2:
        source, destination = parts
    else:
        source, destination = "", parts[0]
    if not destination.startswith("/"):
        kind = "bind" if source.startswith("/") else "volume"
        raise InvalidArgument(
            f"invalid volume specification: '{spec}': invalid mount config for type \"{kind}\":"
            f" invalid mount path: '{destination}' mount path must be absolute"
        )
    modes = [m for m in mode.split(",") if m]
    for m in modes:
        if m not in _MODES:
            raise InvalidArgument(f"invalid mode: {mode}")
    propagation = next((m for m in modes if m in _PROPAGATIONS), "")
    mount: dict[str, Any] = {
        "Type": "bind" if source.startswith("/") else "volume",
        "Source": source,
        "Destination": os.path.normpath(destination),
        "Mode": mode,
        "RW": "ro" not in modes,
        "Propagation": propagation,
    }
    if mount["Type"] == "bind":
        mount["Propagation"] = propagation or "rprivate"
    else:
        mount["Name"] = source
        mount["NoCopy"] = "nocopy" in modes
    return mount


def from_api_mount(m: dict[str, Any]) -> dict[str, Any]:
    """One HostConfig.Mounts entry (``--mount``) in inspect's shape, checked as dockerd does."""
    kind = m.get("Type", "volume")
    target = m.get("Target") or ""
    if not target.startswith("/"):
        raise InvalidArgument(
            f"invalid mount config for type \"{kind}\": invalid mount path: '{target}' mount"
            " path must be absolute"
        )
    source = m.get("Source") or ""
    mount: dict[str, Any] = {
        "Type": kind,
        "Source": source,
        "Destination": os.path.normpath(target),
        "Mode": "",
        "RW": not m.get("ReadOnly", False),
        "Propagation": "",
    }
    if kind == "bind":
        if not source:
            raise InvalidArgument(
                'invalid mount config for type "bind": field Source must not be empty'
            )
        if not os.path.exists(source):
            raise InvalidArgument(
                f'invalid mount config for type "bind": bind source path does not exist: {source}'
            )
        mount["Propagation"] = (m.get("BindOptions") or {}).get("Propagation") or "rprivate"
    elif kind == "volume":
        options = m.get("VolumeOptions") or {}
        mount["Name"] = source
        mount["NoCopy"] = bool(options.get("NoCopy"))
        mount["Labels"] = options.get("Labels") or None
    elif kind == "tmpfs":
        if source:
            raise InvalidArgument(
                'invalid mount config for type "tmpfs": field Source must be empty'
            )
        mount["TmpfsOptions"] = m.get("TmpfsOptions") or {}
    else:
        raise InvalidArgument(f"mount type unknown: {kind!r}")
    return mount


def resolve_mounts(
    volumes: VolumeService, host_config: dict[str, Any], image_volumes: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The container's Mounts, and the anonymous volumes made for it (to undo on failure)."""
    mounts: dict[str, dict[str, Any]] = {}
    for spec in host_config.get("Binds") or []:
        mount = parse_bind(spec)
        _add(mounts, mount)
    for api_mount in host_config.get("Mounts") or []:
        _add(mounts, from_api_mount(api_mount))
    tmpfs = set(host_config.get("Tmpfs") or {})
    for destination in image_volumes or {}:
        path = os.path.normpath(destination)
        if path not in mounts and path not in tmpfs:
            mounts[path] = {
                "Type": "volume",
                "Source": "",
                "Destination": path,
                "Mode": "",
                "RW": True,
                "Propagation": "",
                "Name": "",
                "NoCopy": False,
            }
    created: list[str] = []
    try:
        for mount in mounts.values():
            if mount["Type"] != "volume":
                continue
            if mount["Name"]:
                volume = volumes.ensure(mount["Name"])
            else:
                volume = volumes.create(anonymous=True)
                created.append(volume.name)
                mount["Name"] = volume.name
            mount["Source"] = volume.mountpoint
            mount["Driver"] = volume.driver
            mount.pop("Labels", None)
    except BaseException:
        for name in created:
            volumes.remove(name, force=True)
        raise
    return sorted(mounts.values(), key=lambda m: m["Destination"]), created


def _add(mounts: dict[str, dict[str, Any]], mount: dict[str, Any]) -> None:
    destination = mount["Destination"]
    if destination in mounts:
        raise InvalidArgument(f"Duplicate mount point: {destination}")
    mounts[destination] = mount
