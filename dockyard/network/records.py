"""The embedded resolver's records, read from the metadata database: which
addresses a name has for a given querying container (names, aliases, short IDs
and hostnames of containers on the user-defined networks it shares with it)."""

from __future__ import annotations

import json
from typing import Any


def resolve_name(conn: Any, container_id: str, name: str) -> list[str]:
    """Names are a container's name, network aliases, short ID and hostname (docker's
    DNSNames), each also qualified with the network's name (``web.mynet``). The
    addresses are IPv4 and, on ``--ipv6`` networks, IPv6 too."""
    name = name.rstrip(".").lower()
    rows = conn.execute(
        "SELECT e.address, e.aliases, e.container_id, c.name, n.name AS network,"
        " json_extract(c.config, '$.Config.Hostname') AS hostname,"
        " json_extract(c.config, '$.NetworkSettings.Networks.\"' || n.name"
        " || '\".GlobalIPv6Address') AS address6 FROM network_endpoints e"
        " JOIN containers c ON c.id = e.container_id"
        " JOIN networks n ON n.id = e.network_id"
        " WHERE n.name NOT IN ('bridge', 'host', 'none') AND e.network_id IN"
        " (SELECT network_id FROM network_endpoints WHERE container_id = ?)",
        (container_id,),
    ).fetchall()
    found: list[str] = []
    for row in rows:
        names = {row["name"].lower(), row["container_id"][:12]}
        names.update(a.lower() for a in json.loads(row["aliases"]))
        if row["hostname"]:
            names.add(str(row["hostname"]).lower())
        suffix = "." + row["network"].lower()
        short = name[: -len(suffix)] if name.endswith(suffix) else name
        if (name in names or short in names) and row["address"] not in found:
            found.append(row["address"])
            if row["address6"]:  # allocated with the endpoint, recorded in its settings
                found.append(row["address6"])
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
