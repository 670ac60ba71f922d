"""The hijacked routes of ``dockyard serve``: attach and exec start, over raw sockets."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Dockyard, needs_root
from tests.integration._api_support import (
    Hijacked,
    Server,
    demux,
    hijack,
    running_server,
    wait_for,
)

pytestmark = needs_root


@pytest.fixture
def api(dy: Dockyard, busybox: str) -> Iterator[Server]:
    with running_server(dy) as server:
        yield server


@pytest.fixture
def c(api: Server) -> Iterator[httpx.Client]:
    with api.client() as client:
        yield client


def create(c: httpx.Client, cmd: list[str], **config: object) -> str:
    r = c.post("/containers/create", json={"Image": "busybox", "Cmd": cmd, **config})
    assert r.status_code == 201, r.text
    return str(r.json()["Id"])


def test_attach_before_start_sees_all_output_and_stdin(c: httpx.Client, api: Server) -> None:
    cid = create(c, ["sh", "-c", "echo first; cat; echo last >&2"], OpenStdin=True, StdinOnce=True)
    conn = hijack(api.sock, f"/v1.43/containers/{cid}/attach?stream=1&stdin=1&stdout=1&stderr=1")
    try:
        assert conn.status == 101
        assert conn.headers["upgrade"] == "tcp"
        assert conn.headers["content-type"] == "application/vnd.docker.multiplexed-stream"
        assert c.post(f"/containers/{cid}/start").status_code == 204
        conn.send(b"typed\n")
        conn.close_write()  # StdinOnce: the container's stdin closes with ours
        streams = demux(conn.read_all())
    finally:
        conn.close()
    assert streams == {1: b"first\ntyped\n", 2: b"last\n"}
    assert c.post(f"/containers/{cid}/wait").json()["StatusCode"] == 0


def test_attach_without_upgrade_gets_200_and_a_tty_stream_raw(c: httpx.Client, api: Server) -> None:
    cid = create(c, ["sh", "-c", "echo hello-tty"], Tty=True)
    conn = hijack(api.sock, f"/containers/{cid}/attach?stream=1&stdout=1", upgrade=False)
    try:
        assert conn.status == 200
        assert conn.headers["content-type"] == "application/vnd.docker.raw-stream"
        c.post(f"/containers/{cid}/start")
        assert conn.read_all() == b"hello-tty\r\n"
    finally:
        conn.close()


def test_attach_to_running_with_logs_and_detach_keys(c: httpx.Client, api: Server) -> None:
    cid = create(c, ["sh"], Tty=True, OpenStdin=True)
    c.post(f"/containers/{cid}/start")
    conn = hijack(api.sock, f"/containers/{cid}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x")
    try:
        conn.send(b"echo $((40+2))\n")
        conn.read_until(b"42")
        conn.send(b"\x18")  # ctrl-x: detach, the container goes on
        conn.read_all(timeout=10)
    finally:
        conn.close()
    time.sleep(0.2)
    assert c.get(f"/containers/{cid}/json").json()["State"]["Status"] == "running"
    replay = hijack(api.sock, f"/containers/{cid}/attach?logs=1&stdout=1")
    try:
        assert b"42" in replay.read_all(timeout=10)  # logs only: the answer ends
    finally:
        replay.close()
    c.delete(f"/containers/{cid}", params={"force": "1"})


def test_exec_create_start_inspect(c: httpx.Client, api: Server) -> None:
    cid = create(c, ["sleep", "60"])
    r = c.post(f"/containers/{cid}/exec", json={"Cmd": ["true"]})
    assert r.status_code == 409 and r.json()["message"] == f"Container {cid} is not running"
    c.post(f"/containers/{cid}/start")
    r = c.post(f"/containers/{cid}/exec", json={"Cmd": []})
    assert r.status_code == 400 and r.json()["message"] == "No exec command specified"
    r = c.post(
        f"/containers/{cid}/exec",
        json={
            "Cmd": ["sh", "-c", "echo out; echo err >&2; read x; echo got $x; exit 7"],
            "AttachStdin": True,
            "AttachStdout": True,
            "AttachStderr": True,
            "Env": ["X=1"],
        },
    )
    assert r.status_code == 201
    exec_id = r.json()["Id"]
    before = c.get(f"/exec/{exec_id}/json").json()
    assert before["Running"] is False and before["ExitCode"] is None
    assert before["ContainerID"] == cid and before["ProcessConfig"]["entrypoint"] == "sh"
    conn = hijack(api.sock, f"/exec/{exec_id}/start", {"Detach": False, "Tty": False})
    try:
        assert conn.status == 101
        conn.send(b"value\n")
        conn.close_write()
        streams = demux(conn.read_all())
    finally:
        conn.close()
    assert streams == {1: b"out\ngot value\n", 2: b"err\n"}
    after = c.get(f"/exec/{exec_id}/json").json()
    assert after["Running"] is False and after["ExitCode"] == 7
    assert c.get(f"/containers/{cid}/json").json()["ExecIDs"] == [exec_id]
    again = c.post(f"/exec/{exec_id}/start", json={"Detach": True})
    assert again.status_code == 409
    assert c.get("/exec/nope/json").status_code == 404
    c.delete(f"/containers/{cid}", params={"force": "1"})


def test_exec_with_tty_and_resize(c: httpx.Client, api: Server) -> None:
    cid = create(c, ["sleep", "60"])
    c.post(f"/containers/{cid}/start")
    exec_id = c.post(
        f"/containers/{cid}/exec",
        json={"Cmd": ["sh"], "Tty": True, "AttachStdin": True, "AttachStdout": True},
    ).json()["Id"]
    conn = hijack(api.sock, f"/exec/{exec_id}/start", {"Tty": True, "ConsoleSize": [20, 70]})
    try:
        assert conn.headers["content-type"] == "application/vnd.docker.raw-stream"
        conn.send(b"stty size\n")
        conn.read_until(b"20 70")
        assert c.post(f"/exec/{exec_id}/resize", params={"h": "33", "w": "99"}).status_code == 200
        conn.buffer = b""
        wait_for(lambda: _ask(conn, b"stty size\n", b"33 99"), timeout=20)
        conn.send(b"exit 3\n")
        conn.read_all()
    finally:
        conn.close()
    assert c.get(f"/exec/{exec_id}/json").json()["ExitCode"] == 3
    c.delete(f"/containers/{cid}", params={"force": "1"})


def _ask(conn: Hijacked, command: bytes, needle: bytes) -> bool:
    """Send ``command``; whether the answer so far contains ``needle``."""
    conn.send(command)
    conn.sock.settimeout(0.3)
    with contextlib.suppress(TimeoutError):
        conn.buffer += conn.sock.recv(65536)
    return needle in conn.buffer


def test_exec_detached(c: httpx.Client) -> None:
    cid = create(c, ["sleep", "60"])
    c.post(f"/containers/{cid}/start")
    exec_id = c.post(
        f"/containers/{cid}/exec", json={"Cmd": ["sh", "-c", "echo bg > /tmp/bg"]}
    ).json()["Id"]
    assert c.post(f"/exec/{exec_id}/start", json={"Detach": True}).status_code == 200
    check = c.post(
        f"/containers/{cid}/exec", json={"Cmd": ["cat", "/tmp/bg"], "AttachStdout": True}
    )
    assert check.status_code == 201
    c.delete(f"/containers/{cid}", params={"force": "1"})


def test_attach_waiting_for_a_container_started_by_the_cli(
    c: httpx.Client, api: Server, dy: Dockyard
) -> None:
    cid = create(c, ["sh", "-c", "while true; do echo tick; sleep 0.1; done"])
    conn = hijack(api.sock, f"/containers/{cid}/attach?stream=1&stdout=1")
    try:
        dy("start", cid)
        assert b"tick" in conn.read_until(b"tick", timeout=20)
    finally:
        conn.close()
    c.delete(f"/containers/{cid}", params={"force": "1"})
