"""Container network options: ``ps`` filters (network, publish, expose), ``--network
container:ID``, ``--mac-address``, ``--add-host host-gateway``, ``--hostname`` on a
user network (resolved by the embedded DNS), ``-P`` with an image's EXPOSE, and
IPv6 networks (addresses, routes, AAAA answers from the embedded DNS)."""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.integration._network_support import NetDockyard, nbusybox, ndy

__all__ = ["nbusybox", "ndy"]

SERVE = ["nc", "-ll", "-p", "7000", "-e", "hostname"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _inspect(ndy: NetDockyard, ref: str) -> dict[str, Any]:
    return json.loads(ndy("inspect", ref).out)[0]  # type: ignore[no-any-return]


def _names(ndy: NetDockyard, *filters: str) -> list[str]:
    args = [a for f in filters for a in ("-f", f)]
    return sorted(ndy("ps", "-a", *args, "--format", "{{.Names}}").out.split())


def _ask(ndy: NetDockyard, network: str, target: str) -> str:
    """Connect from a fresh container on ``network`` to target:7000; its answer."""
    script = f"for i in $(seq 50); do nc -w 1 {target} 7000 </dev/null && exit 0; sleep 0.1; done"
    r = ndy("run", "--rm", "--network", network, "busybox", "sh", "-c", script, check=False)
    return r.out.strip()


def test_ps_filters_network_publish_expose(ndy: NetDockyard, nbusybox: str) -> None:
    net_id = ndy("network", "create", "pfnet").out.strip()
    ndy("run", "-d", "--name", "pa", "--network", "pfnet", "busybox", "sleep", "60")
    ndy("create", "--name", "pc", "--network", "pfnet", "busybox", "true")
    port = _free_port()
    ndy(
        "run",
        "-d",
        "--name",
        "pb",
        "-p",
        f"{port}:80",
        "--expose",
        "9999",
        "busybox",
        "sleep",
        "60",
    )
    assert _names(ndy, "network=pfnet") == ["pa", "pc"]
    assert _names(ndy, f"network={net_id[:10]}") == ["pa", "pc"]
    assert _names(ndy, "network=bridge") == ["pb"]
    assert _names(ndy, "network=pf") == []  # a name must match whole
    assert _names(ndy, "network=pfnet", "network=bridge") == ["pa", "pb", "pc"]
    assert _names(ndy, f"publish={port}") == ["pb"]
    assert _names(ndy, f"publish={port}/tcp") == ["pb"]
    assert _names(ndy, f"publish={port}/udp") == []
    assert _names(ndy, "publish=80") == []  # the container port is not published as 80
    assert _names(ndy, "expose=80") == ["pb"]
    assert _names(ndy, "expose=9999") == ["pb"]
    assert _names(ndy, "expose=9998-10000/tcp") == ["pb"]
    assert _names(ndy, "expose=81") == []
    assert _names(ndy, "expose=81", f"publish={port}") == ["pb"]
    r = ndy.fails("ps", "-f", "publish=80:80")
    assert "filter for 'publish' should not contain ':': 80:80" in r.err
    r = ndy.fails("ps", "-f", "expose=http")
    assert "error while looking up for expose http" in r.err
    ndy("stop", "-t", "0", "pb")
    assert _names(ndy, "expose=80") == []  # a stopped container publishes nothing


def test_network_container_mode_shares_the_namespace(ndy: NetDockyard, nbusybox: str) -> None:
    ndy("run", "-d", "--name", "srv", "--hostname", "srvhost", "busybox", *SERVE)
    ip = _inspect(ndy, "srv")["NetworkSettings"]["IPAddress"]
    script = (
        "ip -o -4 addr show eth0; echo host=$(hostname);"
        " for i in $(seq 50); do nc -w 1 127.0.0.1 7000 </dev/null && exit 0; sleep 0.1; done"
    )
    out = ndy("run", "--rm", "--network", "container:srv", "busybox", "sh", "-c", script).out
    assert f"inet {ip}/" in out
    assert "host=srvhost" in out
    assert out.strip().endswith("srvhost")  # the server on srv's loopback answered
    r = ndy.fails("run", "--rm", "--network", "container:srv", "-p", "80:80", "busybox", "true")
    assert "conflicting options: port publishing and the container type network mode" in r.err
    ndy("create", "--name", "idle", "busybox", "true")
    r = ndy.fails("run", "--rm", "--network", "container:idle", "busybox", "true")
    assert "cannot join network of a non running container" in r.err
    r = ndy.fails("run", "--rm", "--network", "container:nosuch", "busybox", "true")
    assert "No such container: nosuch" in r.err


def test_mac_address_on_default_and_user_networks(ndy: NetDockyard, nbusybox: str) -> None:
    mac = "02:42:ac:11:00:99"
    out = ndy("run", "--rm", "--mac-address", mac, "busybox", "cat", "/sys/class/net/eth0/address")
    assert out.out.strip() == mac
    ndy("network", "create", "macnet")
    other = "02:42:0a:0b:0c:0d"
    ndy("run", "-d", "--name", "macc", "--network", "macnet", "--mac-address", other, "busybox",
        "sleep", "60")  # fmt: skip
    settings = _inspect(ndy, "macc")["NetworkSettings"]
    assert settings["Networks"]["macnet"]["MacAddress"] == other
    seen = ndy("exec", "macc", "cat", "/sys/class/net/eth0/address").out.strip()
    assert seen == other


def test_add_host_host_gateway_reaches_the_host(ndy: NetDockyard, nbusybox: str) -> None:
    gateway = str(ndy.subnet[1])
    ndy("run", "--rm", "busybox", "true")  # the test's default bridge, with the gateway
    with socket.socket() as listener:
        listener.bind((gateway, 0))  # on this test's own bridge: traffic stays in the test
        listener.listen(1)
        listener.settimeout(20)
        port = listener.getsockname()[1]

        def answer() -> None:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"from-the-host\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        out = ndy(
            "run", "--rm", "--add-host", "gw.test:host-gateway", "busybox", "sh", "-c",
            f"cat /etc/hosts; nc -w 5 gw.test {port} </dev/null",
        ).out  # fmt: skip
        thread.join(timeout=20)
    assert f"{gateway}\tgw.test" in out
    assert "from-the-host" in out


