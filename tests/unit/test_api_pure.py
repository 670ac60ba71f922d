"""The API server's pure pieces: version checks, event filters, Go file modes, logs,
create bodies, and the route table (versioned and plain paths, later modules win)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from aiohttp import web

from dockyard.api import logs as logfile
from dockyard.api.events import matches, message
from dockyard.api.http import Router
from dockyard.api.routes.containers import split_create_body
from dockyard.api.versions import check_version, parse_version
from dockyard.engine.filters import Filters
from dockyard.engine.logs import LogReader
from dockyard.engine.pathstat import go_file_mode
from dockyard.errors import InvalidArgument
from dockyard.runtime.monitor import protocol


def test_versions() -> None:
    assert parse_version("1.43") == (1, 43)
    check_version("1.24")
    check_version("1.43")
    with pytest.raises(
        InvalidArgument, match=r"is too new\. Maximum supported API version is 1\.43"
    ):
        check_version("1.44")
    with pytest.raises(InvalidArgument, match=r"too old\. Minimum supported API version is 1\.24"):
        check_version("1.23")
    with pytest.raises(InvalidArgument):
        check_version("one.two")


def _row(kind: str, action: str, actor: str, **attrs: str) -> dict[str, object]:
    return {
        "seq": 1,
        "time_nano": 1_700_000_000_123_456_789,
        "type": kind,
        "action": action,
        "actor_id": actor,
        "attributes": json.dumps(attrs),
    }


def test_event_message_shape() -> None:
    event = message(_row("container", "start", "abc", image="busybox", name="web"))
    assert event == {
        "status": "start",
        "id": "abc",
        "from": "busybox",
        "Type": "container",
        "Action": "start",
        "Actor": {"ID": "abc", "Attributes": {"image": "busybox", "name": "web"}},
        "scope": "local",
        "time": 1_700_000_000,
        "timeNano": 1_700_000_000_123_456_789,
    }
    volume = message(_row("volume", "create", "data", driver="local"))
    assert "status" not in volume and volume["Type"] == "volume"


def test_event_filters() -> None:
    start = message(_row("container", "start", "abc123", image="busybox", name="web", tier="x"))
    exec_start = message(_row("container", "exec_start: sh", "abc123", name="web"))
    vol = message(_row("volume", "create", "data"))
    assert matches(start, Filters({"type": ["container"], "event": ["start"]}))
    assert not matches(vol, Filters({"type": ["container"]}))
    assert matches(exec_start, Filters({"event": ["exec_start"]}))
    assert matches(start, Filters({"container": ["web"]}))
    assert matches(start, Filters({"container": ["abc"]}))
    assert not matches(start, Filters({"container": ["other"]}))
    assert not matches(vol, Filters({"container": ["data"]}))
    assert matches(vol, Filters({"volume": ["data"]}))
    assert matches(start, Filters({"image": ["busybox"]}))
    assert matches(start, Filters({"label": ["tier=x"]}))
    assert not matches(start, Filters({"label": ["tier=y"]}))
    assert not matches(start, Filters({"daemon": ["x"]}))


def test_go_file_mode() -> None:
    assert go_file_mode(stat.S_IFREG | 0o644) == 0o644
    assert go_file_mode(stat.S_IFDIR | 0o755) == (1 << 31) | 0o755
    assert go_file_mode(stat.S_IFLNK | 0o777) == (1 << 27) | 0o777
    assert go_file_mode(stat.S_IFCHR | 0o666) == (1 << 26) | (1 << 21) | 0o666
    assert go_file_mode(stat.S_IFREG | stat.S_ISUID | 0o755) == (1 << 23) | 0o755
    assert go_file_mode(stat.S_IFDIR | stat.S_ISVTX | 0o777) == (1 << 31) | (1 << 20) | 0o777


def _reader(directory: Path, query: logfile.LogQuery) -> LogReader:
    return logfile.open_reader(str(directory), "c", {}, query)


def test_log_entries_are_framed_with_fixed_timestamps(tmp_path: Path) -> None:
    (tmp_path / "c-json.log").write_text(
        json.dumps({"log": "hi\n", "stream": "stderr", "time": "2024-01-02T03:04:05.1Z"}) + "\n"
    )
    query = logfile.LogQuery(timestamps=True)
    (entry,) = logfile.existing(_reader(tmp_path, query), query)
    assert logfile.encode(entry, query, tty=True) == b"2024-01-02T03:04:05.100000000Z hi\n"
    framed = logfile.encode(entry, logfile.LogQuery(), tty=False)
    assert framed == protocol.frame(protocol.STDERR, b"hi\n")
    no_stderr = logfile.LogQuery(stderr=False)
    assert logfile.existing(_reader(tmp_path, no_stderr), no_stderr) == []
    later = logfile.LogQuery(since=1_800_000_000.0)
    assert logfile.existing(_reader(tmp_path, later), later) == []


def test_log_files_tail_per_stream_and_follow(tmp_path: Path) -> None:
    stamp = "2024-01-02T03:04:05Z"
    current = tmp_path / "c-json.log"
    (tmp_path / "c-json.log.1").write_text(
        json.dumps({"log": "old\n", "stream": "stdout", "time": stamp}) + "\n"
    )
    current.write_text(
        json.dumps({"log": "new\n", "stream": "stdout", "time": stamp}) + "\n"
        + json.dumps({"log": "err\n", "stream": "stderr", "time": stamp}) + "\n"
        + '{"log": "par'
    )
    query = logfile.LogQuery()
    reader = _reader(tmp_path, query)
    assert [e.data for e in logfile.existing(reader, query)] == [b"old\n", b"new\n", b"err\n"]
    with open(current, "a") as f:
        f.write(f'tial\\n", "stream": "stdout", "time": "{stamp}"}}\n')
    assert [e.data for e in logfile.poll(reader, query)] == [b"partial\n"]
    assert logfile.poll(reader, query) == []
    reader.close()
    # tail counts the chosen stream's lines only
    only_out = logfile.LogQuery(stderr=False, tail=1)
    assert [e.data for e in logfile.existing(_reader(tmp_path, only_out), only_out)] == [
        b"partial\n"
    ]


def test_create_body_is_checked_and_split() -> None:
    image, config, host, net = split_create_body(
        {
            "Image": "busybox",
            "Cmd": "true",
            "HostConfig": {"Binds": ["a:/a"]},
            "NetworkingConfig": {"EndpointsConfig": {}},
        }
    )
    assert image == "busybox" and config["Cmd"] == ["true"] and "HostConfig" not in config
    assert host == {"Binds": ["a:/a"]} and net == {"EndpointsConfig": {}}
    for bad in (
        {},
        {"Image": 5},
        {"Image": "busybox", "Cmd": [1]},
        {"Image": "busybox", "Env": "A=1", "Labels": []},
        {"Image": "busybox", "HostConfig": []},
        {"Image": "busybox", "HostConfig": {"Binds": "a:/a"}},
    ):
        with pytest.raises(InvalidArgument):
            split_create_body(bad)


async def _ok(request: web.Request) -> web.StreamResponse:
    return web.Response(text="first")


async def _better(request: web.Request) -> web.StreamResponse:
    return web.Response(text="second")


def test_router_registers_versioned_paths_and_later_modules_win() -> None:
    app = web.Application()
    router = Router(app)
    router.get("/thing/{id}", _ok)
    router.get("/thing/{id}", _better)
    paths = sorted(r.resource.canonical for r in app.router.routes() if r.resource is not None)
    assert paths == ["/thing/{id}", "/{api_version}/thing/{id}"]
    assert router.handlers[("GET", "/thing/{id}")] is _better
