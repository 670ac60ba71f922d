"""IPv6 addresses on ``--ipv6`` networks are allocated, as the IPv4 ones: a
container without ``--ip6`` takes the lowest free address, so it never collides
with one another container chose; the address is recorded with the endpoint
(inspect, ``network inspect``, the embedded DNS all show the same one) and
released when the container stops."""

from __future__ import annotations

import ipaddress
import json
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration._network_support import NetDockyard, free_subnet, nbusybox, ndy

__all__ = ["nbusybox", "ndy"]


def _ipv6_host() -> bool:
    return Path("/proc/sys/net/ipv6/conf/all/disable_ipv6").read_text().strip() == "0"


def _free_subnet6() -> ipaddress.IPv6Network:
    from dockyard.network.ipam import host_routes6

    routes = host_routes6()
    for _ in range(100):
        net = ipaddress.IPv6Network((0xFD << 120 | random.getrandbits(56) << 64, 64))
        if not any(net.overlaps(r) for r in routes):
            return net
    raise RuntimeError("no free IPv6 subnet")


def _endpoint(dy: NetDockyard, ref: str, network: str) -> dict[str, Any]:
    info = json.loads(dy("inspect", ref).out)[0]
    return info["NetworkSettings"]["Networks"][network]  # type: ignore[no-any-return]


@pytest.fixture
def six(ndy: NetDockyard, nbusybox: str) -> ipaddress.IPv6Network:
    """The IPv6 subnet of network ``six`` (made with both subnets given)."""
    if not _ipv6_host():
        pytest.skip("IPv6 is disabled on this host")
    subnet6 = _free_subnet6()
    ndy(
        "network",
        "create",
        "--ipv6",
        "--subnet",
        str(free_subnet()),
        "--subnet",
        str(subnet6),
        "six",
    )
    return subnet6


def test_an_automatic_ipv6_address_skips_one_chosen_with_ip6(
    ndy: NetDockyard, six: ipaddress.IPv6Network
) -> None:
    # "chosen" asks for ::3, what the next container would have got from its IPv4 .3
    ndy("run", "-d", "--name", "chosen", "--network", "six", "--ip6", str(six[3]),
        "busybox", "sleep", "300")  # fmt: skip
    ndy("run", "-d", "--name", "auto1", "--network", "six", "busybox", "sleep", "300")
    ndy("run", "-d", "--name", "auto2", "--network", "six", "busybox", "sleep", "300")
    addresses = {
        n: _endpoint(ndy, n, "six")["GlobalIPv6Address"] for n in ("chosen", "auto1", "auto2")
    }
    assert addresses == {"chosen": str(six[3]), "auto1": str(six[2]), "auto2": str(six[4])}
    assert f"{six[4]}/64" in ndy("exec", "auto2", "ip", "-6", "addr", "show", "eth0").out
    info = json.loads(ndy("network", "inspect", "six").out)[0]
    assert info["EnableIPv6"] is True
    # as dockerd 20.10 shows them: subnets given without --gateway have no Gateway
    configs = info["IPAM"]["Config"]
    assert configs[1] == {"Subnet": str(six)} and list(configs[0]) == ["Subnet"]
    members = info["Containers"]
    assert list(members) == sorted(members)  # ID order, as dockerd's JSON map
    assert {m["Name"]: m["IPv6Address"] for m in members.values()} == {
        n: f"{a}/64" for n, a in addresses.items()
    }
    assert _endpoint(ndy, "chosen", "six")["IPAMConfig"] == {"IPv6Address": str(six[3])}
    out = ndy(
        "exec", "auto1", "nslookup", "-type=aaaa", "auto2", "127.0.0.11"
    ).out  # fmt: skip
    assert f"Address: {six[4]}" in out
    # a stopped container's address is free again (and cleared from its settings) ...
    ndy("stop", "-t", "0", "auto1")
    stopped = _endpoint(ndy, "auto1", "six")
    assert stopped["GlobalIPv6Address"] == "" and stopped["IPv6Gateway"] == ""
    ndy("run", "-d", "--name", "auto3", "--network", "six", "busybox", "sleep", "300")
    assert _endpoint(ndy, "auto3", "six")["GlobalIPv6Address"] == str(six[2])
    # ... and one asked for with --ip6 that is taken fails with docker's message
    r = ndy.fails("run", "--rm", "--network", "six", "--ip6", str(six[4]), "busybox", "true")
    assert "Address already in use" in r.err
    ndy("start", "auto1")
    assert _endpoint(ndy, "auto1", "six")["GlobalIPv6Address"] == str(six[5])


def test_concurrent_starts_get_distinct_ipv6_addresses(
    ndy: NetDockyard, six: ipaddress.IPv6Network
) -> None:
    names = [f"c{n}" for n in range(4)]
    for name in names:
        ndy("create", "--name", name, "--network", "six", "busybox", "sleep", "300")
    with ThreadPoolExecutor(len(names)) as pool:
        results = list(pool.map(lambda n: ndy("start", n, check=False), names))
    assert all(r.code == 0 for r in results), [r.err for r in results]
    addresses = [_endpoint(ndy, n, "six")["GlobalIPv6Address"] for n in names]
    assert sorted(addresses) == sorted(str(six[n]) for n in range(2, 2 + len(names)))
    for name, address in zip(names, addresses, strict=True):
        out = subprocess.run(
            ["nsenter", f"--net={ndy.run_root}/netns/"
             + json.loads(ndy("inspect", name).out)[0]["Id"][:12], "ip", "-6", "addr"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert f"{address}/64" in out
