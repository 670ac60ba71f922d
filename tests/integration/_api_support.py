"""A ``dockyard serve`` on a private socket for the API tests, and raw-socket helpers
for the hijacked routes (attach, exec start), which httpx cannot speak."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Dockyard

# Runs `dockyard serve` whether or not the lead has registered the command yet.
LAUNCHER = (
    "from dockyard.cli.main import COMMANDS, main;"
    "COMMANDS.setdefault('serve', 'serve:cmd_serve');"
    "raise SystemExit(main())"
)


class Server:
    def __init__(self, dy: Dockyard, *extra: str) -> None:
        self.dy = dy
        self.dir = Path(tempfile.mkdtemp(prefix="dy-api-", dir="/tmp"))
        self.sock = str(self.dir / "d.sock")
        self.host = f"unix://{self.sock}"
        self.log = self.dir / "server.log"
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, "serve", "-H", self.host, *self.extra],
                env=self.dy.env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.log.read_text()}")
            if os.path.exists(self.sock):
                with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.sock)
                    return
            time.sleep(0.02)
        raise AssertionError(f"serve did not start: {self.log.read_text()}")

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def client(self, timeout: float = 60) -> httpx.Client:
        return httpx.Client(
            transport=httpx.HTTPTransport(uds=self.sock), base_url="http://docker", timeout=timeout
        )

    def cleanup(self) -> None:
        if self.proc is not None:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def running_server(dy: Dockyard, *extra: str) -> Iterator[Server]:
    server = Server(dy, *extra)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()
        # containers a failed test left behind
        with contextlib.suppress(Exception):
            ids = dy("ps", "-aq", check=False).out.split()
            if ids:
                dy("rm", "-f", *ids, check=False)


# ------------------------------------------------------------------ hijack


class Hijacked:
    """A connection after ``101 UPGRADED``: raw bytes both ways."""

    def __init__(self, sock: socket.socket, status: int, headers: dict[str, str], rest: bytes):
        self.sock = sock
        self.status = status
        self.headers = headers
        self.buffer = rest

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def read_all(self, timeout: float = 30) -> bytes:
        self.sock.settimeout(timeout)
        data = self.buffer
        self.buffer = b""
        while chunk := self.sock.recv(65536):
            data += chunk
        return data

    def read_until(self, needle: bytes, timeout: float = 30) -> bytes:
        self.sock.settimeout(timeout)
        while needle not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"closed before {needle!r}: {self.buffer!r}")
            self.buffer += chunk
        return self.buffer

    def close(self) -> None:
        self.sock.close()


def hijack(sock_path: str, path: str, body: Any = None, upgrade: bool = True) -> Hijacked:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(sock_path)
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"POST {path} HTTP/1.1\r\nHost: docker\r\nContent-Length: {len(payload)}\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    if upgrade:
        head += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
    sock.sendall(head.encode() + b"\r\n" + payload)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"no response: {data!r}")
        data += chunk
    head_text, _, rest = data.partition(b"\r\n\r\n")
    lines = head_text.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return Hijacked(sock, status, headers, rest)


def demux(data: bytes) -> dict[int, bytes]:
    """Docker's 8-byte framed stream → bytes per stream (1 stdout, 2 stderr)."""
    out: dict[int, bytes] = {}
    while data:
        assert len(data) >= 8, f"truncated frame header: {data!r}"
        stream, size = struct.unpack(">BxxxI", data[:8])
        assert len(data) >= 8 + size, "truncated frame"
        out[stream] = out.get(stream, b"") + data[8 : 8 + size]
        data = data[8 + size :]
    return out


def wait_for(predicate: Any, timeout: float = 20, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(interval)
