"""Layer compression: detect it from magic bytes, decompress a stream, compress one.

Decompression is streaming and bounded: every ``read(n)`` returns at most ``n``
bytes, whatever the compression ratio of the input, so a decompression bomb costs
time, never memory. A stream that ends early or carries bytes that are not what
the compression says raises :class:`~dockyard.errors.Corrupt` ("unexpected EOF",
"gzip: invalid header", ...) instead of returning a silently short result.

gzip goes through ``zlib.decompressobj`` directly (no ``gzip.GzipFile`` layering);
members are concatenated like Go's multistream gzip reader, and zero padding after
the last member is accepted like Python's gzip module. zstd uses the
``zstandard`` package's stream reader, with a small frame tracker that notices a
truncated frame (the library itself returns a short stream without error).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from typing import Any, Literal, Protocol

from dockyard.errors import Corrupt, InvalidArgument

Format = Literal["tar", "gzip", "zstd", "bzip2", "xz", "unknown"]
Compression = Literal["none", "gzip", "zstd", "bzip2", "xz"]

CHUNK = 1 << 20
PEEK = 512

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_TAR_MAGICS = (b"ustar\x00", b"ustar ")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def detect_format(head: bytes) -> Format:
    """What the first bytes of a stream are, by magic number (at least 262 bytes for tar)."""
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    if head.startswith(_BZIP2_MAGIC):
        return "bzip2"
    if head.startswith(_XZ_MAGIC):
        return "xz"
    if head[257:263] in _TAR_MAGICS or head[257:262] == b"ustar":
        return "tar"
    return "unknown"


def detect_compression(head: bytes) -> Compression:
    """The compression of a stream from its first bytes; ``"none"`` if not compressed."""
    fmt = detect_format(head)
    if fmt in ("tar", "unknown"):
        return "none"
    return fmt  # type: ignore[return-value]


def peek(stream: Readable, size: int = PEEK) -> tuple[bytes, Readable]:
    """Read up to ``size`` bytes and return them with a stream that replays them first."""
    parts: list[bytes] = []
    got = 0
    while got < size:
        data = stream.read(size - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    head = b"".join(parts)
    return head, _Prefixed(head, stream)


class _Prefixed:
    def __init__(self, head: bytes, stream: Readable) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1, /) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                data, self._head = self._head, b""
                if size < 0:
                    return data + self._stream.read()
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._stream.read(size)


class DecompressedStream(io.RawIOBase):
    """A readable binary stream over the decompressed bytes of another stream."""

    compression: Compression

    def __init__(self, source: Readable, compression: Compression) -> None:
        super().__init__()
        self.compression = compression
        self._source = source
        self.compressed_bytes = 0
        self._eof = False
        self._read_impl: Callable[[int], bytes]
        if compression == "none":
            self._read_impl = self._read_plain
        elif compression == "gzip":
            self._member = _MemberDecoder(source, _new_gzip, "gzip", _GZIP_MAGIC, self)
            self._read_impl = self._member.read
        elif compression == "bzip2":
            self._member = _MemberDecoder(source, _new_bz2, "bzip2", _BZIP2_MAGIC, self)
            self._read_impl = self._member.read
        elif compression == "xz":
            self._member = _MemberDecoder(source, _new_xz, "xz", _XZ_MAGIC, self)
            self._read_impl = self._member.read
        elif compression == "zstd":
            self._zstd = _ZstdReader(source, self)
            self._read_impl = self._zstd.read
        else:
            raise InvalidArgument(f"unsupported compression {compression!r}")

    def readable(self) -> bool:
        return True

    def _read_plain(self, size: int) -> bytes:
        data = self._source.read(size)
        self.compressed_bytes += len(data)
        return data

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            parts = []
            while data := self._read_impl(CHUNK):
                parts.append(data)
            return b"".join(parts)
        if size == 0 or self._eof:
            return b""
        data = self._read_impl(size)
        if not data:
            self._eof = True
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


def open_decompressed(
    stream: Readable, compression: Compression | None = None
) -> DecompressedStream:
    """Wrap ``stream`` so reads return decompressed bytes; detect the compression if None."""
    if compression is None:
        head, stream = peek(stream)
        compression = detect_compression(head)
    return DecompressedStream(stream, compression)


def _new_gzip() -> Any:
    return zlib.decompressobj(wbits=31)


def _new_xz() -> Any:
    import lzma

    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)


def _new_bz2() -> Any:
    import bz2

    return bz2.BZ2Decompressor()


class _MemberDecoder:
    """gzip / bzip2 / xz: one decompressor per member, members concatenated."""

    def __init__(
        self,
        source: Readable,
        factory: Callable[[], Any],
        name: str,
        magic: bytes,
        owner: DecompressedStream,
    ) -> None:
        self._source = source
        self._factory = factory
        self._name = name
        self._magic = magic
        self._owner = owner
        self._zlib = name == "gzip"
        self._errors: tuple[type[Exception], ...] = (zlib.error, OSError, EOFError, ValueError)
        if name == "xz":
            import lzma

            self._errors += (lzma.LZMAError,)
        self._dec: Any = factory()
        self._pending = b""  # compressed input not yet given to the decompressor
        self._done = False

    def _fill(self) -> bool:
        data = self._source.read(CHUNK)
        self._owner.compressed_bytes += len(data)
        if not data:
            return False
        self._pending += data
        return True

    def read(self, size: int) -> bytes:
        while not self._done:
            dec = self._dec
            if dec.eof:
                if not self._next_member():
                    self._done = True
                    return b""
                continue
            if self._zlib:
                tail = dec.unconsumed_tail
                if tail:
                    out = self._call(dec.decompress, tail, size)
                elif self._pending or self._fill():
                    data, self._pending = self._pending, b""
                    out = self._call(dec.decompress, data, size)
                else:
                    raise Corrupt("unexpected EOF")
            else:
                if dec.needs_input:
                    if not (self._pending or self._fill()):
                        raise Corrupt("unexpected EOF")
                    data, self._pending = self._pending, b""
                else:
                    data = b""
                out = self._call(dec.decompress, data, size)
            if dec.eof:
                self._pending = dec.unused_data + self._pending
            if out:
                return out
        return b""

    def _call(self, fn: Callable[[bytes, int], bytes], data: bytes, size: int) -> bytes:
        try:
            return fn(data, size)
        except self._errors as e:
            raise Corrupt(f"{self._name}: {e}") from None

    def _next_member(self) -> bool:
        """After a member: start the next one, or accept zero padding up to the end."""
        while True:
            if not self._pending and not self._fill():
                return False
            if self._pending[0] != 0:
                break
            self._pending = self._pending.lstrip(b"\0")
        while len(self._pending) < len(self._magic) and self._fill():
            pass
        if not self._pending.startswith(self._magic):
            raise Corrupt(f"{self._name}: invalid header")
        self._dec = self._factory()
        return True


class _ZstdReader:
    """zstd frames (and skippable frames) via zstandard's stream reader."""

    def __init__(self, source: Readable, owner: DecompressedStream) -> None:
        import zstandard

        self._tracker = _ZstdFrameTracker(source, owner)
        self._error = zstandard.ZstdError
        tracker: Any = self._tracker
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            tracker, read_size=CHUNK, read_across_frames=True, closefd=False
        )
        self._done = False

    def read(self, size: int) -> bytes:
        if self._done:
            return b""
        try:
            data: bytes = self._reader.read(size)
        except self._error as e:
            raise Corrupt(f"zstd: {e}") from None
        if not data:
            self._done = True
            self._tracker.finish()
        return data


