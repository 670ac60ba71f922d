"""The event hub: one poller reads new rows of the engine's event log (written by
every dockyard process: the CLI, the monitors' exit callbacks, this server) and
hands them to the subscribers (``/events`` streams, ``/containers/{id}/wait``).

It polls only while someone listens, with one query per tick however many listen.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from dockyard.engine.events import EVENT_FILTERS, matches, message

if TYPE_CHECKING:
    from dockyard.api.context import ApiContext
    from dockyard.engine import Engine

__all__ = ["EVENT_FILTERS", "EventHub", "Subscription", "matches", "message"]

POLL_INTERVAL = 0.02


class Subscription:
    def __init__(self, hub: EventHub, after: int) -> None:
        self.hub = hub
        self.after = after  # events with a higher seq arrive through the queue
        self.queue: asyncio.Queue[tuple[int, dict[str, Any]] | None] = asyncio.Queue()

    async def next(self) -> tuple[int, dict[str, Any]] | None:
        return await self.queue.get()

    def close(self) -> None:
        self.hub.unsubscribe(self)


class EventHub:
    def __init__(self, context: ApiContext) -> None:
        self.context = context
        self.subscribers: set[Subscription] = set()
        self.last_seq = -1
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._closed = False

    async def subscribe(self) -> Subscription:
        """Events recorded from now on. The poller may not have read the latest rows
        yet: those are the past (a wait must not take a restart's "die" for its own)."""
        now = await self.context.run(_max_seq)
        async with self._starting:  # one poller, however many subscribe at once
            if self._task is None or self._task.done():
                self.last_seq = max(self.last_seq, now)
                self._task = asyncio.get_running_loop().create_task(self._poll())
            sub = Subscription(self, max(self.last_seq, now))
            self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)

    async def history(self, since_ns: int, until_ns: int | None, before_seq: int) -> list[Any]:
        return await self.context.run(_history, since_ns, until_ns, before_seq)

    async def _poll(self) -> None:
        idle = 0
        while not self._closed:
            await asyncio.sleep(POLL_INTERVAL)
            if not self.subscribers:
                idle += 1
                if idle > 20:
                    return  # nobody listened for a second: stop until the next one
                continue
            idle = 0
            try:
                rows = await self.context.run(_rows_after, self.last_seq)
            except Exception:  # the store is busy or gone; try again next tick
                continue
            for row in rows:
                seq = int(row["seq"])
                self.last_seq = max(self.last_seq, seq)
                event = message(row)
                for sub in list(self.subscribers):
                    if seq > sub.after:
                        sub.queue.put_nowait((seq, event))

    async def close(self) -> None:
        self._closed = True
        for sub in list(self.subscribers):
            sub.queue.put_nowait(None)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


def _max_seq(engine: Engine) -> int:
    return engine.events.max_seq()


def _rows_after(engine: Engine, seq: int) -> list[Any]:
    return engine.events.rows_after(seq)


def _history(engine: Engine, since_ns: int, until_ns: int | None, before_seq: int) -> list[Any]:
    return engine.events.history(since_ns, until_ns, before_seq)
