"""Container log writers: ``json-file``, ``local`` and ``none``, with rotation.

``json-file`` writes Docker's format: one object per line,
``{"log":"...\\n","stream":"stdout","time":"<RFC3339Nano>"}``, in ``<id>-json.log``,
rotated to ``.1``, ``.2``… when ``max-size`` would be exceeded (``max-file`` files
in all, current one included), as Docker's json-file driver does.

``local`` is *not* Docker's protobuf format. It is dockyard's own framing, in
``container.log`` (rotated like json-file; defaults 20m × 5, no compression)::

    record  = len:u32be  payload  len:u32be      (trailing length: read backwards)
    payload = stream:u8 (1 stdout, 2 stderr)  time_ns:u64be  partial:u8  bytes

Lines are split on ``\\n`` (the newline is kept, as Docker keeps it); a line
longer than 16 KiB is written in 16 KiB pieces marked partial, like Docker.
"""

from __future__ import annotations

import os
import struct
import time

from . import jsonlite
from .timefmt import rfc3339nano

STREAM_NAMES = {1: "stdout", 2: "stderr"}
MAX_LINE = 16 * 1024
_LOCAL_HEAD = struct.Struct(">BQB")


def parse_size(text: str) -> int:
    """Docker's ``RAMInBytes``: ``10m`` is 10 MiB, ``1k`` 1 KiB; plain digits are bytes."""
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    mult = 1
    if t and t[-1] in "kmgtp":
        mult = 1024 ** ("kmgtp".index(t[-1]) + 1)
        t = t[:-1]
    try:
        value = float(t)
    except ValueError:
        raise ValueError(f"invalid size: {text!r}") from None
    if value < 0:
        raise ValueError(f"invalid size: {text!r}")
    return int(value * mult)


class LogWriter:
    """Base: ``write(stream, data)`` takes raw output; ``flush_partial`` at exit."""

    def __init__(self) -> None:
        self._pending: dict[int, bytes] = {}

    def write(self, stream: int, data: bytes) -> None:
        buf = self._pending.get(stream, b"") + data
        while True:
            nl = buf.find(b"\n")
            if nl < 0 or nl >= MAX_LINE:
                if len(buf) >= MAX_LINE:
                    self._emit(stream, buf[:MAX_LINE], True)
                    buf = buf[MAX_LINE:]
                    continue
                break
            self._emit(stream, buf[: nl + 1], False)
            buf = buf[nl + 1 :]
        self._pending[stream] = buf

    def flush_partial(self) -> None:
        """Write what is left without a newline (the container has exited)."""
        for stream, buf in sorted(self._pending.items()):
            if buf:
                self._emit(stream, buf, True)
        self._pending.clear()

    def _emit(self, stream: int, line: bytes, partial: bool) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.flush_partial()


class NoneWriter(LogWriter):
    def write(self, stream: int, data: bytes) -> None:
        pass

    def _emit(self, stream: int, line: bytes, partial: bool) -> None:
        pass


class RotatingFile:
    """An append-only file that rotates to ``path.1``… before it would pass ``max_size``."""

    def __init__(self, path: str, max_size: int, max_file: int) -> None:
        self.path = path
        self.max_size = max_size  # 0: unlimited
        self.max_file = max(1, max_file)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size

    def append(self, data: bytes) -> None:
        if self.max_size and self.size > 0 and self.size + len(data) > self.max_size:
            self.rotate()
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.size += len(data)

    def rotate(self) -> None:
        os.close(self.fd)
        if self.max_file > 1:
            for i in range(self.max_file - 1, 0, -1):
                src = self.path if i == 1 else f"{self.path}.{i - 1}"
                try:  # noqa: SIM105 (contextlib costs memory)
                    os.replace(src, f"{self.path}.{i}")
                except FileNotFoundError:
                    pass
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        else:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        self.fd = os.open(self.path, flags, 0o640)
        self.size = 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class JsonFileWriter(LogWriter):
    def __init__(self, path: str, max_size: int = 0, max_file: int = 1) -> None:
        super().__init__()
        self.file = RotatingFile(path, max_size, max_file)

    def _emit(self, stream: int, line: bytes, partial: bool) -> None:
        rec = {
            "log": line.decode("utf-8", errors="replace"),
            "stream": STREAM_NAMES.get(stream, "stdout"),
            "time": rfc3339nano(),
        }
        self.file.append(jsonlite.dumps(rec).encode() + b"\n")

    def close(self) -> None:
        super().close()
        self.file.close()


class LocalWriter(LogWriter):
    def __init__(self, path: str, max_size: int, max_file: int) -> None:
        super().__init__()
        self.file = RotatingFile(path, max_size, max_file)

    def _emit(self, stream: int, line: bytes, partial: bool) -> None:
        payload = _LOCAL_HEAD.pack(stream, time.time_ns(), 1 if partial else 0) + line
        n = struct.pack(">I", len(payload))
        self.file.append(n + payload + n)

    def close(self) -> None:
        super().close()
        self.file.close()


def decode_local(data: bytes) -> tuple[list[tuple[int, int, bool, bytes]], int]:
    """Whole ``local`` records in ``data``: ``(stream, time_ns, partial, bytes)`` each,
    and how many bytes they used (a torn or unfinished last record is left)."""
    out = []
    pos = 0
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        if pos + 8 + n > len(data):
            break
        stream, ns, partial = _LOCAL_HEAD.unpack_from(data, pos + 4)
        out.append((stream, ns, bool(partial), data[pos + 4 + _LOCAL_HEAD.size : pos + 4 + n]))
        pos += 8 + n
    return out, pos


def read_local(path: str) -> list[tuple[int, int, bool, bytes]]:
    """Decode a ``local`` log file: ``(stream, time_ns, partial, bytes)`` records."""
    with open(path, "rb") as f:
        return decode_local(f.read())[0]


def open_writer(driver: str, opts: dict[str, str], log_dir: str, container_id: str) -> LogWriter:
    """The writer for ``--log-driver``/``--log-opt``; paths follow Docker's names."""
    if driver == "none":
        return NoneWriter()
    if driver == "json-file":
        path = opts.get("path") or os.path.join(log_dir, f"{container_id}-json.log")
        size = parse_size(opts["max-size"]) if "max-size" in opts else 0
        files = int(opts.get("max-file", "1"))
        if files > 1 and not size:
            raise ValueError("max-file cannot be set without max-size")
        return JsonFileWriter(path, size, files)
    if driver == "local":
        path = opts.get("path") or os.path.join(log_dir, "local-logs", "container.log")
        size = parse_size(opts.get("max-size", "20m"))
        return LocalWriter(path, size, int(opts.get("max-file", "5")))
    raise ValueError(f"unsupported log driver: {driver}")
