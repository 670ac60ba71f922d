"""User-defined networks: create/ls/inspect/rm/prune/connect/disconnect, isolation,
IPAM that persists, and the embedded DNS server (names, aliases, short IDs,
forwarding to an upstream the test runs on loopback)."""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from tests.integration._network_support import (
    NetDockyard,
    free_subnet,
    iptables_lines,
    links,
    nbusybox,
    ndy,
)

__all__ = ["nbusybox", "ndy"]

SERVE = ["nc", "-ll", "-p", "7000", "-e", "hostname"]


def _net(ndy: NetDockyard, name: str, *flags: str) -> str:
    return ndy("network", "create", *flags, name).out.strip()


def _ask(ndy: NetDockyard, network: str, target: str, *extra: str) -> str:
    """Connect from a fresh container on ``network`` to target:7000; its answer."""
    script = f"for i in $(seq 50); do nc -w 1 {target} 7000 </dev/null && exit 0; sleep 0.1; done"
    r = ndy("run", "--rm", "--network", network, *extra, "busybox", "sh", "-c", script, check=False)
    return r.out.strip()


def test_containers_talk_by_name_alias_and_short_id(ndy: NetDockyard, nbusybox: str) -> None:
    _net(ndy, "front")
    cid = ndy(
        "run",
        "-d",
        "--name",
        "srv",
        "--hostname",
        "srvhost",
        "--network",
        "front",
        "--network-alias",
        "api",
        "busybox",
        *SERVE,
    ).out.strip()
    assert _ask(ndy, "front", "srv") == "srvhost"
    assert _ask(ndy, "front", "api") == "srvhost"
    assert _ask(ndy, "front", cid[:12]) == "srvhost"
    resolv = ndy("run", "--rm", "--network", "front", "busybox", "cat", "/etc/resolv.conf").out
    assert "nameserver 127.0.0.11" in resolv and "ndots:0" in resolv
    out = ndy("run", "--rm", "--network", "front", "busybox", "nslookup", "srv", "127.0.0.11").out
    ip = json.loads(ndy("inspect", "srv").out)[0]["NetworkSettings"]["Networks"]["front"][
        "IPAddress"
    ]
    assert f"Address: {ip}" in out


def test_networks_are_isolated_and_a_container_on_both_reaches_both(
    ndy: NetDockyard, nbusybox: str
) -> None:
    _net(ndy, "red")
    _net(ndy, "blue")
    ndy("run", "-d", "--name", "r1", "--hostname", "r1", "--network", "red", "busybox", *SERVE)
    ndy("run", "-d", "--name", "b1", "--hostname", "b1", "--network", "blue", "busybox", *SERVE)
    r1_ip = json.loads(ndy("inspect", "r1").out)[0]["NetworkSettings"]["Networks"]["red"][
        "IPAddress"
    ]
    # blue cannot reach red, by address (the name does not even resolve)
    r = ndy(
        "run", "--rm", "--network", "blue", "busybox", "nc", "-w", "1", r1_ip, "7000", check=False
    )
    assert "r1" not in r.out
    lookup = ndy("run", "--rm", "--network", "blue", "busybox", "nslookup", "r1", check=False)
    assert lookup.code != 0
    # a container on both reaches both
    ndy("create", "--name", "both", "--network", "red", "busybox", "sleep", "60")
    ndy("network", "connect", "blue", "both")
    ndy("start", "both")
    script = "for n in r1 b1; do nc -w 2 $n 7000 </dev/null; done"
    assert ndy("exec", "both", "sh", "-c", script).out.split() == ["r1", "b1"]
    # connect and disconnect a running container
    _net(ndy, "green")
    ndy("network", "connect", "--alias", "g", "green", "r1")
    assert "eth1" in ndy("exec", "r1", "ip", "-o", "link").out
    assert _ask(ndy, "green", "g") == "r1"
    ndy("network", "disconnect", "green", "r1")
    assert "eth1" not in ndy("exec", "r1", "ip", "-o", "link").out
    networks = json.loads(ndy("inspect", "r1").out)[0]["NetworkSettings"]["Networks"]
    assert sorted(networks) == ["red"]


