"""The port proxy daemon: one process per dockyard run root (started on demand
by :mod:`dockyard.network.portd`) that holds every published host port and
proxies what reaches it, as Docker's docker-proxy does for each port. Why it
holds ports and which traffic reaches it: see :mod:`dockyard.network.portd`.

Each container's ports are a file, ``$DOCKYARD_RUN/network/ports/<id>.json``,
written by the engine before it asks over ``network/portd.sock`` to
``publish`` it; ``unpublish`` closes its sockets. A restarted daemon binds every
file again; containers whose namespace file is gone are dropped; the daemon
exits a minute after its last container.

TCP connections (and SCTP associations, where the kernel has SCTP; elsewhere
SCTP ports are carried by their DNAT rules alone) are relayed by a thread each
(two copy loops over blocking sockets); UDP by the main loop, with one connected
socket per client address that is dropped after :data:`UDP_IDLE` seconds
without traffic.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from dockyard.network.portd import paths
from dockyard.network.ports import bind_error, port_socket

IDLE_EXIT = 60.0
UDP_IDLE = 90.0  # docker-proxy's UDP connection tracking timeout
CONNECT_TIMEOUT = 5.0


class PortError(Exception):
    """A port the proxy could not take; the message is docker-proxy's."""


@dataclass(frozen=True, slots=True)
class Port:
    proto: str
    host_ip: str
    host_port: int
    target_ip: str
    target_port: int

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Port:
        return cls(
            str(doc["proto"]),
            str(doc["host_ip"]),
            int(doc["host_port"]),
            str(doc["target_ip"]),
            int(doc["target_port"]),
        )

    @property
    def target(self) -> tuple[str, int]:
        return (self.target_ip, self.target_port)


def listen(port: Port) -> socket.socket:
    """The socket that holds ``port`` (listening for TCP and SCTP, bound for UDP)."""
    family = socket.AF_INET6 if ":" in port.host_ip else socket.AF_INET
    kind = socket.SOCK_DGRAM if port.proto == "udp" else socket.SOCK_STREAM
    s = port_socket(port.proto, family)
    try:
        if family == socket.AF_INET6:  # [::]:P and 0.0.0.0:P are two bindings, as docker's
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((port.host_ip, port.host_port))
        if kind == socket.SOCK_STREAM:
            s.listen(4096)
    except OSError:
        s.close()
        raise
    s.setblocking(False)
    return s


@dataclass
class Flow:
    """A UDP client of a published port and its connected socket to the container."""

    listener: socket.socket
    client: Any
    sock: socket.socket
    last: float = field(default_factory=time.monotonic)


@dataclass
class Held:
    """One container's listening sockets and the connections going through them."""

    container_id: str
    netns: str
    listeners: list[tuple[socket.socket, Port]] = field(default_factory=list)
    conns: set[socket.socket] = field(default_factory=set)
    flows: dict[Any, Flow] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _connect(proto: str, target: tuple[str, int]) -> socket.socket:
    if proto != "sctp":
        return socket.create_connection(target, timeout=CONNECT_TIMEOUT)
    s = port_socket(proto, socket.AF_INET6 if ":" in target[0] else socket.AF_INET)
    try:
        s.settimeout(CONNECT_TIMEOUT)
        s.connect(target)
    except OSError:
        s.close()
        raise
    return s


def relay(held: Held, client: socket.socket, port: Port) -> None:
    """Copy both ways between an accepted client and a new connection to the
    container (TCP, or an SCTP association: one stream each way, as docker-proxy's)."""
    client.setblocking(True)
    try:
        upstream = _connect(port.proto, port.target)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    with held.lock:
        held.conns.update((client, upstream))
    try:
        back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
        back.start()
        _pipe(client, upstream)
        back.join()
    finally:
        with held.lock:
            held.conns.discard(client)
            held.conns.discard(upstream)
        client.close()
        upstream.close()


