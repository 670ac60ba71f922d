"""The embedded DNS resolver: one process per dockyard run root, started on demand.

Like dockerd's resolver it answers at 127.0.0.11:53 (UDP and TCP) inside each
container on a user-defined network: the daemon enters the container's network
namespace just long enough to make its two sockets there (a socket keeps the
namespace it was made in), so one process serves every container. Names of
containers, their aliases and short IDs on a network the querying container is
on are answered from the metadata database; every other query is forwarded, from
the host's namespace, to the container's ``--dns`` servers or the host's
resolv.conf nameservers (loopback ones included, since the forwarder runs on the
host).

The engine talks to the daemon over ``$DOCKYARD_RUN/network/dnsd.sock`` (one JSON
line per request: attach/detach a container). The daemon also drops containers
whose namespace file is gone, and exits after a minute without containers.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from dockyard.network import dns

RESOLVER_IP = "127.0.0.11"
FORWARD_TIMEOUT = 2.0
IDLE_EXIT = 60.0


def _paths(run_root: str) -> tuple[str, str]:
    base = os.path.join(run_root, "network")
    return os.path.join(base, "dnsd.sock"), os.path.join(base, "dnsd.pid")


def _request(sock_path: str, message: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    from dockyard.network import control

    return control.request(sock_path, message, timeout)


def notify_attach(root: str, run_root: str, container_id: str, netns_path: str) -> None:
    """Have the resolver of ``run_root`` serve the container (starting it if needed);
    it reads names from the database under ``root``."""
    from dockyard.errors import SystemFailure
    from dockyard.network import control

    sock_path, _ = _paths(run_root)
    message = {"op": "attach", "id": container_id, "netns": netns_path}
    helper = ["dockyard.network.dnsd", os.path.join(root, "dockyard.db"), run_root]
    reply = control.request_starting(
        sock_path, message, helper, what="embedded DNS server", timeout=5.0
    )
    if reply.get("error"):
        raise SystemFailure(f"embedded DNS server: {reply['error']}")


def notify_detach(run_root: str, container_id: str) -> None:
    sock_path, _ = _paths(run_root)
    if not os.path.exists(sock_path):
        return
    with contextlib.suppress(OSError, ValueError):
        _request(sock_path, {"op": "detach", "id": container_id})


def host_nameservers(path: str = "/etc/resolv.conf") -> list[str]:
    servers = []
    with contextlib.suppress(OSError), open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "nameserver":
                servers.append(fields[1])
    return servers


@dataclass
class Served:
    """One container's resolver sockets and upstream servers."""

    container_id: str
    netns: str
    udp: socket.socket
    tcp: socket.socket
    upstreams: list[str]

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()


@dataclass
class Pending:
    """A forwarded query waiting for an upstream reply."""

    served: Served
    client: Any  # UDP address, or a connected TCP socket
    query: bytes
    upstreams: list[str]
    deadline: float
    sock: socket.socket = field(
        default_factory=lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    )


