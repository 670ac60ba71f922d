"""IP address management: choosing subnets for new networks and addresses for
endpoints (libnetwork's default IPAM; IPv6 subnets for ``--ipv6`` networks).

Pure functions; the network service keeps allocations in the metadata database
so they survive restarts and two processes never hand out the same address: the
IPv4 one in ``network_endpoints`` (one row per container and network, its
address unique per network), the IPv6 one in the container's
``NetworkSettings.Networks`` entry, written in the same transaction as that row
(writers are serialised by ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import Conflict, InvalidArgument

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address

# Docker's default-address-pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s.
DEFAULT_POOLS: tuple[tuple[str, int], ...] = (
    *((f"172.{n}.0.0/16", 16) for n in range(17, 32)),
    ("192.168.0.0/16", 20),
)


@dataclass(slots=True)
class PoolConfig:
    """One entry of a network's ``IPAM.Config`` (Engine API names)."""

    subnet: IPv4Network
    gateway: IPv4Address
    ip_range: IPv4Network | None = None
    aux_addresses: dict[str, IPv4Address] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Subnet": str(self.subnet), "Gateway": str(self.gateway)}
        if self.ip_range is not None:
            out["IPRange"] = str(self.ip_range)
        if self.aux_addresses:
            out["AuxiliaryAddresses"] = {k: str(v) for k, v in self.aux_addresses.items()}
        return out

    @classmethod
    def from_api(cls, doc: dict[str, Any]) -> PoolConfig:
        subnet = ipaddress.ip_network(doc["Subnet"], strict=False)
        assert isinstance(subnet, IPv4Network)
        return cls(
            subnet=subnet,
            gateway=IPv4Address(doc.get("Gateway") or str(subnet[1])),
            ip_range=IPv4Network(doc["IPRange"]) if doc.get("IPRange") else None,
            aux_addresses={
                k: IPv4Address(v) for k, v in (doc.get("AuxiliaryAddresses") or {}).items()
            },
        )

    def reserved(self) -> set[IPv4Address]:
        return {self.gateway, *self.aux_addresses.values()}


def parse_pools(daemon_pools: Sequence[dict[str, Any]] | None) -> list[tuple[str, int]]:
    """daemon.json ``default-address-pools`` ([{"base": ..., "size": ...}])."""
    if not daemon_pools:
        return list(DEFAULT_POOLS)
    pools = []
    for entry in daemon_pools:
        base = str(entry.get("base") or entry.get("Base") or "")
        size = int(entry.get("size") or entry.get("Size") or 0)
        if ":" in base:
            continue  # an IPv6 pool: parse_pools6
        try:
            net = IPv4Network(base)
        except ValueError:
            raise InvalidArgument(f"invalid base pool {base!r}") from None
        if not net.prefixlen <= size <= 32:
            raise InvalidArgument(f"invalid pools size: {size}")
        pools.append((base, size))
    if not pools:
        return list(DEFAULT_POOLS)
    return pools


def candidate_subnets(pools: Iterable[tuple[str, int]]) -> Iterator[IPv4Network]:
    for base, size in pools:
        yield from IPv4Network(base).subnets(new_prefix=size)


