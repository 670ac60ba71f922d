"""The port proxy's pieces on loopback (no containers): holding ports, relaying TCP
and UDP, docker-proxy's messages; and the IPv6 publishing helpers and rules."""

from __future__ import annotations

import errno
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.network import firewall, ports
from dockyard.network.portproxy import PortError, Proxy


def _free_port(family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(family, kind) as s:
        s.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[Proxy, Path]]:
    """A Proxy whose main loop runs in a thread; its "namespace" is a plain file."""
    run_root = tmp_path / "run"
    (run_root / "network" / "ports").mkdir(parents=True)
    netns = tmp_path / "netns"
    netns.write_text("")
    p = Proxy(str(run_root))
    control_a, control_b = socket.socketpair()
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            for key, _ in p.sel.select(timeout=0.05):
                kind, obj = key.data
                if kind == "tcp":
                    p.on_tcp(*obj)
                elif kind == "udp":
                    p.on_udp(*obj)
                elif kind == "flow":
                    p.on_flow(obj[1])

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield p, netns
    finally:
        stop.set()
        thread.join(5)
        for cid in list(p.held):
            p.unpublish(cid)
        control_a.close()
        control_b.close()


def _spec(p: Proxy, cid: str, netns: Path, entries: list[dict[str, object]]) -> None:
    Path(p.spec_dir, f"{cid}.json").write_text(json.dumps({"netns": str(netns), "ports": entries}))


def test_tcp_held_and_relayed_over_ipv6_to_an_ipv4_target(proxy: tuple[Proxy, Path]) -> None:
    p, netns = proxy
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        target = server.getsockname()[1]
        port = _free_port(socket.AF_INET6)
        _spec(p, "c1", netns, [_entry("tcp", "::1", port, "127.0.0.1", target)])
        p.publish("c1")
        with pytest.raises(OSError) as exc, socket.socket(socket.AF_INET6) as other:
            other.bind(("::1", port))
        assert exc.value.errno == errno.EADDRINUSE
        with socket.create_connection(("::1", port), timeout=5) as client:
            conn, _ = server.accept()
            with conn:
                client.sendall(b"ping")
                assert conn.recv(4) == b"ping"
                conn.sendall(b"pong")
                assert client.recv(4) == b"pong"
                conn.shutdown(socket.SHUT_WR)
                assert client.recv(1) == b""
    p.unpublish("c1")
    with socket.socket(socket.AF_INET6) as again:  # free once the container is gone
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the relayed one's TIME_WAIT
        again.bind(("::1", port))


def test_udp_relayed_both_ways(proxy: tuple[Proxy, Path]) -> None:
    p, netns = proxy
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as echo:
        echo.bind(("127.0.0.1", 0))
        echo.settimeout(5)
        port = _free_port(kind=socket.SOCK_DGRAM)
        _spec(
            p, "c2", netns, [_entry("udp", "127.0.0.1", port, "127.0.0.1", echo.getsockname()[1])]
        )
        p.publish("c2")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(b"hello", ("127.0.0.1", port))
            data, back = echo.recvfrom(100)
            assert data == b"hello"
            echo.sendto(b"world", back)
            assert client.recvfrom(100)[0] == b"world"


def test_all_or_nothing_with_docker_proxy_message(proxy: tuple[Proxy, Path]) -> None:
    p, netns = proxy
    free = _free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = taken.getsockname()[1]
        _spec(
            p,
            "c3",
            netns,
            [
                _entry("tcp", "127.0.0.1", free, "127.0.0.1", 1),
                _entry("tcp", "127.0.0.1", busy, "127.0.0.1", 1),
            ],
        )
        with pytest.raises(PortError) as exc:
            p.publish("c3")
    assert str(exc.value) == (
        f"Error starting userland proxy: listen tcp4 127.0.0.1:{busy}: bind: address already in use"
    )
    assert "c3" not in p.held
    with socket.socket() as s:
        s.bind(("127.0.0.1", free))  # the first one was let go again


def test_sweep_drops_containers_whose_namespace_is_gone(proxy: tuple[Proxy, Path]) -> None:
    p, netns = proxy
    port = _free_port()
    _spec(p, "c4", netns, [_entry("tcp", "127.0.0.1", port, "127.0.0.1", 1)])
    p.publish("c4")
    netns.unlink()
    p.sweep()
    assert "c4" not in p.held
    deadline = time.monotonic() + 2
    while True:
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_sctp_held_and_relayed(proxy: tuple[Proxy, Path]) -> None:
    if not ports.sctp_supported():
        pytest.skip("this kernel has no SCTP")
    p, netns = proxy
    sctp = socket.IPPROTO_SCTP
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, sctp) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = _free_port()
        _spec(
            p,
            "s1",
            netns,
            [_entry("sctp", "127.0.0.1", port, "127.0.0.1", server.getsockname()[1])],
        )
        p.publish("s1")
        assert not ports.host_port_free("sctp", "127.0.0.1", port)  # held
        assert ports.host_port_free("tcp", "127.0.0.1", port)  # another protocol's number
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM, sctp) as client:
            client.settimeout(5)
            client.connect(("127.0.0.1", port))
            conn, _ = server.accept()
            with conn:
                client.sendall(b"ping")
                assert conn.recv(4) == b"ping"
                conn.sendall(b"pong")
                assert client.recv(4) == b"pong"
    p.unpublish("s1")
    assert ports.host_port_free("sctp", "127.0.0.1", port)


