"""The tar wire format: a streaming reader and a deterministic PAX writer.

Names are bytes throughout (Linux file names need not be UTF-8). The reader
understands ustar, GNU (long names ``L``/``K``, base-256 numbers) and PAX
(``path``, ``linkpath``, ``size``, ``uid``, ``gid``, ``mtime``, ``atime``,
``SCHILY.xattr.*``), hashes every byte it pulls from its source (sha256 — the
layer's DiffID) and counts them. Like Go's ``archive/tar``: an archive may end
without its two zero blocks at a header boundary; anything shorter than a
header or an entry's data is "unexpected EOF"; header-only types (links,
devices, directories, fifos) carry no data whatever their size field says.

The writer produces what Docker's layer tars look like: PAX format, numeric
uid/gid with empty user and group names, mtimes in whole seconds, file-type bits
in the mode field, xattrs as ``SCHILY.xattr.*`` records in sorted order, and a
two-block end marker — the same entries always give the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, Protocol

from dockyard.errors import Corrupt, Unsupported

BLOCK = 512
CHUNK = 1 << 20
_MAX_SPECIAL = 1 << 20  # largest PAX / GNU long-name record we accept (Go's limit)

REG = b"0"
LNK = b"1"
SYM = b"2"
CHR = b"3"
BLK = b"4"
DIR = b"5"
FIFO = b"6"
_REGA = b"\0"
_CONT = b"7"
_PAX = b"x"
_GLOBAL = b"g"
_GNU_LONGNAME = b"L"
_GNU_LONGLINK = b"K"
_GNU_SPARSE = b"S"
_HEADER_ONLY = frozenset((LNK, SYM, CHR, BLK, DIR, FIFO))

# File-type bits Docker puts in the mode field (Go's c_IS* constants).
_TYPE_BITS = {
    REG: 0o100000,
    LNK: 0o100000,
    SYM: 0o120000,
    CHR: 0o020000,
    BLK: 0o060000,
    DIR: 0o040000,
    FIFO: 0o010000,
}


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Writable(Protocol):
    def write(self, data: Any, /) -> Any: ...


class Entry:
    """One tar member. ``mode`` holds the permission bits (07777) only."""

    __slots__ = (
        "atime_ns",
        "devmajor",
        "devminor",
        "gid",
        "linkname",
        "mode",
        "mtime_ns",
        "name",
        "size",
        "type",
        "uid",
        "xattrs",
    )

    def __init__(
        self,
        name: bytes,
        type: bytes,
        *,
        mode: int = 0o644,
        uid: int = 0,
        gid: int = 0,
        size: int = 0,
        mtime_ns: int = 0,
        atime_ns: int | None = None,
        linkname: bytes = b"",
        devmajor: int = 0,
        devminor: int = 0,
        xattrs: dict[bytes, bytes] | None = None,
    ) -> None:
        self.name = name
        self.type = type
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.mtime_ns = mtime_ns
        self.atime_ns = atime_ns
        self.linkname = linkname
        self.devmajor = devmajor
        self.devminor = devminor
        self.xattrs = xattrs

    def __repr__(self) -> str:
        return f"Entry({self.name!r}, {self.type!r}, size={self.size})"


def _bad(what: str) -> Corrupt:
    return Corrupt(f"invalid tar header: {what}")


def _cstr(field: bytes) -> bytes:
    i = field.find(b"\0")
    return field if i < 0 else field[:i]


def _num(field: bytes) -> int:
    if field and field[0] & 0x80:
        # GNU base-256: 0x80 marks a positive number, 0xff a negative one.
        if field[0] == 0xFF:
            return int.from_bytes(field, "big", signed=True)
        return int.from_bytes(bytes((field[0] & 0x7F,)) + field[1:], "big")
    s = field.strip(b" \0")
    if not s:
        return 0
    try:
        return int(s, 8)
    except ValueError:
        raise _bad(f"invalid number {field!r}") from None


def _pax_time_ns(value: bytes) -> int:
    s = value.decode("ascii", "replace")
    neg = s.startswith("-")
    if neg:
        s = s[1:]
    whole, _, frac = s.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise _bad(f"invalid PAX time {value!r}")
    ns = int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])
    return -ns if neg else ns


def _pax_int(value: bytes, key: str) -> int:
    try:
        n = int(value, 10)
    except ValueError:
        raise _bad(f"invalid PAX {key} {value!r}") from None
    return n


def parse_pax(data: bytes) -> dict[bytes, bytes]:
    """Parse PAX extended header records (``"%d %s=%s\\n"``)."""
    records: dict[bytes, bytes] = {}
    pos = 0
    n = len(data)
    while pos < n:
        if data[pos] == 0:  # some writers NUL-pad the record block
            break
        sp = data.find(b" ", pos, pos + 21)
        if sp < 0:
            raise _bad("malformed PAX record")
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise _bad("malformed PAX record") from None
        end = pos + length
        if length <= sp - pos + 1 or end > n or data[end - 1] != 0x0A:
            raise _bad("malformed PAX record")
        key, eq, value = data[sp + 1 : end - 1].partition(b"=")
        if not eq or not key:
            raise _bad("malformed PAX record")
        records[key] = value
        pos = end
    return records


class TarReader:
    """Reads tar entries one by one from a stream, hashing everything it reads."""

    def __init__(self, source: Readable) -> None:
        self._src = source
        self._hash = hashlib.sha256()
        self.bytes_read = 0
        self._buf = b""
        self._pos = 0
        self._src_eof = False
        self._data_left = 0  # unread data bytes of the current entry
        self._pad_left = 0
        self._ended = False

    # -- stream -----------------------------------------------------------
    def _refill(self) -> bool:
        if self._src_eof:
            return False
        data = self._src.read(CHUNK)
        if not data:
            self._src_eof = True
            return False
        self._hash.update(data)
        self.bytes_read += len(data)
        if self._pos < len(self._buf):
            self._buf = self._buf[self._pos :] + data
        else:
            self._buf = data
        self._pos = 0
        return True

    def _take(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or fewer only at the end of the stream."""
        while len(self._buf) - self._pos < n:
            if not self._refill():
                break
        data = self._buf[self._pos : self._pos + n]
        self._pos += len(data)
        return data

    def _skip(self, n: int) -> None:
        while n > 0:
            avail = len(self._buf) - self._pos
            if avail == 0:
                if not self._refill():
                    raise Corrupt("unexpected EOF")
                continue
            step = min(avail, n)
            self._pos += step
            n -= step

    @property
    def diff_id(self) -> str:
        """``sha256:<hex>`` of every byte read so far (call :meth:`drain` first)."""
        return "sha256:" + self._hash.hexdigest()

    def drain(self) -> None:
        """Read the source to its end, so trailing bytes are hashed and counted too."""
        self._buf = b""
        self._pos = 0
        while self._refill():
            self._buf = b""
            self._pos = 0

    # -- data of the current entry ------------------------------------------
    def chunks(self) -> Iterator[memoryview]:
        """The current entry's data, in pieces of at most 1 MiB."""
        while self._data_left > 0:
            avail = len(self._buf) - self._pos
            if avail == 0:
                if not self._refill():
                    raise Corrupt("unexpected EOF")
                continue
            step = min(avail, self._data_left)
            start = self._pos
            self._pos += step
            self._data_left -= step
            yield memoryview(self._buf)[start : start + step]

    def read_all(self) -> bytes:
        """The current entry's data as one bytes object (for small entries)."""
        n = self._data_left
        data = self._take(n)
        if len(data) != n:
            raise Corrupt("unexpected EOF")
        self._data_left = 0
        return data

    def _finish_entry(self) -> None:
        if self._data_left or self._pad_left:
            self._skip(self._data_left + self._pad_left)
            self._data_left = self._pad_left = 0

    # -- headers --------------------------------------------------------------
    def _block(self) -> bytes | None:
        pos = self._pos
        if len(self._buf) - pos >= BLOCK:
            self._pos = pos + BLOCK
            return self._buf[pos : pos + BLOCK]
        blk = self._take(BLOCK)
        if not blk:
            return None
        if len(blk) < BLOCK:
            raise Corrupt("unexpected EOF")
        return blk

    def _special(self, size: int) -> bytes:
        if size > _MAX_SPECIAL or size < 0:
            raise _bad("extended header too large")
        data = self._take(size)
        if len(data) != size:
            raise Corrupt("unexpected EOF")
        self._skip(-size % BLOCK)
        return data

    def next(self) -> Entry | None:
        """The next entry (its data is then readable via :meth:`chunks`), None at the end."""
        if self._ended:
            return None
        self._finish_entry()
        pax: dict[bytes, bytes] | None = None
        long_name: bytes | None = None
        long_link: bytes | None = None
        while True:
            blk = self._block()
            if blk is None:
                if pax is not None or long_name is not None or long_link is not None:
                    raise Corrupt("unexpected EOF")
                self._ended = True
                return None
            if blk == _ZERO_BLOCK:
                nxt = self._block()
                if nxt is not None and nxt != _ZERO_BLOCK:
                    raise _bad("non-zero block after end-of-archive marker")
                self._ended = True
                return None
            _check_sum(blk)
            typ = blk[156:157]
            size = _num(blk[124:136])
            if typ == _PAX:
                more = parse_pax(self._special(size))
                if pax is None:
                    pax = more
                else:
                    pax.update(more)
                continue
            if typ == _GLOBAL:
                self._special(size)
                continue
            if typ == _GNU_LONGNAME:
                long_name = _cstr(self._special(size))
                continue
            if typ == _GNU_LONGLINK:
                long_link = _cstr(self._special(size))
                continue
            return self._entry(blk, typ, size, pax, long_name, long_link)

    def _entry(
        self,
        blk: bytes,
        typ: bytes,
        size: int,
        pax: dict[bytes, bytes] | None,
        long_name: bytes | None,
        long_link: bytes | None,
    ) -> Entry:
        name = _cstr(blk[0:100])
        linkname = _cstr(blk[157:257])
        magic = blk[257:263]
        devmajor = devminor = 0
        if magic == b"ustar\x00":
            prefix = _cstr(blk[345:476] if blk[508:512] == b"tar\x00" else blk[345:500])
            if prefix:
                name = prefix + b"/" + name
            devmajor = _num(blk[329:337])
            devminor = _num(blk[337:345])
        elif magic == b"ustar ":
            devmajor = _num(blk[329:337])
            devminor = _num(blk[337:345])
        if long_name is not None:
            name = long_name
        if long_link is not None:
            linkname = long_link
        mode = _num(blk[100:108]) & 0o7777
        uid = _num(blk[108:116])
        gid = _num(blk[116:124])
        mtime_ns = _num(blk[136:148]) * 1_000_000_000
        atime_ns: int | None = None
        xattrs: dict[bytes, bytes] | None = None
        if pax:
            for key, value in pax.items():
                if key == b"path":
                    name = value
                elif key == b"linkpath":
                    linkname = value
                elif key == b"size":
                    size = _pax_int(value, "size")
                elif key == b"uid":
                    uid = _pax_int(value, "uid")
                elif key == b"gid":
                    gid = _pax_int(value, "gid")
                elif key == b"mtime":
                    mtime_ns = _pax_time_ns(value)
                elif key == b"atime":
                    atime_ns = _pax_time_ns(value)
                elif key.startswith(b"SCHILY.xattr."):
                    if xattrs is None:
                        xattrs = {}
                    xattrs[key[13:]] = value
                elif key.startswith(b"GNU.sparse."):
                    raise Unsupported("sparse files in layer archives are not supported")
        if typ == _REGA:
            typ = DIR if name.endswith(b"/") else REG
        elif typ == _CONT:
            typ = REG
        elif typ == _GNU_SPARSE:
            raise Unsupported("sparse files in layer archives are not supported")
        if size < 0 or uid < 0 or gid < 0:
            raise _bad(f"negative size or id in {name!r}")
        if typ in _HEADER_ONLY:
            size = 0
        self._data_left = size
        self._pad_left = -size % BLOCK
        return Entry(
            name,
            typ,
            mode=mode,
            uid=uid,
            gid=gid,
            size=size,
            mtime_ns=mtime_ns,
            atime_ns=atime_ns,
            linkname=linkname,
            devmajor=devmajor,
            devminor=devminor,
            xattrs=xattrs,
        )


