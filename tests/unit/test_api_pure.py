"""The API server's pure pieces: version checks, event filters, Go file modes, logs,
create bodies, and the route table (versioned and plain paths, later modules win)."""

from __future__ import annotations

import json
import stat

import pytest
from aiohttp import web

from dockyard.api import logs as logfile
from dockyard.api.events import matches, message
from dockyard.api.http import Router
from dockyard.api.routes.containers import split_create_body
from dockyard.api.versions import check_version, parse_version
from dockyard.engine.filters import Filters
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


def test_log_records() -> None:
    assert logfile.fixed_nano("2024-01-02T03:04:05.5Z") == "2024-01-02T03:04:05.500000000Z"
    assert logfile.fixed_nano("2024-01-02T03:04:05Z") == "2024-01-02T03:04:05.000000000Z"
    record = {"log": "hi\n", "stream": "stderr", "time": "2024-01-02T03:04:05.1Z"}
    query = logfile.LogQuery(timestamps=True)
    assert logfile.encode(record, query, tty=True) == b"2024-01-02T03:04:05.100000000Z hi\n"
    framed = logfile.encode(record, logfile.LogQuery(), tty=False)
    assert framed == protocol.frame(protocol.STDERR, b"hi\n")
    assert not logfile.wanted(record, logfile.LogQuery(stderr=False))
    assert not logfile.wanted(record, logfile.LogQuery(since=1_800_000_000.0))
    assert logfile.wanted(record, logfile.LogQuery(until=1_800_000_000.0))


def test_log_files_and_follow(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    current = tmp_path / "c-json.log"
    (tmp_path / "c-json.log.1").write_text(json.dumps({"log": "old\n", "stream": "stdout"}) + "\n")
    current.write_text(json.dumps({"log": "new\n", "stream": "stdout"}) + "\n" + '{"log": "par')
    records, offset = logfile.read_existing(str(tmp_path), "c", logfile.LogQuery())
    assert [r["log"] for r in records] == ["old\n", "new\n"]
    with open(current, "a") as f:
        f.write('tial\\n", "stream": "stdout"}\n')
    more, offset = logfile.read_from(str(current), offset)
    assert [r["log"] for r in more] == ["partial\n"]
    assert logfile.read_from(str(current), offset) == ([], offset)
    tail, _ = logfile.read_existing(str(tmp_path), "c", logfile.LogQuery(tail=1))
    assert [r["log"] for r in tail] == ["partial\n"]


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
