"""A small rtnetlink client: links, addresses and routes through a NETLINK_ROUTE socket.

Hand-written in place of pyroute2, whose import alone costs more than the netlink
work of a container start. Messages are packed with :mod:`struct`; the encoders
and the decoder are pure functions, so they are unit-tested without root.

A socket works in the network namespace it was made in: make it inside
:func:`dockyard.network.netns.entered` to work in a container's namespace.
Kernel errors come back as ``OSError(errno)``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

NETLINK_ROUTE = 0

# message types
NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
RTM_NEWROUTE = 24
RTM_DELROUTE = 25

# nlmsghdr flags
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400

# link attributes
IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_MASTER = 10
IFLA_LINKINFO = 18
IFLA_NET_NS_FD = 28
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
VETH_INFO_PEER = 1
IFF_UP = 0x1

# address attributes and flags
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_BROADCAST = 4
IFA_F_NODAD = 0x02

# route attributes and values
RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_NOWHERE = 255
RTN_UNICAST = 1

NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst/src len, tos, table, proto, scope, type, flags
RTATTR = struct.Struct("=HH")  # len, type
_ERRNO = struct.Struct("=i")
_U32 = struct.Struct("=I")

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _align(n: int) -> int:
    return (n + 3) & ~3


# ----------------------------------------------------------------- encoding


def attr(kind: int, payload: bytes) -> bytes:
    """One rtattr, padded to 4 bytes."""
    length = RTATTR.size + len(payload)
    return RTATTR.pack(length, kind) + payload + b"\0" * (_align(length) - length)


def attr_u32(kind: int, value: int) -> bytes:
    return attr(kind, _U32.pack(value))


def attr_str(kind: int, text: str) -> bytes:
    return attr(kind, text.encode() + b"\0")


def message(msg_type: int, flags: int, seq: int, body: bytes) -> bytes:
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), msg_type, flags, seq, 0) + body


def ifinfomsg(index: int = 0, flags: int = 0, change: int = 0, family: int = 0) -> bytes:
    return IFINFOMSG.pack(family, 0, index, flags, change)


def mac_bytes(mac: str) -> bytes:
    parts = mac.split(":")
    if len(parts) != 6:
        raise ValueError(f"invalid MAC address: {mac}")
    return bytes(int(p, 16) for p in parts)


def new_bridge(name: str, mtu: int) -> bytes:
    """The body of RTM_NEWLINK making bridge ``name``."""
    return (
        ifinfomsg()
        + attr_str(IFLA_IFNAME, name)
        + attr_u32(IFLA_MTU, mtu)
        + attr(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, "bridge"))
    )


def new_veth(name: str, peer: str, mtu: int, peer_netns_fd: int, peer_mac: str | None) -> bytes:
    """The body of RTM_NEWLINK making veth ``name`` whose peer is made straight in
    the namespace ``peer_netns_fd`` (no move afterwards)."""
    peer_attrs = (
        attr_str(IFLA_IFNAME, peer)
        + attr_u32(IFLA_MTU, mtu)
        + attr_u32(IFLA_NET_NS_FD, peer_netns_fd)
    )
    if peer_mac:
        peer_attrs += attr(IFLA_ADDRESS, mac_bytes(peer_mac))
    info = attr_str(IFLA_INFO_KIND, "veth") + attr(
        IFLA_INFO_DATA, attr(VETH_INFO_PEER, ifinfomsg() + peer_attrs)
    )
    return (
        ifinfomsg()
        + attr_str(IFLA_IFNAME, name)
        + attr_u32(IFLA_MTU, mtu)
        + attr(IFLA_LINKINFO, info)
    )


def set_link(
    index: int,
    *,
    up: bool | None = None,
    master: int | None = None,
    mac: str | None = None,
    mtu: int | None = None,
) -> bytes:
    """The body of RTM_NEWLINK changing an existing link (only what is given)."""
    body = ifinfomsg(index, IFF_UP if up else 0, IFF_UP if up is not None else 0)
    if master is not None:
        body += attr_u32(IFLA_MASTER, master)
    if mac is not None:
        body += attr(IFLA_ADDRESS, mac_bytes(mac))
    if mtu is not None:
        body += attr_u32(IFLA_MTU, mtu)
    return body


def new_address(index: int, address: IPInterface) -> bytes:
    """The body of RTM_NEWADDR: IFA_LOCAL and IFA_ADDRESS (and IFA_BROADCAST for IPv4).
    IPv6 addresses skip duplicate address detection, so they work at once."""
    packed = address.ip.packed
    if address.version == 4:
        head = IFADDRMSG.pack(socket.AF_INET, address.network.prefixlen, 0, 0, index)
        tail = attr(IFA_BROADCAST, address.network.broadcast_address.packed)
    else:
        head = IFADDRMSG.pack(socket.AF_INET6, address.network.prefixlen, IFA_F_NODAD, 0, index)
        tail = b""
    return head + attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed) + tail


def default_route(gateway: IPAddress, oif: int) -> bytes:
    """The body of RTM_NEWROUTE: the default route via ``gateway`` out of ``oif``."""
    family = socket.AF_INET if gateway.version == 4 else socket.AF_INET6
    return (
        RTMSG.pack(family, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
        + attr(RTA_GATEWAY, gateway.packed)
        + attr_u32(RTA_OIF, oif)
    )


def any_default_route(family: int) -> bytes:
    """The body of RTM_DELROUTE matching the main table's default route (any gateway)."""
    return RTMSG.pack(family, 0, 0, 0, RT_TABLE_MAIN, 0, RT_SCOPE_NOWHERE, 0, 0)


