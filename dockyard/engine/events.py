"""The event log: every object change is a row that ``events`` and the API read."""

from __future__ import annotations

import json
import time

from dockyard.store.metadata import Database

TYPE_CHECKING = False  # typing costs the listing commands' import time
if TYPE_CHECKING:
    from typing import Any

    from dockyard.engine.containers import Container
    from dockyard.engine.filters import Filters

KEEP_EVENTS = 10_000  # Docker keeps the last 256 in memory; a table can afford more.


class EventLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, kind: str, action: str, actor: str, attributes: dict[str, str]) -> None:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO events (time_nano, type, action, actor_id, attributes)"
                " VALUES (?, ?, ?, ?, ?)",
                (time.time_ns(), kind, action, actor, json.dumps(attributes, sort_keys=True)),
            )
            seq = cur.lastrowid or 0
            if seq % 1000 == 0:
                conn.execute("DELETE FROM events WHERE seq <= ?", (seq - KEEP_EVENTS,))

    def container(
        self, action: str, container: Container, extra: dict[str, str] | None = None
    ) -> None:
        """A container event with dockerd's attributes: the container's labels, its
        image (as given) and name, then ``extra`` (exitCode, execID, ...)."""
        labels = container.config.get("Labels") or {}
        attributes = {str(k): str(v) for k, v in labels.items()}
        attributes["image"] = str(container.config.get("Image") or "")
        attributes["name"] = container.name
        attributes.update(extra or {})
        self.record("container", action, container.id, attributes)

    def max_seq(self) -> int:
        """The newest event's sequence number (0: none yet)."""
        row = self.db.query_one("SELECT COALESCE(MAX(seq), 0) AS seq FROM events")
        return int(row["seq"]) if row else 0

    def rows_after(self, seq: int) -> list[Any]:
        """The events recorded after ``seq``, oldest first (at most 1,000)."""
        return self.db.query("SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT 1000", (seq,))

    def history(self, since_ns: int, until_ns: int | None, before_seq: int) -> list[Any]:
        """The events up to ``before_seq`` recorded from ``since_ns`` to ``until_ns``."""
        sql = "SELECT * FROM events WHERE seq <= ? AND time_nano >= ?"
        params: list[Any] = [before_seq, since_ns]
        if until_ns is not None:
            sql += " AND time_nano <= ?"
            params.append(until_ns)
        return self.db.query(sql + " ORDER BY seq", params)


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
