"""The event log: every object change is a row that ``events`` and the API read."""

from __future__ import annotations

import json
import time

from dockyard.store.metadata import Database

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
