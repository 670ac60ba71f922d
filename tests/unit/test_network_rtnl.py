"""The hand-written rtnetlink client: message encoding and decoding (pure), the
request/reply loop against a scripted socket, and read-only queries (no root)."""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct

import pytest

from dockyard.network import rtnl


def test_attr_pads_to_four_bytes() -> None:
    assert rtnl.attr(3, b"eth0\0") == b"\x09\x00\x03\x00eth0\x00\x00\x00\x00"
    assert rtnl.attr_u32(4, 1500) == b"\x08\x00\x04\x00\xdc\x05\x00\x00"
    assert rtnl.attr(1, b"") == b"\x04\x00\x01\x00"


def test_new_bridge_message_bytes() -> None:
    data = rtnl.message(
        rtnl.RTM_NEWLINK,
        rtnl.NLM_F_REQUEST | rtnl.NLM_F_ACK | rtnl.NLM_F_CREATE | rtnl.NLM_F_EXCL,
        7,
        rtnl.new_bridge("br0", 1500),
    )
    expected = (
        # nlmsghdr: len 64, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE, seq 7, pid 0
        b"\x40\x00\x00\x00"
        + b"\x10\x00"
        + b"\x05\x06"
        + b"\x07\x00\x00\x00"
        + b"\x00" * 4
        # ifinfomsg: all zero
        + b"\x00" * 16
        # IFLA_IFNAME "br0\0"
        + b"\x08\x00\x03\x00br0\x00"
        # IFLA_MTU 1500
        + b"\x08\x00\x04\x00\xdc\x05\x00\x00"
        # IFLA_LINKINFO { IFLA_INFO_KIND "bridge\0" (11, padded to 12) }
        + b"\x10\x00\x12\x00"
        + b"\x0b\x00\x01\x00bridge\x00\x00"
    )
    assert data == expected


def test_new_veth_puts_the_peer_in_the_namespace() -> None:
    body = rtnl.new_veth("vethabc", "eth0", 1400, 42, "02:42:ac:11:00:02")
    top = rtnl.parse_attrs(body[rtnl.IFINFOMSG.size :])
    assert top[rtnl.IFLA_IFNAME] == b"vethabc\0"
    assert struct.unpack("=I", top[rtnl.IFLA_MTU])[0] == 1400
    info = rtnl.parse_attrs(top[rtnl.IFLA_LINKINFO])
    assert info[rtnl.IFLA_INFO_KIND] == b"veth\0"
    peer = rtnl.parse_attrs(info[rtnl.IFLA_INFO_DATA])[rtnl.VETH_INFO_PEER]
    assert peer[: rtnl.IFINFOMSG.size] == b"\0" * 16
    peer_attrs = rtnl.parse_attrs(peer[rtnl.IFINFOMSG.size :])
    assert peer_attrs[rtnl.IFLA_IFNAME] == b"eth0\0"
    assert struct.unpack("=I", peer_attrs[rtnl.IFLA_NET_NS_FD])[0] == 42
    assert struct.unpack("=I", peer_attrs[rtnl.IFLA_MTU])[0] == 1400
    assert peer_attrs[rtnl.IFLA_ADDRESS] == bytes([2, 0x42, 0xAC, 0x11, 0, 2])


def test_set_link_only_changes_what_is_given() -> None:
    body = rtnl.set_link(5, up=True, master=3)
    _, _, index, flags, change = rtnl.IFINFOMSG.unpack_from(body)
    assert (index, flags, change) == (5, rtnl.IFF_UP, rtnl.IFF_UP)
    attrs = rtnl.parse_attrs(body[16:])
    assert set(attrs) == {rtnl.IFLA_MASTER}
    _, _, _, flags, change = rtnl.IFINFOMSG.unpack_from(rtnl.set_link(5, mac="02:00:00:00:00:01"))
    assert (flags, change) == (0, 0)
    _, _, _, flags, change = rtnl.IFINFOMSG.unpack_from(rtnl.set_link(5, up=False))
    assert (flags, change) == (0, rtnl.IFF_UP)
    with pytest.raises(ValueError):
        rtnl.mac_bytes("02:00:00")