def test_create_inspect_ls_rm_prune_and_errors(ndy: NetDockyard, nbusybox: str) -> None:
    subnet = free_subnet()
    gateway = str(subnet[254])
    net_id = _net(
        ndy,
        "mine",
        "--subnet",
        str(subnet),
        "--gateway",
        gateway,
        "--label",
        "team=a",
        "--ip-range",
        str(list(subnet.subnets(new_prefix=25))[1]),
    )
    info = json.loads(ndy("network", "inspect", "mine").out)[0]
    assert info["Id"] == net_id and info["Driver"] == "bridge" and info["Labels"] == {"team": "a"}
    assert info["IPAM"]["Config"][0]["Subnet"] == str(subnet)
    assert info["IPAM"]["Config"][0]["Gateway"] == gateway
    assert f"br-{net_id[:12]}" in links()
    assert iptables_lines(f"dy-net:br-{net_id[:12]}")
    names = ndy("network", "ls", "--format", "{{.Name}}").out.split()
    assert names == sorted(names) and {"bridge", "host", "none", "mine"} <= set(names)
    assert ndy("network", "ls", "-q", "-f", "label=team=a").out.strip() == net_id[:12]
    # --ip-range: addresses come from the upper half
    ndy("run", "-d", "--name", "c1", "--network", "mine", "busybox", "sleep", "60")
    ip = json.loads(ndy("inspect", "c1").out)[0]["NetworkSettings"]["Networks"]["mine"]["IPAddress"]
    assert ipaddress.IPv4Address(ip) in list(subnet.subnets(new_prefix=25))[1]
    # the allocation is recorded and seen by another process
    containers = json.loads(ndy("network", "inspect", "mine").out)[0]["Containers"]
    assert [c["IPv4Address"] for c in containers.values()] == [f"{ip}/24"]
    # errors in docker's words
    r = ndy.fails("network", "create", "--subnet", str(subnet), "again")
    assert "Pool overlaps with other one on this address space" in r.err
    r = ndy.fails("network", "create", "mine")
    assert "network with name mine already exists" in r.err
    r = ndy.fails("network", "rm", "mine")
    assert f"error while removing network: network mine id {net_id} has active endpoints" in r.err
    r = ndy.fails("network", "rm", "bridge")
    assert "bridge is a pre-defined network and cannot be removed" in r.err
    r = ndy.fails("run", "--rm", "--network", "mine", "--ip", str(subnet[254]), "busybox", "true")
    assert "Address already in use" in r.err
    r = ndy.fails("run", "--rm", "--ip", "10.0.0.5", "busybox", "true")
    assert "user specified IP address is supported on user defined networks only" in r.err
    r = ndy.fails("network", "inspect", "nope")
    assert "network nope not found" in r.err
    ndy("rm", "-f", "c1")
    # a static --ip
    ndy(
        "run",
        "-d",
        "--name",
        "c2",
        "--network",
        "mine",
        "--ip",
        str(subnet[200]),
        "busybox",
        "sleep",
        "60",
    )
    assert str(subnet[200]) in ndy("exec", "c2", "ip", "-o", "-4", "addr", "show", "eth0").out
    ndy("rm", "-f", "c2")
    # prune removes unused custom networks only
    _net(ndy, "unused")
    out = ndy("network", "prune", "-f").out
    assert "unused" in out and "mine" in out
    assert f"br-{net_id[:12]}" not in links()
    assert not iptables_lines(f"dy-net:br-{net_id[:12]}")
    assert set(ndy("network", "ls", "--format", "{{.Name}}").out.split()) == {
        "bridge",
        "host",
        "none",
    }


def test_icc_false_and_internal(ndy: NetDockyard, nbusybox: str) -> None:
    _net(ndy, "quiet", "-o", "com.docker.network.bridge.enable_icc=false")
    ndy("run", "-d", "--name", "q1", "--hostname", "q1", "--network", "quiet", "busybox", *SERVE)
    r = ndy(
        "run", "--rm", "--network", "quiet", "busybox", "nc", "-w", "1", "q1", "7000", check=False
    )
    assert "q1" not in r.out
    net_id = _net(ndy, "inside", "--internal")
    assert not any(
        "MASQUERADE" in line
        for line in iptables_lines(f"dy-net:br-{net_id[:12]}")
        if "! -o" in line
    )
    out = ndy("run", "--rm", "--network", "inside", "busybox", "ip", "route").out
    assert "default" not in out


class _Upstream:
    """A tiny DNS server on loopback: answers every A query with 192.0.2.77."""

    def __init__(self) -> None:
        self.address = (
            f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        )
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.address, 53))
        self.sock.settimeout(0.2)
        self.questions: list[str] = []
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        from dockyard.network import dns

        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            q = dns.parse_query(data)
            self.questions.append(q.name)
            records = [dns.a_record("192.0.2.77")] if q.qtype == dns.TYPE_A else []
            self.sock.sendto(dns.reply(q, records=records), peer)

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.sock.close()


@pytest.fixture
def upstream() -> Iterator[_Upstream]:
    server = _Upstream()
    yield server
    server.close()


def test_dns_forwards_other_names_upstream(
    ndy: NetDockyard, nbusybox: str, upstream: _Upstream
) -> None:
    _net(ndy, "fwd")
    out = ndy(
        "run",
        "--rm",
        "--network",
        "fwd",
        "--dns",
        upstream.address,
        "busybox",
        "nslookup",
        "-type=a",
        "far.example.test",
        "127.0.0.11",
    ).out
    assert "192.0.2.77" in out
    assert "far.example.test" in upstream.questions
    resolv = ndy(
        "run",
        "--rm",
        "--network",
        "fwd",
        "--dns",
        upstream.address,
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ).out
    assert "nameserver 127.0.0.11" in resolv and f"ExtServers: [{upstream.address}]" in resolv


def test_dns_packet_roundtrip_over_tcp(ndy: NetDockyard, nbusybox: str) -> None:
    """The resolver answers over TCP too (nslookup uses UDP; this speaks TCP itself)."""
    from dockyard.network import dns, netns

    _net(ndy, "tcpnet")
    cid = ndy("run", "-d", "--name", "t1", "--network", "tcpnet", "busybox", "sleep", "60").out
    path = str(ndy.run_root / "netns" / cid.strip()[:12])
    with netns.entered(path):
        s = socket.create_connection(("127.0.0.11", 53), timeout=5)
    with s:
        query = dns.build_query(0x1234, "t1")
        s.sendall(struct.pack("!H", len(query)) + query)
        size = struct.unpack("!H", s.recv(2))[0]
        data = b""
        while len(data) < size:
            data += s.recv(size - len(data))
    rcode, answers = dns.parse_answers(data)
    ip = json.loads(ndy("inspect", "t1").out)[0]["NetworkSettings"]["Networks"]["tcpnet"][
        "IPAddress"
    ]
    assert rcode == 0 and answers == [(dns.TYPE_A, ipaddress.IPv4Address(ip).packed)]