_ZERO_BLOCK = bytes(BLOCK)


def _check_sum(blk: bytes) -> None:
    want = _num(blk[148:156])
    unsigned = sum(blk) - sum(blk[148:156]) + 8 * 0x20
    if want == unsigned:
        return
    # Historic writers summed signed chars.
    high = sum(1 for b in blk[:148] if b & 0x80) + sum(1 for b in blk[156:] if b & 0x80)
    if want == unsigned - 256 * high:
        return
    raise _bad("checksum mismatch")


# -- writing ----------------------------------------------------------------------


def _octal(value: int, width: int) -> bytes:
    """A NUL-terminated octal field, or zeros when the value needs a PAX record."""
    if 0 <= value < 8 ** (width - 1):
        return b"%0*o\0" % (width - 1, value)
    return b"%0*o\0" % (width - 1, 0)


def _pax_record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while True:
        rec = str(n).encode() + body
        if len(rec) == n:
            return rec
        n = len(rec)


def _ascii(name: bytes) -> bytes:
    return name if name.isascii() else bytes(b for b in name if b < 0x80)


def _ustar(
    name: bytes,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    typ: bytes,
    linkname: bytes,
    devmajor: int,
    devminor: int,
) -> bytes:
    head = (
        _ascii(name)[:100].ljust(100, b"\0")
        + _octal(mode, 8)
        + _octal(uid, 8)
        + _octal(gid, 8)
        + _octal(size, 12)
        + _octal(mtime, 12)
    )
    tail = (
        typ
        + _ascii(linkname)[:100].ljust(100, b"\0")
        + b"ustar\x0000"
        + bytes(64)  # uname, gname
        + _octal(devmajor, 8)
        + _octal(devminor, 8)
        + bytes(167)  # prefix, padding
    )
    chk = sum(head) + sum(tail) + 8 * 0x20
    return head + b"%06o\0 " % chk + tail


