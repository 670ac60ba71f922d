"""Default networks: bridge with NAT and published ports on 127.0.0.1, none, host;
and the errors that must leave nothing half-configured."""

from __future__ import annotations

import json
import os
import socket
import time

from tests.integration._network_support import (
    NetDockyard,
    iptables_lines,
    links,
    links_on,
    nbusybox,
    ndy,
)

__all__ = ["nbusybox", "ndy"]

HTTPD = ["httpd", "-f", "-p", "80", "-h", "/etc"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_get(port: int, path: str = "/hostname", timeout: float = 10) -> str:
    """GET from 127.0.0.1:port, retrying until the container's server listens."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
            if data:
                return data.decode(errors="replace")
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing answered on 127.0.0.1:{port}")
        time.sleep(0.05)


def _inspect(dy: NetDockyard, ref: str) -> dict:  # type: ignore[type-arg]
    return json.loads(dy("inspect", ref).out)[0]  # type: ignore[no-any-return]


def test_default_bridge_address_route_and_etc_files(ndy: NetDockyard, nbusybox: str) -> None:
    out = ndy("run", "--rm", "busybox", "sh", "-c", "ip -o -4 addr show eth0; ip route").out
    assert f"{ndy.subnet[2]}/24" in out
    assert f"default via {ndy.subnet[1]} dev eth0" in out
    hosts = ndy("run", "--rm", "busybox", "cat", "/etc/hosts").out
    assert str(ndy.subnet[2]) in hosts or str(ndy.subnet[3]) in hosts
    resolv = ndy("run", "--rm", "busybox", "cat", "/etc/resolv.conf").out
    assert "127.0.0.11" not in resolv


def test_published_port_answers_on_loopback(ndy: NetDockyard, nbusybox: str) -> None:
    port = _free_port()
    cid = ndy("run", "-d", "-p", f"{port}:80", "busybox", *HTTPD).out.strip()
    reply = _http_get(port)
    assert "200 OK" in reply and cid[:12] in reply
    info = _inspect(ndy, cid)
    settings = info["NetworkSettings"]
    # docker publishes an unspecified host address on 0.0.0.0 and :: (the port proxy)
    assert settings["Ports"] == {
        "80/tcp": [
            {"HostIp": "0.0.0.0", "HostPort": str(port)},
            {"HostIp": "::", "HostPort": str(port)},
        ]
    }
    assert settings["IPAddress"].startswith(str(ndy.subnet.network_address)[:-1])
    assert settings["Networks"]["bridge"]["Gateway"] == str(ndy.subnet[1])
    assert settings["MacAddress"].startswith("02:42:")
    assert ndy("port", cid).out == f"80/tcp -> 0.0.0.0:{port}\n80/tcp -> [::]:{port}\n"
    assert ndy("port", cid, "80").out == f"0.0.0.0:{port}\n[::]:{port}\n"
    assert f"0.0.0.0:{port}->80/tcp, [::]:{port}->80/tcp" in ndy("ps").out
    assert iptables_lines(f"dy-ctr:{cid[:12]}")
    ndy("rm", "-f", cid)
    assert not iptables_lines(f"dy-ctr:{cid[:12]}")
    assert not links_on(ndy.bridge)
    assert not any((ndy.run_root / "netns").iterdir())


def test_publish_all_uses_ephemeral_ports(ndy: NetDockyard, nbusybox: str) -> None:
    cid = ndy("run", "-d", "--expose", "80", "-P", "busybox", *HTTPD).out.strip()
    lines = ndy("port", cid, "80/tcp").out.split()
    port = int(lines[0].rsplit(":", 1)[1])
    assert lines == [f"0.0.0.0:{port}", f"[::]:{port}"]  # one ephemeral port for both
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = map(int, f.read().split())
    assert low <= port <= high
    assert "200 OK" in _http_get(port)


def test_taken_port_fails_start_and_leaves_nothing(ndy: NetDockyard, nbusybox: str) -> None:
    port = _free_port()
    ndy("run", "-d", "--name", "first", "-p", f"{port}:80", "busybox", *HTTPD)
    r = ndy.fails("run", "-d", "--name", "second", "-p", f"{port}:80", "busybox", *HTTPD)
    assert f"Bind for 0.0.0.0:{port} failed: port is already allocated" in r.err
    second = _inspect(ndy, "second")
    assert second["State"]["Running"] is False
    assert not iptables_lines(f"dy-ctr:{second['Id'][:12]}")
    assert len(links_on(ndy.bridge)) == 1  # only the first container's
    assert [p.name for p in (ndy.run_root / "netns").iterdir()] == [
        _inspect(ndy, "first")["Id"][:12]
    ]


def test_port_taken_by_host_process_fails(ndy: NetDockyard, nbusybox: str) -> None:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = ndy.fails("run", "-d", "-p", f"{port}:80", "busybox", *HTTPD)
        assert "address already in use" in r.err
    assert not links_on(ndy.bridge)


def test_invalid_publish_and_unknown_network(ndy: NetDockyard, nbusybox: str) -> None:
    r = ndy.fails("run", "--rm", "-p", "80:abc", "busybox", "true")
    assert "invalid" in r.err
    r = ndy.fails("run", "--rm", "--network", "no-such-net", "busybox", "true")
    assert "network no-such-net not found" in r.err
    assert ndy("ps", "-aq").out == ""


def test_network_none_has_only_lo(ndy: NetDockyard, nbusybox: str) -> None:
    out = ndy("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").out
    names = [line.split(":")[1].strip() for line in out.splitlines()]
    assert names == ["lo"]
    assert not links_on(ndy.bridge)


def test_network_host_sees_host_devices(ndy: NetDockyard, nbusybox: str) -> None:
    out = ndy("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link").out
    inside = {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}
    host = set(links())
    assert "lo" in inside
    assert len(inside & host) >= 2  # lo and at least the host's own devices
    # devices of other tests may come and go meanwhile: most of them are still here
    assert any(os.path.exists(f"/sys/class/net/{name}") for name in inside - {"lo"})
