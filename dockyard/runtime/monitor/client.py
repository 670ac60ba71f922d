"""A client of the monitor's attach socket (the CLI, the API server, tests)."""

from __future__ import annotations

import os
import socket
import struct
from types import TracebackType
from typing import Any

from . import jsonlite, protocol


def connect(path: str, timeout: float | None = None) -> socket.socket:
    """Connect to a unix socket even when ``path`` is longer than sun_path allows."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    if len(path) < 100:
        sock.connect(path)
        return sock
    dfd = os.open(os.path.dirname(path), os.O_PATH | os.O_CLOEXEC)
    try:
        sock.connect(f"/proc/self/fd/{dfd}/{os.path.basename(path)}")
    finally:
        os.close(dfd)
    return sock


class AttachClient:
    """Frames in and out of ``<state dir>/attach`` (see :mod:`.protocol`)."""

    def __init__(self, path: str, timeout: float | None = None) -> None:
        self.sock = connect(path, timeout)
        self._reader = protocol.FrameReader()
        self._frames: list[tuple[int, bytes]] = []
        self.exit: dict[str, Any] | None = None

    def __enter__(self) -> AttachClient:
        return self

    def __exit__(
        self,
        t: type[BaseException] | None,
        e: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send_stdin(self, data: bytes) -> None:
        if data:
            self.sock.sendall(protocol.frame(protocol.STDIN, data))

    def close_stdin(self) -> None:
        self.sock.sendall(protocol.frame(protocol.STDIN, b""))

    def resize(self, rows: int, cols: int) -> None:
        self.sock.sendall(protocol.frame(protocol.RESIZE, struct.pack(">HH", rows, cols)))

    def detach(self) -> None:
        self.sock.sendall(protocol.frame(protocol.DETACH, b""))

    def no_restart(self) -> None:
        self.sock.sendall(protocol.frame(protocol.NO_RESTART, b""))

    def records_exit(self) -> None:
        self.sock.sendall(protocol.frame(protocol.RECORDS_EXIT, b""))

    def start(self) -> None:
        self.sock.sendall(protocol.frame(protocol.START, b""))

    def read_frame(self) -> tuple[int, bytes] | None:
        """The next frame, or None when the monitor closed the connection."""
        while not self._frames:
            data = self.sock.recv(65536)
            if not data:
                return None
            self._frames.extend(self._reader.feed(data))
        stream, payload = self._frames.pop(0)
        if stream == protocol.EXIT:
            value = jsonlite.loads(payload)
            self.exit = value if isinstance(value, dict) else None
        return stream, payload

    def read_until(self, needle: bytes, stream: int | None = None) -> bytes:
        """Output (of ``stream``, or all) until it contains ``needle``; raises at EOF."""
        got = b""
        while needle not in got:
            frame = self.read_frame()
            if frame is None:
                raise EOFError(f"attach closed before {needle!r}; got {got!r}")
            if frame[0] in (protocol.STDOUT, protocol.STDERR) and stream in (None, frame[0]):
                got += frame[1]
        return got

    def read_to_exit(self) -> tuple[dict[int, bytes], dict[str, Any] | None]:
        """Everything until the container's final exit: output per stream, the exit record."""
        out: dict[int, bytes] = {}
        while True:
            frame = self.read_frame()
            if frame is None:
                return out, self.exit
            stream, payload = frame
            if stream == protocol.EXIT and self.exit and not self.exit.get("Restarting"):
                return out, self.exit
            if stream in (protocol.STDOUT, protocol.STDERR):
                out[stream] = out.get(stream, b"") + payload


STATE_FILES = ("state.json", "exit.json", "health.json")


def read_state_file(state_dir: str, name: str) -> dict[str, Any] | None:
    """One of the monitor's JSON files (``state.json``, ``exit.json``, ``health.json``).

    None if it does not exist (yet). The monitor writes them atomically, so a
    reader never sees half a file.
    """
    if name not in STATE_FILES:
        raise ValueError(f"not a monitor state file: {name}")
    try:
        with open(os.path.join(state_dir, name)) as f:
            value = jsonlite.loads(f.read())
    except FileNotFoundError:
        return None
    return value if isinstance(value, dict) else None


def monitor_pid(state_dir: str) -> int | None:
    """The monitor's pid if it is still running (not a zombie), else None."""
    try:
        with open(os.path.join(state_dir, "monitor.pid")) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    return None if state in ("Z", "X") else pid
