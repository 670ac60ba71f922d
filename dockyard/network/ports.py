"""Published ports: turning HostConfig.PortBindings (and -P) into concrete host
ports, and checking a host port is free.

IPv4 traffic to a published port is carried by DNAT rules (see
:mod:`dockyard.network.firewall`), connections to 127.0.0.1 included (the bridge
has ``route_localnet`` on and the source is masqueraded). The host ports
themselves are held by the port proxy (:mod:`dockyard.network.portd`, docker's
userland proxy), which also carries what the rules cannot: IPv6. Ports dockyard
has published are recorded in the ``published_ports`` table; a port some other
host process listens on is found by binding it for a moment.
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


def _sctp_supported() -> bool:
    """Whether this kernel speaks SCTP (the sctp module may be missing or blocked)."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP).close()
    except OSError:
        return False
    return True


_SCTP: list[bool] = []


def sctp_supported() -> bool:
    """:func:`_sctp_supported`, asked once per process."""
    if not _SCTP:
        _SCTP.append(_sctp_supported())
    return _SCTP[0]


def port_socket(proto: str, family: int) -> socket.socket:
    """A socket of the kind that holds a ``proto`` port: TCP, UDP or SCTP (one-to-one
    style, which accepts and streams as TCP does)."""
    if proto == "sctp":
        return socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    return socket.socket(family, _sock_type(proto))


def _probe_proto(proto: str) -> str:
    """The protocol to probe a host port with: SCTP ports on a kernel without SCTP
    cannot be held by anyone, so their numbers are checked as TCP ones (as before)."""
    return "tcp" if proto == "sctp" and not sctp_supported() else proto


def join_host_port(host: str, port: int | str) -> str:
    """Go's net.JoinHostPort: an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_error(proto: str, host_ip: str, port: int, exc: OSError) -> str:
    """docker-proxy's message for a host port it could not take."""
    family = "6" if ":" in host_ip else "4"
    reason = {
        errno.EADDRINUSE: "address already in use",
        errno.EADDRNOTAVAIL: "cannot assign requested address",
        errno.EACCES: "permission denied",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return (
        f"Error starting userland proxy: listen {proto}{family}"
        f" {join_host_port(host_ip, port)}: bind: {reason}"
    )


def host_has_ipv6() -> bool:
    """Whether the host can bind IPv6 sockets (docker then also publishes on ``::``)."""
    try:
        with open("/proc/sys/net/ipv6/conf/all/disable_ipv6") as f:
            return f.read().strip() == "0"
    except OSError:
        return False


def host_port_free(proto: str, host_ip: str, port: int) -> bool:
    """Whether a host process could bind ``host_ip:port`` now."""
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    with contextlib.closing(port_socket(_probe_proto(proto), family)) as s:
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if proto != "udp":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host_ip or "0.0.0.0", port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return False
            if e.errno == errno.EADDRNOTAVAIL:
                raise SystemFailure(bind_error(proto, host_ip or "0.0.0.0", port, e)) from None
            raise
    return True


def ephemeral_port(proto: str, host_ip: str) -> int:
    """A port from the host's ip_local_port_range, as the kernel hands them out."""
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    with contextlib.closing(port_socket(_probe_proto(proto), family)) as s:
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((host_ip or "0.0.0.0", 0))
        return int(s.getsockname()[1])


def allocated_message(host_ip: str, port: int) -> str:
    where = join_host_port(host_ip or "0.0.0.0", port)
    return f"Bind for {where} failed: port is already allocated"


def conflicts(wanted: tuple[str, str, int], taken: Iterable[tuple[str, str, int]]) -> bool:
    """Whether (proto, ip, port) clashes with a taken one of the same family (a
    wildcard ip clashes with all of its family: ``0.0.0.0`` and ``::`` are bound
    apart, IPv6-only, as docker-proxy binds them)."""
    proto, ip, port = wanted
    v6 = ":" in ip
    for t_proto, t_ip, t_port in taken:
        if t_proto != proto or t_port != port or (":" in t_ip) != v6:
            continue
        if ip in ("", "0.0.0.0", "::") or t_ip in ("", "0.0.0.0", "::") or ip == t_ip:
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
                bind_error(binding.proto, ip or "0.0.0.0", port, OSError(errno.EADDRINUSE, ""))
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
    """The PORTS column of ``ps``, as the docker CLI's DisplayablePorts makes it:
    sorted by (container port, host IP, host port, proto); ports published on the
    same number grouped into ranges (``0.0.0.0:80-81->80-81/tcp``) and listed
    first, unpublished ones grouped too (``443/tcp``), other mappings last."""
    entries: list[tuple[int, str, int, str]] = []  # private port, IP, public port, type
    for key, bindings in (ports or {}).items():
        port, _, proto = key.partition("/")
        if not bindings:
            entries.append((int(port), "", 0, proto))
            continue
        for b in bindings:
            entries.append(
                (int(port), str(b.get("HostIp") or "0.0.0.0"), int(b["HostPort"]), proto)
            )
    entries.sort()
    groups: dict[str, list[int]] = {}  # key -> [first, last], in creation order
    result: list[str] = []
    mappings: list[str] = []
    for private, ip, public, proto in entries:
        key = proto
        if ip:
            if public != private:
                mappings.append(f"{join_host_port(ip, public)}->{private}/{proto}")
                continue
            key = f"{ip}/{proto}"
        group = groups.get(key)
        if group is None:
            groups[key] = [private, private]
        elif private == group[1] + 1:
            group[1] = private
        else:
            result.append(_form_group(key, group[0], group[1]))
            groups[key] = [private, private]
    result.extend(_form_group(key, first, last) for key, (first, last) in groups.items())
    return ", ".join(result + mappings)


def _form_group(key: str, first: int, last: int) -> str:
    ip, _, proto = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{join_host_port(ip, group)}->{group}"
    return f"{group}/{proto}"


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