class Resolver:
    def __init__(self, db_path: str, run_root: str) -> None:
        self.db_path = db_path
        self.run_root = run_root
        self.sel = selectors.DefaultSelector()
        self.served: dict[str, Served] = {}
        self.pending: dict[socket.socket, Pending] = {}
        self.conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.idle_since = time.monotonic()

    # -------------------------------------------------------------- control

    def attach(self, container_id: str, netns_path: str) -> None:
        from dockyard.network import netns

        if container_id in self.served:
            return
        with netns.entered(netns_path):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            udp.bind((RESOLVER_IP, 53))
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((RESOLVER_IP, 53))
            tcp.listen(16)
        except OSError:
            udp.close()
            tcp.close()
            raise
        udp.setblocking(False)
        tcp.setblocking(False)
        served = Served(container_id, netns_path, udp, tcp, self._upstreams(container_id))
        self.served[container_id] = served
        self.sel.register(udp, selectors.EVENT_READ, ("udp", served))
        self.sel.register(tcp, selectors.EVENT_READ, ("tcp", served))

    def detach(self, container_id: str) -> None:
        served = self.served.pop(container_id, None)
        if served is None:
            return
        for s in (served.udp, served.tcp):
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(s)
        served.close()
        if not self.served:
            self.idle_since = time.monotonic()

    def _upstreams(self, container_id: str) -> list[str]:
        row = self.conn.execute(
            "SELECT config FROM containers WHERE id = ?", (container_id,)
        ).fetchone()
        dns_servers: list[str] = []
        if row is not None:
            dns_servers = list((json.loads(row["config"]).get("HostConfig") or {}).get("Dns") or [])
        return dns_servers or host_nameservers()

    def attach_known(self) -> None:
        """After a restart: serve every running container on a user network again."""
        rows = self.conn.execute(
            "SELECT DISTINCT e.container_id FROM network_endpoints e JOIN networks n"
            " ON n.id = e.network_id WHERE n.name NOT IN ('bridge', 'host', 'none')"
        ).fetchall()
        for row in rows:
            path = os.path.join(self.run_root, "netns", row["container_id"][:12])
            if os.path.exists(path):
                with contextlib.suppress(OSError):
                    self.attach(row["container_id"], path)

    def control(self, sock: socket.socket) -> None:
        from dockyard.network import control

        def handle(msg: dict[str, Any]) -> None:
            if msg.get("op") == "attach":
                self.attach(msg["id"], msg["netns"])
            elif msg.get("op") == "detach":
                self.detach(msg["id"])

        def describe(exc: Exception) -> str | None:
            return str(exc) if isinstance(exc, (OSError, ValueError, KeyError)) else None

        control.serve_one(sock, handle, describe)

    # -------------------------------------------------------------- queries

    def answer(self, served: Served, query: bytes) -> bytes | None:
        """A reply for a local name, or None to forward."""
        from dockyard.network.records import resolve_address, resolve_name

        try:
            q = dns.parse_query(query)
        except dns.DNSError:
            return None
        if q.qclass != dns.CLASS_IN:
            return None
        if q.qtype in (dns.TYPE_A, dns.TYPE_AAAA):
            addresses = resolve_name(self.conn, served.container_id, q.name)
            if addresses:  # the name exists: answer, with no records for a missing family
                if q.qtype == dns.TYPE_AAAA:
                    return dns.reply(q, records=[dns.aaaa_record(a) for a in addresses if ":" in a])
                return dns.reply(q, records=[dns.a_record(a) for a in addresses if ":" not in a])
            return None
        if q.qtype == dns.TYPE_PTR:
            address = dns.ptr_address(q.name)
            if address:
                target = resolve_address(self.conn, served.container_id, address)
                if target:
                    return dns.reply(q, records=[dns.ptr_record(target)])
        return None

    def _servfail(self, query: bytes) -> bytes | None:
        try:
            return dns.reply(dns.parse_query(query), dns.RCODE_SERVFAIL)
        except dns.DNSError:
            return None

    def forward(self, served: Served, client: Any, query: bytes, upstreams: list[str]) -> None:
        if not upstreams:
            self._deliver(served, client, self._servfail(query))
            return
        pending = Pending(served, client, query, upstreams[1:], time.monotonic() + FORWARD_TIMEOUT)
        pending.sock.setblocking(False)
        host, _, port = upstreams[0].partition("#")
        try:
            pending.sock.sendto(query, (host, int(port or 53)))
        except OSError:
            pending.sock.close()
            self.forward(served, client, query, upstreams[1:])
            return
        self.pending[pending.sock] = pending
        self.sel.register(pending.sock, selectors.EVENT_READ, ("upstream", pending))

    def _deliver(self, served: Served, client: Any, data: bytes | None) -> None:
        if data is None:
            if isinstance(client, socket.socket):
                client.close()
            return
        if isinstance(client, socket.socket):
            with contextlib.suppress(OSError):
                client.sendall(len(data).to_bytes(2, "big") + data)
            client.close()
        else:
            with contextlib.suppress(OSError):
                served.udp.sendto(data, client)

    def _finish(self, pending: Pending) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(pending.sock)
        self.pending.pop(pending.sock, None)
        pending.sock.close()

    def on_udp(self, served: Served) -> None:
        try:
            query, addr = served.udp.recvfrom(4096)
        except OSError:
            return
        self._handle(served, addr, query)

    def _handle(self, served: Served, client: Any, query: bytes) -> None:
        local = self.answer(served, query)
        if local is not None:
            self._deliver(served, client, local)
        else:
            self.forward(served, client, query, list(served.upstreams))

    def on_tcp(self, served: Served) -> None:
        try:
            conn, _ = served.tcp.accept()
        except OSError:
            return
        conn.settimeout(2)
        try:
            size = int.from_bytes(_recv_exact(conn, 2), "big")
            query = _recv_exact(conn, size)
        except OSError:
            conn.close()
            return
        self._handle(served, conn, query)

    def on_upstream(self, pending: Pending) -> None:
        try:
            data = pending.sock.recv(65535)
        except OSError:
            return
        self._finish(pending)
        self._deliver(pending.served, pending.client, data)

    def sweep(self) -> None:
        now = time.monotonic()
        for pending in list(self.pending.values()):
            if now >= pending.deadline:
                self._finish(pending)
                self.forward(pending.served, pending.client, pending.query, pending.upstreams)
        for cid, served in list(self.served.items()):
            if not os.path.exists(served.netns):
                self.detach(cid)

    def run(self, control: socket.socket) -> None:
        self.sel.register(control, selectors.EVENT_READ, ("control", None))
        self.attach_known()
        last_sweep = time.monotonic()
        while True:
            for key, _ in self.sel.select(timeout=0.5):
                kind, obj = key.data
                if kind == "control":
                    self.control(control)
                elif kind == "udp":
                    self.on_udp(obj)
                elif kind == "tcp":
                    self.on_tcp(obj)
                elif kind == "upstream":
                    self.on_upstream(obj)
            now = time.monotonic()
            if now - last_sweep >= 0.5:
                self.sweep()
                last_sweep = now
            if not self.served and not self.pending and now - self.idle_since > IDLE_EXIT:
                return


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def main(argv: list[str]) -> int:
    from dockyard.network import control

    db_path, run_root = argv[0], argv[1]
    sock_path, pid_path = _paths(run_root)
    control.run_single(
        sock_path, pid_path, lambda listener: Resolver(db_path, run_root).run(listener)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
