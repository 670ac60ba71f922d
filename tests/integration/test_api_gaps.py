"""Gaps of ``dockyard serve`` against dockerd: an exec's Pid, and the end of a
detached exec, in ``GET /exec/{id}/json``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Dockyard, needs_root
from tests.integration._api_support import Server, demux, hijack, running_server, wait_for

pytestmark = needs_root


@pytest.fixture
def api(dy: Dockyard, busybox: str) -> Iterator[Server]:
    with running_server(dy) as server:
        yield server


@pytest.fixture
def c(api: Server) -> Iterator[httpx.Client]:
    with api.client() as client:
        yield client


@pytest.fixture
def cid(c: httpx.Client) -> Iterator[str]:
    r = c.post("/containers/create", json={"Image": "busybox", "Cmd": ["sleep", "300"]})
    assert r.status_code == 201, r.text
    container = str(r.json()["Id"])
    try:
        assert c.post(f"/containers/{container}/start").status_code == 204
        yield container
    finally:
        c.delete(f"/containers/{container}", params={"force": "1"})


def new_exec(c: httpx.Client, cid: str, cmd: list[str], **config: Any) -> str:
    r = c.post(f"/containers/{cid}/exec", json={"Cmd": cmd, **config})
    assert r.status_code == 201, r.text
    return str(r.json()["Id"])


def inspect(c: httpx.Client, exec_id: str) -> dict[str, Any]:
    r = c.get(f"/exec/{exec_id}/json")
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def host_cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read()


def is_in_container(pid: int) -> bool:
    return os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")


# a process that runs until the test creates /tmp/go in the container
WAIT_FOR_GO = "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 5"


def release(c: httpx.Client, cid: str) -> None:
    go = new_exec(c, cid, ["touch", "/tmp/go"])
    assert c.post(f"/exec/{go}/start", json={"Detach": True}).status_code == 200


@pytest.mark.parametrize("tty", [False, True])
def test_detached_exec_reports_pid_then_exit_code(c: httpx.Client, cid: str, tty: bool) -> None:
    exec_id = new_exec(c, cid, ["sh", "-c", WAIT_FOR_GO], Tty=tty)
    assert c.post(f"/exec/{exec_id}/start", json={"Detach": True, "Tty": tty}).status_code == 200
    running = inspect(c, exec_id)
    assert running["Running"] is True and running["ExitCode"] is None
    pid = running["Pid"]
    assert pid > 0 and is_in_container(pid)
    # the runtime's helper becomes the process with an exec, maybe a moment later
    wait_for(lambda: WAIT_FOR_GO.encode() in host_cmdline(pid), timeout=10)
    release(c, cid)
    ended = wait_for(lambda: (i := inspect(c, exec_id))["Running"] is False and i, timeout=20)
    assert ended["ExitCode"] == 5 and ended["Pid"] == pid
    assert not os.path.exists(f"/proc/{pid}")


def test_detached_exec_that_cannot_start_has_ended_when_start_returns(
    c: httpx.Client, cid: str
) -> None:
    exec_id = new_exec(c, cid, ["/no/such/binary"])
    c.post(f"/exec/{exec_id}/start", json={"Detach": True})
    result = inspect(c, exec_id)
    assert result["Running"] is False and result["ExitCode"] not in (None, 0)


def test_attached_exec_reports_pid_while_running(
    c: httpx.Client, cid: str, api: Server
) -> None:
    exec_id = new_exec(
        c, cid, ["sh", "-c", "read x; echo got $x; exit 4"],
        AttachStdin=True, AttachStdout=True, AttachStderr=True,
    )
    conn = hijack(api.sock, f"/exec/{exec_id}/start", {"Detach": False, "Tty": False})
    try:
        assert conn.status == 101
        running = wait_for(lambda: (i := inspect(c, exec_id))["Pid"] and i, timeout=20)
        assert running["Running"] is True and running["ExitCode"] is None
        assert is_in_container(running["Pid"])
        wait_for(lambda: b"read x" in host_cmdline(running["Pid"]), timeout=10)
        conn.send(b"it\n")
        conn.close_write()
        assert demux(conn.read_all()) == {1: b"got it\n"}
    finally:
        conn.close()
    ended = inspect(c, exec_id)
    assert ended["Running"] is False and ended["ExitCode"] == 4
    assert ended["Pid"] == running["Pid"]


def test_attach_is_an_event(c: httpx.Client, api: Server) -> None:
    import json
    import time

    r = c.post(
        "/containers/create", params={"name": "gapx"}, json={"Image": "busybox", "Cmd": ["true"]}
    )
    cid = str(r.json()["Id"])
    try:
        since = str(time.time() - 1)
        conn = hijack(api.sock, f"/containers/{cid}/attach?logs=1&stdout=1")
        try:
            assert conn.status == 101
            conn.read_all()
        finally:
            conn.close()
        filters = json.dumps({"event": ["attach"]})
        until = str(time.time() + 1)
        r = c.get("/events", params={"since": since, "until": until, "filters": filters})
        events = [json.loads(line) for line in r.text.splitlines()]
        assert [(e["Type"], e["Action"], e["id"]) for e in events] == [
            ("container", "attach", cid)
        ]
        assert events[0]["Actor"]["Attributes"]["image"] == "busybox"
        assert events[0]["Actor"]["Attributes"]["name"] == "gapx"
    finally:
        c.delete(f"/containers/{cid}", params={"force": "1"})
