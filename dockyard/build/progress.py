"""Build output in BuildKit's style (``--progress plain|tty|auto|quiet``).

plain: every vertex as ``#N name``, its output lines as ``#N 0.241 text``, then
``#N DONE 0.3s``, ``#N CACHED`` or ``#N ERROR: ...``. dockyard adds one line to a
step that missed the cache: ``#N cache miss: <why>`` (which file or build arg
changed, "instruction changed", "parent changed", "--no-cache").
tty: BuildKit's summary lines (`` => [2/3] RUN ... 0.3s``) written as vertices
finish, with a header and footer; output of a failing step is shown.
Stages build in threads, so writes go through one lock.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Vertex:
    def __init__(self, progress: Progress, number: int, name: str) -> None:
        self.progress = progress
        self.number = number
        self.name = name
        self.started = time.monotonic()
        self.logs: list[str] = []
        self._partial = b""
        self.miss_reason = ""

    def log(self, data: bytes) -> None:
        self._partial += data
        *lines, self._partial = self._partial.split(b"\n")
        for line in lines:
            self._emit(line)

    def _emit(self, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        elapsed = time.monotonic() - self.started
        self.logs.append(text)
        self.progress._line(f"#{self.number} {elapsed:.3f} {text}", plain_only=True)

    def flush(self) -> None:
        if self._partial:
            self._emit(self._partial)
            self._partial = b""

    def miss(self, reason: str) -> None:
        self.miss_reason = reason
        self.progress._line(f"#{self.number} cache miss: {reason}", plain_only=True)

    def note(self, text: str) -> None:
        self.progress._line(f"#{self.number} {text}", plain_only=True)

    def done(self) -> None:
        self.flush()
        took = time.monotonic() - self.started
        self.progress._finish(self, f"#{self.number} DONE {took:.1f}s", f"{took:.1f}s")

    def cached(self) -> None:
        self.progress._finish(self, f"#{self.number} CACHED", "0.0s", cached=True)

    def error(self, message: str) -> None:
        self.flush()
        took = time.monotonic() - self.started
        self.progress._finish(self, f"#{self.number} ERROR: {message}", f"{took:.1f}s", error=True)


class Progress:
    """Writes the build's progress to ``out`` (stderr) in the chosen mode."""

    def __init__(self, mode: str = "auto", out: TextIO | None = None) -> None:
        self.out = out if out is not None else sys.stderr
        if mode == "auto":
            mode = "tty" if self.out.isatty() else "plain"
        if mode not in ("plain", "tty", "quiet", "rawjson"):
            from dockyard.errors import InvalidArgument

            raise InvalidArgument(f'invalid progress mode "{mode}"')
        self.mode = "plain" if mode == "rawjson" else mode
        self._lock = threading.Lock()
        self._next = 1
        self._count = 0
        self._started = time.monotonic()
        self.vertices: list[Vertex] = []
        if self.mode == "plain":
            self._write('#0 building with "default" instance using dockyard driver\n\n')

    def vertex(self, name: str) -> Vertex:
        with self._lock:
            v = Vertex(self, self._next, name)
            self._next += 1
            self.vertices.append(v)
        if self.mode == "plain":
            self._line(f"#{v.number} {name}")
        return v

    def _write(self, text: str) -> None:
        if self.mode == "quiet":
            return
        self.out.write(text)
        self.out.flush()

    def _line(self, text: str, *, plain_only: bool = False) -> None:
        if plain_only and self.mode != "plain":
            return
        with self._lock:
            self._write(text + "\n")

    def _finish(
        self, v: Vertex, plain: str, took: str, *, cached: bool = False, error: bool = False
    ) -> None:
        with self._lock:
            self._count += 1
            if self.mode == "plain":
                self._write(plain + "\n\n")
            elif self.mode == "tty":
                state = "CACHED " if cached else ("ERROR " if error else "")
                self._write(f" => {state}{v.name}  {took}\n")
                if error:
                    for line in v.logs[-10:]:
                        self._write(f" => => # {line}\n")

    def close(self, ok: bool) -> None:
        if self.mode == "tty":
            took = time.monotonic() - self._started
            status = "FINISHED" if ok else "ERROR"
            self._write(f"[+] Building {took:.1f}s ({self._count}/{len(self.vertices)}) {status}\n")
