from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import zlib

import pytest
import zstandard

from dockyard.errors import Corrupt
from dockyard.store.layers.compression import (
    compressing_writer,
    detect_compression,
    detect_format,
    open_decompressed,
    peek,
)

DATA = (os.urandom(3000) + bytes(20000)) * 50  # ~1.1 MB, compressible


def _tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("a")
        ti.size = 3
        tf.addfile(ti, io.BytesIO(b"abc"))
    return buf.getvalue()


def _read_all(stream: io.RawIOBase | object, size: int = 65536) -> bytes:
    parts = []
    while True:
        data = stream.read(size)  # type: ignore[attr-defined]
        if not data:
            return b"".join(parts)
        assert len(data) <= size
        parts.append(data)


COMPRESSORS = {
    "gzip": lambda d: gzip.compress(d, 6),
    # With a content checksum, as containerd and Docker write zstd layers: without one
    # a corrupted block may decode to wrong bytes, which only the DiffID then catches.
    "zstd": lambda d: zstandard.ZstdCompressor(write_checksum=True).compress(d),
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}


def test_detect_format() -> None:
    assert detect_format(_tar()) == "tar"
    assert detect_format(gzip.compress(b"x")) == "gzip"
    assert detect_format(zstandard.ZstdCompressor().compress(b"x")) == "zstd"
    assert detect_format(bz2.compress(b"x")) == "bzip2"
    assert detect_format(lzma.compress(b"x")) == "xz"
    assert detect_format(b"hello world") == "unknown"
    assert detect_format(b"") == "unknown"
    assert detect_compression(_tar()) == "none"
    assert detect_compression(b"") == "none"
    assert detect_compression(gzip.compress(b"x")) == "gzip"


def test_peek_replays_head() -> None:
    head, stream = peek(io.BytesIO(b"0123456789"), 4)
    assert head == b"0123"
    assert stream.read(2) == b"01"
    assert stream.read(100) == b"23"
    assert stream.read(100) == b"456789"
    assert stream.read(100) == b""


@pytest.mark.parametrize("name", sorted(COMPRESSORS))
def test_round_trip_each_compression(name: str) -> None:
    s = open_decompressed(io.BytesIO(COMPRESSORS[name](DATA)))
    assert s.compression == name
    assert _read_all(s) == DATA
    assert s.compressed_bytes > 0


def test_uncompressed_passes_through() -> None:
    s = open_decompressed(io.BytesIO(DATA))
    assert s.compression == "none"
    assert _read_all(s, 777) == DATA


def test_reads_are_bounded_even_for_a_bomb() -> None:
    bomb = gzip.compress(bytes(50 << 20), 9)  # 50 MB of zeros in ~50 KB
    s = open_decompressed(io.BytesIO(bomb))
    assert len(s.read(4096)) == 4096
    zb = zstandard.ZstdCompressor().compress(bytes(50 << 20))
    s = open_decompressed(io.BytesIO(zb))
    assert len(s.read(4096)) <= 4096


def test_gzip_multiple_members_and_zero_padding() -> None:
    blob = gzip.compress(b"hello ") + gzip.compress(b"world") + bytes(1000)
    assert _read_all(open_decompressed(io.BytesIO(blob))) == b"hello world"


def test_zstd_multiple_frames_and_skippable_frame() -> None:
    c = zstandard.ZstdCompressor()
    skippable = (0x184D2A50).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"12345"
    blob = c.compress(b"hello ") + skippable + c.compress(b"world")
    assert _read_all(open_decompressed(io.BytesIO(blob))) == b"hello world"


def test_zstd_streamed_frame_without_content_size() -> None:
    out = io.BytesIO()
    with zstandard.ZstdCompressor(write_checksum=True).stream_writer(out, closefd=False) as w:
        w.write(DATA)
    assert _read_all(open_decompressed(io.BytesIO(out.getvalue()))) == DATA


@pytest.mark.parametrize("name", sorted(COMPRESSORS))
@pytest.mark.parametrize("cut", [1, 7, 100, 1000])
def test_truncated_stream_is_unexpected_eof(name: str, cut: int) -> None:
    blob = COMPRESSORS[name](DATA)
    with pytest.raises(Corrupt, match=r"^unexpected EOF$"):
        _read_all(open_decompressed(io.BytesIO(blob[:-cut])))


@pytest.mark.parametrize("name", ["gzip", "zstd"])
def test_truncated_gzip_and_zstd_say_unexpected_eof(name: str) -> None:
    blob = COMPRESSORS[name](DATA)
    with pytest.raises(Corrupt, match=r"^unexpected EOF$"):
        _read_all(open_decompressed(io.BytesIO(blob[: len(blob) // 2])))


@pytest.mark.parametrize("name", sorted(COMPRESSORS))
def test_corrupt_stream_raises_corrupt(name: str) -> None:
    blob = bytearray(COMPRESSORS[name](DATA))
    for i in range(len(blob) // 3, len(blob) // 3 + 40):
        blob[i] ^= 0x5A
    with pytest.raises(Corrupt):
        _read_all(open_decompressed(io.BytesIO(bytes(blob))))


def test_gzip_bad_crc() -> None:
    blob = bytearray(gzip.compress(b"hello world"))
    blob[-8] ^= 1  # CRC32 field
    with pytest.raises(Corrupt, match="gzip"):
        _read_all(open_decompressed(io.BytesIO(bytes(blob))))


def test_garbage_after_gzip_member() -> None:
    with pytest.raises(Corrupt, match="gzip: invalid header"):
        _read_all(open_decompressed(io.BytesIO(gzip.compress(b"x") + b"garbage")))


def test_garbage_after_zstd_frame() -> None:
    blob = zstandard.ZstdCompressor().compress(b"x") + b"garbage!"
    with pytest.raises(Corrupt):
        _read_all(open_decompressed(io.BytesIO(blob)))


@pytest.mark.parametrize("name", ["gzip", "zstd", "bzip2", "xz", "none"])
def test_compressing_writer_round_trip(name: str) -> None:
    out = io.BytesIO()
    with compressing_writer(out, name) as w:  # type: ignore[arg-type]
        for i in range(0, len(DATA), 100_000):
            w.write(DATA[i : i + 100_000])
    assert w.uncompressed_size == len(DATA)
    assert w.compressed_size == len(out.getvalue())
    s = open_decompressed(io.BytesIO(out.getvalue()))
    assert s.compression == name
    assert _read_all(s) == DATA


def test_gzip_writer_is_deterministic_and_standard() -> None:
    blobs = []
    for _ in range(2):
        out = io.BytesIO()
        w = compressing_writer(out, "gzip")
        w.write(DATA)
        w.close()
        blobs.append(out.getvalue())
    assert blobs[0] == blobs[1]
    assert blobs[0][4:8] == b"\0\0\0\0"  # no mtime in the header
    assert gzip.decompress(blobs[0]) == DATA
    assert zlib.decompress(blobs[0], 31) == DATA


def test_decompressed_stream_works_with_tarfile() -> None:
    s = open_decompressed(io.BytesIO(gzip.compress(_tar())))
    with tarfile.open(fileobj=s, mode="r|") as tf:
        names = [m.name for m in tf]
    assert names == ["a"]
