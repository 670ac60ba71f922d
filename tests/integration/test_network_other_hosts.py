"""Published ports seen from another host: a network namespace the test makes,
joined to the host by a veth pair with a private /30 (and a ULA /64), plays the
other machine on the LAN. ``-p P:80`` answers it on the host's address (IPv4 by
DNAT, IPv6 through the port proxy's ``[::]`` binding); ``-p 127.0.0.1:P:80`` does
not, not even to frames sent straight to ``127.0.0.1`` with the host's MAC (the
bridge's ``route_localnet`` must not open loopback ports to the LAN); ports of a
container on an ``--internal`` network are not published at all.

Traffic goes only between the test's own namespaces and containers."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import random
import secrets
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration._network_support import (
    NetDockyard,
    iptables_lines,
    nbusybox,
    ndy,
)

__all__ = ["nbusybox", "ndy"]

HTTPD = ["httpd", "-f", "-p", "80", "-h", "/etc"]


def _ipv6_host() -> bool:
    return Path("/proc/sys/net/ipv6/conf/all/disable_ipv6").read_text().strip() == "0"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_link_net() -> ipaddress.IPv4Network:
    """A /30 from 198.18.0.0/15 (benchmarking space, never routed) no host route covers."""
    from dockyard.network.ipam import host_routes

    routes = host_routes()
    for _ in range(200):
        net = ipaddress.IPv4Network((0xC6120000 + random.randrange(1 << 15) * 4, 30))
        if not any(net.overlaps(r) for r in routes):
            return net
    raise RuntimeError("no free /30 for the other host's link")


def _free_ula() -> ipaddress.IPv6Network:
    from dockyard.network.ipam import host_routes6

    routes = host_routes6()
    for _ in range(200):
        net = ipaddress.IPv6Network((0xFD << 120 | secrets.randbits(56) << 64, 64))
        if not any(net.overlaps(r) for r in routes):
            return net
    raise RuntimeError("no free ULA /64 for the other host's link")


def _ip(*args: str, netns: str | None = None) -> str:
    argv = ["ip", *args] if netns is None else ["nsenter", f"--net={netns}", "ip", *args]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return proc.stdout


@dataclass
class OtherHost:
    """The other machine: its namespace and both ends of its link to the host."""

    netns: str
    host_if: str
    peer_if: str
    host_v4: str
    peer_v4: str
    host_v6: str
    peer_v6: str

    @contextlib.contextmanager
    def inside(self) -> Iterator[None]:
        from dockyard.network import netns

        with netns.entered(self.netns):
            yield

    def connect_errno(self, host: str, port: int) -> int:
        """0 when a TCP connection from the other host to host:port succeeds, else the
        errno (ECONNREFUSED, or ETIMEDOUT when the SYN is dropped)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with self.inside():
            s = socket.socket(family)
        with s:
            s.settimeout(3)
            try:
                s.connect((host, port))
            except TimeoutError:
                return errno.ETIMEDOUT
            except OSError as exc:
                return exc.errno or -1
        return 0

    def http_get(self, host: str, port: int, timeout: float = 10) -> str:
        """GET /hostname from host:port as the other host, retrying until it answers."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        deadline = time.monotonic() + timeout
        while True:
            with self.inside():
                s = socket.socket(family)
            try:
                with s:
                    s.settimeout(2)
                    s.connect((host, port))
                    s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
                    data = b""
                    while chunk := s.recv(4096):
                        data += chunk
                if data:
                    return data.decode(errors="replace")
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing answered {host}:{port} from the other host")
            time.sleep(0.1)


@pytest.fixture
def other_host(tmp_path: Path) -> Iterator[OtherHost]:
    from dockyard.network import netns

    if os.geteuid() != 0:
        pytest.skip("needs root")
    link, ula = _free_link_net(), _free_ula()
    suffix = secrets.token_hex(4)
    host = OtherHost(
        netns=str(tmp_path / "other-host.netns"),
        host_if=f"dyo{suffix}",
        peer_if=f"dyp{suffix}",
        host_v4=str(link[1]),
        peer_v4=str(link[2]),
        host_v6=str(ula[1]),
        peer_v6=str(ula[2]),
    )
    netns.create(host.netns)
    try:
        _ip("link", "add", host.host_if, "type", "veth", "peer", "name", host.peer_if)
        _ip("link", "set", host.peer_if, "netns", host.netns)
        _ip("addr", "add", f"{host.host_v4}/30", "dev", host.host_if)
        _ip("link", "set", host.host_if, "up")
        _ip("link", "set", "lo", "up", netns=host.netns)
        _ip("addr", "add", f"{host.peer_v4}/30", "dev", host.peer_if, netns=host.netns)
        _ip("link", "set", host.peer_if, "up", netns=host.netns)
        if _ipv6_host():
            _ip("addr", "add", f"{host.host_v6}/64", "dev", host.host_if, "nodad")
            _ip("addr", "add", f"{host.peer_v6}/64", "dev", host.peer_if, "nodad", netns=host.netns)
        yield host
    finally:
        subprocess.run(["ip", "link", "del", host.host_if], capture_output=True, check=False)
        netns.remove(host.netns)


def _inspect(dy: NetDockyard, ref: str) -> dict[str, Any]:
    return json.loads(dy("inspect", ref).out)[0]  # type: ignore[no-any-return]


def _accepted_packets(cid: str) -> int:
    """Packets the container's own ACCEPT rule (filter DOCKYARD) let through: the
    forwarded path works by dockyard's rules, not by a lenient FORWARD policy."""
    text = subprocess.run(["iptables-save", "-c"], capture_output=True, text=True).stdout
    total = 0
    for line in text.splitlines():
        if f"dy-ctr:{cid[:12]}" in line and "-A DOCKYARD " in line and "-j ACCEPT" in line:
            total += int(line[1:].split(":")[0])
    return total


