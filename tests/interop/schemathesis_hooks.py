"""Schemathesis hooks for fuzzing ``dockyard serve``: the safety gate every generated
request passes through just before it is sent (``before_call`` sees every phase).

The server already runs in a network namespace of its own with only loopback (see
``_schemathesis_support``); these rules also keep the requests themselves harmless:

- nothing names a registry, index or URL other than the loopback registry;
- containers are created without host binds, devices, privileges, host namespaces
  or log drivers that reach out; volumes without a ``device`` to mount;
- requests that would stream or block for long (events without ``until``, follow,
  stats streams, waits on running containers, long stop timeouts) are bounded.

Some ``{id}`` path parameters are swapped for the ids of a few containers the runner
made (``DOCKYARD_ST_CONTAINERS``), so the routes get past "No such container".
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import urllib.request
from typing import Any

import schemathesis

# dockyard's registry in the server's namespace (or a closed port, without a runner)
REGISTRY = os.environ.get("DOCKYARD_ST_REGISTRY", "127.0.0.1:9")
BASE = os.environ.get("DOCKYARD_ST_BASE", "")
HOST_CONFIG_DROP = (
    "Binds",
    "Mounts",
    "Devices",
    "DeviceRequests",
    "DeviceCgroupRules",
    "Privileged",
    "CapAdd",
    "SecurityOpt",
    "PidMode",
    "IpcMode",
    "UTSMode",
    "UsernsMode",
    "NetworkMode",
    "Cgroup",
    "CgroupParent",
    "CgroupnsMode",
    "VolumeDriver",
    "VolumesFrom",
    "Sysctls",
    "LogConfig",
    "Runtime",
    "MaskedPaths",
    "ReadonlyPaths",
    "PortBindings",
    "PublishAllPorts",
    "Links",
    "Tmpfs",
)
# routes whose {id} may be one of the runner's containers
CONTAINER_ROUTES = {
    "/containers/{id}/json",
    "/containers/{id}/top",
    "/containers/{id}/logs",
    "/containers/{id}/changes",
    "/containers/{id}/export",
    "/containers/{id}/stats",
    "/containers/{id}/resize",
    "/containers/{id}/start",
    "/containers/{id}/stop",
    "/containers/{id}/restart",
    "/containers/{id}/kill",
    "/containers/{id}/update",
    "/containers/{id}/rename",
    "/containers/{id}/pause",
    "/containers/{id}/unpause",
    "/containers/{id}",
    "/containers/{id}/archive",
    "/containers/{id}/exec",
}


def _pool() -> list[str]:
    return [c for c in os.environ.get("DOCKYARD_ST_CONTAINERS", "").split(",") if c]


def _loopback_name(value: Any) -> Any:
    """An image name or search term whose registry is the loopback one."""
    if not isinstance(value, str):
        return value
    return f"{REGISTRY}/{value}"


def _sanitize_create(body: Any) -> None:
    if not isinstance(body, dict):
        return
    host = body.get("HostConfig")
    if isinstance(host, dict):
        for key in HOST_CONFIG_DROP:
            host.pop(key, None)


def _sanitize(method: str, path: str, case: Any) -> None:
    query = case.query if isinstance(case.query, dict) else {}
    if case.query is None:
        case.query = query
    body = case.body if isinstance(case.body, (dict, list)) else None
    pool = _pool()
    if path in CONTAINER_ROUTES and pool:
        # half of the cases on one of the runner's containers, chosen from the case
        digest = hashlib.sha256(repr(case.path_parameters).encode() + repr(query).encode())
        pick = digest.digest()[0]
        if pick % 2 == 0:
            case.path_parameters["id"] = pool[(pick // 2) % len(pool)]
    if path == "/images/create":
        if "fromImage" in query:
            query["fromImage"] = _loopback_name(query["fromImage"])
        if "fromSrc" in query and query["fromSrc"] != "-":
            query["fromSrc"] = "-"  # a URL would be downloaded
    elif path == "/images/{name}/push":
        case.path_parameters["name"] = _loopback_name(case.path_parameters.get("name", "x"))
    elif path == "/images/search":
        query["term"] = _loopback_name(query.get("term", "x"))
    elif path == "/auth":
        if isinstance(body, dict):
            body["serveraddress"] = REGISTRY  # never the default index
    elif path == "/build":
        query.pop("remote", None)
        query.pop("networkmode", None)
    elif path == "/containers/create":
        _sanitize_create(body)
    elif path == "/containers/{id}/exec":
        if isinstance(body, dict):
            body.pop("Privileged", None)
    elif path == "/volumes/create":
        if isinstance(body, dict) and isinstance(body.get("DriverOpts"), dict):
            body["DriverOpts"].pop("device", None)
    elif path == "/events":
        query["until"] = str(int(time.time()))  # else it streams until the timeout
    elif path == "/containers/{id}/logs":
        query.pop("follow", None)
    elif path == "/containers/{id}/stats":
        query["stream"] = "false"
        query["one-shot"] = "true"
    elif path == "/containers/{id}/wait":
        # not hex: never a prefix of a (running, so waited for) container's id
        case.path_parameters["id"] = "zz-" + str(case.path_parameters.get("id", ""))
    elif path in ("/containers/{id}/stop", "/containers/{id}/restart"):
        query["t"] = "1"


# image loads and archive uploads: raw bytes, as the octet-stream bodies are sent
schemathesis.serializer.alias("application/x-tar", "application/octet-stream")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    _sanitize(case.operation.method.upper(), case.operation.path, case)
    kwargs.setdefault("timeout", 60)


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """Put the runner's containers back when a case removed one of them."""
    if not BASE or response.status_code >= 300:
        return
    path = case.operation.path
    method = case.operation.method.upper()
    removing = (method == "DELETE" and path == "/containers/{id}") or path in (
        "/containers/prune",
        "/containers/{id}/rename",
    )
    if removing:
        _refill()


def _refill() -> None:
    wanted = _pool()
    for name in wanted:
        request = urllib.request.Request(f"{BASE}/containers/{name}/json")
        try:
            urllib.request.urlopen(request, timeout=30).close()
            continue
        except OSError:
            pass
        body = json.dumps({"Image": "busybox", "Cmd": ["sleep", "600"]}).encode()
        create = urllib.request.Request(
            f"{BASE}/containers/create?name={name}",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with contextlib.suppress(OSError):
            urllib.request.urlopen(create, timeout=30).close()


def _nullable(node: Any) -> None:
    if isinstance(node, dict):
        if "type" in node or "$ref" in node:
            node.setdefault("x-nullable", True)
        for value in node.values():
            _nullable(value)
    elif isinstance(node, list):
        for value in node:
            _nullable(value)


@schemathesis.hook
def before_load_schema(context: Any, raw_schema: dict[str, Any]) -> None:
    """For response-shape checks (``DOCKYARD_ST_NULLABLE=1``): dockerd sends ``null``
    for every empty Go slice and map, which the spec does not say; allow it, so what
    is left are real differences."""
    if os.environ.get("DOCKYARD_ST_NULLABLE") == "1":
        _nullable(raw_schema.get("definitions"))
        for path in (raw_schema.get("paths") or {}).values():
            _nullable(path)