def encode_header(e: Entry) -> bytes:
    """The header block(s) of ``e``: a PAX extended header first when one is needed."""
    mtime = e.mtime_ns // 1_000_000_000  # whole seconds, like Docker
    records: dict[bytes, bytes] = {}
    if len(e.name) > 100 or not e.name.isascii():
        records[b"path"] = e.name
    if len(e.linkname) > 100 or not e.linkname.isascii():
        records[b"linkpath"] = e.linkname
    if not 0 <= e.uid < 8**7:
        records[b"uid"] = str(e.uid).encode()
    if not 0 <= e.gid < 8**7:
        records[b"gid"] = str(e.gid).encode()
    size = e.size if e.type == REG else 0
    if not 0 <= size < 8**11:
        records[b"size"] = str(size).encode()
    if not 0 <= mtime < 8**11:
        records[b"mtime"] = str(mtime).encode()
    if e.xattrs:
        for k, v in e.xattrs.items():
            records[b"SCHILY.xattr." + k] = v
    mode = (e.mode & 0o7777) | _TYPE_BITS.get(e.type, 0)
    main = _ustar(
        e.name, mode, e.uid, e.gid, size, mtime, e.type, e.linkname, e.devmajor, e.devminor
    )
    if not records:
        return main
    data = b"".join(_pax_record(k, records[k]) for k in sorted(records))
    parent, _, base = e.name.rstrip(b"/").rpartition(b"/")
    pax_name = (parent + b"/" if parent else b"") + b"PaxHeaders.0/" + base
    pax_hdr = _ustar(pax_name, 0o644, 0, 0, len(data), 0, _PAX, b"", 0, 0)
    return pax_hdr + data + bytes(-len(data) % BLOCK) + main


