"""dockyard's iptables rules: NAT, forwarding, isolation and published ports.

All rules live in dockyard's own chains; the built-in chains only get jumps to
them. Every rule carries a comment tag (``dy-net:<id>`` for a network's rules,
``dy-ctr:<id>`` for a container's published ports), so adding is idempotent (a
tag already present is not added again) and removing needs no bookkeeping: the
tagged lines of ``iptables-save`` are turned into ``-D`` lines and applied in one
``iptables-restore --noflush`` call.

Traffic from other hosts gets in only through the DNAT rules: each bridge drops
what else is forwarded into it, and the raw table (chain ``DOCKYARD-PREROUTING``,
before NAT) drops packets for a publishing container's address that do not come
from its bridge, and packets for a port published on 127.0.0.1 that do not come
from ``lo`` (what dockerd 28 added to 20.10's rules).

IPv6 networks get the same chains in ip6tables (``Firewall("ip6tables")``):
forwarding and isolation always, outbound NAT and DNAT of published ports only
with daemon.json ``ip6tables: true`` (opt-in, as in dockerd 20.10). Connections
to ``::1`` are never DNATed (the kernel cannot); the port proxy carries them.

Rule generation is pure (see the ``*_rules`` functions); :class:`Firewall` applies.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dockyard.errors import SystemFailure

# (table, chain) pairs dockyard owns; the order here is the creation order.
CHAINS: tuple[tuple[str, str], ...] = (
    ("filter", "DOCKYARD-USER"),
    ("filter", "DOCKYARD-FORWARD"),
    ("filter", "DOCKYARD"),
    ("filter", "DOCKYARD-ISOLATION-STAGE-1"),
    ("filter", "DOCKYARD-ISOLATION-STAGE-2"),
    ("nat", "DOCKYARD"),
    ("nat", "DOCKYARD-POSTROUTING"),
    ("raw", "DOCKYARD-PREROUTING"),
)

# Jumps from the built-in chains: (table, chain, rule). Inserted at the top.
JUMPS: tuple[tuple[str, str, str], ...] = (
    ("filter", "FORWARD", "-j DOCKYARD-FORWARD"),
    ("filter", "FORWARD", "-j DOCKYARD-USER"),
    ("filter", "DOCKYARD-FORWARD", "-j DOCKYARD-ISOLATION-STAGE-1"),
    ("nat", "PREROUTING", "-m addrtype --dst-type LOCAL -j DOCKYARD"),
    ("nat", "OUTPUT", "-m addrtype --dst-type LOCAL -j DOCKYARD"),
    ("nat", "POSTROUTING", "-j DOCKYARD-POSTROUTING"),
    ("raw", "PREROUTING", "-j DOCKYARD-PREROUTING"),
)

# ip6tables: the same, but connections to ::1 are left alone (the kernel cannot DNAT
# them to a container; the port proxy carries them), as docker's userland-proxy rule.
JUMPS6: tuple[tuple[str, str, str], ...] = tuple(
    (t, c, "! -d ::1/128 -m addrtype --dst-type LOCAL -j DOCKYARD") if c == "OUTPUT" else (t, c, r)
    for t, c, r in JUMPS
)

Rule = tuple[str, str, str]  # (table, chain, rule text after the chain name)

_INBOUND_DROP = "! -i {br} -o {br} -j DROP"


@dataclass(frozen=True, slots=True)
class BridgeNet:
    """What the rules of one bridge network need."""

    id: str
    bridge: str
    subnet: str
    internal: bool = False
    masquerade: bool = True
    icc: bool = True


@dataclass(frozen=True, slots=True)
class PortRule:
    """One published port: host ``host_ip:host_port`` to ``container_ip:container_port``."""

    proto: str
    host_ip: str
    host_port: int
    container_ip: str
    container_port: int
    bridge: str


def net_tag(bridge: str) -> str:
    """A network's rules are tagged with its bridge device: unique on the host, and
    the same for every dockyard root sharing the default bridge."""
    return f"dy-net:{bridge}"


def ctr_tag(container_id: str) -> str:
    return f"dy-ctr:{container_id[:12]}"


def _tagged(tag: str, rules: Iterable[Rule]) -> list[Rule]:
    return [(t, c, f'{r} -m comment --comment "{tag}"') for t, c, r in rules]


def network_rules(net: BridgeNet) -> list[Rule]:
    """Forwarding, isolation and outbound NAT for one bridge (libnetwork's set)."""
    br, subnet = net.bridge, net.subnet
    rules: list[Rule] = [
        (
            "filter",
            "DOCKYARD-ISOLATION-STAGE-1",
            f"-i {br} ! -o {br} -j DOCKYARD-ISOLATION-STAGE-2",
        ),
        ("filter", "DOCKYARD-ISOLATION-STAGE-2", f"-o {br} -j DROP"),
    ]
    if net.internal:
        rules += [
            ("filter", "DOCKYARD-FORWARD", f"-i {br} ! -o {br} -j DROP"),
            ("filter", "DOCKYARD-FORWARD", f"! -i {br} -o {br} -j DROP"),
        ]
    else:
        rules += [
            (
                "filter",
                "DOCKYARD-FORWARD",
                f"-o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            ),
            ("filter", "DOCKYARD-FORWARD", f"-o {br} -j DOCKYARD"),
            ("filter", "DOCKYARD-FORWARD", f"-i {br} ! -o {br} -j ACCEPT"),
        ]
    rules.append(
        ("filter", "DOCKYARD-FORWARD", f"-i {br} -o {br} -j {'ACCEPT' if net.icc else 'DROP'}")
    )
    if not net.internal:
        # Whatever else comes in for the bridge (a LAN neighbour routing straight to a
        # container's address) is dropped, not left to the FORWARD policy (dockerd 28).
        rules.append(("filter", "DOCKYARD-FORWARD", _INBOUND_DROP.format(br=br)))
    if net.masquerade and not net.internal:
        rules.append(("nat", "DOCKYARD-POSTROUTING", f"-s {subnet} ! -o {br} -j MASQUERADE"))
    # Connections to 127.0.0.1:<published> leave the host with a loopback source;
    # the bridge's route_localnet lets them out and this rewrites the source.
    rules.append(
        ("nat", "DOCKYARD-POSTROUTING", f"-o {br} -m addrtype --src-type LOCAL -j MASQUERADE")
    )
    return _tagged(net_tag(net.bridge), rules)


def network_rules6(net: BridgeNet, nat: bool) -> list[Rule]:
    """The ip6tables rules of an ``--ipv6`` bridge: forwarding and isolation always
    (so IPv6 does not cross networks where the host forwards it), outbound NAT of
    its IPv6 subnet only with daemon.json ``ip6tables`` (``nat``), as dockerd's."""
    rules = [
        rule
        for rule in network_rules(
            BridgeNet(net.id, net.bridge, net.subnet, net.internal, False, net.icc)
        )
        if "--src-type LOCAL" not in rule[2]  # route_localnet has no IPv6 twin
        # without NAT an IPv6 subnet is routed to, as dockerd 20.10's (no ip6tables rules)
        and (nat or net.internal or not rule[2].startswith(_INBOUND_DROP.format(br=net.bridge)))
    ]
    if nat and net.masquerade and not net.internal:
        rules += _tagged(
            net_tag(net.bridge),
            [("nat", "DOCKYARD-POSTROUTING", f"-s {net.subnet} ! -o {net.bridge} -j MASQUERADE")],
        )
    return rules


def _loopback(host_ip: str) -> bool:
    try:
        return ipaddress.ip_address(host_ip).is_loopback
    except ValueError:
        return False


def port_rules(container_id: str, ports: Sequence[PortRule]) -> list[Rule]:
    """DNAT from the host port, accept into the bridge, and hairpin masquerade
    (iptables or ip6tables rules, by the family of the container's address).

    A port published on a loopback address also gets a raw-table DROP for packets
    that arrive from anywhere but ``lo``: the bridge's ``route_localnet`` would
    otherwise let a LAN neighbour's frame for 127.0.0.1, sent to the host's MAC,
    through the DNAT rule (dockerd 28's filterPortMappedOnLoopback). And the
    container's address takes packets only from its bridge before NAT (the DNAT
    rewrites after the raw table): a neighbour routing straight to it does not get
    through the port's ACCEPT rule (dockerd 28's direct-access filter)."""
    rules: list[Rule] = []
    direct: set[str] = set()
    for p in ports:
        v6 = ":" in p.container_ip
        bits = 128 if v6 else 32
        dest = f"-d {p.host_ip}/{bits} " if p.host_ip and p.host_ip not in ("0.0.0.0", "::") else ""
        if p.container_ip not in direct:
            direct.add(p.container_ip)
            rules.append(
                (
                    "raw",
                    "DOCKYARD-PREROUTING",
                    f"-d {p.container_ip}/{bits} ! -i {p.bridge} -j DROP",
                )
            )
        if _loopback(p.host_ip):
            rules.append(
                (
                    "raw",
                    "DOCKYARD-PREROUTING",
                    f"{dest}! -i lo -p {p.proto} -m {p.proto} --dport {p.host_port} -j DROP",
                )
            )
        to = (
            f"[{p.container_ip}]:{p.container_port}"
            if v6
            else f"{p.container_ip}:{p.container_port}"
        )
        rules += [
            (
                "nat",
                "DOCKYARD",
                f"{dest}-p {p.proto} -m {p.proto} --dport {p.host_port}"
                f" -j DNAT --to-destination {to}",
            ),
            (
                "filter",
                "DOCKYARD",
                f"-d {p.container_ip}/{bits} -o {p.bridge} -p {p.proto} -m {p.proto}"
                f" --dport {p.container_port} -j ACCEPT",
            ),
            (
                "nat",
                "DOCKYARD-POSTROUTING",
                f"-s {p.container_ip}/{bits} -d {p.container_ip}/{bits} -p {p.proto} -m {p.proto}"
                f" --dport {p.container_port} -j MASQUERADE",
            ),
        ]
    return _tagged(ctr_tag(container_id), rules)


def restore_text(
    lines_by_table: dict[str, list[str]], chains: Iterable[tuple[str, str]] = ()
) -> str:
    """iptables-restore input for the given lines (``-A``/``-I``/``-D``)."""
    out = []
    declare: dict[str, list[str]] = {}
    for table, chain in chains:
        declare.setdefault(table, []).append(chain)
    for table in sorted(set(lines_by_table) | set(declare)):
        out.append(f"*{table}")
        out.extend(f":{chain} - [0:0]" for chain in declare.get(table, []))
        out.extend(lines_by_table.get(table, []))
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def parse_save(text: str) -> dict[str, tuple[set[str], list[str]]]:
    """iptables-save output → {table: (chains, rule lines)}."""
    tables: dict[str, tuple[set[str], list[str]]] = {}
    current: tuple[set[str], list[str]] | None = None
    for line in text.splitlines():
        if line.startswith("*"):
            current = tables.setdefault(line[1:], (set(), []))
        elif current is None:
            continue
        elif line.startswith(":"):
            current[0].add(line[1:].split()[0])
        elif line.startswith("-A "):
            current[1].append(line)
    return tables


def base_changes(
    saved: dict[str, tuple[set[str], list[str]]],
    jumps: Sequence[tuple[str, str, str]] = JUMPS,
) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """The chains and jumps missing from ``saved``."""
    chains = [(t, c) for t, c in CHAINS if c not in saved.get(t, (set(), []))[0]]
    lines: dict[str, list[str]] = {}
    for table, chain, rule in jumps:
        existing = saved.get(table, (set(), []))[1]
        if f"-A {chain} {rule}" not in existing:
            lines.setdefault(table, []).append(f"-I {chain} 1 {rule}")
    if not any(c == "DOCKYARD-USER" for _, c in chains):
        return chains, lines
    lines.setdefault("filter", []).append("-A DOCKYARD-USER -j RETURN")
    return chains, lines


def removal_lines(saved: dict[str, tuple[set[str], list[str]]], tag: str) -> dict[str, list[str]]:
    """``-D`` lines for every saved rule carrying ``tag``."""
    marker = f'--comment "{tag}"'
    marker_plain = f"--comment {tag}"
    out: dict[str, list[str]] = {}
    for table, (_, rules) in saved.items():
        for line in rules:
            if line.endswith(marker) or marker in line or line.endswith(marker_plain):
                out.setdefault(table, []).append("-D" + line[2:])
    return out


class Firewall:
    """Applies rules with the iptables command line tools."""

    def __init__(self, iptables: str = "iptables") -> None:
        self.save_cmd = f"{iptables}-save"
        self.restore_cmd = f"{iptables}-restore"
        self.jumps = JUMPS6 if iptables == "ip6tables" else JUMPS

    def _save(self) -> dict[str, tuple[set[str], list[str]]]:
        proc = subprocess.run([self.save_cmd], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemFailure(f"{self.save_cmd} failed: {proc.stderr.strip()}")
        return parse_save(proc.stdout)

    def _restore(self, text: str) -> None:
        proc = subprocess.run(
            [self.restore_cmd, "--noflush", "-w"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemFailure(f"{self.restore_cmd} failed: {proc.stderr.strip()}\n{text}")

    def add(self, tag: str, rules: Sequence[Rule]) -> None:
        """Ensure dockyard's chains and jumps, then add ``rules`` unless ``tag`` is present."""
        saved = self._save()
        chains, lines = base_changes(saved, self.jumps)
        marker = f'"{tag}"'
        present = any(
            marker in line or line.endswith(tag) for _, rs in saved.values() for line in rs
        )
        if not present:
            for table, chain, rule in rules:
                lines.setdefault(table, []).append(f"-A {chain} {rule}")
        if chains or lines:
            self._restore(restore_text(lines, chains))

    def remove(self, tag: str) -> None:
        saved = self._save()
        lines = removal_lines(saved, tag)
        if lines:
            self._restore(restore_text(lines))

    def drop_forwarding(self) -> None:
        """FORWARD policy DROP: what dockerd does when it turns forwarding on, so the
        host does not start routing everything else too (dockyard's own chains,
        jumped to from FORWARD, accept the bridges' traffic)."""
        cmd = self.save_cmd.replace("-save", "")
        proc = subprocess.run([cmd, "-w", "-P", "FORWARD", "DROP"], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemFailure(f"{cmd} -P FORWARD DROP failed: {proc.stderr.strip()}")

    def tagged_rules(self, tag: str) -> list[str]:
        saved = self._save()
        return [line for lines in removal_lines(saved, tag).values() for line in lines]
