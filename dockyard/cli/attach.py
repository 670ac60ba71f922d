"""Attaching the CLI to a container through its monitor's attach socket, as Docker does.

Used by ``run``, ``start -a`` and ``attach``. The main thread copies output frames
to stdout/stderr until the exit frame; a thread copies stdin to the container
(watching for the detach keys when there is a tty, as Docker does); a control
thread sends resizes (SIGWINCH) and proxies signals, so that signal handlers only
queue work and never touch the socket or the engine themselves.
"""

from __future__ import annotations

import os
import sys

from dockyard.errors import InvalidArgument, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    import queue
    import threading
    from collections.abc import Callable
    from typing import Any

    from dockyard.engine import Engine
    from dockyard.runtime.monitor.client import AttachClient

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
_CTRL_SPECIALS = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse_detach_keys(keys: str) -> bytes:
    """Docker's ``--detach-keys`` syntax: comma-separated ``ctrl-<key>`` or single characters."""
    codes = bytearray()
    for key in keys.split(","):
        if len(key) == 1:
            codes += key.encode()
            continue
        if key.startswith("ctrl-") and len(key) == 6:
            ch = key[5]
            if "a" <= ch <= "z":
                codes.append(ord(ch) - ord("a") + 1)
                continue
            if ch in _CTRL_SPECIALS:
                codes.append(_CTRL_SPECIALS[ch])
                continue
        raise InvalidArgument(f"Invalid detach keys ({keys}) provided")
    return bytes(codes)