def test_new_address_ipv4_and_ipv6() -> None:
    body = rtnl.new_address(4, ipaddress.IPv4Interface("172.18.0.2/16"))
    family, prefix, flags, scope, index = rtnl.IFADDRMSG.unpack_from(body)
    assert (family, prefix, flags, scope, index) == (socket.AF_INET, 16, 0, 0, 4)
    attrs = rtnl.parse_attrs(body[rtnl.IFADDRMSG.size :])
    assert attrs[rtnl.IFA_LOCAL] == attrs[rtnl.IFA_ADDRESS] == bytes([172, 18, 0, 2])
    assert attrs[rtnl.IFA_BROADCAST] == bytes([172, 18, 255, 255])
    body6 = rtnl.new_address(4, ipaddress.IPv6Interface("fd00::2/64"))
    family, prefix, flags, _, _ = rtnl.IFADDRMSG.unpack_from(body6)
    assert (family, prefix, flags) == (socket.AF_INET6, 64, rtnl.IFA_F_NODAD)
    attrs6 = rtnl.parse_attrs(body6[rtnl.IFADDRMSG.size :])
    assert attrs6[rtnl.IFA_LOCAL] == ipaddress.IPv6Address("fd00::2").packed
    assert rtnl.IFA_BROADCAST not in attrs6


def test_default_route_v4_and_v6() -> None:
    body = rtnl.default_route(ipaddress.IPv4Address("10.1.2.1"), 9)
    fields = rtnl.RTMSG.unpack_from(body)
    assert fields == (socket.AF_INET, 0, 0, 0, 254, rtnl.RTPROT_BOOT, 0, rtnl.RTN_UNICAST, 0)
    attrs = rtnl.parse_attrs(body[rtnl.RTMSG.size :])
    assert attrs[rtnl.RTA_GATEWAY] == bytes([10, 1, 2, 1])
    assert struct.unpack("=I", attrs[rtnl.RTA_OIF])[0] == 9
    body6 = rtnl.default_route(ipaddress.IPv6Address("fd00::1"), 9)
    assert rtnl.RTMSG.unpack_from(body6)[0] == socket.AF_INET6
    assert rtnl.RTMSG.unpack_from(rtnl.any_default_route(socket.AF_INET))[6] == 255


def _link_payload(index: int, name: str, master: int = 0) -> bytes:
    body = rtnl.ifinfomsg(index, rtnl.IFF_UP) + rtnl.attr_str(rtnl.IFLA_IFNAME, name)
    if master:
        body += rtnl.attr_u32(rtnl.IFLA_MASTER, master)
    return body


def test_parse_messages_links_addresses_and_errors() -> None:
    data = (
        rtnl.message(rtnl.RTM_NEWLINK, rtnl.NLM_F_MULTI, 3, _link_payload(1, "lo"))
        + rtnl.message(rtnl.RTM_NEWLINK, rtnl.NLM_F_MULTI, 3, _link_payload(7, "veth1", 5))
        + rtnl.message(rtnl.NLMSG_DONE, rtnl.NLM_F_MULTI, 3, b"\0" * 4)
    )
    msgs = rtnl.parse_messages(data)
    assert [m.type for m in msgs] == [rtnl.RTM_NEWLINK, rtnl.RTM_NEWLINK, rtnl.NLMSG_DONE]
    link = rtnl.parse_link(msgs[1].payload)
    assert (link.index, link.name, link.master, link.flags & rtnl.IFF_UP) == (7, "veth1", 5, 1)
    addr = rtnl.parse_address(
        rtnl.IFADDRMSG.pack(socket.AF_INET, 24, 0, 0, 3)
        + rtnl.attr(rtnl.IFA_ADDRESS, bytes([10, 0, 0, 1]))
    )
    assert addr.interface == ipaddress.IPv4Interface("10.0.0.1/24") and addr.index == 3
    err = struct.pack("=i", -errno.EEXIST) + b"\0" * 16
    assert rtnl.error_code(err) == errno.EEXIST
    assert rtnl.error_code(struct.pack("=i", 0)) == 0
    with pytest.raises(ValueError):
        rtnl.parse_messages(data[:20])
    with pytest.raises(ValueError):
        rtnl.parse_attrs(b"\x40\x00\x01\x00abc")


