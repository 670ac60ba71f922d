"""A websocket as an attach connection (``/containers/{id}/attach/ws``): the client's
frames are stdin bytes, the output goes out one frame per chunk.

One task reads the socket all along (aiohttp answers pings and the close handshake
only while someone receives), queueing the payloads for :meth:`read`; when the
client closes or the connection breaks, :attr:`lost` is set.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSMsgType, web


class WebSocketConnection:
    def __init__(self, ws: web.WebSocketResponse, *, binary: bool) -> None:
        self.ws = ws
        self.binary = binary
        self.lost = asyncio.Event()
        self.incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._reader = asyncio.ensure_future(self._read_all())

    async def _read_all(self) -> None:
        try:
            async for message in self.ws:
                if message.type == WSMsgType.BINARY:
                    self.incoming.put_nowait(message.data)
                elif message.type == WSMsgType.TEXT:
                    self.incoming.put_nowait(message.data.encode())
        finally:
            self.lost.set()
            self.incoming.put_nowait(None)

    async def read(self) -> bytes | None:
        """The client's next bytes; None once it has closed."""
        return await self.incoming.get()

    async def write(self, data: bytes) -> bool:
        """False once the client has gone."""
        if self.lost.is_set() or self.ws.closed:
            return False
        try:
            if self.binary:
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_str(data.decode("utf-8", "replace"))
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        if not self._reader.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), 2)
            except (TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
