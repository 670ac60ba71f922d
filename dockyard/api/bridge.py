"""File objects that let the engine's blocking tar readers and writers, running on a
worker thread, stream straight from the request and to the response on the event
loop (with the loop's own back-pressure: each call waits for its write or read)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

CHUNK = 256 * 1024


class ResponseWriter(io.RawIOBase):
    """A writable file whose bytes go to ``response`` (buffered in CHUNK pieces)."""

    def __init__(self, response: web.StreamResponse, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.response = response
        self.loop = loop
        self.buffer = bytearray()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = bytes(data)
        self.buffer += view
        self.size += len(view)
        if len(self.buffer) >= CHUNK:
            self.flush()
        return len(view)

    def flush(self) -> None:
        if self.buffer:
            data = bytes(self.buffer)
            self.buffer.clear()
            _call(self.loop, lambda: self.response.write(data))


class RequestReader(io.RawIOBase):
    """A readable file over the request's body."""

    def __init__(self, request: web.Request, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.request = request
        self.loop = loop
        self.pending = b""
        self.eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.pending and not self.eof:
            self.pending = _call(self.loop, lambda: self.request.content.readany())
            if not self.pending:
                self.eof = True
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def _call(loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        return await make()

    return asyncio.run_coroutine_threadsafe(run(), loop).result()


def buffered_reader(request: web.Request, loop: asyncio.AbstractEventLoop) -> io.BufferedReader:
    return io.BufferedReader(RequestReader(request, loop), CHUNK)
