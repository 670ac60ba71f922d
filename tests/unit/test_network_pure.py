"""Networking logic without the kernel: IPAM, port bindings, DNS messages, iptables rules."""

from __future__ import annotations

import ipaddress
import socket
import struct

import pytest

from dockyard.errors import Conflict, InvalidArgument
from dockyard.network import dns, firewall, ipam, ports
from dockyard.network.firewall import BridgeNet, PortRule

# ------------------------------------------------------------------ IPAM


def test_default_pools_are_dockers() -> None:
    subnets = list(ipam.candidate_subnets(ipam.DEFAULT_POOLS))
    assert str(subnets[0]) == "172.17.0.0/16"
    assert str(subnets[14]) == "172.31.0.0/16"
    assert str(subnets[15]) == "192.168.0.0/20"
    assert str(subnets[-1]) == "192.168.240.0/20"


def test_choose_subnet_skips_networks_and_host_routes() -> None:
    in_use = [ipaddress.IPv4Network("172.17.0.0/16")]
    routes = [ipaddress.IPv4Network("172.18.5.0/24")]  # overlaps 172.18/16
    assert str(ipam.choose_subnet(ipam.DEFAULT_POOLS, in_use, routes)) == "172.19.0.0/16"


def test_choose_subnet_from_daemon_pools_and_exhaustion() -> None:
    pools = ipam.parse_pools([{"base": "10.10.0.0/23", "size": 24}])
    taken = [ipaddress.IPv4Network("10.10.0.0/24")]
    assert str(ipam.choose_subnet(pools, taken, [])) == "10.10.1.0/24"
    with pytest.raises(Conflict, match="non-overlapping IPv4 address pool"):
        ipam.choose_subnet(pools, [*taken, ipaddress.IPv4Network("10.10.1.0/24")], [])
    with pytest.raises(InvalidArgument):
        ipam.parse_pools([{"base": "10.0.0.0/16", "size": 8}])


def test_pool_request_checks() -> None:
    pool = ipam.pool_from_request("10.5.0.0/16", "10.5.0.254", "10.5.1.0/24", {"r": "10.5.0.9"})
    assert pool.to_api() == {
        "Subnet": "10.5.0.0/16",
        "Gateway": "10.5.0.254",
        "IPRange": "10.5.1.0/24",
        "AuxiliaryAddresses": {"r": "10.5.0.9"},
    }
    assert ipam.PoolConfig.from_api(pool.to_api()) == pool
    with pytest.raises(InvalidArgument, match=r"no matching subnet for gateway 10\.6\.0\.1"):
        ipam.pool_from_request("10.5.0.0/16", "10.6.0.1")
    with pytest.raises(InvalidArgument, match="no matching subnet for range"):
        ipam.pool_from_request("10.5.0.0/16", ip_range="10.6.0.0/24")
    with pytest.raises(InvalidArgument, match="no matching subnet for aux-address"):
        ipam.pool_from_request("10.5.0.0/16", aux={"x": "10.7.0.1"})
    with pytest.raises(InvalidArgument, match="invalid CIDR address"):
        ipam.pool_from_request("10.5.0.0/33")


def test_pick_address_order_reserved_and_requested() -> None:
    pool = ipam.pool_from_request("10.9.0.0/29", aux={"a": "10.9.0.3"})
    taken: set[ipaddress.IPv4Address] = set()
    got = []
    for _ in range(4):
        addr = ipam.pick_address(pool, taken)
        taken.add(addr)
        got.append(str(addr))
    assert got == ["10.9.0.2", "10.9.0.4", "10.9.0.5", "10.9.0.6"]  # .1 gateway, .3 aux
    with pytest.raises(Conflict, match="no available IPv4 addresses"):
        ipam.pick_address(pool, taken)
    with pytest.raises(Conflict, match="Address already in use"):
        ipam.pick_address(pool, set(), "10.9.0.1")
    with pytest.raises(InvalidArgument, match="does not belong to any of this network's subnets"):
        ipam.pick_address(pool, set(), "10.10.0.2")
    assert str(ipam.pick_address(pool, set(), "10.9.0.6")) == "10.9.0.6"


def test_pick_address_from_ip_range() -> None:
    pool = ipam.pool_from_request("10.9.0.0/24", ip_range="10.9.0.128/25")
    assert str(ipam.pick_address(pool, set())) == "10.9.0.129"


def test_mac_from_ip_like_docker() -> None:
    assert ipam.mac_for(ipaddress.IPv4Address("172.17.0.2")) == "02:42:ac:11:00:02"


def test_host_routes_reads_proc_format(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "route"  # type: ignore[operator]
    path.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    )
    assert ipam.host_routes(str(path)) == [ipaddress.IPv4Network("192.0.2.0/24")]


# ------------------------------------------------------------------ ports