def test_published_port_answers_other_hosts(
    ndy: NetDockyard, nbusybox: str, other_host: OtherHost
) -> None:
    port = _free_port()
    cid = ndy("run", "-d", "-p", f"{port}:80", "busybox", *HTTPD).out.strip()
    assert cid[:12] in other_host.http_get(other_host.host_v4, port)
    assert _accepted_packets(cid) > 0  # DNAT, then forwarded by the container's rule
    if _ipv6_host():
        ports = _inspect(ndy, cid)["NetworkSettings"]["Ports"]["80/tcp"]
        assert {"HostIp": "::", "HostPort": str(port)} in ports
        assert cid[:12] in other_host.http_get(other_host.host_v6, port)


def test_published_port_answers_other_hosts_without_the_proxy(
    ndy: NetDockyard, nbusybox: str, other_host: OtherHost
) -> None:
    """``userland-proxy: false``: the DNAT rules alone carry other hosts' connections."""
    config = ndy.root.parent / "daemon.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "userland-proxy": False}))
    port = _free_port()
    cid = ndy("run", "-d", "-p", f"{port}:80", "busybox", *HTTPD).out.strip()
    assert cid[:12] in other_host.http_get(other_host.host_v4, port)
    assert not (ndy.run_root / "network" / "portd.pid").exists()


def test_a_port_published_on_an_address_answers_only_there(
    ndy: NetDockyard, nbusybox: str, other_host: OtherHost
) -> None:
    """``-p <host veth address>:P:80``: answered on that address, refused on 127.0.0.1."""
    port = _free_port()
    cid = ndy(
        "run", "-d", "-p", f"{other_host.host_v4}:{port}:80", "busybox", *HTTPD
    ).out.strip()  # fmt: skip
    assert cid[:12] in other_host.http_get(other_host.host_v4, port)
    with socket.socket() as s:
        s.settimeout(3)
        assert s.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED


def test_loopback_bindings_are_not_reachable_from_other_hosts(
    ndy: NetDockyard, nbusybox: str, other_host: OtherHost
) -> None:
    port, port6 = _free_port(), _free_port()
    args = ["-p", f"127.0.0.1:{port}:80"]
    if _ipv6_host():
        args += ["-p", f"[::1]:{port6}:80"]
    cid = ndy("run", "-d", *args, "busybox", *HTTPD).out.strip()
    from tests.integration.test_network_ports_proxy import _http_get

    assert cid[:12] in _http_get("127.0.0.1", port)  # it does answer on the host itself
    assert other_host.connect_errno(other_host.host_v4, port) == errno.ECONNREFUSED
    if _ipv6_host():
        assert other_host.connect_errno(other_host.host_v6, port6) == errno.ECONNREFUSED
    # A neighbour can send a frame to 127.0.0.1 with the host's MAC; the bridge's
    # route_localnet and the DNAT rule must not turn that into a connection.
    assert not _syn_to_loopback_answered(other_host, port)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _syn_frame(src_mac: bytes, dst_mac: bytes, src: str, dst: str, sport: int, dport: int) -> bytes:
    saddr, daddr = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = saddr + daddr + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, socket.IPPROTO_TCP, 0,
        saddr, daddr,
    )  # fmt: skip
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + tcp


