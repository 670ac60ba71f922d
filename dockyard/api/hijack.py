"""Hijacking a connection (attach, exec start), as dockerd does.

The client asks with ``Connection: Upgrade`` / ``Upgrade: tcp``; we answer
``101 UPGRADED`` (or ``200 OK`` to an old client that did not ask) and from then on
the connection is a raw byte stream both ways. aiohttp does not know tcp
upgrades, so the transport is taken over here: our protocol receives the
client's bytes (and its half-close, keeping our side open to write the rest of
the output, which aiohttp's protocol would not), and the route returns
:class:`HijackedResponse`, which aiohttp then leaves alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

STREAM_TYPE = "application/vnd.docker.multiplexed-stream"
RAW_TYPE = "application/vnd.docker.raw-stream"


class RawConnection(asyncio.Protocol):
    """The client's connection after the upgrade."""

    def __init__(self, transport: asyncio.Transport, previous: Any) -> None:
        self.transport = transport
        self.previous = previous
        self.incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.lost = asyncio.Event()
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._eof = False

    # -------------------------------------------------------- protocol side

    def data_received(self, data: bytes) -> None:
        self.incoming.put_nowait(data)

    def eof_received(self) -> bool:
        self._eof = True
        self.incoming.put_nowait(None)
        return True  # keep our half open: the output may go on

    def connection_lost(self, exc: Exception | None) -> None:
        self.incoming.put_nowait(None)
        self.lost.set()
        self._can_write.set()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    # -------------------------------------------------------- route side

    async def read(self) -> bytes | None:
        """The client's next bytes; None once it closed its side."""
        if self._eof and self.incoming.empty():
            return None
        return await self.incoming.get()

    async def write(self, data: bytes) -> bool:
        """False once the client has gone."""
        if self.lost.is_set() or self.transport.is_closing():
            return False
        self.transport.write(data)
        await self._can_write.wait()
        return not self.lost.is_set()

    def close(self) -> None:
        """Close the connection and hand it back to aiohttp's protocol to finish."""
        if not self.lost.is_set():
            with contextlib.suppress(Exception):
                self.transport.set_protocol(self.previous)
        self.transport.close()


def wants_upgrade(request: web.Request) -> bool:
    tokens = {t.strip().lower() for t in request.headers.get("Connection", "").split(",")}
    return "upgrade" in tokens and bool(request.headers.get("Upgrade"))


async def hijack(request: web.Request, content_type: str, extra: dict[str, str]) -> RawConnection:
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("the client has gone")
    assert isinstance(transport, asyncio.Transport)
    if wants_upgrade(request):
        head = "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
    else:
        head = "HTTP/1.1 200 OK\r\n"
    head += f"Content-Type: {content_type}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
    head += "\r\n"
    raw = RawConnection(transport, transport.get_protocol())
    transport.set_protocol(raw)
    transport.write(head.encode())
    return raw


class HijackedResponse(web.StreamResponse):
    """What a hijacking route returns: the connection is no longer aiohttp's to answer on."""

    def __init__(self) -> None:
        super().__init__(status=200)

    async def prepare(self, request: web.BaseRequest) -> None:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None