class _ScriptedSocket:
    """Answers each send with the next scripted datagrams (seq filled in)."""

    def __init__(self, script: list[list[tuple[int, int, bytes]]]) -> None:
        self.script = script
        self.sent: list[bytes] = []
        self.pending: list[bytes] = []

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        seq = rtnl.NLMSGHDR.unpack_from(data)[3]
        # a stray message with another seq first: must be skipped
        stray = rtnl.message(rtnl.NLMSG_ERROR, 0, seq + 1000, struct.pack("=i", -1))
        datagrams = [stray]
        for parts in self.script.pop(0):
            datagrams.append(rtnl.message(parts[0], parts[1], seq, parts[2]))
        self.pending.extend(datagrams)
        return len(data)

    def recv(self, size: int) -> bytes:
        return self.pending.pop(0)

    def close(self) -> None:
        pass


def _client(script: list[list[tuple[int, int, bytes]]]) -> tuple[rtnl.Rtnl, _ScriptedSocket]:
    client = rtnl.Rtnl.__new__(rtnl.Rtnl)
    fake = _ScriptedSocket(script)
    client.sock = fake  # type: ignore[assignment]
    client._seq = 0
    return client, fake


def test_request_ack_error_and_dump_loop() -> None:
    ok = (rtnl.NLMSG_ERROR, 0, struct.pack("=i", 0) + b"\0" * 16)
    exists = (rtnl.NLMSG_ERROR, 0, struct.pack("=i", -errno.EEXIST) + b"\0" * 16)
    multi = rtnl.NLM_F_MULTI
    client, fake = _client(
        [
            [ok],
            [exists],
            [
                (rtnl.RTM_NEWLINK, multi, _link_payload(1, "lo")),
                (rtnl.RTM_NEWLINK, multi, _link_payload(2, "eth0")),
                (rtnl.NLMSG_DONE, multi, b"\0" * 4),
            ],
            [(rtnl.NLMSG_ERROR, 0, struct.pack("=i", -errno.ENODEV) + b"\0" * 16)],
            [(rtnl.RTM_NEWLINK, 0, _link_payload(4, "br0"))],
        ]
    )
    client.add_bridge("br0")
    header = rtnl.NLMSGHDR.unpack_from(fake.sent[0])
    assert header[1] == rtnl.RTM_NEWLINK
    assert header[2] & rtnl.NLM_F_ACK and header[2] & rtnl.NLM_F_REQUEST
    with pytest.raises(OSError) as info:
        client.add_bridge("br0")
    assert info.value.errno == errno.EEXIST and "create bridge br0" in str(info.value)
    assert [link.name for link in client.links()] == ["lo", "eth0"]
    assert rtnl.NLMSGHDR.unpack_from(fake.sent[2])[2] & rtnl.NLM_F_DUMP == rtnl.NLM_F_DUMP
    assert client.link("nothere") is None
    assert client.link_index("br0") == 4
    seqs = [rtnl.NLMSGHDR.unpack_from(s)[3] for s in fake.sent]
    assert seqs == [1, 2, 3, 4, 5]


def test_live_read_only_queries_need_no_root() -> None:
    with rtnl.Rtnl() as client:
        lo = client.link("lo")
        assert lo is not None and lo.index == 1 and lo.name == "lo"
        assert "lo" in [link.name for link in client.links()]
        assert client.link("dy-no-such-if") is None
        addresses = client.addresses(1, socket.AF_INET)
        assert ipaddress.IPv4Interface("127.0.0.1/8") in [a.interface for a in addresses]