def test_hostname_resolves_on_a_user_network(ndy: NetDockyard, nbusybox: str) -> None:
    ndy("network", "create", "hnet")
    ndy("run", "-d", "--name", "web", "--hostname", "webhost", "--network", "hnet", "busybox",
        *SERVE)  # fmt: skip
    assert _ask(ndy, "hnet", "webhost") == "webhost"
    assert _ask(ndy, "hnet", "web.hnet") == "webhost"
    info = _inspect(ndy, "web")
    names = info["NetworkSettings"]["Networks"]["hnet"]["DNSNames"]
    assert names == ["web", info["Id"][:12], "webhost"]
    own = ndy("exec", "web", "sh", "-c", "hostname; cat /etc/hosts").out
    assert own.startswith("webhost\n") and "webhost" in own.split("\n", 1)[1]


def test_publish_all_uses_the_image_expose(
    ndy: NetDockyard, nbusybox: str, busybox_tar: Path
) -> None:
    ndy("import", "-c", "EXPOSE 80", "-c", 'CMD ["sh"]', str(busybox_tar), "webimg:latest")
    cid = ndy("run", "-d", "-P", "webimg", "httpd", "-f", "-p", "80", "-h", "/etc").out.strip()
    ports = _inspect(ndy, cid)["NetworkSettings"]["Ports"]
    assert list(ports) == ["80/tcp"]
    host_port = int(ports["80/tcp"][0]["HostPort"])
    assert ndy("port", cid, "80").out.split() == [f"0.0.0.0:{host_port}", f"[::]:{host_port}"]
    assert f"0.0.0.0:{host_port}->80/tcp, [::]:{host_port}->80/tcp" in ndy("ps").out
    assert _names(ndy, f"publish={host_port}") == [
        ndy("inspect", "-f", "{{.Name}}", cid).out.strip().lstrip("/")
    ]


