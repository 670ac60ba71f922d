"""The event hub: one poller reads new rows of the engine's event log (written by
every dockyard process: the CLI, the monitors' exit callbacks, this server) and
hands them to the subscribers (``/events`` streams, ``/containers/{id}/wait``).

It polls only while someone listens, with one query per tick however many listen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.api.context import ApiContext
    from dockyard.engine import Engine
    from dockyard.engine.filters import Filters

POLL_INTERVAL = 0.02
EVENT_FILTERS = (
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
)


def message(row: Any) -> dict[str, Any]:
    """An event row as the Engine API's EventMessage (with the legacy fields docker adds)."""
    attributes = json.loads(row["attributes"]) if row["attributes"] else {}
    time_nano = int(row["time_nano"])
    kind = str(row["type"])
    out: dict[str, Any] = {}
    if kind == "container":
        out = {"status": row["action"], "id": row["actor_id"], "from": attributes.get("image", "")}
    elif kind == "image":
        out = {"status": row["action"], "id": row["actor_id"]}
    out.update(
        {
            "Type": kind,
            "Action": row["action"],
            "Actor": {"ID": row["actor_id"], "Attributes": attributes},
            "scope": "local",
            "time": time_nano // 1_000_000_000,
            "timeNano": time_nano,
        }
    )
    return out


def matches(event: dict[str, Any], filters: Filters) -> bool:
    """dockerd's events filter: each key given must match one of its values."""
    kind = event["Type"]
    actor = event["Actor"]
    attrs: dict[str, str] = actor["Attributes"]
    if filters.has("type") and kind not in filters.get("type"):
        return False
    if filters.has("event"):
        action = event["Action"]
        base = action.split(":", 1)[0]
        if action not in filters.get("event") and base not in filters.get("event"):
            return False
    if filters.has("scope") and "local" not in filters.get("scope"):
        return False
    for key, value_kind in (
        ("container", "container"),
        ("volume", "volume"),
        ("network", "network"),
    ):
        if filters.has(key):
            if kind != value_kind:
                return False
            ids = {actor["ID"], attrs.get("name", "")}
            if not any(v in ids or actor["ID"].startswith(v) for v in filters.get(key)):
                return False
    if filters.has("image"):
        image = attrs.get("image", "") if kind == "container" else actor["ID"]
        names = {image, attrs.get("name", ""), image.split(":")[0]}
        if not any(v in names or (v and actor["ID"].startswith(v)) for v in filters.get("image")):
            return False
    for expr in filters.get("label"):
        key, sep, value = expr.partition("=")
        if key not in attrs or (sep and attrs[key] != value):
            return False
    return not filters.has("daemon")


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
    row = engine.db.query_one("SELECT COALESCE(MAX(seq), 0) AS seq FROM events")
    return int(row["seq"]) if row else 0


def _rows_after(engine: Engine, seq: int) -> list[Any]:
    return engine.db.query("SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT 1000", (seq,))


def _history(engine: Engine, since_ns: int, until_ns: int | None, before_seq: int) -> list[Any]:
    sql = "SELECT * FROM events WHERE seq <= ? AND time_nano >= ?"
    params: list[Any] = [before_seq, since_ns]
    if until_ns is not None:
        sql += " AND time_nano <= ?"
        params.append(until_ns)
    return engine.db.query(sql + " ORDER BY seq", params)