def overlaps(
    net: ipaddress.IPv4Network | ipaddress.IPv6Network,
    others: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> bool:
    return any(net.version == o.version and net.overlaps(o) for o in others)


def choose_subnet(
    pools: Iterable[tuple[str, int]],
    in_use: Iterable[IPv4Network],
    host_routes: Iterable[IPv4Network],
) -> IPv4Network:
    """The first pool subnet that overlaps neither another network nor a host route."""
    taken = [*in_use, *host_routes]
    for candidate in candidate_subnets(pools):
        if not overlaps(candidate, taken):
            return candidate
    raise Conflict(
        "could not find an available, non-overlapping IPv4 address pool among the defaults"
        " to assign to the network"
    )


def host_routes(path: str = "/proc/net/route") -> list[IPv4Network]:
    """The host's IPv4 routes, default route left out (libnetwork's overlap check)."""
    routes = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        dest = IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
        mask = IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
        if int(mask) == 0:
            continue
        routes.append(IPv4Network(f"{dest}/{mask}", strict=False))
    return routes


def _ip(text: str, what: str) -> IPv4Address:
    try:
        return IPv4Address(text)
    except ValueError:
        raise InvalidArgument(f"invalid {what} address: {text}") from None


def pool_from_request(
    subnet: str,
    gateway: str = "",
    ip_range: str = "",
    aux: dict[str, str] | None = None,
) -> PoolConfig:
    """``--subnet``/``--gateway``/``--ip-range``/``--aux-address`` checked as dockerd does."""
    try:
        net = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid CIDR address: {subnet}") from None
    if not isinstance(net, IPv4Network):
        raise InvalidArgument("IPv6 subnets are not supported by dockyard yet")
    if net.prefixlen > 30:
        raise InvalidArgument(f"invalid subnet {subnet}: too small for a bridge network")
    gw = _ip(gateway, "gateway") if gateway else net[1]
    if gw not in net:
        raise InvalidArgument(f"no matching subnet for gateway {gateway}")
    rng = None
    if ip_range:
        try:
            rng = IPv4Network(ip_range, strict=False)
        except ValueError:
            raise InvalidArgument(f"invalid CIDR address: {ip_range}") from None
        if not rng.subnet_of(net):
            raise InvalidArgument(f"no matching subnet for range {ip_range}")
    auxes = {}
    for name, text in (aux or {}).items():
        addr = _ip(text, "aux")
        if addr not in net:
            raise InvalidArgument(f"no matching subnet for aux-address {text}")
        auxes[name] = addr
    return PoolConfig(subnet=net, gateway=gw, ip_range=rng, aux_addresses=auxes)


def pick_address(
    pool: PoolConfig, taken: Iterable[IPv4Address], requested: str = ""
) -> IPv4Address:
    """A free address: ``requested`` if given (it must be in the subnet and free),
    else the lowest free one in the range, never the network, broadcast, gateway or
    an aux address. Raises Conflict when none is left."""
    used = set(taken) | pool.reserved()
    net = pool.subnet
    if requested:
        addr = _ip(requested, "IP")
        if addr not in net:
            raise InvalidArgument(
                f"Invalid address {requested}: It does not belong to any of this network's subnets"
            )
        if addr in used or addr in (net.network_address, net.broadcast_address):
            raise Conflict("Address already in use")
        return addr
    space = pool.ip_range or net
    for addr in space.hosts() if space.prefixlen < 31 else space:
        if addr not in used and addr not in (net.network_address, net.broadcast_address):
            return addr
    raise Conflict("no available IPv4 addresses on this network's address pools")


def mac_for(addr: IPv4Address) -> str:
    """Docker's generated MAC: 02:42 followed by the IPv4 address."""
    return "02:42:" + ":".join(f"{b:02x}" for b in addr.packed)


# ----------------------------------------------------------------- IPv6

IPv6Network = ipaddress.IPv6Network
IPv6Address = ipaddress.IPv6Address


@dataclass(slots=True)
class Pool6:
    """A network's IPv6 ``IPAM.Config`` entry (``--ipv6 --subnet fd..::/64``)."""

    subnet: IPv6Network
    gateway: IPv6Address

    def to_api(self) -> dict[str, Any]:
        return {"Subnet": str(self.subnet), "Gateway": str(self.gateway)}

    @classmethod
    def from_api(cls, doc: dict[str, Any]) -> Pool6:
        subnet = IPv6Network(doc["Subnet"], strict=False)
        return cls(subnet=subnet, gateway=IPv6Address(doc.get("Gateway") or str(subnet[1])))


def is_v6(doc: dict[str, Any]) -> bool:
    """Whether an ``IPAM.Config`` entry is the IPv6 one."""
    return ":" in str(doc.get("Subnet") or "")


def pool6_from_request(subnet: str, gateway: str = "") -> Pool6:
    try:
        net = IPv6Network(subnet, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid CIDR address: {subnet}") from None
    if net.prefixlen > 124:
        raise InvalidArgument(f"invalid subnet {subnet}: too small for a bridge network")
    try:
        gw = IPv6Address(gateway) if gateway else net[1]
    except ValueError:
        raise InvalidArgument(f"invalid gateway address: {gateway}") from None
    if gw not in net:
        raise InvalidArgument(f"no matching subnet for gateway {gateway}")
    return Pool6(subnet=net, gateway=gw)


def pick_address6(
    pool6: Pool6,
    taken: Iterable[IPv6Address],
    requested: str = "",
    preferred: IPv6Address | None = None,
) -> IPv6Address:
    """An endpoint's IPv6 address, allocated as its IPv4 one: ``requested``
    (``--ip6``) if given (in the subnet and free), else ``preferred`` if free, else
    the lowest free address of the subnet, never its first (the subnet-router
    anycast address) nor the gateway. Lowest-free gives containers started in order
    ``::2``, ``::3``, ... as dockerd's IPAM does, and skips an address another
    container chose with ``--ip6``."""
    used = {*taken, pool6.gateway}
    net = pool6.subnet
    if (
        preferred is not None
        and not requested
        and preferred in net
        and preferred not in used
        and preferred != net.network_address
    ):
        return preferred
    if requested:
        try:
            addr = IPv6Address(requested)
        except ValueError:
            raise InvalidArgument(f"invalid IPv6 address: {requested}") from None
        if addr not in net:
            raise InvalidArgument(
                f"Invalid address {requested}: It does not belong to any of this network's subnets"
            )
        if addr in used or addr == net.network_address:
            raise Conflict("Address already in use")
        return addr
    # Only len(used) + 1 candidates can be taken, so this loop is short on any subnet.
    for offset in range(1, min(net.num_addresses, len(used) + 2)):
        candidate = net.network_address + offset
        if candidate not in used:
            return candidate
    raise Conflict("no available IPv6 addresses on this network's address pools")


def address6_from_mac(pool6: Pool6, mac: str) -> IPv6Address | None:
    """dockerd's address on the default bridge with ``fixed-cidr-v6``: the subnet's
    prefix followed by the endpoint's MAC (``02:42:ac:11:00:02`` gives
    ``…::242:ac11:2``); None when the subnet leaves fewer than 48 host bits."""
    if pool6.subnet.prefixlen > 80:
        return None
    try:
        raw = bytes.fromhex(mac.replace(":", ""))
    except ValueError:
        return None
    if len(raw) != 6:
        return None
    return IPv6Address(int(pool6.subnet.network_address) | int.from_bytes(raw, "big"))


def ula_pool(engine_id: str) -> tuple[str, int]:
    """Docker's default IPv6 pool (moby's DeriveULABaseNetwork): a ULA /48 whose
    40-bit Global ID comes from the engine's ID, split into /64s."""
    import hashlib

    digest = hashlib.sha256(engine_id.encode()).digest()
    gid = int.from_bytes(digest[:8], "big") & ((1 << 40) - 1)
    base = IPv6Address(int(IPv6Address("fd00::")) + (gid << 80))
    return f"{base}/48", 64


def parse_pools6(daemon_pools: Sequence[dict[str, Any]] | None) -> list[tuple[str, int]]:
    """The IPv6 entries of daemon.json ``default-address-pools``."""
    pools = []
    for entry in daemon_pools or []:
        base = str(entry.get("base") or entry.get("Base") or "")
        size = int(entry.get("size") or entry.get("Size") or 0)
        if ":" not in base:
            continue
        try:
            net = IPv6Network(base)
        except ValueError:
            raise InvalidArgument(f"invalid base pool {base!r}") from None
        if not net.prefixlen <= size <= 124:
            raise InvalidArgument(f"invalid pools size: {size}")
        pools.append((base, size))
    return pools


def choose_subnet6(
    pools: Iterable[tuple[str, int]],
    in_use: Iterable[IPv6Network],
    host_routes: Iterable[IPv6Network],
) -> IPv6Network:
    """The first IPv6 pool subnet that overlaps neither another network nor a route."""
    taken = [*in_use, *host_routes]
    for base, size in pools:
        for candidate in IPv6Network(base).subnets(new_prefix=size):
            if not overlaps(candidate, taken):
                return candidate
    raise Conflict(
        "could not find an available, non-overlapping IPv6 address pool among the defaults"
        " to assign to the network"
    )


def host_routes6(path: str = "/proc/net/ipv6_route") -> list[IPv6Network]:
    """The host's IPv6 routes, default, host (/128) and link-local/multicast ones left out."""
    routes = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        prefix = int(fields[1], 16)
        if prefix == 0 or prefix == 128:
            continue
        net = IPv6Network((IPv6Address(bytes.fromhex(fields[0])), prefix), strict=False)
        if net.is_link_local or net.is_multicast:
            continue
        routes.append(net)
    return routes