def _free_subnet6() -> str:
    from dockyard.network.ipam import host_routes6

    routes = host_routes6()
    for _ in range(100):
        net = ipaddress.IPv6Network(
            f"fd{random.randint(0, 255):02x}:{random.getrandbits(16):x}::/64"
        )
        if not any(net.overlaps(r) for r in routes):
            return str(net)
    raise RuntimeError("no free IPv6 subnet")


def test_ipv6_network_addresses_routes_and_aaaa(ndy: NetDockyard, nbusybox: str) -> None:
    if Path("/proc/sys/net/ipv6/conf/all/disable_ipv6").read_text().strip() != "0":
        pytest.skip("IPv6 is disabled on this host")
    subnet6 = _free_subnet6()
    net6 = ipaddress.IPv6Network(subnet6)
    net_id = ndy("network", "create", "--ipv6", "--subnet", subnet6, "six").out.strip()
    info = json.loads(ndy("network", "inspect", "six").out)[0]
    assert info["EnableIPv6"] is True
    assert {"Subnet": subnet6} in info["IPAM"]["Config"]  # no --gateway: none shown (dockerd)
    bridge_out = subprocess.run(
        ["ip", "-6", "addr", "show", f"br-{net_id[:12]}"], capture_output=True, text=True
    ).stdout
    assert f"{net6[1]}/64" in bridge_out
    ndy("run", "-d", "--name", "s6", "--hostname", "s6host", "--network", "six", "busybox", *SERVE)
    ep = _inspect(ndy, "s6")["NetworkSettings"]["Networks"]["six"]
    v6 = ep["GlobalIPv6Address"]
    assert ipaddress.IPv6Address(v6) in net6 and ep["GlobalIPv6PrefixLen"] == 64
    assert ep["IPv6Gateway"] == str(net6[1])
    inside = ndy("exec", "s6", "sh", "-c", "ip -6 addr show eth0; ip -6 route").out
    assert f"{v6}/64" in inside and f"default via {net6[1]} dev eth0" in inside
    members = json.loads(ndy("network", "inspect", "six").out)[0]["Containers"]
    assert [m["IPv6Address"] for m in members.values()] == [f"{v6}/64"]
    out = ndy(
        "run", "--rm", "--network", "six", "busybox", "sh", "-c",
        "nslookup -type=aaaa s6 127.0.0.11;"
        f" for i in $(seq 50); do nc -w 1 {v6} 7000 </dev/null && exit 0; sleep 0.1; done",
    ).out  # fmt: skip
    assert f"Address: {v6}" in out
    assert out.strip().endswith("s6host")  # reached over IPv6
    r = ndy.fails("network", "create", "--ipv6", "--subnet", subnet6, "six2")
    assert "Pool overlaps with other one on this address space" in r.err
    r = ndy.fails("network", "create", "--subnet", _free_subnet6(), "nosix")
    assert "--ipv6" in r.err
    # no --subnet: a /64 from docker's default IPv6 pool, a ULA /48 from the engine ID
    ndy("network", "create", "--ipv6", "autopool")
    auto = json.loads(ndy("network", "inspect", "autopool").out)[0]
    from dockyard.network.ipam import ula_pool

    base = ipaddress.IPv6Network(ula_pool((ndy.root / "engine-id").read_text().strip())[0])
    got = [ipaddress.ip_network(c["Subnet"]) for c in auto["IPAM"]["Config"]]
    assert any(n.version == 6 and n.prefixlen == 64 and n.subnet_of(base) for n in got)  # type: ignore[arg-type]
    ndy("network", "rm", "autopool")
    ndy("rm", "-f", "s6")
    ndy("network", "rm", "six")
    assert (
        f"br-{net_id[:12]}"
        not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    )
