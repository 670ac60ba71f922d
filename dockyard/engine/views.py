"""Docker's JSON for engine objects (Engine API v1.43 shapes): what ``inspect`` and
``ps`` show on the CLI and what the API server returns, from one place."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import Any

    from dockyard.engine import Engine
    from dockyard.engine.containers import Container


def status_text(container: Container, now: float) -> str:
    from dockyard.golang.units import human_duration
    from dockyard.timeutil import parse_rfc3339

    state = container.state
    status = container.status
    if status == "created":
        return "Created"
    if status in ("running", "paused", "restarting"):
        started = parse_rfc3339(state.get("StartedAt") or "1970-01-01T00:00:00Z")
        text = "Up " + human_duration(now - started)
        if status == "paused":
            text += " (Paused)"
        health = (state.get("Health") or {}).get("Status")
        if health:
            text += f" ({'health: starting' if health == 'starting' else health})"
        if status == "restarting":  # since the exit it restarts from
            finished = parse_rfc3339(state.get("FinishedAt") or "1970-01-01T00:00:00Z")
            return f"Restarting ({state.get('ExitCode', 0)}) {human_duration(now - finished)} ago"
        return text
    if status == "dead":
        return "Dead"
    finished = parse_rfc3339(state.get("FinishedAt") or "1970-01-01T00:00:00Z")
    return f"Exited ({state.get('ExitCode', 0)}) {human_duration(now - finished)} ago"


def inspect_container(e: Engine, container: Container, size: bool = False) -> dict[str, Any]:
    """``docker container inspect``'s JSON (Engine API v1.43 shape)."""
    e.lifecycle.refresh(container)
    spec = container.spec
    directory = e.containers.container_dir(container.id)
    graph: dict[str, Any] = {"Data": None, "Name": e.storage_driver}
    if e.snapshots.exists(container.snapshot_key):
        graph["Data"] = e.snapshots.graph_driver_data(container.snapshot_key) or None
    if graph["Name"] == "overlay":
        graph["Name"] = "overlay2"
    started = container.status != "created"
    result: dict[str, Any] = {
        "Id": container.id,
        "Created": spec.get("Created", ""),
        "Path": spec.get("Path", ""),
        "Args": spec.get("Args", []),
        "State": {k: v for k, v in container.state.items() if k != "RestartCount"},
        "Image": container.image_id,
        "ResolvConfPath": f"{directory}/resolv.conf" if started else "",
        "HostnamePath": f"{directory}/hostname" if started else "",
        "HostsPath": f"{directory}/hosts" if started else "",
        "LogPath": f"{directory}/{container.id}-json.log" if started else "",
        "Name": "/" + container.name,
        "RestartCount": container.state.get("RestartCount", spec.get("RestartCount", 0)),
        "Driver": graph["Name"],
        "Platform": spec.get("Platform", "linux"),
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": container.host_config,
        "GraphDriver": graph,
        "Mounts": spec.get("Mounts", []),
        "Config": container.config,
        "NetworkSettings": spec.get("NetworkSettings") or _empty_network_settings(container),
    }
    if size:
        rw = e.containers.size(container)
        result["SizeRw"] = rw
        result["SizeRootFs"] = rw + (
            e.images.get(container.image_id).size if container.image_id else 0
        )
    return result


def _empty_network_settings(container: Container) -> dict[str, Any]:
    """A container that has not started yet: its networks as configured, no addresses."""
    endpoints = (container.spec.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    networks = {
        name: {
            "IPAMConfig": ep.get("IPAMConfig"),
            "Links": ep.get("Links"),
            "Aliases": ep.get("Aliases"),
            "MacAddress": ep.get("MacAddress", ""),
            "NetworkID": ep.get("NetworkID", ""),
            "EndpointID": "",
            "Gateway": "",
            "IPAddress": "",
            "IPPrefixLen": 0,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DriverOpts": ep.get("DriverOpts"),
            "DNSNames": None,
        }
        for name, ep in endpoints.items()
    }
    return {
        "Bridge": "",
        "SandboxID": "",
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": {},
        "SandboxKey": "",
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": "",
        "Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "MacAddress": "",
        "Networks": networks,
    }


def inspect_image(engine: Engine, name: str) -> dict[str, Any]:
    """``docker image inspect``'s JSON for one image (Engine API v1.43 shape)."""
    from dockyard.engine.changes import empty_container_config
    from dockyard.oci import reference as refs

    image, config = engine.images.inspect_raw(name)
    layers = [engine.layers.require(c) for c in image.chain]
    graph: dict[str, Any] = {"Data": None, "Name": engine.storage_driver}
    if image.chain:
        graph["Data"] = engine.snapshots.graph_driver_data(image.chain[-1]) or None
    if graph["Name"] == "overlay":
        graph["Name"] = "overlay2"
    container_config = config.get("container_config") or empty_container_config()
    result: dict[str, Any] = {
        "Id": image.id,
        "RepoTags": [refs.parse_reference(t).familiar() for t in image.repo_tags],
        "RepoDigests": [refs.parse_reference(d).familiar() for d in image.repo_digests],
        "Parent": image.parent,
        "Comment": config.get("comment", ""),
        "Created": config.get("created", image.created),
        "Container": config.get("container", ""),
        "ContainerConfig": container_config,
        "DockerVersion": config.get("docker_version", ""),
        "Author": config.get("author", ""),
        "Config": config.get("config") or None,
        "Architecture": config.get("architecture", ""),
    }
    if config.get("variant"):
        result["Variant"] = config["variant"]
    result["Os"] = config.get("os", "")
    if config.get("os.version"):
        result["OsVersion"] = config["os.version"]
    result |= {
        "Size": sum(layer.size for layer in layers),
        "VirtualSize": sum(layer.size for layer in layers),
        "GraphDriver": graph,
        "RootFS": {"Type": "layers", "Layers": [layer.diff_id for layer in layers]},
        "Metadata": {},
    }
    if image.last_tag_time is not None:
        from dockyard.timeutil import rfc3339_nano

        result["Metadata"]["LastTagTime"] = rfc3339_nano(image.last_tag_time)
    else:
        result["Metadata"]["LastTagTime"] = "0001-01-01T00:00:00Z"
    return result