class TarWriter:
    """Writes tar entries to ``out``, hashing and counting every byte written."""

    def __init__(self, out: Writable) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0
        self._buf = bytearray()
        self._data_left = 0
        self._closed = False

    def _emit(self, data: bytes | bytearray | memoryview) -> None:
        self._buf += data
        if len(self._buf) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            self._hash.update(data)
            self.size += len(data)
            self._out.write(data)

    def add(self, e: Entry, data: bytes | None = None) -> None:
        """Write ``e``'s header; with ``data`` (exactly ``e.size`` bytes) its data too.

        Without ``data``, a regular file's data follows by :meth:`write_data` calls.
        """
        if self._data_left:
            raise ValueError("previous entry's data is incomplete")
        self._emit(encode_header(e))
        if e.type == REG and e.size:
            if data is not None:
                if len(data) != e.size:
                    raise ValueError("data length differs from the entry size")
                self._emit(data)
                self._emit(bytes(-e.size % BLOCK))
            else:
                self._data_left = e.size

    def write_data(self, data: bytes | bytearray | memoryview) -> None:
        """Data of the current regular file; the padding is added after the last byte."""
        n = len(data)
        if n > self._data_left:
            raise ValueError("more data than the entry size")
        if n >= CHUNK:
            self.flush()
            self._hash.update(data)
            self.size += n
            self._out.write(data)
        else:
            self._emit(data)
        self._data_left -= n
        if self._data_left == 0:
            # Everything before the data is block-aligned: pad the total.
            self._emit(bytes(-(self.size + len(self._buf)) % BLOCK))

    def close(self) -> None:
        """End the archive (two zero blocks) and flush; does not close ``out``."""
        if self._closed:
            return
        if self._data_left:
            raise ValueError("last entry's data is incomplete")
        self._closed = True
        self._emit(bytes(2 * BLOCK))
        self.flush()

    @property
    def diff_id(self) -> str:
        return "sha256:" + self._hash.hexdigest()
