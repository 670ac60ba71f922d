"""Published ports: turning HostConfig.PortBindings (and -P) into concrete host
ports, and checking a host port is free.

dockyard publishes with DNAT rules (see :mod:`dockyard.network.firewall`) rather
than a userland proxy: the rules also catch connections to 127.0.0.1 (the bridge
has ``route_localnet`` on and the source is masqueraded), so no proxy process
sits in the data path. Ports dockyard has published are recorded in the
``published_ports`` table; a port some other host process listens on is found
by binding it for a moment.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.errors import Conflict, InvalidArgument, SystemFailure


@dataclass(frozen=True, slots=True)
class Binding:
    """One published port: ``host_ip:host_port`` → ``container_port/proto``;
    ``host_port`` 0 means "pick one" and ``host_port_end`` a range to pick from."""

    proto: str
    container_port: int
    host_ip: str
    host_port: int
    host_port_end: int = 0

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"


def _port(text: str, value: str) -> tuple[int, int]:
    start, sep, end = text.partition("-")
    try:
        first = int(start)
        last = int(end) if sep else first
    except ValueError:
        raise InvalidArgument(f"invalid port specification: {value!r}") from None
    if not 0 <= first <= last <= 65535:
        raise InvalidArgument(f"invalid port specification: {value!r}")
    return first, last


def bindings_from_host_config(
    port_bindings: Mapping[str, Any] | None,
    exposed: Iterable[str] = (),
    publish_all: bool = False,
) -> list[Binding]:
    """PortBindings (``{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}``) plus, with
    ``publish_all`` (-P), every exposed port not bound yet on an ephemeral port."""
    out: list[Binding] = []
    for key, entries in (port_bindings or {}).items():
        port_text, _, proto = key.partition("/")
        proto = proto or "tcp"
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"invalid proto: {proto}")
        cport, _ = _port(port_text, key)
        for entry in entries or [{}]:
            host_port = str((entry or {}).get("HostPort") or "")
            first, last = _port(host_port, host_port) if host_port else (0, 0)
            out.append(
                Binding(
                    proto=proto,
                    container_port=cport,
                    host_ip=str((entry or {}).get("HostIp") or ""),
                    host_port=first,
                    host_port_end=last if last != first else 0,
                )
            )
    if publish_all:
        bound = {b.key for b in out}
        for key in exposed:
            port_text, _, proto = key.partition("/")
            if key not in bound and f"{port_text}/{proto or 'tcp'}" not in bound:
                out.append(Binding(proto or "tcp", int(port_text), "", 0))
    return out


def _sock_type(proto: str) -> int:
    return socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM


def host_port_free(proto: str, host_ip: str, port: int) -> bool:
    """Whether a host process could bind ``host_ip:port`` now."""
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    with contextlib.closing(socket.socket(family, _sock_type(proto))) as s:
        if proto != "udp":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host_ip or "0.0.0.0", port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return False
            if e.errno == errno.EADDRNOTAVAIL:
                raise SystemFailure(
                    f"listen {proto}4 {host_ip}:{port}: bind: cannot assign requested address"
                ) from None
            raise
    return True


def ephemeral_port(proto: str, host_ip: str) -> int:
    """A port from the host's ip_local_port_range, as the kernel hands them out."""
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    with contextlib.closing(socket.socket(family, _sock_type(proto))) as s:
        s.bind((host_ip or "0.0.0.0", 0))
        return int(s.getsockname()[1])


def allocated_message(host_ip: str, port: int) -> str:
    return f"Bind for {host_ip or '0.0.0.0'}:{port} failed: port is already allocated"


def conflicts(wanted: tuple[str, str, int], taken: Iterable[tuple[str, str, int]]) -> bool:
    """Whether (proto, ip, port) clashes with a taken one (a wildcard ip clashes with all)."""
    proto, ip, port = wanted
    wild = ("", "0.0.0.0", "::")
    for t_proto, t_ip, t_port in taken:
        if t_proto == proto and t_port == port and (ip in wild or t_ip in wild or ip == t_ip):
            return True
    return False


def choose_host_port(binding: Binding, taken: Iterable[tuple[str, str, int]]) -> int:
    """The host port for ``binding``: its own (checked), one from its range, or an
    ephemeral one. Raises Conflict with Docker's message when taken."""
    taken = list(taken)
    ip = binding.host_ip
    if binding.host_port and not binding.host_port_end:
        port = binding.host_port
        if conflicts((binding.proto, ip, port), taken):
            raise Conflict(allocated_message(ip, port))
        if not host_port_free(binding.proto, ip, port):
            raise Conflict(
                f"Error starting userland proxy: listen {binding.proto}4 {ip or '0.0.0.0'}:"
                f"{port}: bind: address already in use"
            )
        return port
    if binding.host_port_end:
        for port in range(binding.host_port, binding.host_port_end + 1):
            if not conflicts((binding.proto, ip, port), taken) and host_port_free(
                binding.proto, ip, port
            ):
                return port
        raise Conflict(allocated_message(ip, binding.host_port))
    for _ in range(64):
        port = ephemeral_port(binding.proto, ip)
        if not conflicts((binding.proto, ip, port), taken):
            return port
    raise Conflict("no free ephemeral port")


def format_ports(ports: Mapping[str, Any] | None) -> str:
    """The PORTS column of ``ps``: ``0.0.0.0:8080->80/tcp, 443/tcp``."""
    items = []
    for key, bindings in (ports or {}).items():
        port, _, proto = key.partition("/")
        if not bindings:
            items.append((int(port), proto, f"{port}/{proto}"))
            continue
        for b in bindings:
            items.append(
                (int(port), proto, f"{b.get('HostIp') or '0.0.0.0'}:{b['HostPort']}->{key}")
            )
    items.sort(key=lambda t: (t[0], t[1]))
    return ", ".join(text for _, _, text in items)


def filter_ports(key: str, values: Iterable[str]) -> set[str]:
    """The ``port/proto`` set of ``ps -f publish=``/``expose=`` values (``80``,
    ``8080/udp``, ``8000-8002/tcp``); the proto defaults to tcp, as docker's."""
    out: set[str] = set()
    for value in values:
        if ":" in value:
            raise InvalidArgument(f"filter for '{key}' should not contain ':': {value}")
        port, _, proto = value.partition("/")
        start, sep, end = port.partition("-")
        try:
            if not port:
                raise ValueError("empty string specified for ports")
            first = _uint16(start, "invalid start port")
            last = _uint16(end, "invalid end port") if sep else first
            if last < first:
                raise ValueError(f"invalid range specified for port: {port}")
        except ValueError as exc:
            raise InvalidArgument(f"error while looking up for {key} {value}: {exc}") from None
        out.update(f"{p}/{proto or 'tcp'}" for p in range(first, last + 1))
    return out


def _uint16(text: str, what: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise ValueError(f"{what} '{text}'" if text else f"{what} ''")
    return int(text)


def ports_match(ports: Mapping[str, Any] | None, publish: set[str], expose: set[str]) -> bool:
    """Docker's ps rule: some entry of the PORTS column has its host port/proto in
    ``publish`` or its container port/proto in ``expose``."""
    for key, bindings in (ports or {}).items():
        _, _, proto = key.partition("/")
        if key in expose:
            return True
        for b in bindings or []:
            if f"{b.get('HostPort')}/{proto}" in publish:
                return True
    return False