# ----------------------------------------------------------------- decoding


@dataclass
class Message:
    type: int
    flags: int
    seq: int
    payload: bytes


@dataclass
class Link:
    index: int
    name: str
    flags: int
    master: int = 0
    mtu: int = 0
    attrs: dict[int, bytes] = field(default_factory=dict, repr=False)


@dataclass
class Address:
    index: int
    family: int
    prefixlen: int
    address: str

    @property
    def interface(self) -> IPInterface:
        return ipaddress.ip_interface(f"{self.address}/{self.prefixlen}")


def parse_messages(data: bytes) -> list[Message]:
    """Split a datagram into netlink messages."""
    out = []
    offset = 0
    while offset + NLMSGHDR.size <= len(data):
        length, msg_type, flags, seq, _pid = NLMSGHDR.unpack_from(data, offset)
        if length < NLMSGHDR.size or offset + length > len(data):
            raise ValueError(f"truncated netlink message (length {length})")
        out.append(Message(msg_type, flags, seq, data[offset + NLMSGHDR.size : offset + length]))
        offset += _align(length)
    return out


def parse_attrs(data: bytes) -> dict[int, bytes]:
    """rtattrs into {type: payload} (nested flags masked off; the last one wins)."""
    out: dict[int, bytes] = {}
    offset = 0
    while offset + RTATTR.size <= len(data):
        length, kind = RTATTR.unpack_from(data, offset)
        if length < RTATTR.size or offset + length > len(data):
            raise ValueError(f"truncated rtattr (length {length})")
        out[kind & 0x3FFF] = data[offset + RTATTR.size : offset + length]
        offset += _align(length)
    return out


def error_code(payload: bytes) -> int:
    """The errno of an NLMSG_ERROR (0 for an acknowledgement)."""
    return -int(_ERRNO.unpack_from(payload)[0])


def _u32(attrs: dict[int, bytes], kind: int) -> int:
    return int(_U32.unpack(attrs[kind][:4])[0]) if kind in attrs else 0


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def parse_link(payload: bytes) -> Link:
    _family, _type, index, flags, _change = IFINFOMSG.unpack_from(payload)
    attrs = parse_attrs(payload[IFINFOMSG.size :])
    return Link(
        index,
        _cstr(attrs.get(IFLA_IFNAME, b"")),
        flags,
        _u32(attrs, IFLA_MASTER),
        _u32(attrs, IFLA_MTU),
        attrs,
    )


def parse_address(payload: bytes) -> Address:
    family, prefixlen, _flags, _scope, index = IFADDRMSG.unpack_from(payload)
    attrs = parse_attrs(payload[IFADDRMSG.size :])
    raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS) or b""
    return Address(index, family, prefixlen, str(ipaddress.ip_address(raw)) if raw else "")


# ----------------------------------------------------------------- the socket