def test_sctp_ports_on_a_kernel_without_sctp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing can hold an SCTP port there: its number is chosen and checked as TCP's."""
    monkeypatch.setattr(ports, "_SCTP", [False])
    assert 0 < ports.ephemeral_port("sctp", "") < 65536
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        assert not ports.host_port_free("sctp", "127.0.0.1", taken.getsockname()[1])
    assert ports.sctp_supported() is False


def _entry(proto: str, host_ip: str, host_port: int, target_ip: str, target_port: int) -> dict:  # type: ignore[type-arg]
    return {
        "proto": proto,
        "host_ip": host_ip,
        "host_port": host_port,
        "target_ip": target_ip,
        "target_port": target_port,
    }


def test_ipv6_port_helpers() -> None:
    assert ports.join_host_port("::", 80) == "[::]:80"
    assert ports.join_host_port("0.0.0.0", 80) == "0.0.0.0:80"
    assert ports.allocated_message("::1", 8080) == (
        "Bind for [::1]:8080 failed: port is already allocated"
    )
    # 0.0.0.0 and :: are separate (IPv6-only) bindings, as docker-proxy's
    taken = [("tcp", "0.0.0.0", 8080)]
    assert ports.conflicts(("tcp", "127.0.0.1", 8080), taken)
    assert not ports.conflicts(("tcp", "::", 8080), taken)
    assert ports.conflicts(("tcp", "::1", 8080), [("tcp", "::", 8080)])
    column = ports.format_ports(
        {
            "80/tcp": [
                {"HostIp": "0.0.0.0", "HostPort": "8080"},
                {"HostIp": "::", "HostPort": "8080"},
            ],
            "81/tcp": [{"HostIp": "::1", "HostPort": "8081"}],
        }
    )
    assert column == "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, [::1]:8081->81/tcp"


def test_ip6tables_rules() -> None:
    rules = firewall.port_rules(
        "c" * 64, [firewall.PortRule("tcp", "fd00:1::5", 8080, "fd00:2::2", 80, "br-x")]
    )
    dnat = next(r for t, c, r in rules if "DNAT" in r)
    assert dnat.startswith("-d fd00:1::5/128 -p tcp -m tcp --dport 8080 -j DNAT")
    assert "--to-destination [fd00:2::2]:80" in dnat
    assert any("-d fd00:2::2/128 -o br-x" in r for _, _, r in rules)
    net = firewall.BridgeNet("id", "br-x", "fd00:2::/64")
    plain = firewall.network_rules6(net, nat=False)
    assert not any("MASQUERADE" in r for _, _, r in plain)
    assert not any("! -i br-x -o br-x -j DROP" in r for _, _, r in plain)  # routed
    assert any("! -i br-x -o br-x -j DROP" in r for _, _, r in firewall.network_rules6(net, True))
    assert any("DOCKYARD-ISOLATION-STAGE-2" in r for _, _, r in plain)
    nat = firewall.network_rules6(net, nat=True)
    assert [r for _, _, r in nat if "MASQUERADE" in r] == [
        '-s fd00:2::/64 ! -o br-x -j MASQUERADE -m comment --comment "dy-net:br-x"'
    ]
    assert ("nat", "OUTPUT", "! -d ::1/128 -m addrtype --dst-type LOCAL -j DOCKYARD") in (
        firewall.JUMPS6
    )


def test_default_ipv6_pool_is_a_ula_48_from_the_engine_id() -> None:
    import hashlib
    import ipaddress

    from dockyard.network import ipam

    base, size = ipam.ula_pool("engine-one")
    net = ipaddress.IPv6Network(base)
    assert size == 64 and net.prefixlen == 48 and str(net).startswith("fd")
    gid = int.from_bytes(hashlib.sha256(b"engine-one").digest()[:8], "big") & (2**40 - 1)
    assert (int(net.network_address) >> 80) & (2**40 - 1) == gid
    assert ipam.ula_pool("engine-two") != (base, size)
    first = ipam.choose_subnet6([(base, size)], [], [])
    assert first == next(net.subnets(new_prefix=64))
    second = ipam.choose_subnet6([(base, size)], [first], [])
    assert second != first and second.subnet_of(net)
    pools = [{"base": "10.0.0.0/8", "size": 24}, {"base": "fd12:3456::/48", "size": 64}]
    assert ipam.parse_pools6(pools) == [("fd12:3456::/48", 64)]
    assert ipam.parse_pools(pools) == [("10.0.0.0/8", 24)]
