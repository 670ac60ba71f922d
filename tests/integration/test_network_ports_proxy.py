"""Published ports held by the port proxy (docker's userland proxy): a host port
stays taken while its container runs and is free after it stops; IPv6 bindings
(``[::1]:P``, and the ``::`` twin of ``-p P:80``) answer through the proxy;
``userland-proxy: false`` turns it off. Also ``--ip6`` on run and ``network
connect``, and the ip6tables rules of IPv6 networks."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration._network_support import (
    NetDockyard,
    ip6tables_lines,
    iptables_lines,
    nbusybox,
    ndy,
)

__all__ = ["nbusybox", "ndy"]

HTTPD = ["httpd", "-f", "-p", "80", "-h", "/etc"]


def _ipv6_host() -> bool:
    return Path("/proc/sys/net/ipv6/conf/all/disable_ipv6").read_text().strip() == "0"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_get(host: str, port: int, timeout: float = 10) -> str:
    """GET /hostname from host:port, retrying until the container's server answers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.socket(family) as s:
                s.settimeout(2)
                s.connect((host, port))
                s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
            if data:
                return data.decode(errors="replace")
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing answered on {host}:{port}")
        time.sleep(0.05)


def _bind_errno(host: str, port: int) -> int:
    """0 when this process can bind host:port for TCP now, else the errno."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            s.listen(1)
        except OSError as exc:
            return exc.errno or -1
    return 0


def _listening(port: int) -> str:
    return subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout


def _inspect(dy: NetDockyard, ref: str) -> dict[str, Any]:
    return json.loads(dy("inspect", ref).out)[0]  # type: ignore[no-any-return]


def _free_subnet6() -> str:
    from dockyard.network.ipam import host_routes6

    routes = host_routes6()
    for _ in range(100):
        net = ipaddress.IPv6Network(
            f"fd{random.randint(0, 255):02x}:{random.randint(0, 65535):x}"
            f":{random.randint(0, 65535):x}::/64"
        )
        if not any(net.overlaps(r) for r in routes):
            return str(net)
    raise RuntimeError("no free IPv6 subnet")


def test_published_port_is_held_until_the_container_stops(ndy: NetDockyard, nbusybox: str) -> None:
    port = _free_port()
    cid = ndy("run", "-d", "-p", f"127.0.0.1:{port}:80", "busybox", *HTTPD).out.strip()
    assert cid[:12] in _http_get("127.0.0.1", port)
    assert _bind_errno("127.0.0.1", port) == errno.EADDRINUSE
    assert f"127.0.0.1:{port}" in _listening(port)
    ndy("stop", "-t", "1", cid)
    assert _bind_errno("127.0.0.1", port) == 0
    ndy("start", cid)
    assert _bind_errno("127.0.0.1", port) == errno.EADDRINUSE
    assert cid[:12] in _http_get("127.0.0.1", port)
    ndy("rm", "-f", cid)
    assert _bind_errno("127.0.0.1", port) == 0
    assert not (ndy.run_root / "network" / "ports" / f"{cid}.json").exists()


def test_port_taken_after_start_by_nobody_else(ndy: NetDockyard, nbusybox: str) -> None:
    """Another container of the same root, and a host program, both find it taken."""
    port = _free_port()
    ndy("run", "-d", "--name", "holder", "-p", f"127.0.0.1:{port}:80", "busybox", *HTTPD)
    r = ndy.fails("run", "-d", "-p", f"127.0.0.1:{port}:80", "busybox", *HTTPD)
    assert f"Bind for 127.0.0.1:{port} failed: port is already allocated" in r.err
    with pytest.raises(OSError) as exc, socket.socket() as s:
        s.bind(("127.0.0.1", port))
    assert exc.value.errno == errno.EADDRINUSE


def test_ipv6_bindings_answer_through_the_proxy(ndy: NetDockyard, nbusybox: str) -> None:
    if not _ipv6_host():
        pytest.skip("IPv6 is disabled on this host")
    loop6, both = _free_port(), _free_port()
    cid = ndy(
        "run", "-d", "--name", "web6", "-p", f"[::1]:{loop6}:80", "-p", f"{both}:80",
        "busybox", *HTTPD,
    ).out.strip()  # fmt: skip
    # the kernel cannot DNAT ::1: this answer comes through the proxy (to the IPv4 address)
    assert cid[:12] in _http_get("::1", loop6)
    assert cid[:12] in _http_get("::1", both)  # the :: twin of 0.0.0.0
    assert cid[:12] in _http_get("127.0.0.1", both)
    assert _bind_errno("::1", loop6) == errno.EADDRINUSE
    ports = _inspect(ndy, cid)["NetworkSettings"]["Ports"]["80/tcp"]
    assert {"HostIp": "::1", "HostPort": str(loop6)} in ports
    assert {"HostIp": "::", "HostPort": str(both)} in ports
    lines = ndy("port", cid).out.splitlines()
    assert f"80/tcp -> [::1]:{loop6}" in lines and f"80/tcp -> [::]:{both}" in lines
    column = ndy("ps", "--format", "{{.Ports}}").out
    assert f"[::1]:{loop6}->80/tcp" in column and f"[::]:{both}->80/tcp" in column
    ndy("rm", "-f", cid)
    assert _bind_errno("::1", loop6) == 0


def test_ipv6_taken_port_gets_dockers_message(ndy: NetDockyard, nbusybox: str) -> None:
    if not _ipv6_host():
        pytest.skip("IPv6 is disabled on this host")
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = ndy.fails("run", "-d", "-p", f"[::1]:{port}:80", "busybox", *HTTPD)
    assert f"listen tcp6 [::1]:{port}: bind: address already in use" in r.err
    cid = _inspect(ndy, ndy("ps", "-aq").out.split()[0])["Id"]
    assert not iptables_lines(f"dy-ctr:{cid[:12]}")
    assert not (ndy.run_root / "network" / "ports" / f"{cid}.json").exists()


def test_userland_proxy_false_turns_the_proxy_off(ndy: NetDockyard, nbusybox: str) -> None:
    config = ndy.root.parent / "daemon.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "userland-proxy": False}))
    port = _free_port()
    cid = ndy("run", "-d", "-p", f"{port}:80", "busybox", *HTTPD).out.strip()
    assert cid[:12] in _http_get("127.0.0.1", port)  # DNAT alone
    ports = _inspect(ndy, cid)["NetworkSettings"]["Ports"]["80/tcp"]
    assert ports == [{"HostIp": "0.0.0.0", "HostPort": str(port)}]
    assert not (ndy.run_root / "network" / "portd.pid").exists()
    assert _bind_errno("127.0.0.1", port) == 0  # nothing holds it (docker's behaviour too)


@contextlib.contextmanager
def _host_ipv6_forwarding_restored() -> Iterator[None]:
    """ip6tables: true turns IPv6 forwarding on (and ip6tables' FORWARD policy to DROP)
    as dockerd does; put the host back as it was."""
    path = Path("/proc/sys/net/ipv6/conf/all/forwarding")
    before = path.read_text().strip()
    policy = "ACCEPT"
    for line in subprocess.run(
        ["ip6tables-save", "-t", "filter"], capture_output=True, text=True, check=True
    ).stdout.splitlines():
        if line.startswith(":FORWARD "):
            policy = line.split()[1]
    try:
        yield
    finally:
        path.write_text(before)
        subprocess.run(["ip6tables", "-w", "-P", "FORWARD", policy], check=False)


def test_ip6_on_run_and_connect_and_ip6tables_rules(ndy: NetDockyard, nbusybox: str) -> None:
    if not _ipv6_host():
        pytest.skip("IPv6 is disabled on this host")
    config = ndy.root.parent / "daemon.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "ip6tables": True}))
    with _host_ipv6_forwarding_restored():
        s1, s2 = _free_subnet6(), _free_subnet6()
        id1 = ndy("network", "create", "--ipv6", "--subnet", s1, "six1").out.strip()
        id2 = ndy("network", "create", "--ipv6", "--subnet", s2, "six2").out.strip()
        tag1 = f"dy-net:br-{id1[:12]}"
        rules = ip6tables_lines(tag1)
        assert any("DOCKYARD-ISOLATION-STAGE-1" in r for r in rules)
        assert any(f"-s {s1} ! -o br-{id1[:12]}" in r and "MASQUERADE" in r for r in rules)
        chosen = str(ipaddress.IPv6Network(s1)[0x99])
        port = _free_port()
        cid = ndy(
            "run", "-d", "--name", "w6", "--network", "six1", "--ip6", chosen,
            "-p", f"{port}:80", "busybox", *HTTPD,
        ).out.strip()  # fmt: skip
        ep = _inspect(ndy, cid)["NetworkSettings"]["Networks"]["six1"]
        assert ep["GlobalIPv6Address"] == chosen
        assert ep["IPAMConfig"]["IPv6Address"] == chosen
        assert f"{chosen}/64" in ndy("exec", "w6", "ip", "-6", "addr", "show", "eth0").out
        members = json.loads(ndy("network", "inspect", "six1").out)[0]["Containers"]
        assert members[cid]["IPv6Address"] == f"{chosen}/64"
        dnat = [r for r in ip6tables_lines(f"dy-ctr:{cid[:12]}") if "DNAT" in r]
        assert dnat and f"[{chosen}]:80" in dnat[0]
        # the :: binding goes to the container's own IPv6 address
        assert cid[:12] in _http_get("::1", port)
        r = ndy.fails("run", "--rm", "--network", "six1", "--ip6", chosen, "busybox", "true")
        assert "Address already in use" in r.err
        outside = str(ipaddress.IPv6Network(s2)[5])
        r = ndy.fails("run", "--rm", "--network", "six1", "--ip6", outside, "busybox", "true")
        assert f"Invalid address {outside}: It does not belong to any of this network's" in r.err
        r = ndy.fails("run", "--rm", "--ip6", chosen, "busybox", "true")
        assert "user specified IP address is supported on user defined networks only" in r.err
        second = str(ipaddress.IPv6Network(s2)[0x77])
        ndy("network", "connect", "--ip6", second, "six2", "w6")
        assert f"{second}/64" in ndy("exec", "w6", "ip", "-6", "addr").out
        out = ndy(
            "run", "--rm", "--network", "six2", "busybox", "nslookup", "-type=aaaa", "w6",
            "127.0.0.11",
        ).out  # fmt: skip
        assert f"Address: {second}" in out
        ndy("rm", "-f", cid)
        assert not ip6tables_lines(f"dy-ctr:{cid[:12]}")
        ndy("network", "rm", "six1", "six2")
        assert not ip6tables_lines(tag1) and not ip6tables_lines(f"dy-net:br-{id2[:12]}")


def test_default_bridge_ipv6_from_daemon_json(ndy: NetDockyard, nbusybox: str) -> None:
    """daemon.json ``ipv6`` + ``fixed-cidr-v6`` (dockerd's flags) give the default
    bridge an IPv6 subnet; ``[::1]`` published ports reach the container's IPv6 address."""
    if not _ipv6_host():
        pytest.skip("IPv6 is disabled on this host")
    cidr6 = _free_subnet6()
    config = ndy.root.parent / "daemon.json"
    config.write_text(
        json.dumps({**json.loads(config.read_text()), "ipv6": True, "fixed-cidr-v6": cidr6})
    )
    info = json.loads(ndy("network", "inspect", "bridge").out)[0]
    assert info["EnableIPv6"] is True
    assert {"Subnet": cidr6} in info["IPAM"]["Config"]  # as dockerd 20.10 shows it
    port = _free_port()
    cid = ndy("run", "-d", "-p", f"[::1]:{port}:80", "busybox", *HTTPD).out.strip()
    settings = _inspect(ndy, cid)["NetworkSettings"]
    endpoint = settings["Networks"]["bridge"]
    v6 = endpoint["GlobalIPv6Address"]
    # dockerd's: the prefix, then the MAC (02:42:0a:xx:xx:xx -> ::242:axx:xxxx)
    mac = int(endpoint["MacAddress"].replace(":", ""), 16)
    assert v6 == str(ipaddress.IPv6Network(cidr6).network_address + mac)
    assert endpoint["IPv6Gateway"] == str(ipaddress.IPv6Network(cidr6)[1])
    assert settings["GlobalIPv6Address"] == v6  # the default bridge's, at the top too
    assert settings["IPv6Gateway"] == endpoint["IPv6Gateway"]
    assert cid[:12] in _http_get("::1", port)
    spec = json.loads((ndy.run_root / "network" / "ports" / f"{cid}.json").read_text())
    assert [p["target_ip"] for p in spec["ports"]] == [v6]
    ndy("rm", "-f", cid)


def test_a_restarted_proxy_holds_the_running_containers_ports_again(
    ndy: NetDockyard, nbusybox: str
) -> None:
    first, second = _free_port(), _free_port()
    ndy("run", "-d", "-p", f"127.0.0.1:{first}:80", "busybox", *HTTPD)
    pid_file = ndy.run_root / "network" / "portd.pid"
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _bind_errno("127.0.0.1", first) != 0:  # gone with the killed proxy
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ndy("run", "-d", "-p", f"127.0.0.1:{second}:80", "busybox", *HTTPD)  # starts a new one
    assert _bind_errno("127.0.0.1", second) == errno.EADDRINUSE
    assert _bind_errno("127.0.0.1", first) == errno.EADDRINUSE  # the port files were bound again


def test_sctp_ports_are_published(ndy: NetDockyard, nbusybox: str) -> None:
    """``-p P:9/sctp``: a DNAT rule, and the proxy holds the port where the kernel has
    SCTP (elsewhere nothing can hold one, and the rule alone carries it)."""
    from dockyard.network.ports import sctp_supported

    port = _free_port()
    cid = ndy("run", "-d", "-p", f"127.0.0.1:{port}:9/sctp", "busybox", "sleep", "300").out
    cid = cid.strip()
    assert ndy("port", cid).out.strip() == f"9/sctp -> 127.0.0.1:{port}"
    dnat = [r for r in iptables_lines(f"dy-ctr:{cid[:12]}") if "DNAT" in r]
    assert len(dnat) == 1 and "-p sctp -m sctp" in dnat[0] and f"--dport {port}" in dnat[0]
    spec_file = ndy.run_root / "network" / "ports" / f"{cid}.json"
    spec = json.loads(spec_file.read_text()) if spec_file.exists() else {"ports": []}
    held = [p for p in spec["ports"] if p["proto"] == "sctp"]
    if sctp_supported():
        assert held == [
            {"proto": "sctp", "host_ip": "127.0.0.1", "host_port": port,
             "target_ip": _inspect(ndy, cid)["NetworkSettings"]["IPAddress"], "target_port": 9}
        ]  # fmt: skip
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP) as s:
            with pytest.raises(OSError) as exc:
                s.bind(("127.0.0.1", port))
            assert exc.value.errno == errno.EADDRINUSE
    else:
        assert held == []
    ndy("rm", "-f", cid)
    assert not iptables_lines(f"dy-ctr:{cid[:12]}")