class Rtnl:
    """An rtnetlink socket in the calling thread's network namespace."""

    def __init__(self) -> None:
        self.sock = socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE
        )
        self.sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, msg_type: int, flags: int, body: bytes) -> int:
        self._seq += 1
        self.sock.send(message(msg_type, flags | NLM_F_REQUEST, self._seq, body))
        return self._seq

    def _replies(self, seq: int, what: str) -> Iterable[Message]:
        """Messages answering ``seq`` until NLMSG_DONE, an ACK or an error (raised)."""
        while True:
            data = self.sock.recv(1 << 16)
            for msg in parse_messages(data):
                if msg.seq != seq:
                    continue
                if msg.type == NLMSG_ERROR:
                    code = error_code(msg.payload)
                    if code:
                        raise OSError(code, f"{os.strerror(code)} ({what})")
                    return
                if msg.type == NLMSG_DONE:
                    return
                if msg.type == NLMSG_NOOP:
                    continue
                yield msg
                if not msg.flags & NLM_F_MULTI:
                    return

    def request(self, msg_type: int, body: bytes, flags: int = 0, what: str = "") -> None:
        """Send a change and wait for the kernel's acknowledgement."""
        seq = self._send(msg_type, flags | NLM_F_ACK, body)
        for _ in self._replies(seq, what or f"rtnetlink message {msg_type}"):
            pass

    def query(self, msg_type: int, body: bytes, flags: int = 0, what: str = "") -> list[Message]:
        seq = self._send(msg_type, flags, body)
        return list(self._replies(seq, what or f"rtnetlink message {msg_type}"))

    # links

    def link(self, name: str) -> Link | None:
        try:
            replies = self.query(
                RTM_GETLINK, ifinfomsg() + attr_str(IFLA_IFNAME, name), what=f"get link {name}"
            )
        except OSError as exc:
            if exc.errno == 19:  # ENODEV
                return None
            raise
        return parse_link(replies[0].payload) if replies else None

    def link_index(self, name: str) -> int | None:
        found = self.link(name)
        return found.index if found else None

    def links(self) -> list[Link]:
        return [
            parse_link(m.payload)
            for m in self.query(RTM_GETLINK, ifinfomsg(), NLM_F_DUMP, "list links")
            if m.type == RTM_NEWLINK
        ]

    def add_bridge(self, name: str, mtu: int = 1500) -> None:
        self.request(
            RTM_NEWLINK,
            new_bridge(name, mtu),
            NLM_F_CREATE | NLM_F_EXCL,
            f"create bridge {name}",
        )

    def add_veth(
        self, name: str, peer: str, peer_netns: str, mtu: int = 1500, peer_mac: str | None = None
    ) -> None:
        """A veth pair ``name`` (here) / ``peer`` (made in the namespace file ``peer_netns``)."""
        fd = os.open(peer_netns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self.request(
                RTM_NEWLINK,
                new_veth(name, peer, mtu, fd, peer_mac),
                NLM_F_CREATE | NLM_F_EXCL,
                f"create veth {name}",
            )
        finally:
            os.close(fd)

    def set_link(
        self,
        index: int,
        *,
        up: bool | None = None,
        master: int | None = None,
        mac: str | None = None,
        mtu: int | None = None,
    ) -> None:
        self.request(
            RTM_NEWLINK,
            set_link(index, up=up, master=master, mac=mac, mtu=mtu),
            what=f"set link {index}",
        )

    def delete_link(self, index: int) -> None:
        self.request(RTM_DELLINK, ifinfomsg(index), what=f"delete link {index}")

    # addresses

    def addresses(self, index: int | None = None, family: int = 0) -> list[Address]:
        found = [
            parse_address(m.payload)
            for m in self.query(
                RTM_GETADDR, IFADDRMSG.pack(family, 0, 0, 0, 0), NLM_F_DUMP, "list addresses"
            )
            if m.type == RTM_NEWADDR
        ]
        return [
            a
            for a in found
            if (index is None or a.index == index) and (not family or a.family == family)
        ]

    def add_address(self, index: int, address: IPInterface) -> None:
        self.request(
            RTM_NEWADDR,
            new_address(index, address),
            NLM_F_CREATE | NLM_F_EXCL,
            f"add address {address}",
        )

    # routes

    def add_default_route(self, gateway: IPAddress, oif: int) -> None:
        self.request(
            RTM_NEWROUTE,
            default_route(gateway, oif),
            NLM_F_CREATE | NLM_F_EXCL,
            f"add default route via {gateway}",
        )

    def delete_default_route(self, family: int = socket.AF_INET) -> None:
        self.request(RTM_DELROUTE, any_default_route(family), what="delete default route")