_ZSTD_FRAME = 0xFD2FB528
_ZSTD_SKIPPABLE_MASK = 0xFFFFFFF0
_ZSTD_SKIPPABLE = 0x184D2A50


class _ZstdFrameTracker:
    """Passes bytes through while following zstd's frame and block structure.

    Only the structure is followed (magic, frame header size, block headers); the
    decoding and the content checksums are the library's. At the end, the input
    must stop exactly between two frames.
    """

    def __init__(self, source: Readable, owner: DecompressedStream) -> None:
        self._source = source
        self._owner = owner
        self._need = 4  # bytes to collect into _acc before the next state step
        self._acc = b""
        self._skip = 0  # bytes to pass over before collecting again
        self._state = "magic"
        self._checksum = False
        self._frames = 0
        self._lost = False  # unknown structure: let the decoder raise

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        self._owner.compressed_bytes += len(data)
        if data and not self._lost:
            self._scan(data)
        return data

    def finish(self) -> None:
        if self._lost:
            return
        if self._state != "magic" or self._acc or self._skip:
            raise Corrupt("unexpected EOF")

    def _scan(self, data: bytes) -> None:
        pos = 0
        n = len(data)
        while pos < n:
            if self._skip:
                step = min(self._skip, n - pos)
                self._skip -= step
                pos += step
                continue
            take = min(self._need - len(self._acc), n - pos)
            self._acc += data[pos : pos + take]
            pos += take
            if len(self._acc) == self._need:
                acc, self._acc = self._acc, b""
                self._step(acc)
                if self._lost:
                    return

    def _step(self, acc: bytes) -> None:
        state = self._state
        if state == "magic":
            magic = int.from_bytes(acc, "little")
            if magic == _ZSTD_FRAME:
                self._state, self._need = "fhd", 1
            elif magic & _ZSTD_SKIPPABLE_MASK == _ZSTD_SKIPPABLE:
                self._state, self._need = "skipsize", 4
            else:
                self._lost = True
        elif state == "skipsize":
            self._skip = int.from_bytes(acc, "little")
            self._state, self._need = "magic", 4
        elif state == "fhd":
            fhd = acc[0]
            fcs_flag = fhd >> 6
            single = (fhd >> 5) & 1
            self._checksum = bool((fhd >> 2) & 1)
            did = (0, 1, 2, 4)[fhd & 3]
            fcs = (single, 2, 4, 8)[fcs_flag]
            self._skip = (0 if single else 1) + did + fcs
            self._state, self._need = "block", 3
        elif state == "block":
            header = int.from_bytes(acc, "little")
            last = header & 1
            btype = (header >> 1) & 3
            bsize = header >> 3
            if btype == 3:
                self._lost = True
                return
            self._skip = 1 if btype == 1 else bsize
            if last:
                self._skip += 4 if self._checksum else 0
                self._frames += 1
                self._state, self._need = "magic", 4