def test_bindings_from_host_config_and_publish_all() -> None:
    got = ports.bindings_from_host_config(
        {
            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
            "53/udp": [{"HostPort": ""}],
            "90/tcp": [{"HostIp": "", "HostPort": "9000-9005"}],
        },
        exposed=["80/tcp", "443/tcp"],
        publish_all=True,
    )
    assert got == [
        ports.Binding("tcp", 80, "127.0.0.1", 8080),
        ports.Binding("udp", 53, "", 0),
        ports.Binding("tcp", 90, "", 9000, 9005),
        ports.Binding("tcp", 443, "", 0),
    ]
    with pytest.raises(InvalidArgument):
        ports.bindings_from_host_config({"80/xyz": [{}]})


def test_conflicts_and_docker_message() -> None:
    taken = [("tcp", "0.0.0.0", 8080), ("udp", "127.0.0.1", 53)]
    assert ports.conflicts(("tcp", "127.0.0.1", 8080), taken)
    assert not ports.conflicts(("udp", "0.0.0.0", 8080), taken)
    assert not ports.conflicts(("udp", "127.0.0.2", 53), taken)
    assert ports.conflicts(("udp", "", 53), taken)
    with pytest.raises(Conflict, match=r"Bind for 0.0.0.0:8080 failed: port is already allocated"):
        ports.choose_host_port(ports.Binding("tcp", 80, "", 8080), taken)


def test_choose_host_port_range_and_ephemeral() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        busy = s.getsockname()[1]
        binding = ports.Binding("tcp", 80, "127.0.0.1", busy, busy + 1)
        chosen = ports.choose_host_port(binding, [])
        assert chosen == busy + 1 or not ports.host_port_free("tcp", "127.0.0.1", busy + 1)
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = map(int, f.read().split())
    assert low <= ports.choose_host_port(ports.Binding("tcp", 80, "127.0.0.1", 0), []) <= high


def test_ps_ports_column() -> None:
    text = ports.format_ports(
        {"443/tcp": None, "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
    )
    assert text == "443/tcp, 0.0.0.0:8080->80/tcp"  # the docker CLI's order
    # ports published on their own number group into ranges, listed first
    text = ports.format_ports(
        {
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "80"}, {"HostIp": "::", "HostPort": "80"}],
            "81/tcp": [{"HostIp": "0.0.0.0", "HostPort": "81"}, {"HostIp": "::", "HostPort": "81"}],
            "90/udp": [{"HostIp": "127.0.0.1", "HostPort": "9090"}],
            "7000/tcp": None,
            "7001/tcp": None,
        }
    )
    assert text == (
        "0.0.0.0:80-81->80-81/tcp, [::]:80-81->80-81/tcp, 7000-7001/tcp, 127.0.0.1:9090->90/udp"
    )


def test_port_command_lines() -> None:
    from dockyard.cli.commands.network import port_lines

    mapping = {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
    }
    assert port_lines(mapping) == [
        "53/udp -> 127.0.0.1:5353",
        "80/tcp -> 0.0.0.0:8080",
        "80/tcp -> [::]:8080",
    ]
    assert port_lines(mapping, "53/udp") == ["127.0.0.1:5353"]
    assert port_lines(mapping, "53") == []


def test_runflags_host_port_range_for_one_container_port() -> None:
    from dockyard.cli.runflags import _ports

    _, bindings = _ports(["8000-8010:80"], [])
    assert bindings == {"80/tcp": [{"HostIp": "", "HostPort": "8000-8010"}]}


# ------------------------------------------------------------------ DNS


def test_query_roundtrip_and_a_answer() -> None:
    query = dns.build_query(0xBEEF, "Web.Example")
    q = dns.parse_query(query)
    assert (q.id, q.name, q.qtype, q.qclass) == (0xBEEF, "web.example", dns.TYPE_A, dns.CLASS_IN)
    answer = dns.reply(q, records=[dns.a_record("10.0.0.7"), dns.a_record("10.0.0.8")])
    qid, flags, qd, an = struct.unpack("!4H", answer[:8])
    assert qid == 0xBEEF and flags & 0x8000 and flags & 0x0100 and (qd, an) == (1, 2)
    rcode, records = dns.parse_answers(answer)
    assert rcode == 0
    assert records == [(1, bytes([10, 0, 0, 7])), (1, bytes([10, 0, 0, 8]))]


def test_nxdomain_servfail_and_ptr() -> None:
    q = dns.parse_query(dns.build_query(1, "7.0.0.10.in-addr.arpa", dns.TYPE_PTR))
    assert dns.ptr_address(q.name) == "10.0.0.7"
    assert dns.ptr_address("example.com") is None
    rcode, records = dns.parse_answers(dns.reply(q, records=[dns.ptr_record("web.net1")]))
    assert rcode == 0 and records == [(dns.TYPE_PTR, dns.encode_name("web.net1"))]
    assert dns.parse_answers(dns.reply(q, dns.RCODE_NXDOMAIN))[0] == dns.RCODE_NXDOMAIN


