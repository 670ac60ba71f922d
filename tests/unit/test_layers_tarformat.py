from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from dockyard.errors import Corrupt, Unsupported
from dockyard.store.layers.tarformat import (
    DIR,
    LNK,
    REG,
    SYM,
    Entry,
    TarReader,
    TarWriter,
    encode_header,
    parse_pax,
)


def _entries(blob: bytes) -> list[tuple[Entry, bytes]]:
    r = TarReader(io.BytesIO(blob))
    out = []
    while (e := r.next()) is not None:
        data = b"".join(bytes(c) for c in r.chunks())
        out.append((e, data))
    r.drain()
    assert r.bytes_read == len(blob)
    assert r.diff_id == "sha256:" + hashlib.sha256(blob).hexdigest()
    return out


def _tar(fmt: int, *members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for ti, data in members:
            ti.size = len(data) if ti.type in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _ti(name: str, typ: bytes = tarfile.REGTYPE, **kw: object) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = typ
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_reads_python_tarfile_formats(fmt: int) -> None:
    long = "d/" + "n" * 90 + "/" + "m" * 40  # needs the ustar prefix field, or L / PAX
    link_target = long if fmt != tarfile.USTAR_FORMAT else "d/s"
    blob = _tar(
        fmt,
        (_ti("d", tarfile.DIRTYPE, mode=0o755, mtime=1234), b""),
        (_ti(long, mode=0o4755, uid=1000, gid=50, mtime=99), b"data!"),
        (_ti("d/s", tarfile.SYMTYPE, linkname="target"), b""),
        (_ti("d/h", tarfile.LNKTYPE, linkname=link_target), b""),
    )
    got = _entries(blob)
    assert [(e.name, e.type) for e, _ in got] == [
        (b"d/", DIR), (long.encode(), REG), (b"d/s", SYM), (b"d/h", LNK)
    ]
    e, data = got[1]
    assert (e.mode, e.uid, e.gid, e.mtime_ns, e.size, data) == (
        0o4755, 1000, 50, 99_000_000_000, 5, b"data!"
    )
    assert got[2][0].linkname == b"target"
    assert got[3][0].linkname == link_target.encode()
    assert got[0][0].mtime_ns == 1234 * 10**9


def test_pax_records_xattrs_times_and_binary_values() -> None:
    ti = _ti("f", mtime=5)
    ti.pax_headers = {
        "SCHILY.xattr.user.a": "1",
        "atime": "1700000000.5",
        "mtime": "1600000000.123456789",
    }
    (e, _), = _entries(_tar(tarfile.PAX_FORMAT, (ti, b"")))
    assert e.xattrs == {b"user.a": b"1"}
    assert e.mtime_ns == 1_600_000_000_123_456_789
    assert e.atime_ns == 1_700_000_000_500_000_000
    # Binary xattr values (security.capability) and non-UTF-8 names survive as bytes.
    e2 = Entry(b"caf\xe9", REG, xattrs={b"security.capability": b"\x01\x00\x00\x02\xff\x00"})
    w_out = io.BytesIO()
    w = TarWriter(w_out)
    w.add(e2, b"")
    w.close()
    (back, _), = _entries(w_out.getvalue())
    assert back.name == b"caf\xe9"
    assert back.xattrs == {b"security.capability": b"\x01\x00\x00\x02\xff\x00"}


def test_parse_pax_rejects_garbage() -> None:
    assert parse_pax(b"11 path=ab\n") == {b"path": b"ab"}
    for bad in (b"99 path=ab\n", b"x path=ab\n", b"11 pathxab\n", b"10 path=ab\n"):
        with pytest.raises(Corrupt, match="invalid tar header"):
            parse_pax(bad)


def test_header_only_types_have_no_data_whatever_their_size() -> None:
    # A directory header claiming 1024 bytes of data, as some writers produce.
    w_out = io.BytesIO()
    w = TarWriter(w_out)
    w.add(Entry(b"f", REG, size=3), b"abc")
    w.close()
    hdr = bytearray(encode_header(Entry(b"d/", DIR)))
    hdr[124:136] = b"%011o\0" % 1024
    hdr[148:156] = b" " * 8
    hdr[148:156] = b"%06o\0 " % sum(hdr)
    blob = bytes(hdr) + w_out.getvalue()
    got = _entries(blob)
    assert [(e.name, d) for e, d in got] == [(b"d/", b""), (b"f", b"abc")]


def test_base256_numbers() -> None:
    hdr = bytearray(encode_header(Entry(b"f", REG, uid=5)))
    hdr[108:116] = b"\x80" + (3_000_000_000).to_bytes(7, "big")
    hdr[148:156] = b" " * 8
    hdr[148:156] = b"%06o\0 " % sum(hdr)
    (e, _), = _entries(bytes(hdr) + bytes(1024))
    assert e.uid == 3_000_000_000


def test_regular_file_with_trailing_slash_old_style_is_dir() -> None:
    hdr = bytearray(encode_header(Entry(b"olddir/", REG)))
    hdr[156:157] = b"\0"
    hdr[148:156] = b" " * 8
    hdr[148:156] = b"%06o\0 " % sum(hdr)
    (e, _), = _entries(bytes(hdr) + bytes(1024))
    assert e.type == DIR


def test_missing_end_marker_is_accepted_like_go() -> None:
    blob = _tar(tarfile.PAX_FORMAT, (_ti("a"), b"x" * 600))
    cut = blob[: 512 + 1024]  # header + padded data, no zero blocks
    got = _entries(cut)
    assert [(e.name, d) for e, d in got] == [(b"a", b"x" * 600)]


@pytest.mark.parametrize("cut", [100, 512 + 10, 512 + 700, 512 + 1024 + 3])
def test_truncation_is_unexpected_eof(cut: int) -> None:
    blob = _tar(tarfile.PAX_FORMAT, (_ti("a"), b"x" * 600), (_ti("b"), b"y"))
    with pytest.raises(Corrupt, match="unexpected EOF"):
        _entries(blob[:cut])


def test_checksum_mismatch() -> None:
    blob = bytearray(_tar(tarfile.PAX_FORMAT, (_ti("a"), b"x")))
    blob[0] ^= 1
    with pytest.raises(Corrupt, match="checksum"):
        _entries(bytes(blob))


def test_not_a_tar() -> None:
    with pytest.raises(Corrupt, match="invalid tar header"):
        _entries(b"hello, this is not a tar archive at all" * 40)


def test_sparse_is_unsupported() -> None:
    ti = _ti("s")
    ti.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0"}
    with pytest.raises(Unsupported, match="sparse"):
        _entries(_tar(tarfile.PAX_FORMAT, (ti, b"")))


def test_trailing_bytes_after_the_archive_are_hashed() -> None:
    blob = _tar(tarfile.PAX_FORMAT, (_ti("a"), b"x")) + b"\0" * 4096
    _entries(blob)  # asserts bytes_read and diff_id cover everything


def test_writer_output_is_read_back_by_python_tarfile() -> None:
    long = b"x/" * 80 + b"file"
    out = io.BytesIO()
    w = TarWriter(out)
    w.add(Entry(b"x/", DIR, mode=0o755, mtime_ns=10**9 * 7))
    w.add(Entry(long, REG, mode=0o2755, uid=3_000_000, gid=7, size=5, mtime_ns=10**9 * 8,
                xattrs={b"user.k": b"v"}), b"hello")
    w.add(Entry(b"x/big", REG, size=3 << 20))
    for _ in range(3):
        w.write_data(b"z" * (1 << 20))
    w.add(Entry(b"x/link", LNK, linkname=long))
    w.add(Entry(b"x/sym", SYM, linkname=b"../" * 50 + b"target"))
    w.close()
    blob = out.getvalue()
    assert len(blob) % 512 == 0
    assert w.size == len(blob)
    assert w.diff_id == "sha256:" + hashlib.sha256(blob).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(blob)) as tf:
        members = tf.getmembers()
        assert [m.name for m in members] == ["x", long.decode(), "x/big", "x/link", "x/sym"]
        m = members[1]
        assert (m.mode & 0o7777, m.uid, m.gid, m.mtime, m.uname, m.gname) == (
            0o2755, 3_000_000, 7, 8, "", ""
        )
        assert m.mode == 0o102755  # file-type bits in the mode field, as Docker writes
        assert m.pax_headers["SCHILY.xattr.user.k"] == "v"
        f = tf.extractfile(m)
        assert f is not None and f.read() == b"hello"
        assert members[2].size == 3 << 20
        assert members[3].linkname == long.decode()
        assert members[4].linkname.endswith("target")


def test_writer_is_deterministic() -> None:
    def build() -> bytes:
        out = io.BytesIO()
        w = TarWriter(out)
        w.add(Entry(b"a/", DIR, mtime_ns=123_456_789_000))
        w.add(Entry(b"a/f", REG, size=2, xattrs={b"user.b": b"2", b"user.a": b"1"}), b"hi")
        w.close()
        return out.getvalue()

    assert build() == build()
    # mtimes are whole seconds, like Docker's
    (_, _), (f, _) = _entries(build())
    assert f.mtime_ns == 0


def test_writer_rejects_wrong_data_length() -> None:
    w = TarWriter(io.BytesIO())
    with pytest.raises(ValueError):
        w.add(Entry(b"f", REG, size=3), b"ab")
