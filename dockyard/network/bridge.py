"""Bridge devices and veth endpoints through rtnetlink (:mod:`dockyard.network.rtnl`).

A network is a Linux bridge holding the gateway address; an endpoint is a veth
pair with one end on the bridge and the other made straight in the container's
network namespace as ``eth0`` (``eth1``... for further networks), with its MAC,
MTU and address, and, for the first network, the default route.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
from collections.abc import Iterator

from dockyard.network import netns
from dockyard.network.rtnl import IPAddress, IPInterface, Rtnl


@contextlib.contextmanager
def _rtnl(netns_path: str | None = None) -> Iterator[Rtnl]:
    """An rtnetlink socket in the host namespace, or in ``netns_path`` (made by
    entering the namespace on this thread; the socket keeps it)."""
    if netns_path is None:
        sock = Rtnl()
    else:
        with netns.entered(netns_path):
            sock = Rtnl()
    with sock:
        yield sock


def _family(address: IPInterface | IPAddress) -> int:
    return socket.AF_INET if address.version == 4 else socket.AF_INET6


def link_exists(name: str) -> bool:
    with _rtnl() as nl:
        return nl.link(name) is not None


def ipv4_addresses(name: str) -> list[ipaddress.IPv4Interface]:
    """The IPv4 addresses (with prefix) on a host device; [] if there is no such device."""
    with _rtnl() as nl:
        idx = nl.link_index(name)
        if idx is None:
            return []
        return [
            ipaddress.IPv4Interface(f"{a.address}/{a.prefixlen}")
            for a in nl.addresses(idx, socket.AF_INET)
        ]


def ensure_bridge(name: str, gateway: IPInterface, mtu: int = 1500, *more: IPInterface) -> bool:
    """Create (or complete) the bridge ``name`` with ``gateway`` (and ``more``
    addresses) on it, up. Returns True when this call created the device."""
    created = False
    with _rtnl() as nl:
        idx = nl.link_index(name)
        if idx is None:
            try:
                nl.add_bridge(name, mtu)
                created = True
            except OSError as e:
                if e.errno != errno.EEXIST:
                    raise
            idx = nl.link_index(name)
            if idx is None:
                raise OSError(errno.ENODEV, f"bridge {name} vanished after creation")
        have = {a.interface for a in nl.addresses(idx)}
        for address in (gateway, *more):
            if address not in have:
                try:
                    nl.add_address(idx, address)
                except OSError as e:
                    if e.errno != errno.EEXIST:
                        raise
        nl.set_link(idx, up=True)
    return created


def delete_link(name: str) -> None:
    """Delete a host device (bridge or veth); a missing one is fine."""
    with _rtnl() as nl:
        idx = nl.link_index(name)
        if idx is None:
            return
        try:
            nl.delete_link(idx)
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENODEV):
                raise


def add_endpoint(
    *,
    bridge: str,
    netns_path: str,
    host_name: str,
    container_name: str,
    address: IPInterface,
    gateway: IPAddress | None,
    mac: str,
    mtu: int = 1500,
    more: tuple[IPInterface, ...] = (),
    gateway6: ipaddress.IPv6Address | None = None,
) -> None:
    """A veth pair: ``host_name`` on ``bridge``, ``container_name`` in the namespace
    with ``address`` (and ``more``); ``gateway``/``gateway6`` (if given) become the
    default routes."""
    with _rtnl() as nl:
        br = nl.link_index(bridge)
        if br is None:
            raise OSError(errno.ENODEV, f"bridge {bridge} does not exist")
        nl.add_veth(host_name, container_name, netns_path, mtu, peer_mac=mac)
        try:
            idx = nl.link_index(host_name)
            if idx is None:
                raise OSError(errno.ENODEV, f"veth {host_name} vanished after creation")
            nl.set_link(idx, master=br, up=True)
            with _rtnl(netns_path) as ns:
                ns.set_link(1, up=True)  # lo is always index 1 in a namespace
                peer = ns.link_index(container_name)
                if peer is None:
                    raise OSError(errno.ENODEV, f"{container_name} is not in {netns_path}")
                for addr in (address, *more):
                    ns.add_address(peer, addr)
                ns.set_link(peer, up=True)
                if gateway is not None:
                    ns.add_default_route(gateway, peer)
                if gateway6 is not None:
                    ns.add_default_route(gateway6, peer)
        except BaseException:
            with contextlib.suppress(OSError):
                idx = nl.link_index(host_name)
                if idx is not None:
                    nl.delete_link(idx)
            raise


def lo_up(netns_path: str) -> None:
    with _rtnl(netns_path) as ns:
        lo = ns.link_index("lo")
        if lo is not None:
            ns.set_link(lo, up=True)


def container_link_names(netns_path: str) -> list[str]:
    with _rtnl(netns_path) as ns:
        return [link.name for link in ns.links()]


def set_default_route(netns_path: str, gateway: IPAddress, device: str) -> None:
    with _rtnl(netns_path) as ns:
        idx = ns.link_index(device)
        if idx is None:
            raise OSError(errno.ENODEV, f"{device} is not in {netns_path}")
        with contextlib.suppress(OSError):
            ns.delete_default_route(_family(gateway))
        ns.add_default_route(gateway, idx)


def delete_container_link(netns_path: str, name: str) -> None:
    """Delete a container-side veth end (its host peer goes with it)."""
    with _rtnl(netns_path) as ns:
        idx = ns.link_index(name)
        if idx is not None:
            with contextlib.suppress(OSError):
                ns.delete_link(idx)
