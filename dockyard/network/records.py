"""The embedded resolver's records, read from the metadata database: which
addresses a name has for a given querying container (names, aliases, short IDs
and hostnames of containers on the user-defined networks it shares with it)."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from dockyard.errors import DockyardError


def resolve_name(conn: Any, container_id: str, name: str) -> list[str]:
    """Names are a container's name, network aliases, short ID and hostname (docker's
    DNSNames), each also qualified with the network's name (``web.mynet``). The
    addresses are IPv4 and, on ``--ipv6`` networks, IPv6 too."""
    name = name.rstrip(".").lower()
    rows = conn.execute(
        "SELECT e.address, e.aliases, e.container_id, c.name, n.name AS network,"
        " n.config AS netconfig,"
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
            v6 = row["address6"] or _address6(row["netconfig"], row["address"])
            if v6:
                found.append(v6)
    return found


def _address6(netconfig: str, address: str) -> str | None:
    """The endpoint's IPv6 address on an ``--ipv6`` network when the container's
    settings do not record one yet (derived from its IPv4 address, as the network
    service assigns it without ``--ip6``)."""
    config = json.loads(netconfig)
    if not config.get("EnableIPv6"):
        return None
    from dockyard.network import ipam

    entries = (config.get("IPAM") or {}).get("Config") or []
    v4 = [ipam.PoolConfig.from_api(c) for c in entries if not ipam.is_v6(c)]
    v6 = [ipam.Pool6.from_api(c) for c in entries if ipam.is_v6(c)]
    if not v4 or not v6:
        return None
    try:
        return str(ipam.address6_for(v6[0], v4[0], ipaddress.IPv4Address(address)))
    except DockyardError:
        return None


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