def test_compressed_names_and_bad_input() -> None:
    # a reply whose answer name points back at the question
    q = dns.parse_query(dns.build_query(2, "a.b"))
    _, records = dns.parse_answers(dns.reply(q, records=[dns.a_record("1.2.3.4")]))
    assert records[0][1] == bytes([1, 2, 3, 4])
    with pytest.raises(dns.DNSError):
        dns.parse_query(b"\x00" * 5)
    with pytest.raises(dns.DNSError):
        dns.parse_query(struct.pack("!6H", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c")  # pointer loop


# ------------------------------------------------------------------ iptables rules


def test_network_rules_default_and_options() -> None:
    rules = firewall.network_rules(BridgeNet("x" * 64, "br-abc", "10.1.0.0/16"))
    text = [f"{t} {c} {r}" for t, c, r in rules]
    assert all('--comment "dy-net:br-abc"' in line for line in text)
    assert any(
        "nat DOCKYARD-POSTROUTING -s 10.1.0.0/16 ! -o br-abc -j MASQUERADE" in x for x in text
    )
    assert any("filter DOCKYARD-FORWARD -i br-abc -o br-abc -j ACCEPT" in x for x in text)
    assert any("DOCKYARD-ISOLATION-STAGE-2 -o br-abc -j DROP" in x for x in text)
    quiet = firewall.network_rules(BridgeNet("x", "br-q", "10.2.0.0/16", icc=False))
    assert any("-i br-q -o br-q -j DROP" in r for _, _, r in quiet)
    internal = firewall.network_rules(BridgeNet("x", "br-i", "10.3.0.0/16", internal=True))
    assert not any("! -o br-i -j MASQUERADE" in r for _, _, r in internal)
    assert any("-i br-i ! -o br-i -j DROP" in r for _, _, r in internal)
    # what else comes in for a bridge is dropped, not left to the FORWARD policy
    assert rules[-3][2].startswith("! -i br-abc -o br-abc -j DROP")
    assert sum("! -i br-i -o br-i -j DROP" in r for _, _, r in internal) == 1


def test_port_rules_and_restore_text() -> None:
    rules = firewall.port_rules(
        "c" * 64, [PortRule("tcp", "127.0.0.1", 8080, "10.1.0.2", 80, "br-abc")]
    )
    dnat = next(r for t, c, r in rules if c == "DOCKYARD" and t == "nat")
    assert dnat.startswith("-d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT")
    assert "--to-destination 10.1.0.2:80" in dnat
    # a loopback binding: what arrives from anywhere but lo is dropped before the DNAT
    raw = [r for t, c, r in rules if t == "raw"]
    assert len(raw) == 2
    assert raw[1].startswith("-d 127.0.0.1/32 ! -i lo -p tcp -m tcp --dport 8080 -j DROP")
    # and the container's address takes nothing from outside its bridge before NAT
    assert raw[0].startswith("-d 10.1.0.2/32 ! -i br-abc -j DROP")
    assert ("raw", "PREROUTING", "-j DOCKYARD-PREROUTING") in firewall.JUMPS
    wide = firewall.port_rules("c" * 64, [PortRule("udp", "0.0.0.0", 53, "10.1.0.2", 53, "br-abc")])
    assert [r.split(" -m comment")[0] for t, c, r in wide if t == "raw"] == [
        "-d 10.1.0.2/32 ! -i br-abc -j DROP"
    ]
    text = firewall.restore_text({"nat": ["-A DOCKYARD x"]}, [("nat", "DOCKYARD")])
    assert text == "*nat\n:DOCKYARD - [0:0]\n-A DOCKYARD x\nCOMMIT\n"


def test_base_changes_and_removal_lines_from_save_output() -> None:
    empty = firewall.parse_save("*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n*nat\nCOMMIT\n")
    chains, lines = firewall.base_changes(empty)
    assert ("filter", "DOCKYARD-FORWARD") in chains and ("nat", "DOCKYARD") in chains
    assert "-I FORWARD 1 -j DOCKYARD-FORWARD" in lines["filter"]
    saved = firewall.parse_save(
        "*nat\n:DOCKYARD - [0:0]\n"
        '-A DOCKYARD -p tcp -m tcp --dport 1 -m comment --comment "dy-ctr:abc" -j DNAT'
        " --to-destination 1.2.3.4:5\n"
        "-A DOCKYARD -p tcp -j RETURN\nCOMMIT\n"
    )
    removal = firewall.removal_lines(saved, "dy-ctr:abc")
    assert removal == {
        "nat": [
            '-D DOCKYARD -p tcp -m tcp --dport 1 -m comment --comment "dy-ctr:abc" -j DNAT'
            " --to-destination 1.2.3.4:5"
        ]
    }
    full = firewall.parse_save(
        "*filter\n"
        + "".join(f":{c} - [0:0]\n" for t, c in firewall.CHAINS if t == "filter")
        + "".join(f"-A {c} {r}\n" for t, c, r in firewall.JUMPS if t == "filter")
        + "COMMIT\n*nat\n"
        + "".join(f":{c} - [0:0]\n" for t, c in firewall.CHAINS if t == "nat")
        + "".join(f"-A {c} {r}\n" for t, c, r in firewall.JUMPS if t == "nat")
        + "COMMIT\n*raw\n"
        + "".join(f":{c} - [0:0]\n" for t, c in firewall.CHAINS if t == "raw")
        + "".join(f"-A {c} {r}\n" for t, c, r in firewall.JUMPS if t == "raw")
        + "COMMIT\n"
    )
    assert firewall.base_changes(full) == ([], {})
