"""DNS messages, just enough for the embedded resolver (RFC 1035): parse a query's
header and question, build answers (A, PTR), errors and NXDOMAIN replies.
Forwarded queries and replies pass through as bytes."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

TYPE_A = 1
TYPE_PTR = 12
TYPE_AAAA = 28
CLASS_IN = 1
RCODE_OK = 0
RCODE_FORMERR = 1
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
TTL = 600


class DNSError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Question:
    id: int
    flags: int
    name: str  # lower case, no trailing dot
    qtype: int
    qclass: int
    raw_question: bytes  # the question section as received (echoed in replies)


def encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        if not label:
            continue
        data = label.encode("idna") if not label.isascii() else label.encode()
        if len(data) > 63:
            raise DNSError(f"label too long: {label}")
        out.append(len(data))
        out += data
    out.append(0)
    return bytes(out)


def _read_name(msg: bytes, offset: int) -> tuple[str, int]:
    labels: list[str] = []
    end = -1
    jumps = 0
    while True:
        if offset >= len(msg):
            raise DNSError("truncated name")
        length = msg[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(msg) or jumps > 16:
                raise DNSError("bad pointer")
            if end < 0:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | msg[offset + 1]
            jumps += 1
            continue
        offset += 1
        if length == 0:
            break
        labels.append(msg[offset : offset + length].decode("ascii", "replace"))
        offset += length
    return ".".join(labels), (end if end >= 0 else offset)


def parse_query(msg: bytes) -> Question:
    if len(msg) < 12:
        raise DNSError("short message")
    qid, flags, qd, _an, _ns, _ar = struct.unpack("!6H", msg[:12])
    if qd != 1:
        raise DNSError("expected one question")
    name, offset = _read_name(msg, 12)
    if offset + 4 > len(msg):
        raise DNSError("truncated question")
    qtype, qclass = struct.unpack("!HH", msg[offset : offset + 4])
    return Question(qid, flags, name.lower(), qtype, qclass, msg[12 : offset + 4])


def build_query(qid: int, name: str, qtype: int = TYPE_A) -> bytes:
    header = struct.pack("!6H", qid, 0x0100, 1, 0, 0, 0)
    return header + encode_name(name) + struct.pack("!HH", qtype, CLASS_IN)


def _header(q: Question, rcode: int, answers: int) -> bytes:
    rd = q.flags & 0x0100
    flags = 0x8000 | 0x0400 | rd | 0x0080 | (rcode & 0xF)  # QR, AA, RD copied, RA
    return struct.pack("!6H", q.id, flags, 1, answers, 0, 0)


def reply(q: Question, rcode: int = RCODE_OK, records: list[bytes] | None = None) -> bytes:
    records = records or []
    return _header(q, rcode, len(records)) + q.raw_question + b"".join(records)


def a_record(address: str, ttl: int = TTL) -> bytes:
    """An answer for the question's name (a pointer to offset 12)."""
    data = ipaddress.IPv4Address(address).packed
    return struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, ttl, len(data)) + data


def aaaa_record(address: str, ttl: int = TTL) -> bytes:
    data = ipaddress.IPv6Address(address).packed
    return struct.pack("!HHHIH", 0xC00C, TYPE_AAAA, CLASS_IN, ttl, len(data)) + data


def ptr_record(target: str, ttl: int = TTL) -> bytes:
    data = encode_name(target)
    return struct.pack("!HHHIH", 0xC00C, TYPE_PTR, CLASS_IN, ttl, len(data)) + data


def ptr_address(name: str) -> str | None:
    """``4.3.2.1.in-addr.arpa`` → ``1.2.3.4`` (None for other names)."""
    suffix = ".in-addr.arpa"
    if not name.endswith(suffix):
        return None
    parts = name[: -len(suffix)].split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    return ".".join(reversed(parts))


def parse_answers(msg: bytes) -> tuple[int, list[tuple[int, bytes]]]:
    """(rcode, [(type, rdata)]) of a reply (for tests and the forwarder's checks)."""
    if len(msg) < 12:
        raise DNSError("short message")
    _qid, flags, qd, an, _ns, _ar = struct.unpack("!6H", msg[:12])
    offset = 12
    for _ in range(qd):
        _, offset = _read_name(msg, offset)
        offset += 4
    out = []
    for _ in range(an):
        _, offset = _read_name(msg, offset)
        rtype, _rclass, _ttl, length = struct.unpack("!HHIH", msg[offset : offset + 10])
        offset += 10
        out.append((rtype, msg[offset : offset + length]))
        offset += length
    return flags & 0xF, out
