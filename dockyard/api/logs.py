"""A container's log as ``/containers/{id}/logs`` and ``attach?logs=1`` send it.

Reading (rotation, the ``local`` driver, since/until/tail, following) is
:mod:`dockyard.engine.logs`; this module chooses the streams and frames the entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.engine.logs import LogEntry, LogReader, LogSelection, log_path
from dockyard.runtime.monitor import protocol


@dataclass
class LogQuery:
    stdout: bool = True
    stderr: bool = True
    since: float | None = None
    until: float | None = None
    timestamps: bool = False
    tail: int = -1  # -1: all

    def selection(self) -> LogSelection:
        return LogSelection(
            tail=self.tail,
            since_ns=int(self.since * 1e9) if self.since else 0,
            until_ns=int(self.until * 1e9) if self.until else 0,
        )

    def wants(self, entry: LogEntry) -> bool:
        return self.stderr if entry.stream == "stderr" else self.stdout


def open_reader(
    directory: str, container_id: str, log_config: dict[str, object], query: LogQuery
) -> LogReader:
    """A reader of the container's log; DockyardError for drivers that cannot be read."""
    return LogReader(log_path(directory, container_id, log_config), query.selection())


def existing(reader: LogReader, query: LogQuery) -> list[LogEntry]:
    """The chosen streams' entries there are now (tail counts only those, as docker's)."""
    if query.stdout and query.stderr:
        return reader.existing()
    tail, reader.selection = reader.selection.tail, reader.selection._replace(tail=-1)
    chosen = [e for e in reader.existing() if query.wants(e)]
    reader.selection = reader.selection._replace(tail=tail)
    if tail >= 0:
        chosen = chosen[-tail:] if tail else []
    return chosen


def poll(reader: LogReader, query: LogQuery) -> list[LogEntry]:
    return [e for e in reader.poll() if query.wants(e)]


def encode(entry: LogEntry, query: LogQuery, tty: bool) -> bytes:
    data = entry.data
    if query.timestamps:
        data = entry.timestamp.encode() + b" " + data
    if tty:
        return data
    stream = protocol.STDERR if entry.stream == "stderr" else protocol.STDOUT
    return protocol.frame(stream, data)
