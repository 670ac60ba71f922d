"""The embedded resolver's records, read from the metadata database: which
addresses a name has for a given querying container (names, aliases and short
IDs of containers on the user-defined networks it shares with the querier)."""

from __future__ import annotations

import json
from typing import Any


def resolve_name(conn: Any, container_id: str, name: str) -> list[str]:
    name = name.rstrip(".").lower()
    rows = conn.execute(
        "SELECT e.address, e.aliases, e.container_id, c.name FROM network_endpoints e"
        " JOIN containers c ON c.id = e.container_id"
        " JOIN networks n ON n.id = e.network_id"
        " WHERE n.name NOT IN ('bridge', 'host', 'none') AND e.network_id IN"
        " (SELECT network_id FROM network_endpoints WHERE container_id = ?)",
        (container_id,),
    ).fetchall()
    found = []
    for row in rows:
        names = {row["name"].lower(), row["container_id"][:12]}
        names.update(a.lower() for a in json.loads(row["aliases"]))
        if name in names and row["address"] not in found:
            found.append(row["address"])
    return found


def resolve_address(conn: Any, container_id: str, address: str) -> str | None:
    """The container name for ``address`` on a network shared with the querier (PTR)."""
    row = conn.execute(
        "SELECT c.name, n.name AS network FROM network_endpoints e"
        " JOIN containers c ON c.id = e.container_id JOIN networks n ON n.id = e.network_id"
        " WHERE e.address = ? AND n.name NOT IN ('bridge', 'host', 'none') AND e.network_id IN"
        " (SELECT network_id FROM network_endpoints WHERE container_id = ?)",
        (address, container_id),
    ).fetchone()
    return f"{row['name']}.{row['network']}" if row is not None else None
