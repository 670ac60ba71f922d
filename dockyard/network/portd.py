"""The engine's side of the port proxy (:mod:`dockyard.network.portproxy`): one
process per dockyard run root that holds every published host port and proxies
what reaches it (Docker's docker-proxy, one process for all containers instead
of one per port). This module only writes the port files and talks to it, with
nothing heavy to import on a container's start or removal.

Holding the port is the point: a published port stays taken while its container
runs (``ss -ltn`` shows it, another program's ``bind`` gets EADDRINUSE), and is
free again once the container stops. Most IPv4 traffic never reaches the proxy:
the DNAT rules of :mod:`dockyard.network.firewall` rewrite it first (127.0.0.1
included, thanks to ``route_localnet``). What the rules cannot carry comes here:
IPv6 (``[::]:8080``, ``[::1]:8080``: the kernel cannot DNAT to ``::1``), and an
IPv6 binding of a container that has only an IPv4 address.

Each container's ports are a file, ``$DOCKYARD_RUN/network/ports/<id>.json``
(``{"netns": ..., "ports": [{"proto", "host_ip", "host_port", "target_ip",
"target_port"}]}``), written by the engine before it asks the daemon over
``network/portd.sock`` to ``publish`` it; ``unpublish`` closes its sockets. A
restarted daemon binds every file again; containers whose namespace file is
gone are dropped; the daemon exits a minute after its last container.
"""

from __future__ import annotations

import contextlib
import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def paths(run_root: str) -> tuple[str, str, str]:
    base = os.path.join(run_root, "network")
    return (
        os.path.join(base, "portd.sock"),
        os.path.join(base, "portd.pid"),
        os.path.join(base, "ports"),
    )


# ----------------------------------------------------------------- the engine's side


def publish(run_root: str, container_id: str, netns_path: str, ports: list[dict[str, Any]]) -> None:
    """Have the proxy of ``run_root`` hold ``ports`` for the container (starting it if
    needed). Raises Conflict with docker's message when a port cannot be taken."""
    from dockyard.errors import Conflict

    _, _, spec_dir = paths(run_root)
    os.makedirs(spec_dir, mode=0o700, exist_ok=True)
    spec = os.path.join(spec_dir, f"{container_id}.json")
    tmp = f"{spec}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump({"netns": netns_path, "ports": ports}, f)
    os.replace(tmp, spec)
    reply = _ask(run_root, {"op": "publish", "id": container_id})
    if reply.get("error"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spec)
        raise Conflict(str(reply["error"]))


def unpublish(run_root: str, container_id: str) -> None:
    """Release the container's host ports (a no-op when none are held)."""
    sock_path, _, spec_dir = paths(run_root)
    spec = os.path.join(spec_dir, f"{container_id}.json")
    try:
        os.unlink(spec)
    except FileNotFoundError:
        return
    if os.path.exists(sock_path):
        with contextlib.suppress(OSError, ValueError):
            _request(sock_path, {"op": "unpublish", "id": container_id})


def _request(sock_path: str, message: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    from dockyard.network import control

    reply = control.request(sock_path, message, timeout)
    if not reply:  # a daemon on its way out closed the connection unanswered
        raise ConnectionResetError("the port proxy went away")
    return reply


def _ask(run_root: str, message: dict[str, Any]) -> dict[str, Any]:
    from dockyard.network import control

    sock_path, _, _ = paths(run_root)
    helper = ["dockyard.network.portproxy", run_root]
    return control.request_starting(sock_path, message, helper, what="port proxy", timeout=10.0)
