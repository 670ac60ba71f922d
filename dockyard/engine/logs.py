"""Reading a container's log back: ``json-file`` and ``local``, rotated files included.

The monitor writes the logs (``dockyard.runtime.monitor.logs``); this module is the
one reader, for ``logs`` on the CLI and the API server alike. Rotated files are
read oldest first (``.N`` … ``.1``, then the live file). Following polls the live
file and starts over at the top of a new file when the monitor rotates it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO, NamedTuple

from dockyard.errors import DockyardError
from dockyard.golang.timefmt import format_rfc3339nano, parse_rfc3339nano
from dockyard.runtime.monitor.logs import STREAM_NAMES, decode_local

READABLE_DRIVERS = ("json-file", "local")


class LogEntry(NamedTuple):
    stream: str  # "stdout" or "stderr"
    time_ns: int  # nanoseconds since the epoch
    data: bytes

    @property
    def timestamp(self) -> str:
        """Docker's RFC3339NanoFixed in UTC (always nine digits), as ``logs -t`` prints it."""
        text = format_rfc3339nano(self.time_ns // 1_000_000_000, self.time_ns % 1_000_000_000)
        head, _, fraction = text[:-1].partition(".")
        return f"{head}.{fraction.ljust(9, '0')}Z"


class LogSelection(NamedTuple):
    tail: int = -1  # -1: all
    since_ns: int = 0  # 0: from the start
    until_ns: int = 0  # 0: no end

    def admits(self, entry: LogEntry) -> bool:
        if self.since_ns and entry.time_ns < self.since_ns:
            return False
        return not (self.until_ns and entry.time_ns > self.until_ns)


ALL = LogSelection()


def log_path(container_dir: str, container_id: str, log_config: dict[str, object]) -> str:
    """The live log file of a container; ``DockyardError`` for drivers that cannot be read."""
    driver = str(log_config.get("Type") or "json-file")
    options = log_config.get("Config") or {}
    custom = options.get("path") if isinstance(options, dict) else None
    if driver == "json-file":
        return str(custom or os.path.join(container_dir, f"{container_id}-json.log"))
    if driver == "local":
        return str(custom or os.path.join(container_dir, "local-logs", "container.log"))
    raise DockyardError(f'configured logging driver does not support reading: "{driver}"')


def _decoder(path: str) -> Callable[[bytes], tuple[list[LogEntry], int]]:
    return _decode_json if not path.endswith("container.log") else _decode_local


def _decode_json(data: bytes) -> tuple[list[LogEntry], int]:
    """Whole lines of a json-file log; returns the entries and the bytes used."""
    entries = []
    used = data.rfind(b"\n") + 1
    for line in data[:used].splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            sec, nsec = parse_rfc3339nano(record.get("time") or "1970-01-01T00:00:00Z")
        except (ValueError, DockyardError):
            continue  # a torn line left by a crash: skip it, as docker does
        text = record.get("log", "")
        entries.append(
            LogEntry(record.get("stream", "stdout"), sec * 1_000_000_000 + nsec, text.encode())
        )
    return entries, used


def _decode_local(data: bytes) -> tuple[list[LogEntry], int]:
    records, used = decode_local(data)
    entries = [
        LogEntry(STREAM_NAMES.get(stream, "stdout"), time_ns, payload)
        for stream, time_ns, _partial, payload in records
    ]
    return entries, used


def _rotated(path: str) -> list[str]:
    """``path.N`` … ``path.1``: the rotated files, oldest first."""
    numbered = []
    directory, base = os.path.split(path)
    try:
        names = os.listdir(directory or ".")
    except FileNotFoundError:
        return []
    for name in names:
        suffix = name[len(base) + 1 :]
        if name.startswith(base + ".") and suffix.isdigit():
            numbered.append((int(suffix), os.path.join(directory, name)))
    return [p for _, p in sorted(numbered, reverse=True)]


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


class LogReader:
    """A container's log read in steps: :meth:`existing` once, then :meth:`poll` for
    what the monitor wrote since (across a rotation), without blocking — for a
    blocking follower (:func:`read_logs`) and an async one (the API server) alike."""

    def __init__(self, path: str, selection: LogSelection = ALL) -> None:
        self.path = path
        self.selection = selection
        self.decode = _decoder(path)
        self.handle: BinaryIO | None = None
        self.pending = b""
        self.finished = False  # an entry past ``until`` was seen

    def existing(self) -> list[LogEntry]:
        """What the log holds now (rotated files first), after since/until/tail."""
        entries: list[LogEntry] = []
        for rotated in _rotated(self.path):
            entries.extend(self.decode(_read_file(rotated))[0])
        entries.extend(self.poll(select=False))
        selected = [e for e in entries if self.selection.admits(e)]
        if self.selection.tail >= 0:
            selected = selected[-self.selection.tail :] if self.selection.tail else []
        return selected

    def poll(self, *, select: bool = True) -> list[LogEntry]:
        """Whole entries written since the last call."""
        out: list[LogEntry] = []
        while True:
            if self.handle is None:
                try:
                    self.handle = open(self.path, "rb")  # noqa: SIM115 - kept open
                except FileNotFoundError:
                    break
                self.pending = b""
            chunk = self.handle.read()
            if chunk:
                self.pending += chunk
                found, used = self.decode(self.pending)
                self.pending = self.pending[used:]
                out.extend(found)
                continue
            if not _replaced(self.handle, self.path):
                break
            self.handle.close()  # rotated: everything it had was read just now
            self.handle = None
        if not select:
            return out
        chosen = []
        for entry in out:
            if self.selection.until_ns and entry.time_ns > self.selection.until_ns:
                self.finished = True
                break
            if self.selection.admits(entry):
                chosen.append(entry)
        return chosen

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def read_logs(
    path: str,
    selection: LogSelection = ALL,
    *,
    follow: bool = False,
    running: Callable[[], bool] | None = None,
    poll_interval: float = 0.05,
) -> Iterator[LogEntry]:
    """The entries of the log at ``path``; with ``follow``, new ones until ``running()``
    says the container has ended (then what is left in the file, and stop)."""
    reader = LogReader(path, selection)
    try:
        yield from reader.existing()
        if not follow:
            return
        ended = False
        while not reader.finished:
            found = reader.poll()
            yield from found
            if found:
                continue
            if ended:
                return
            if running is not None and not running():
                ended = True  # one more read: what was written before the end
                continue
            time.sleep(poll_interval)
    finally:
        reader.close()


def _replaced(handle: BinaryIO, path: str) -> bool:
    """The monitor rotated the log: ``path`` is now another file."""
    try:
        return os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False
