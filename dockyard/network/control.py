"""The control protocol of the per-run-root network helpers (``dnsd``, the port
proxy): one JSON object per line on a unix socket, one reply per request."""

from __future__ import annotations

import contextlib
import json
import socket

TYPE_CHECKING = False
if TYPE_CHECKING:  # the helpers' clients sit on the container start path: no typing import
    from collections.abc import Callable
    from typing import Any


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def request(sock_path: str, message: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send ``message`` and return the reply; ``{}`` when the helper closed the
    connection without answering (it is on its way out)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(json.dumps(message).encode() + b"\n")
        data = _read_line(s)
    reply: dict[str, Any] = json.loads(data) if data.strip() else {}
    return reply


def request_starting(
    sock_path: str, message: dict[str, Any], helper: list[str], *, what: str, timeout: float
) -> dict[str, Any]:
    """:func:`request` to a run root's helper, starting it when none answers
    (``python -m <helper...>``, see :func:`spawn`) and asking again for up to ten
    seconds, starting it again each second: the one started may have met one on its
    way out, which answers nothing. Raises SystemFailure naming ``what``."""
    import time

    from dockyard.errors import SystemFailure

    try:
        reply = request(sock_path, message, timeout)
        if reply:
            return reply
    except (OSError, ValueError):
        pass
    spawn(sock_path, helper)
    deadline = time.monotonic() + 10
    respawn = time.monotonic() + 1
    while True:
        try:
            reply = request(sock_path, message, timeout)
            if reply:
                return reply
        except (OSError, ValueError):
            pass
        now = time.monotonic()
        if now > deadline:
            raise SystemFailure(f"the {what} did not start")
        if now > respawn:
            spawn(sock_path, helper)
            respawn = now + 1
        time.sleep(0.01)


def spawn(sock_path: str, helper: list[str]) -> None:
    """Start ``python -m <helper...>`` in the background: a session of its own, no
    stdio, cwd ``/``, only PATH and this process's module path in its environment
    (it outlives the command that started it)."""
    import os
    import subprocess
    import sys

    os.makedirs(os.path.dirname(sock_path), mode=0o700, exist_ok=True)
    subprocess.Popen(
        [sys.executable, "-m", *helper],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        cwd="/",
        env={
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "PYTHONPATH": os.pathsep.join(sys.path),
        },
    )


def serve_one(
    listener: socket.socket,
    handle: Callable[[dict[str, Any]], None],
    describe: Callable[[Exception], str | None],
) -> None:
    """Accept one request on ``listener``, run ``handle`` on it and answer
    ``{"ok": true}``, or ``{"error": …}`` with what ``describe`` makes of the
    exception (``None``: not ours to catch)."""
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(5)
        data = b""
        with contextlib.suppress(OSError):
            data = _read_line(conn)
        reply: dict[str, Any] = {"ok": True}
        try:
            handle(json.loads(data))
        except Exception as exc:
            text = describe(exc)
            if text is None:
                raise
            reply = {"error": text}
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(reply).encode() + b"\n")


def run_single(sock_path: str, pid_path: str, serve: Callable[[socket.socket], None]) -> None:
    """Be the one helper of a run root: hold the pid file's lock (another holder
    means one already serves: return), write our pid, and run ``serve`` on a fresh
    non-blocking control socket at ``sock_path``, removed when it returns."""
    import fcntl
    import os

    os.makedirs(os.path.dirname(sock_path), mode=0o700, exist_ok=True)
    lock = os.open(pid_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another helper serves this run root
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()}\n".encode())
    with contextlib.suppress(FileNotFoundError):
        os.unlink(sock_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(64)
    listener.setblocking(False)
    try:
        serve(listener)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(sock_path)
        listener.close()