def _mac(name: str, netns: str | None = None) -> bytes:
    out = _ip("-o", "link", "show", name, netns=netns)
    return bytes.fromhex(out.split("link/ether")[1].split()[0].replace(":", ""))


def _syn_to_loopback_answered(other: OtherHost, port: int) -> bool:
    """Send SYNs for 127.0.0.1:port from the other host straight to the host's MAC
    (what a LAN neighbour can do) and report whether any SYN-ACK came back."""
    dst_mac = _mac(other.host_if)
    src_mac = _mac(other.peer_if, other.netns)
    sport = random.randrange(20000, 60000)
    with other.inside():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    with s:
        s.bind((other.peer_if, 0x0800))
        s.settimeout(0.2)
        frame = _syn_frame(src_mac, dst_mac, other.peer_v4, "127.0.0.1", sport, port)
        deadline = time.monotonic() + 3
        next_send = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_send:
                s.send(frame)
                next_send = time.monotonic() + 0.5
            try:
                data = s.recv(2048)
            except TimeoutError:
                continue
            ip = data[14:]
            if len(ip) < 40 or ip[9] != socket.IPPROTO_TCP:
                continue
            tcp = ip[(ip[0] & 0x0F) * 4 :]
            dport, flags = struct.unpack("!H", tcp[2:4])[0], tcp[13]
            if dport == sport and flags & 0x12 == 0x12:
                return True
    return False


def test_internal_networks_ports_are_not_published(
    ndy: NetDockyard, nbusybox: str, other_host: OtherHost
) -> None:
    """As dockerd: a container only on ``--internal`` networks has no gateway
    endpoint, so ``-p`` publishes nothing (no DNAT rule, no proxy, port free)."""
    ndy("network", "create", "--internal", "inside")
    port = _free_port()
    cid = ndy(
        "run", "-d", "--network", "inside", "-p", f"{port}:80", "busybox", *HTTPD
    ).out.strip()  # fmt: skip
    info = _inspect(ndy, cid)
    assert info["NetworkSettings"]["Ports"] == {}  # as dockerd 20.10 shows it
    assert ndy("port", cid).out.strip() == ""
    assert not [r for r in iptables_lines(f"dy-ctr:{cid[:12]}") if "DNAT" in r]
    assert other_host.connect_errno(other_host.host_v4, port) == errno.ECONNREFUSED
    with socket.socket() as s:
        s.settimeout(3)
        assert s.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED
    # also on a second, non-internal network: published there, as docker's gateway endpoint
    ndy("rm", "-f", cid)
    ndy("network", "create", "outside")
    cid = ndy(
        "create", "--network", "inside", "-p", f"{port}:80", "busybox", *HTTPD
    ).out.strip()  # fmt: skip
    ndy("network", "connect", "outside", cid)
    ndy("start", cid)
    assert cid[:12] in other_host.http_get(other_host.host_v4, port)


def test_other_hosts_cannot_route_straight_to_containers(
    ndy: NetDockyard, nbusybox: str, other_host: OtherHost
) -> None:
    """A neighbour that routes the bridge's subnet through the host reaches neither
    the published port (except through the host's address) nor any other port of a
    container: the bridge takes from outside only what the DNAT rules let in."""
    port = _free_port()
    cid = ndy("run", "-d", "-p", f"{port}:80", "busybox", *HTTPD).out.strip()
    address = _inspect(ndy, cid)["NetworkSettings"]["IPAddress"]
    _ip("route", "add", str(ndy.subnet), "via", other_host.host_v4, netns=other_host.netns)
    assert cid[:12] in other_host.http_get(other_host.host_v4, port)
    assert other_host.connect_errno(address, 80) == errno.ETIMEDOUT  # published, but directly
    assert other_host.connect_errno(address, 81) == errno.ETIMEDOUT  # not published
    assert cid[:12] in other_host.http_get(other_host.host_v4, port)
