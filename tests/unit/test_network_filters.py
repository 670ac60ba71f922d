"""``ps`` filters network=, publish=, expose= (docker's semantics), without root."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.engine.filters import Filters
from dockyard.engine.networks import container_filter_match
from dockyard.errors import Conflict, InvalidArgument
from dockyard.network.ports import filter_ports, ports_match


def test_filter_ports_forms_and_errors() -> None:
    assert filter_ports("publish", ["80"]) == {"80/tcp"}
    assert filter_ports("expose", ["53/udp", "8000-8002"]) == {
        "53/udp",
        "8000/tcp",
        "8001/tcp",
        "8002/tcp",
    }
    with pytest.raises(InvalidArgument) as info:
        filter_ports("publish", ["8080:80"])
    assert info.value.message == "filter for 'publish' should not contain ':': 8080:80"
    for bad in ("http", "", "90-80", "70000", "1-x"):
        with pytest.raises(InvalidArgument) as info:
            filter_ports("expose", [bad])
        assert info.value.message.startswith(f"error while looking up for expose {bad}: ")


def test_ports_match_published_and_exposed() -> None:
    ports = {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
        "9000/tcp": None,
    }
    assert ports_match(ports, {"8080/tcp"}, set())
    assert ports_match(ports, {"5353/udp"}, set())
    assert not ports_match(ports, {"5353/tcp"}, set())
    assert not ports_match(ports, {"80/tcp"}, set())
    assert ports_match(ports, set(), {"9000/tcp"})
    assert ports_match(ports, set(), {"80/tcp"})
    assert not ports_match(ports, set(), {"8080/tcp"})
    assert not ports_match({}, {"8080/tcp"}, {"80/tcp"})
    assert not ports_match(None, {"8080/tcp"}, set())


class _Container:
    def __init__(self, mode: str, endpoints: dict[str, Any], ports: Any = None) -> None:
        self.spec = {
            "HostConfig": {"NetworkMode": mode},
            "NetworkingConfig": {"EndpointsConfig": endpoints},
            "NetworkSettings": {"Ports": ports} if ports is not None else None,
        }

    @property
    def host_config(self) -> dict[str, Any]:
        return self.spec["HostConfig"]  # type: ignore[return-value]


def _match(container: _Container, *exprs: str) -> bool:
    return container_filter_match(container, Filters.from_cli(list(exprs)))  # type: ignore[arg-type]


def test_network_filter_by_name_or_id_prefix() -> None:
    web = _Container("front", {"front": {"NetworkID": "abc123"}, "back": {"NetworkID": "def456"}})
    assert _match(web, "network=front")
    assert _match(web, "network=back")
    assert _match(web, "network=abc")
    assert _match(web, "network=nope", "network=def4")
    assert not _match(web, "network=fron")
    assert not _match(web, "network=bridge")
    default = _Container("default", {"bridge": {"NetworkID": "b1"}})  # as create records it
    assert _match(default, "network=bridge")
    joined = _Container("container:abc", {})
    assert not _match(joined, "network=bridge")


def test_publish_and_expose_read_the_ports_column() -> None:
    running = _Container("default", {}, {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]})
    assert _match(running, "publish=8080")
    assert _match(running, "expose=80", "publish=1")
    assert not _match(running, "publish=80")
    stopped = _Container("default", {})
    assert not _match(stopped, "expose=80")
    assert _match(stopped, "label=x=y")  # other filters are not this function's business


def test_records_resolve_names_aliases_hostnames_and_fqdn() -> None:
    import json
    import sqlite3

    from dockyard.network.records import resolve_name

    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    conn.executescript(
        "CREATE TABLE networks (id TEXT, name TEXT, config TEXT);"
        "CREATE TABLE containers (id TEXT, name TEXT, config TEXT);"
        "CREATE TABLE network_endpoints (network_id TEXT, container_id TEXT, address TEXT,"
        " aliases TEXT);"
    )
    v6 = {
        "EnableIPv6": True,
        "IPAM": {"Config": [{"Subnet": "10.9.0.0/24"}, {"Subnet": "fd12:3456::/64"}]},
    }
    conn.executemany(
        "INSERT INTO networks VALUES (?, ?, ?)",
        [("n1", "front", "{}"), ("n2", "bridge", "{}"), ("n3", "six", json.dumps(v6))],
    )
    web = {
        "Config": {"Hostname": "WebHost"},
        # the IPv6 address is allocated with the endpoint and recorded in its settings
        "NetworkSettings": {"Networks": {"six": {"GlobalIPv6Address": "fd12:3456::2"}}},
    }
    conn.executemany(
        "INSERT INTO containers VALUES (?, ?, ?)",
        [
            ("a" * 64, "web", json.dumps(web)),
            ("b" * 64, "client", json.dumps({"Config": {}})),
            ("c" * 64, "six", "{}"),
        ],
    )
    conn.executemany(
        "INSERT INTO network_endpoints VALUES (?, ?, ?, ?)",
        [
            ("n1", "a" * 64, "10.9.0.2", json.dumps(["api"])),
            ("n1", "b" * 64, "10.9.0.3", "[]"),
            ("n2", "a" * 64, "172.17.0.2", "[]"),
            ("n3", "a" * 64, "10.9.0.2", "[]"),
            ("n3", "c" * 64, "10.9.0.7", "[]"),
        ],
    )
    asker = "b" * 64
    for name in ("web", "api", "a" * 12, "webhost", "WEB.front.", "webhost.front"):
        assert resolve_name(conn, asker, name) == ["10.9.0.2"], name
    assert resolve_name(conn, asker, "web.other") == []
    assert resolve_name(conn, asker, "nothing") == []
    # on an --ipv6 network the addresses come in both families
    assert resolve_name(conn, "c" * 64, "web") == ["10.9.0.2", "fd12:3456::2"]
    assert resolve_name(conn, "c" * 64, "web.six") == ["10.9.0.2", "fd12:3456::2"]


def test_ipv6_pools_and_allocated_addresses() -> None:
    import ipaddress

    from dockyard.network import ipam

    a6 = ipaddress.IPv6Address
    pool6 = ipam.pool6_from_request("fd00:aa::/64")
    assert pool6.gateway == a6("fd00:aa::1")
    assert ipam.pick_address6(pool6, []) == a6("fd00:aa::2")
    # the lowest free one: an address another container chose with --ip6 is skipped
    assert ipam.pick_address6(pool6, [a6("fd00:aa::2"), a6("fd00:aa::4")]) == a6("fd00:aa::3")
    assert ipam.pick_address6(pool6, [a6("fd00:aa::2"), a6("fd00:aa::3")]) == a6("fd00:aa::4")
    assert ipam.pick_address6(pool6, [], "fd00:aa::99") == a6("fd00:aa::99")
    with pytest.raises(Conflict, match="Address already in use"):
        ipam.pick_address6(pool6, [a6("fd00:aa::99")], "fd00:aa::99")
    with pytest.raises(Conflict, match="Address already in use"):
        ipam.pick_address6(pool6, [], "fd00:aa::1")  # the gateway
    with pytest.raises(InvalidArgument, match="does not belong"):
        ipam.pick_address6(pool6, [], "fd00:bb::5")
    tiny = ipam.pool6_from_request("fd00:bb::/124", "fd00:bb::2")
    assert ipam.pick_address6(tiny, []) == a6("fd00:bb::1")  # below the chosen gateway
    # the default bridge's (dockerd with fixed-cidr-v6): the MAC after the prefix
    bridge6 = ipam.pool6_from_request("fd55:1:2:3::/64")
    derived = ipam.address6_from_mac(bridge6, "02:42:0a:c7:00:02")
    assert derived == a6("fd55:1:2:3:0:242:ac7:2")
    assert ipam.pick_address6(bridge6, [], preferred=derived) == derived
    assert ipam.pick_address6(bridge6, [derived], preferred=derived) == a6("fd55:1:2:3::2")
    assert ipam.address6_from_mac(ipam.pool6_from_request("fd55::/96"), "02:42:0a:c7:00:02") is None
    full = [tiny.subnet.network_address + n for n in range(1, 16)]
    with pytest.raises(Conflict, match="no available IPv6"):
        ipam.pick_address6(tiny, full)
    for bad, gateway in (("fd00::/125", ""), ("nonsense", ""), ("fd00::/64", "fd01::1")):
        with pytest.raises(InvalidArgument):
            ipam.pool6_from_request(bad, gateway)
    assert ipam.is_v6({"Subnet": "fd00::/64"}) and not ipam.is_v6({"Subnet": "10.0.0.0/8"})


def test_host_routes6_reads_proc_format(tmp_path: Any) -> None:
    from dockyard.network import ipam

    path = tmp_path / "ipv6_route"
    path.write_text(
        "fd000000000000000000000000000000 40 00000000000000000000000000000000 00"
        " 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
        "fe800000000000000000000000000000 40 00000000000000000000000000000000 00"
        " 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00"
        " 00000000000000000000000000000000 00000400 00000001 00000000 00200200       lo\n"
        "00000000000000000000000000000001 80 00000000000000000000000000000000 00"
        " 00000000000000000000000000000000 00000000 00000001 00000000 80200001       lo\n"
    )
    assert [str(n) for n in ipam.host_routes6(str(path))] == ["fd00::/64"]
