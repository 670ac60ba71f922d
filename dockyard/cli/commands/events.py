"""``events`` / ``system events``: the engine's events, past (``--since``) and live."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from dockyard.cli.parser import CommandParser
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import Any

    from dockyard.engine import Engine

EngineFactory = Callable[[], "Engine"]
POLL_SECONDS = 0.05  # every dockyard process writes the log: read its new rows this often


def cmd_events(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine.events import EVENT_FILTERS, matches, message
    from dockyard.engine.filters import Filters

    p = CommandParser(name, "[OPTIONS]", "Get real time events from the server")
    p.multi("-f", "--filter", metavar="filter", help="Filter output based on conditions provided")
    p.option("--format", help="Format output using a custom template")
    p.option("--since", help="Show all events created since timestamp")
    p.option("--until", help="Stream events until this timestamp")
    ns = p.parse(argv, max_args=0)
    filters = Filters.from_cli(ns.filter)
    filters.validate(EVENT_FILTERS)
    now = time.time()
    since_ns = _timestamp_ns(ns.since, now) if ns.since else None
    until_ns = _timestamp_ns(ns.until, now) if ns.until else None
    if since_ns is not None and until_ns is not None and until_ns < since_ns:
        raise InvalidArgument("`since` time cannot be after `until` time")
    show = _printer(ns.format)
    log = engine().events
    last = log.max_seq()
    if since_ns is not None:
        for row in log.history(since_ns, until_ns, last):
            event = message(row)
            if matches(event, filters):
                show(event)
    while until_ns is None or time.time_ns() < until_ns:
        time.sleep(POLL_SECONDS if until_ns is None else _until(until_ns))
        for row in log.rows_after(last):
            last = int(row["seq"])
            event = message(row)
            if until_ns is not None and event["timeNano"] > until_ns:
                return 0
            if matches(event, filters):
                show(event)
    return 0


def _until(until_ns: int) -> float:
    return max(0.0, min(POLL_SECONDS, (until_ns - time.time_ns()) / 1e9))


def _timestamp_ns(value: str, now: float) -> int:
    from dockyard.timeutil import parse_timestamp

    try:
        return int(parse_timestamp(value, now) * 1e9)
    except (ValueError, InvalidArgument) as exc:
        raise InvalidArgument(f"invalid timestamp {value!r}: {exc}") from None


def _printer(fmt: str | None) -> Callable[[dict[str, Any]], None]:
    if fmt:
        from dockyard.cli.output import render_object

        def templated(event: dict[str, Any]) -> None:
            sys.stdout.write(render_object(event, fmt))
            sys.stdout.flush()

        return templated
    return pretty


def pretty(event: dict[str, Any]) -> None:
    """The docker CLI's line: local time (nanoseconds, fixed width), type, action,
    actor and its attributes sorted by name."""
    line = f"{fixed_rfc3339_nano(event['timeNano'])} {event['Type']} {event['Action']}"
    line += f" {event['Actor']['ID']}"
    attributes = event["Actor"]["Attributes"]
    if attributes:
        line += " (" + ", ".join(f"{k}={attributes[k]}" for k in sorted(attributes)) + ")"
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fixed_rfc3339_nano(time_nano: int) -> str:
    """Go's ``2006-01-02T15:04:05.000000000Z07:00`` in the local time zone."""
    seconds, nanos = divmod(time_nano, 1_000_000_000)
    local = time.localtime(seconds)
    offset = local.tm_gmtoff or 0
    if offset == 0:
        zone = "Z"
    else:
        sign = "+" if offset > 0 else "-"
        hours, minutes = divmod(abs(offset) // 60, 60)
        zone = f"{sign}{hours:02d}:{minutes:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f".{nanos:09d}{zone}"
