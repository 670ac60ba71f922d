"""Reading a container's json-file log for ``/containers/{id}/logs`` and ``attach?logs=1``."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from dockyard.runtime.monitor import protocol

_FRACTION = re.compile(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


@dataclass
class LogQuery:
    stdout: bool = True
    stderr: bool = True
    since: float | None = None
    until: float | None = None
    timestamps: bool = False
    tail: int = -1  # -1: all


def log_files(directory: str, container_id: str) -> list[str]:
    """The rotated files oldest first, then the current one."""
    current = os.path.join(directory, f"{container_id}-json.log")
    rotated = []
    n = 1
    while os.path.exists(f"{current}.{n}"):
        rotated.append(f"{current}.{n}")
        n += 1
    return [*reversed(rotated), current]


def fixed_nano(stamp: str) -> str:
    """Docker's RFC3339NanoFixed: always nine fraction digits."""
    m = _FRACTION.match(stamp)
    if not m:
        return stamp
    return f"{m.group(1)}.{(m.group(2) or '').ljust(9, '0')[:9]}{m.group(3)}"


def parse_line(line: str) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def wanted(record: dict[str, Any], query: LogQuery) -> bool:
    from dockyard.timeutil import parse_rfc3339

    stream = record.get("stream")
    if (stream == "stderr" and not query.stderr) or (stream != "stderr" and not query.stdout):
        return False
    if query.since is not None or query.until is not None:
        stamp = record.get("time") or ""
        try:
            when = parse_rfc3339(stamp) if stamp else 0.0
        except ValueError:
            return True
        if query.since is not None and when < query.since:
            return False
        if query.until is not None and when > query.until:
            return False
    return True


def encode(record: dict[str, Any], query: LogQuery, tty: bool) -> bytes:
    data = str(record.get("log", "")).encode()
    if query.timestamps:
        data = fixed_nano(str(record.get("time", ""))).encode() + b" " + data
    if tty:
        return data
    stream = protocol.STDERR if record.get("stream") == "stderr" else protocol.STDOUT
    return protocol.frame(stream, data)


def read_existing(
    directory: str, container_id: str, query: LogQuery
) -> tuple[list[dict[str, Any]], int]:
    """The records there are now (after since/until/tail), and the current file's
    offset to follow from."""
    records: list[dict[str, Any]] = []
    offset = 0
    files = log_files(directory, container_id)
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
                if path == files[-1]:
                    offset = f.tell()
        except FileNotFoundError:
            continue
        if path == files[-1] and not text.endswith("\n"):
            cut = text.rfind("\n") + 1
            offset -= len(text[cut:].encode())
            text = text[:cut]
        for line in text.split("\n"):
            record = parse_line(line)
            if record is not None and wanted(record, query):
                records.append(record)
    if query.tail >= 0:
        records = records[-query.tail :] if query.tail else []
    return records, offset


def read_from(path: str, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Complete lines after ``offset``, and the new offset."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < offset:
                offset = 0  # rotated: start the new file from its beginning
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    cut = data.rfind(b"\n") + 1
    out = []
    for line in data[:cut].decode(errors="replace").split("\n"):
        record = parse_line(line)
        if record is not None:
            out.append(record)
    return out, offset + cut