class Proxy:
    def __init__(self, run_root: str) -> None:
        self.run_root = run_root
        _, _, self.spec_dir = paths(run_root)
        self.sel = selectors.DefaultSelector()
        self.held: dict[str, Held] = {}
        self.idle_since = time.monotonic()

    # -------------------------------------------------------------- control

    def _spec(self, container_id: str) -> dict[str, Any]:
        with open(os.path.join(self.spec_dir, f"{container_id}.json")) as f:
            doc: dict[str, Any] = json.load(f)
        return doc

    def publish(self, container_id: str) -> None:
        """Bind every port of the container's file; all or none (OSError names the port)."""
        self.unpublish(container_id)
        spec = self._spec(container_id)
        held = Held(container_id, str(spec.get("netns") or ""))
        try:
            for doc in spec.get("ports") or []:
                port = Port.from_doc(doc)
                try:
                    sock = listen(port)
                except OSError as exc:
                    raise PortError(
                        bind_error(port.proto, port.host_ip, port.host_port, exc)
                    ) from None
                held.listeners.append((sock, port))
        except BaseException:
            for sock, _ in held.listeners:
                sock.close()
            raise
        for sock, port in held.listeners:
            kind = "udp" if port.proto == "udp" else "tcp"
            self.sel.register(sock, selectors.EVENT_READ, (kind, (held, sock, port)))
        self.held[container_id] = held

    def unpublish(self, container_id: str) -> None:
        held = self.held.pop(container_id, None)
        if held is None:
            return
        for sock, _ in held.listeners:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(sock)
            sock.close()
        for flow in held.flows.values():
            self._drop_flow(flow)
        with held.lock:
            for conn in held.conns:  # ends the relay threads, as docker-proxy's exit does
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        if not self.held:
            self.idle_since = time.monotonic()

    def publish_known(self) -> None:
        """After a (re)start: hold the ports of every container that still runs."""
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(self.spec_dir):
                if not name.endswith(".json"):
                    continue
                cid = name[: -len(".json")]
                try:
                    spec = self._spec(cid)
                    if os.path.exists(str(spec.get("netns") or "")):
                        self.publish(cid)
                except (OSError, ValueError, KeyError, PortError):
                    continue

    def control(self, sock: socket.socket) -> None:
        from dockyard.network import control

        def handle(msg: dict[str, Any]) -> None:
            if msg.get("op") == "publish":
                self.publish(str(msg["id"]))
            elif msg.get("op") == "unpublish":
                self.unpublish(str(msg["id"]))

        def describe(exc: Exception) -> str | None:
            if isinstance(exc, PortError):
                return str(exc)
            if isinstance(exc, (OSError, ValueError, KeyError)):
                return f"port proxy: {exc}"
            return None

        control.serve_one(sock, handle, describe)

    # -------------------------------------------------------------- traffic

    def on_tcp(self, held: Held, listener: socket.socket, port: Port) -> None:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=relay, args=(held, client, port), daemon=True).start()

    def on_udp(self, held: Held, listener: socket.socket, port: Port) -> None:
        try:
            data, addr = listener.recvfrom(65535)
        except OSError:
            return
        flow = held.flows.get(addr)
        if flow is None:
            family = socket.AF_INET6 if ":" in port.target_ip else socket.AF_INET
            upstream = socket.socket(family, socket.SOCK_DGRAM)
            try:
                upstream.connect(port.target)
            except OSError:
                upstream.close()
                return
            upstream.setblocking(False)
            flow = Flow(listener, addr, upstream)
            held.flows[addr] = flow
            self.sel.register(upstream, selectors.EVENT_READ, ("flow", (held, flow)))
        flow.last = time.monotonic()
        with contextlib.suppress(OSError):
            flow.sock.send(data)

    def on_flow(self, flow: Flow) -> None:
        try:
            data = flow.sock.recv(65535)
        except OSError:
            return
        flow.last = time.monotonic()
        with contextlib.suppress(OSError):
            flow.listener.sendto(data, flow.client)

    def _drop_flow(self, flow: Flow) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(flow.sock)
        flow.sock.close()

    def sweep(self) -> None:
        now = time.monotonic()
        for cid, held in list(self.held.items()):
            if not os.path.exists(held.netns) or not os.path.exists(
                os.path.join(self.spec_dir, f"{cid}.json")
            ):
                self.unpublish(cid)
                continue
            for addr, flow in list(held.flows.items()):
                if now - flow.last > UDP_IDLE:
                    self._drop_flow(flow)
                    del held.flows[addr]

    def run(self, control: socket.socket) -> None:
        self.sel.register(control, selectors.EVENT_READ, ("control", None))
        self.publish_known()
        last_sweep = time.monotonic()
        while True:
            for key, _ in self.sel.select(timeout=0.5):
                kind, obj = key.data
                if kind == "control":
                    self.control(control)
                elif kind == "tcp":
                    self.on_tcp(*obj)
                elif kind == "udp":
                    self.on_udp(*obj)
                elif kind == "flow":
                    self.on_flow(obj[1])
            now = time.monotonic()
            if now - last_sweep >= 0.5:
                self.sweep()
                last_sweep = now
            if not self.held and now - self.idle_since > IDLE_EXIT:
                return


def main(argv: list[str]) -> int:
    from dockyard.network import control

    run_root = argv[0]
    sock_path, pid_path, _ = paths(run_root)
    control.run_single(sock_path, pid_path, lambda listener: Proxy(run_root).run(listener))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
