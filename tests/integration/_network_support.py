"""Shared pieces of the networking tests: a dockyard root with its own default bridge
(unique device name and subnet), the network commands, and a leftover check.

Each test's default bridge is named ``dyt<hex>`` (daemon.json ``bridge``) with a
/24 from 10.0.0.0/8 that no host route covers (daemon.json ``bip``), so tests never
share kernel objects with each other or with other dockyard roots on the host.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DOCKYARD, Dockyard, Result

NETWORK_COMMANDS = {
    "network create": "network:cmd_create",
    "network ls": "network:cmd_ls",
    "network inspect": "network:cmd_inspect",
    "network rm": "network:cmd_rm",
    "network prune": "network:cmd_prune",
    "network connect": "network:cmd_connect",
    "network disconnect": "network:cmd_disconnect",
    "port": "network:cmd_port",
}

# Runs the CLI with the network commands registered, for as long as the command
# table (dockyard/cli/main.py) does not list them itself.
_SHIM = (
    "import sys, json\n"
    "from dockyard.cli import main as m\n"
    "for k, v in json.loads(sys.argv[1]).items():\n"
    "    m.COMMANDS.setdefault(k, v)\n"
    "m.GROUPS.add('network')\n"
    "sys.exit(m.main(sys.argv[2:]))\n"
)


def _registered() -> bool:
    from dockyard.cli import main

    return "network create" in main.COMMANDS


def free_subnet() -> ipaddress.IPv4Network:
    from dockyard.network.ipam import host_routes

    routes = host_routes()
    for _ in range(200):
        net = ipaddress.IPv4Network(f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24")
        if not any(net.overlaps(r) for r in routes):
            return net
    raise RuntimeError("no free subnet for the test bridge")


class NetDockyard(Dockyard):
    """A Dockyard whose calls also reach the network commands."""

    def __init__(self, root: Path, run_root: Path) -> None:
        super().__init__(root, run_root)
        self.bridge = "dyt" + secrets.token_hex(4)
        self.subnet = free_subnet()
        (root.parent / "daemon.json").write_text(
            json.dumps({"bridge": self.bridge, "bip": f"{self.subnet[1]}/24"})
        )

    def __call__(
        self, *args: str, input: bytes | None = None, check: bool = True, timeout: float = 120
    ) -> Result:
        if _registered():
            return super().__call__(*args, input=input, check=check, timeout=timeout)
        argv = [sys.executable, "-c", _SHIM, json.dumps(NETWORK_COMMANDS), *args]
        proc = subprocess.run(argv, input=input, capture_output=True, env=self.env, timeout=timeout)
        result = Result(
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )
        if check and result.code != 0:
            raise AssertionError(
                f"dockyard {' '.join(args)} exited {result.code}\n"
                f"stdout: {result.out}\nstderr: {result.err}"
            )
        return result


def links() -> list[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def links_on(bridge: str) -> list[str]:
    out = subprocess.run(
        ["ip", "-o", "link", "show", "master", bridge], capture_output=True, text=True
    ).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def iptables_lines(*needles: str) -> list[str]:
    text = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    return [line for line in text.splitlines() if any(n in line for n in needles)]


def _remove_tagged_rules(tag: str) -> None:
    from dockyard.network.firewall import Firewall

    for tool in ("iptables", "ip6tables"):
        with contextlib.suppress(Exception):
            Firewall(tool).remove(tag)


def _check_rules(tag: str, leftovers: list[str]) -> None:
    rules = iptables_lines(tag) + ip6tables_lines(tag)
    if rules:
        leftovers.append(f"rules: {rules}")
        _remove_tagged_rules(tag)


def stop_helpers(run_root: Path) -> None:
    """Stop the run root's embedded DNS server and port proxy (by their pid files)."""
    for name in ("dnsd.pid", "portd.pid"):
        with contextlib.suppress(OSError, ValueError):
            pid = int((run_root / "network" / name).read_text().strip() or 0)
            if pid > 1:
                os.kill(pid, signal.SIGTERM)


def ip6tables_lines(*needles: str) -> list[str]:
    text = subprocess.run(["ip6tables-save"], capture_output=True, text=True, check=True).stdout
    return [line for line in text.splitlines() if any(n in line for n in needles)]


def cleanup(dy: NetDockyard) -> list[str]:
    """Remove what the test made, then report anything left over."""
    leftovers: list[str] = []
    ids = dy("ps", "-aq", "--no-trunc", check=False).out.split()
    if ids:
        dy("rm", "-f", *ids, check=False)
    nets = dy("network", "ls", "-q", "--no-trunc", "-f", "type=custom", check=False).out.split()
    for net_id in nets:
        dy("network", "rm", net_id, check=False)
    stop_helpers(dy.run_root)
    on_bridge = links_on(dy.bridge)
    if on_bridge:
        leftovers.append(f"links on {dy.bridge}: {on_bridge}")
    netns_dir = dy.run_root / "netns"
    if netns_dir.is_dir() and any(netns_dir.iterdir()):
        leftovers.append(f"namespaces: {sorted(p.name for p in netns_dir.iterdir())}")
        for p in netns_dir.iterdir():
            subprocess.run(["umount", "-l", str(p)], check=False)
    for net_id in nets:
        if f"br-{net_id[:12]}" in links():
            leftovers.append(f"bridge br-{net_id[:12]}")
            subprocess.run(["ip", "link", "del", f"br-{net_id[:12]}"], check=False)
        for tag in (f"dy-net:br-{net_id[:12]}",):
            _check_rules(tag, leftovers)
    for cid in ids:
        _check_rules(f"dy-ctr:{cid[:12]}", leftovers)
    # The default bridge stays, as docker0 does; this test's one goes now.
    _remove_tagged_rules(f"dy-net:{dy.bridge}")
    subprocess.run(["ip", "link", "del", dy.bridge], capture_output=True, check=False)
    return leftovers


@pytest.fixture
def ndy(tmp_path: Path) -> Iterator[NetDockyard]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    d = NetDockyard(tmp_path / "root", tmp_path / "run")
    yield d
    leftovers = cleanup(d)
    from tests.conftest import _unmount_below

    _unmount_below(tmp_path)
    assert not leftovers, leftovers


@pytest.fixture
def nbusybox(ndy: NetDockyard, busybox_tar: Path) -> str:
    return ndy("import", "-c", 'CMD ["sh"]', str(busybox_tar), "busybox:latest").out.strip()


__all__ = [
    "DOCKYARD",
    "NetDockyard",
    "cleanup",
    "ip6tables_lines",
    "iptables_lines",
    "links",
    "links_on",
    "stop_helpers",
]
