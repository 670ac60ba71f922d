"""Attaching a hijacked client connection to a container's monitor.

The monitor's attach socket speaks Docker's 8-byte stream frames already
(:mod:`dockyard.runtime.monitor.protocol`), so without a tty its output frames
pass through unchanged; with a tty the payloads go out raw. The client's bytes
become stdin frames; with a tty the detach keys end the session instead.

Docker's CLI attaches *before* it starts the container (so that no output is
lost): such an attach waits in the :class:`AttachRegistry` until the start
route has started the container with its monitor holding the process, connected
every waiting attach, and only then told the monitor to start it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from dockyard.runtime.monitor import protocol

if TYPE_CHECKING:
    from dockyard.engine import Engine


class Connection(Protocol):
    """The client's side of an attach: a hijacked connection or a websocket."""

    lost: asyncio.Event

    async def read(self) -> bytes | None: ...

    async def write(self, data: bytes) -> bool: ...


class MonitorLink:
    """An asyncio connection to one container's monitor attach socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.exit_code: int | None = None

    @classmethod
    async def open(cls, socket_path: str) -> MonitorLink:
        from dockyard.runtime.monitor.client import connect

        loop = asyncio.get_running_loop()
        sock = await loop.run_in_executor(None, connect, socket_path, 5.0)
        sock.settimeout(None)
        sock.setblocking(False)
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        return cls(reader, writer)

    async def send(self, stream: int, payload: bytes) -> None:
        self.writer.write(protocol.frame(stream, payload))
        await self.writer.drain()

    async def read_frame(self) -> tuple[int, bytes, bytes] | None:
        """(stream, payload, the frame's bytes), or None when the monitor closed."""
        try:
            header = await self.reader.readexactly(protocol.HEADER.size)
            stream, size = protocol.HEADER.unpack(header)
            payload = await self.reader.readexactly(size) if size else b""
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        return stream, payload, header + payload

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


@dataclass
class PendingAttach:
    """An attach waiting for its container to be started through this server."""

    container_id: str
    taken: bool = False  # a start route has it: the link is coming
    link: asyncio.Future[MonitorLink | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class AttachRegistry:
    def __init__(self) -> None:
        self.pending: dict[str, list[PendingAttach]] = {}
        self._resize_locks: dict[str, asyncio.Lock] = {}

    def container_lock(self, key: str) -> asyncio.Lock:
        """One operation of a kind on a container at a time: resizes apply in the order
        they arrived (each goes over its own connection to the monitor, which could
        otherwise overtake another); starts do not race each other."""
        if len(self._resize_locks) > 1000:
            for key, lock in list(self._resize_locks.items()):
                if not lock.locked():
                    del self._resize_locks[key]
        return self._resize_locks.setdefault(key, asyncio.Lock())

    def wait_for_start(self, container_id: str) -> PendingAttach:
        entry = PendingAttach(container_id)
        self.pending.setdefault(container_id, []).append(entry)
        return entry

    def forget(self, entry: PendingAttach) -> None:
        waiting = self.pending.get(entry.container_id, [])
        if entry in waiting:
            waiting.remove(entry)
        if not waiting:
            self.pending.pop(entry.container_id, None)

    def take(self, container_id: str) -> list[PendingAttach]:
        taken = [e for e in self.pending.pop(container_id, []) if not e.link.done()]
        for entry in taken:
            entry.taken = True
        return taken


@dataclass
class AttachOptions:
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool
    stdin_once: bool
    detach_keys: bytes
    records_exit: bool = False  # we record the exit ourselves (faster than the callback)
    multiplex: bool = True  # without a tty: Docker's 8-byte frames (not over a websocket)


async def proxy(conn: Connection, link: MonitorLink, opts: AttachOptions) -> str:
    """Copy between the client and the monitor until the container ends, the client
    detaches or goes; returns "exited", "detached" or "gone"."""
    pump: asyncio.Task[str] | None = None
    if opts.records_exit and hasattr(protocol, "RECORDS_EXIT"):
        with contextlib.suppress(ConnectionError):
            await link.send(protocol.RECORDS_EXIT, b"")
    if opts.stdin:
        pump = asyncio.get_running_loop().create_task(_pump_stdin(conn, link, opts))
    try:
        output = asyncio.get_running_loop().create_task(_copy_output(conn, link, opts))
        waiting: set[asyncio.Future[str]] = {output}
        if pump is not None:
            waiting.add(pump)
        while True:
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if output in done:
                return output.result()
            assert pump is not None
            result = pump.result()
            if result == "eof":
                waiting = {output}  # stdin is done; the output goes on
                continue
            output.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await output
            return result
    finally:
        if pump is not None and not pump.done():
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump


async def _copy_output(conn: Connection, link: MonitorLink, opts: AttachOptions) -> str:
    while True:
        frame = await link.read_frame()
        if frame is None:
            return "exited"
        stream, payload, raw = frame
        if stream == protocol.EXIT:
            from dockyard.runtime.monitor import jsonlite

            report = jsonlite.loads(payload)
            if isinstance(report, dict) and not report.get("Restarting"):
                link.exit_code = int(report.get("ExitCode") or 0)
                return "exited"
            continue
        wanted = (stream == protocol.STDOUT and opts.stdout) or (
            stream == protocol.STDERR and opts.stderr
        )
        if not wanted or not payload:
            continue
        if not await conn.write(payload if opts.tty or not opts.multiplex else raw):
            return "gone"


async def _pump_stdin(conn: Connection, link: MonitorLink, opts: AttachOptions) -> str:
    from dockyard.engine.execs import _EscapeFilter

    escape = _EscapeFilter(opts.detach_keys) if opts.tty and opts.detach_keys else None
    while True:
        data = await conn.read()
        if data is None:
            if conn.lost.is_set():
                return "gone"
            if opts.tty:
                # as dockerd: a tty's stdin stays open; the client is done (the docker
                # CLI half-closes when it sees the detach keys itself)
                return "detached"
            if opts.stdin_once:
                with contextlib.suppress(ConnectionError):
                    await link.send(protocol.STDIN, b"")
            return "eof"
        detach = False
        if escape is not None:
            data, detach = escape.feed(data)
        try:
            if data:
                await link.send(protocol.STDIN, data)
            if detach:
                await link.send(protocol.DETACH, b"")
                return "detached"
        except ConnectionError:
            return "gone"


async def send_resize(link: MonitorLink, height: int, width: int) -> None:
    await link.send(protocol.RESIZE, struct.pack(">HH", height, width))


def attach_socket(engine: Engine, container_id: str) -> str:
    return os.path.join(engine.lifecycle.state_dir(container_id), "attach")
