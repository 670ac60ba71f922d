"""The progress lines Docker Compose prints on stderr.

On a terminal: `` ✔ Container demo-web-1  Started   0.3s`` as each step ends; otherwise
compose's plain form, one line per state change, as Go's ``fmt.Fprintln`` writes its
operands (`` Container demo-web-1 Starting `` — note the spaces at both ends).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

_DONE = {
    "Created",
    "Started",
    "Stopped",
    "Removed",
    "Running",
    "Recreated",
    "Healthy",
    "Exited",
    "Killed",
    "Paused",
    "Unpaused",
    "Restarted",
    "Pulled",
    "Built",
    "Skipped",
    "Pushed",
    "Copied",
    "Layer already exists",
}
_WARNED = {"Warning"}
_FAILED = {"Error", "Unhealthy"}


class Progress:
    def __init__(self, mode: str = "auto", out: TextIO | None = None) -> None:
        self.out = out if out is not None else sys.stderr
        if mode in ("auto", "", None):
            mode = "tty" if self.out.isatty() else "plain"
        self.mode = mode
        self._lock = threading.Lock()
        self._began: dict[str, float] = {}

    def event(self, kind: str, name: str, status: str, details: str = "") -> None:
        """``kind`` is Network, Volume, Container or a service name (pull/build);
        ``details`` follows the status (``cp``: what was copied where)."""
        if self.mode == "quiet":
            return
        key = f"{kind} {name}" if kind else name
        now = time.monotonic()
        with self._lock:
            if self.mode == "plain":
                # compose's plainWriter: fmt.Fprintln("", ID, Text, Details), so the
                # operands are space-separated and an empty Details leaves a space
                self.out.write(" ".join(("", key, status, details)) + "\n")
            elif status in _DONE or status in _FAILED or status in _WARNED:
                took = now - self._began.pop(key, now)
                mark = "✔" if status in _DONE else "!" if status in _WARNED else "✘"
                tail = f" {details}" if details else ""
                self.out.write(f" {mark} {key}  {status:<10} {took:5.1f}s{tail}\n")
            else:
                self._began.setdefault(key, now)
            self.out.flush()

    def text(self, line: str) -> None:
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()
