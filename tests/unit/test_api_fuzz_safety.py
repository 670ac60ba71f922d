"""The schemathesis hooks' safety gate (tests/interop/schemathesis_hooks.py): whatever
the generator made, nothing names a registry but the loopback one, containers get no
host binds, devices or privileges, and streaming requests are bounded."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

hooks = pytest.importorskip("tests.interop.schemathesis_hooks")


def _case(method: str, path: str, *, query: Any = None, body: Any = None, **params: Any) -> Any:
    operation = SimpleNamespace(method=method.lower(), path=path)
    return SimpleNamespace(operation=operation, query=query, body=body, path_parameters=params)


def _sanitized(case: Any) -> Any:
    hooks._sanitize(case.operation.method.upper(), case.operation.path, case)
    return case


def test_registries_are_the_loopback_one() -> None:
    reg = hooks.REGISTRY
    pull = _sanitized(_case("POST", "/images/create", query={"fromImage": "evil.com/x"}))
    assert pull.query["fromImage"] == f"{reg}/evil.com/x"
    imp = _sanitized(_case("POST", "/images/create", query={"fromSrc": "http://evil.com/a"}))
    assert imp.query["fromSrc"] == "-"
    push = _sanitized(_case("POST", "/images/{name}/push", name="docker.io/library/busybox"))
    assert push.path_parameters["name"].startswith(reg + "/")
    search = _sanitized(_case("GET", "/images/search", query={}))
    assert search.query["term"].startswith(reg + "/")
    auth = _sanitized(_case("POST", "/auth", body={"username": "u"}))
    assert auth.body["serveraddress"] == reg
    build = _sanitized(
        _case("POST", "/build", query={"remote": "https://evil.com/x.git", "networkmode": "host"})
    )
    assert "remote" not in build.query and "networkmode" not in build.query


def test_containers_get_nothing_of_the_host() -> None:
    host = {k: ["x"] for k in ("Binds", "Devices", "CapAdd")}
    host.update(Privileged=True, NetworkMode="host", PidMode="host", Memory=5)
    case = _sanitized(_case("POST", "/containers/create", body={"Image": "b", "HostConfig": host}))
    assert case.body["HostConfig"] == {"Memory": 5}
    exec_body = {"Privileged": True}
    exec_case = _sanitized(_case("POST", "/containers/{id}/exec", body=exec_body, id="x"))
    assert "Privileged" not in exec_case.body
    volume = _sanitized(
        _case("POST", "/volumes/create", body={"DriverOpts": {"device": "/", "type": "none"}})
    )
    assert volume.body["DriverOpts"] == {"type": "none"}


def test_streams_are_bounded() -> None:
    events = _sanitized(_case("GET", "/events", query={"until": ""}))
    assert events.query["until"].isdigit()
    logs = _sanitized(_case("GET", "/containers/{id}/logs", query={"follow": "1"}, id="nope"))
    assert "follow" not in logs.query
    stats = _sanitized(_case("GET", "/containers/{id}/stats", query={}, id="nope"))
    assert stats.query["stream"] == "false"
    wait = _sanitized(_case("POST", "/containers/{id}/wait", query={}, id="a"))
    assert wait.path_parameters["id"] == "zz-a"
