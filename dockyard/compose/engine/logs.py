"""Several containers' logs on one stream, each line prefixed ``web-1  | `` (coloured
on a terminal) as Docker Compose prints them for ``up`` and ``logs``."""

from __future__ import annotations

import queue
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from dockyard.config import Options
    from dockyard.engine.logs import LogEntry, LogSelection

_COLORS = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"]


class LogPrinter:
    def __init__(
        self,
        names: list[str],
        *,
        color: bool,
        prefix: bool = True,
        timestamps: bool = False,
        out: BinaryIO | None = None,
    ) -> None:
        self.out = out if out is not None else sys.stdout.buffer
        self.color = color
        self.prefix = prefix
        self.timestamps = timestamps
        self.width = max((len(n) for n in names), default=0) + 1
        self.colors = {n: _COLORS[i % len(_COLORS)] for i, n in enumerate(names)}
        self.lock = threading.Lock()

    def _prefix(self, name: str) -> bytes:
        if not self.prefix:
            return b""
        text = f"{name:<{self.width}} | "
        if self.color:
            code = self.colors.get(name, _COLORS[0])
            text = f"\033[{code}m{text}\033[0m"
        return text.encode()

    def entry(self, name: str, entry: LogEntry) -> None:
        head = self._prefix(name)
        if self.timestamps:
            head += entry.timestamp.encode() + b" "
        data = entry.data if entry.data.endswith(b"\n") else entry.data + b"\n"
        lines = data.splitlines(keepends=True)
        with self.lock:
            self.out.write(b"".join(head + line for line in lines))
            self.out.flush()

    def text(self, line: str) -> None:
        with self.lock:
            self.out.write(line.encode() + b"\n")
            self.out.flush()


@dataclass
class Exit:
    container_id: str
    name: str
    code: int


def follow_container(
    options: Options,
    container_id: str,
    name: str,
    printer: LogPrinter,
    selection: LogSelection,
    *,
    follow: bool,
    exits: queue.Queue[Exit] | None = None,
) -> threading.Thread:
    """A daemon thread printing one container's log; on its end, an ``Exit`` is queued."""

    def run() -> None:
        from dockyard.engine import Engine
        from dockyard.engine.logs import log_path, read_logs

        engine = Engine(options)  # its own database connection for this thread
        code = 0
        try:
            container = engine.containers.try_get(container_id)
            if container is None:
                return
            path = log_path(
                engine.containers.container_dir(container_id),
                container_id,
                container.host_config.get("LogConfig") or {},
            )

            def running() -> bool:
                current = engine.containers.try_get(container_id)
                if current is None:
                    return False
                engine.lifecycle.refresh(current)
                return current.status in ("running", "paused", "restarting")

            for entry in read_logs(path, selection, follow=follow, running=running):
                printer.entry(name, entry)
            final = engine.containers.try_get(container_id)
            code = int(final.state.get("ExitCode") or 0) if final is not None else 0
        finally:
            engine.close()
            if exits is not None:
                exits.put(Exit(container_id, name, code))

    thread = threading.Thread(target=run, name=f"logs-{name}", daemon=True)
    thread.start()
    return thread


def merged_entries(
    sources: list[tuple[str, list[LogEntry]]],
) -> list[tuple[str, LogEntry]]:
    """Non-following ``logs``: every container's entries, in time order."""
    merged = [(name, e) for name, entries in sources for e in entries]
    merged.sort(key=lambda item: item[1].time_ns)
    return merged
