"""Bridge devices and veth endpoints through netlink (pyroute2).

A network is a Linux bridge holding the gateway address; an endpoint is a veth
pair with one end on the bridge and the other moved into the container's network
namespace, renamed ``eth0`` (``eth1``... for further networks), given its
address, MAC and MTU, and, for the first network, the default route.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from dockyard.network import netns

ENOENT = 2
EEXIST = 17
ENODEV = 19


@contextlib.contextmanager
def _rtnl(netns_path: str | None = None) -> Iterator[Any]:
    """An rtnetlink socket in the host namespace, or in ``netns_path`` (made by
    entering the namespace on this thread: no helper process, unlike IPRoute(netns=))."""
    if netns_path is None:
        ipr = IPRoute()
    else:
        with netns.entered(netns_path):
            ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def _index(ipr: Any, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return int(found[0]) if found else None


def link_exists(name: str) -> bool:
    with _rtnl() as ipr:
        return _index(ipr, name) is not None


def ipv4_addresses(name: str) -> list[ipaddress.IPv4Interface]:
    """The IPv4 addresses (with prefix) on a host device; [] if there is no such device."""
    with _rtnl() as ipr:
        idx = _index(ipr, name)
        if idx is None:
            return []
        return [
            ipaddress.IPv4Interface(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}")
            for a in ipr.get_addr(index=idx, family=2)
        ]


def ensure_bridge(name: str, gateway: ipaddress.IPv4Interface, mtu: int = 1500) -> bool:
    """Create (or complete) the bridge ``name`` with ``gateway`` on it, up.
    Returns True when this call created the device."""
    created = False
    with _rtnl() as ipr:
        idx = _index(ipr, name)
        if idx is None:
            try:
                ipr.link("add", ifname=name, kind="bridge", mtu=mtu)
                created = True
            except NetlinkError as e:
                if e.code != EEXIST:
                    raise
            idx = _index(ipr, name)
            assert idx is not None
        have = {
            (a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=idx, family=2)
        }
        if (str(gateway.ip), gateway.network.prefixlen) not in have:
            try:
                ipr.addr(
                    "add",
                    index=idx,
                    address=str(gateway.ip),
                    prefixlen=gateway.network.prefixlen,
                    broadcast=str(gateway.network.broadcast_address),
                )
            except NetlinkError as e:
                if e.code != EEXIST:
                    raise
        ipr.link("set", index=idx, state="up")
    return created


def delete_link(name: str) -> None:
    """Delete a host device (bridge or veth); a missing one is fine."""
    with _rtnl() as ipr:
        idx = _index(ipr, name)
        if idx is None:
            return
        try:
            ipr.link("del", index=idx)
        except NetlinkError as e:
            if e.code not in (ENOENT, ENODEV):
                raise


def add_endpoint(
    *,
    bridge: str,
    netns_path: str,
    host_name: str,
    container_name: str,
    address: ipaddress.IPv4Interface,
    gateway: ipaddress.IPv4Address | None,
    mac: str,
    mtu: int = 1500,
) -> None:
    """A veth pair: ``host_name`` on ``bridge``, ``container_name`` in the namespace
    with ``address``; ``gateway`` (if given) becomes the default route."""
    with _rtnl() as ipr:
        br = _index(ipr, bridge)
        if br is None:
            raise OSError(ENODEV, f"bridge {bridge} does not exist")
        ipr.link(
            "add",
            ifname=host_name,
            kind="veth",
            mtu=mtu,
            peer={"ifname": container_name, "net_ns_fd": netns_path, "mtu": mtu},
        )
        try:
            idx = _index(ipr, host_name)
            ipr.link("set", index=idx, master=br, state="up")
            with _rtnl(netns_path) as nsr:
                lo = _index(nsr, "lo")
                if lo is not None:
                    nsr.link("set", index=lo, state="up")
                peer = _index(nsr, container_name)
                nsr.link("set", index=peer, address=mac)
                nsr.addr(
                    "add",
                    index=peer,
                    address=str(address.ip),
                    prefixlen=address.network.prefixlen,
                    broadcast=str(address.network.broadcast_address),
                )
                nsr.link("set", index=peer, state="up")
                if gateway is not None:
                    nsr.route("add", dst="0.0.0.0/0", gateway=str(gateway), oif=peer)
        except BaseException:
            with contextlib.suppress(NetlinkError):
                ipr.link("del", ifname=host_name)
            raise


def lo_up(netns_path: str) -> None:
    with _rtnl(netns_path) as nsr:
        lo = _index(nsr, "lo")
        if lo is not None:
            nsr.link("set", index=lo, state="up")


def container_link_names(netns_path: str) -> list[str]:
    with _rtnl(netns_path) as nsr:
        return [str(link.get_attr("IFLA_IFNAME")) for link in nsr.get_links()]


def set_default_route(netns_path: str, gateway: ipaddress.IPv4Address, device: str) -> None:
    with _rtnl(netns_path) as nsr:
        idx = _index(nsr, device)
        with contextlib.suppress(NetlinkError):
            nsr.route("del", dst="0.0.0.0/0")
        nsr.route("add", dst="0.0.0.0/0", gateway=str(gateway), oif=idx)


def delete_container_link(netns_path: str, name: str) -> None:
    """Delete a container-side veth end (its host peer goes with it)."""
    with _rtnl(netns_path) as nsr:
        idx = _index(nsr, name)
        if idx is not None:
            with contextlib.suppress(NetlinkError):
                nsr.link("del", index=idx)