class DetachMatcher:
    """Finds the detach sequence in stdin; a partial match is passed on once it breaks."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.pending = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """The bytes to send on, and whether the sequence was completed."""
        out = bytearray()
        for byte in data:
            if self.keys and byte == self.keys[len(self.pending)]:
                self.pending += bytes((byte,))
                if len(self.pending) == len(self.keys):
                    self.pending = b""
                    return bytes(out), True
                continue
            out += self.pending
            self.pending = b""
            if self.keys and byte == self.keys[0]:
                if len(self.keys) == 1:
                    return bytes(out), True
                self.pending = bytes((byte,))
            else:
                out.append(byte)
        return bytes(out), False


def _proxied_signals() -> list[int]:
    """What Docker's CLI forwards: every catchable signal but a few that are not the user's.

    From ``_signal``, not ``signal``: building its enums costs ``run`` ~1.5 ms."""
    import _signal  # type: ignore[import-not-found]

    skip = {"SIGKILL", "SIGSTOP", "SIGCHLD", "SIGWINCH", "SIGPIPE", "SIGURG"}
    skip |= {"SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP", "SIGSYS"}  # synchronous faults
    numbers = {
        value
        for name, value in vars(_signal).items()
        if name.startswith("SIG") and "_" not in name and isinstance(value, int)
    }
    skipped = {getattr(_signal, name) for name in skip}
    return sorted(n for n in numbers if n not in skipped and 0 < n < 32)


def _terminal_size() -> tuple[int, int] | None:
    for stream in (sys.stdout, sys.stdin):
        try:
            size = os.get_terminal_size(stream.fileno())
        except (OSError, ValueError):
            continue
        return size.lines, size.columns
    return None


class _Session:
    def __init__(
        self, engine: Engine, container_id: str, client: AttachClient, stdin_once: bool
    ) -> None:
        import threading
        from _queue import SimpleQueue  # the queue module's, without the rest of it

        self.engine = engine
        self.container_id = container_id
        self.client = client
        self.stdin_once = stdin_once
        self.lock = threading.Lock()  # one frame at a time on the socket
        self.detached = threading.Event()
        self.events: queue.SimpleQueue[tuple[str, int] | None] = SimpleQueue()
        self.control: threading.Thread | None = None

    def send(self, action: Callable[..., None], *args: object) -> bool:
        with self.lock:
            try:
                action(*args)
            except OSError:
                return False
        return True

    def resize(self) -> None:
        size = _terminal_size()
        if size is not None:
            client = self.client
            self.send(client.resize, *size)

    def start_control(self) -> None:
        import threading

        self.control = threading.Thread(target=self._control, daemon=True)
        self.control.start()

    def stop_control(self) -> None:
        if self.control is not None:
            self.events.put(None)
            self.control.join(5)

    def _control(self) -> None:
        while True:
            event = self.events.get()
            if event is None:
                return
            kind, value = event
            if kind == "resize":
                self.resize()
            elif kind == "signal":
                self._kill(value)

    def _kill(self, sig: int) -> None:
        from dockyard.errors import DockyardError

        try:
            container = self.engine.containers.get(self.container_id)
            self.engine.lifecycle.refresh(container)
            if int(container.state.get("Pid") or 0) > 0:  # never os.kill(0, ...): our own group
                self.engine.lifecycle.kill(container, sig)
        except DockyardError:
            pass

    def pump_stdin(self, matcher: DetachMatcher | None) -> None:
        fd = sys.stdin.fileno()
        client = self.client
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                if self.stdin_once:
                    self.send(client.close_stdin)
                return
            detach = False
            if matcher is not None:
                data, detach = matcher.feed(data)
            if data and not self.send(client.send_stdin, data):
                return
            if detach:
                self.detached.set()
                self.send(client.detach)
                self._shutdown_read()
                return

    def _shutdown_read(self) -> None:
        import contextlib
        import socket

        with contextlib.suppress(OSError):
            self.client.sock.shutdown(socket.SHUT_RD)

    def copy_output(self) -> dict[str, Any] | None:
        """Output frames to our stdout/stderr until the final exit frame (None without one)."""
        from dockyard.runtime.monitor import protocol

        out = sys.stdout.buffer
        err = sys.stderr.buffer
        while True:
            try:
                frame = self.client.read_frame()
            except (OSError, ValueError):
                return None
            if frame is None:
                return None
            stream, data = frame
            if stream == protocol.STDOUT:
                out.write(data)
                out.flush()
            elif stream == protocol.STDERR:
                err.write(data)
                err.flush()
            elif stream == protocol.EXIT:
                report = self.client.exit
                if report is not None and not report.get("Restarting"):
                    return report


def attach_and_wait(
    engine: Engine,
    container_id: str,
    *,
    stdin: bool,
    tty: bool,
    detach_keys: str | None = None,
    sig_proxy: bool = True,
    start: bool = False,
) -> int:
    """Stream the container's output (and our stdin) until it exits or we detach.

    Returns the container's exit code, or 0 after detaching (as ``docker run`` and
    ``docker start -a`` do). ``start`` sends the start frame to a monitor holding
    the container (``wait_for_attach=True``).
    """
    code = attach(
        engine,
        container_id,
        stdin=stdin,
        tty=tty,
        detach_keys=detach_keys,
        sig_proxy=sig_proxy,
        start=start,
    )
    return 0 if code is None else code


def attach(
    engine: Engine,
    container_id: str,
    *,
    stdin: bool,
    tty: bool,
    detach_keys: str | None = None,
    sig_proxy: bool = True,
    start: bool = False,
) -> int | None:
    """:func:`attach_and_wait`, but None when the user detached."""
    keys = parse_detach_keys(detach_keys or DEFAULT_DETACH_KEYS)
    stdin_once = _stdin_once(engine, container_id)
    try:
        client = _connect(engine, container_id)
    except OSError:
        return _recorded_exit(engine, container_id)
    session = _Session(engine, container_id, client, stdin_once)
    restore: list[Callable[[], None]] = []
    report: dict[str, Any] | None = None
    try:
        session.send(client.records_exit)  # we record the end ourselves, at once
        if stdin and tty and sys.stdin.isatty():
            restore.append(_raw_terminal())
        if tty:
            session.resize()
        session.start_control()
        if tty:
            restore.append(_on_signals(session, [_sigwinch()], "resize"))
        elif sig_proxy:
            restore.append(_on_signals(session, _proxied_signals(), "signal"))
        if start:
            session.send(client.start)
        if stdin:
            _thread(session.pump_stdin, DetachMatcher(keys) if tty else None)
        report = session.copy_output()
    finally:
        for undo in reversed(restore):
            undo()
        session.stop_control()
        try:
            # as `docker run` returns, the record already says Exited (so `rm` works at
            # once): record it ourselves, before we hang up (the monitor runs its exit
            # callback only if we did not)
            if report is not None and not report.get("Restarting"):
                engine.lifecycle.exited_if_reported(container_id)
        finally:
            client.close()
    if report is not None:
        engine.lifecycle.wait_exited(container_id, 30)
        return int(report.get("ExitCode") or 0)
    if session.detached.is_set():
        return None
    return _recorded_exit(engine, container_id)


def _connect(engine: Engine, container_id: str) -> AttachClient:
    from dockyard.runtime.monitor.client import AttachClient

    return AttachClient(os.path.join(engine.lifecycle.state_dir(container_id), "attach"))


def _stdin_once(engine: Engine, container_id: str) -> bool:
    container = engine.containers.try_get(container_id)
    return bool(container is not None and container.config.get("StdinOnce"))


def _recorded_exit(engine: Engine, container_id: str) -> int:
    """The exit code from the record, once the monitor has gone without an exit frame."""
    engine.lifecycle.wait_exited(container_id, 30)
    try:
        return int(engine.containers.get(container_id).state.get("ExitCode") or 0)
    except NotFound:
        return 0


def _thread(target: Callable[..., None], *args: object) -> threading.Thread:
    import threading

    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def _sigwinch() -> int:
    import _signal

    return int(_signal.SIGWINCH)


def _on_signals(session: _Session, signals: list[int], kind: str) -> Callable[[], None]:
    """Queue ``(kind, signum)`` for the control thread on each signal; the undo function."""
    import _signal

    def handler(signum: int, frame: object) -> None:
        session.events.put((kind, signum))  # SimpleQueue.put is safe in a signal handler

    saved: dict[int, Any] = {}
    for sig in signals:
        try:
            saved[sig] = _signal.signal(sig, handler)
        except (OSError, ValueError):
            continue

    def undo() -> None:
        for sig, previous in saved.items():
            _signal.signal(sig, previous)

    return undo


def _raw_terminal() -> Callable[[], None]:
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    return lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)