class CompressingWriter:
    """A write-only stream that compresses into ``out``; :meth:`close` ends the stream
    (it does not close ``out``). ``compressed_size`` counts the bytes written to ``out``."""

    def __init__(self, out: Any, compression: Compression, level: int | None = None) -> None:
        self._out = out
        self.compression = compression
        self.compressed_size = 0
        self.uncompressed_size = 0
        self._closed = False
        self._compress: Callable[[bytes], bytes]
        self._flush: Callable[[], bytes]
        if compression == "none":
            self._compress = bytes
            self._flush = bytes
        elif compression == "gzip":
            # wbits=31: gzip framing with a fixed header (mtime 0, no name), so
            # the same tar always compresses to the same bytes.
            c = zlib.compressobj(6 if level is None else level, zlib.DEFLATED, 31)
            self._compress, self._flush = c.compress, c.flush
        elif compression == "zstd":
            import zstandard

            z = zstandard.ZstdCompressor(level=3 if level is None else level, write_checksum=True)
            zc = z.compressobj()
            self._compress, self._flush = zc.compress, zc.flush
        elif compression == "bzip2":
            import bz2

            b = bz2.BZ2Compressor(9 if level is None else level)
            self._compress, self._flush = b.compress, b.flush
        elif compression == "xz":
            import lzma

            x = lzma.LZMACompressor(format=lzma.FORMAT_XZ, preset=level)
            self._compress, self._flush = x.compress, x.flush
        else:
            raise InvalidArgument(f"unsupported compression {compression!r}")

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed CompressingWriter")
        n = len(data)
        self.uncompressed_size += n
        out = self._compress(bytes(data)) if not isinstance(data, bytes) else self._compress(data)
        if out:
            self._out.write(out)
            self.compressed_size += len(out)
        return n

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        out = self._flush()
        if out:
            self._out.write(out)
            self.compressed_size += len(out)

    def __enter__(self) -> CompressingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def compressing_writer(
    out: Any, compression: Compression, level: int | None = None
) -> CompressingWriter:
    """A writer that compresses everything written to it into ``out`` (for push, export)."""
    return CompressingWriter(out, compression, level)
