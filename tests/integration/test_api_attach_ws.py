"""``/containers/{id}/attach/ws`` with aiohttp's websocket client against real
containers: stdin in, stdout and stderr out unmultiplexed in binary frames (text
frames before API 1.28), ``logs``/``stream``, attach before start, detach keys."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest

from tests.conftest import Dockyard, needs_root
from tests.integration._api_support import Server, running_server, wait_for

pytestmark = needs_root


@pytest.fixture
def api(dy: Dockyard, busybox: str) -> Iterator[Server]:
    with running_server(dy) as server:
        yield server


def _create(c: httpx.Client, **config: Any) -> str:
    r = c.post("/v1.43/containers/create", json={"Image": "busybox", **config})
    assert r.status_code == 201, r.text
    return str(r.json()["Id"])


async def _session(
    api: Server, cid: str, query: str, version: str = "v1.43"
) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    session = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=api.sock))
    ws = await session.ws_connect(f"http://docker/{version}/containers/{cid}/attach/ws?{query}")
    return session, ws


async def _read_until(
    ws: aiohttp.ClientWebSocketResponse, wanted: bytes, kinds: set[aiohttp.WSMsgType]
) -> bytes:
    data = b""
    while wanted not in data:
        message = await asyncio.wait_for(ws.receive(), 20)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            break
        kinds.add(message.type)
        data += message.data if isinstance(message.data, bytes) else message.data.encode()
    return data


async def _read_to_close(ws: aiohttp.ClientWebSocketResponse, kinds: set[Any]) -> bytes:
    data = b""
    while True:
        message = await asyncio.wait_for(ws.receive(), 20)
        if message.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.CLOSING,
        ):
            return data
        kinds.add(message.type)
        data += message.data if isinstance(message.data, bytes) else message.data.encode()


def test_stdin_in_stdout_and_stderr_out_unmultiplexed(api: Server) -> None:
    with api.client() as c:
        script = "while read l; do echo out:$l; echo err:$l >&2; done; echo bye"
        cid = _create(c, Cmd=["sh", "-c", script], OpenStdin=True)
        assert c.post(f"/v1.43/containers/{cid}/start").status_code == 204

        async def run() -> tuple[bytes, set[Any]]:
            kinds: set[Any] = set()
            session, ws = await _session(api, cid, "stream=1&stdin=1&stdout=1&stderr=1")
            try:
                await ws.send_bytes(b"hello\n")
                data = await _read_until(ws, b"err:hello\n", kinds)
                data = (
                    data
                    if b"out:hello\n" in data
                    else data + await _read_until(ws, b"out:hello\n", kinds)
                )
            finally:
                await ws.close()
                await session.close()
            return data, kinds

        data, kinds = asyncio.run(run())
        assert b"out:hello\n" in data and b"err:hello\n" in data
        assert not data.startswith(b"\x01\x00")  # no 8-byte stream headers
        assert kinds == {aiohttp.WSMsgType.BINARY}
        # the client went: the container keeps running
        assert c.get(f"/v1.43/containers/{cid}/json").json()["State"]["Running"] is True
        c.delete(f"/v1.43/containers/{cid}", params={"force": "1"})


def test_logs_replay_without_stream_and_text_frames_before_1_28(api: Server) -> None:
    with api.client() as c:
        cid = _create(c, Cmd=["sh", "-c", "echo one; echo two >&2"])
        assert c.post(f"/v1.43/containers/{cid}/start").status_code == 204
        assert c.post(f"/v1.43/containers/{cid}/wait").json()["StatusCode"] == 0

        async def run(query: str, version: str) -> tuple[bytes, set[Any]]:
            kinds: set[Any] = set()
            session, ws = await _session(api, cid, query, version)
            try:
                return await _read_to_close(ws, kinds), kinds
            finally:
                await ws.close()
                await session.close()

        both, kinds = asyncio.run(run("logs=1&stdout=1&stderr=1", "v1.43"))
        assert sorted(both.splitlines()) == [b"one", b"two"] and kinds == {aiohttp.WSMsgType.BINARY}
        only_out, _ = asyncio.run(run("logs=1&stdout=1", "v1.43"))
        assert only_out == b"one\n"
        old, kinds = asyncio.run(run("logs=1&stdout=1", "v1.27"))
        assert old == b"one\n" and kinds == {aiohttp.WSMsgType.TEXT}
        c.delete(f"/v1.43/containers/{cid}")


def test_attach_before_start_sees_everything_and_the_end(api: Server) -> None:
    with api.client() as c:
        cid = _create(c, Cmd=["sh", "-c", "echo first; sleep 0.2; echo last; exit 3"])

        async def run() -> bytes:
            session, ws = await _session(api, cid, "stream=1&stdout=1&stderr=1")
            try:
                async with httpx.AsyncClient(
                    transport=httpx.AsyncHTTPTransport(uds=api.sock), base_url="http://docker"
                ) as ac:
                    started = await ac.post(f"/v1.43/containers/{cid}/start")
                    assert started.status_code == 204
                return await _read_to_close(ws, set())
            finally:
                await ws.close()
                await session.close()

        assert asyncio.run(run()) == b"first\nlast\n"
        state = wait_for(
            lambda: (
                (s := c.get(f"/v1.43/containers/{cid}/json").json()["State"])["Status"] == "exited"
                and s
            )
        )
        assert state["ExitCode"] == 3
        c.delete(f"/v1.43/containers/{cid}")


def test_tty_detach_keys_end_the_session_not_the_container(api: Server) -> None:
    with api.client() as c:
        cid = _create(c, Cmd=["sh"], Tty=True, OpenStdin=True)
        assert c.post(f"/v1.43/containers/{cid}/start").status_code == 204

        async def run() -> bytes:
            session, ws = await _session(api, cid, "stream=1&stdin=1&stdout=1&detachKeys=ctrl-x")
            try:
                await ws.send_bytes(b"echo tty-$((40+2))\r")
                seen = await _read_until(ws, b"tty-42", set())
                await ws.send_bytes(b"\x18")  # ctrl-x
                return seen + await _read_to_close(ws, set())
            finally:
                await ws.close()
                await session.close()

        assert b"tty-42" in asyncio.run(run())
        assert c.get(f"/v1.43/containers/{cid}/json").json()["State"]["Running"] is True
        c.delete(f"/v1.43/containers/{cid}", params={"force": "1"})


def test_not_a_websocket_and_unknown_container(api: Server) -> None:
    with api.client() as c:
        r = c.get("/v1.43/containers/nope/attach/ws")
        assert r.status_code == 404 and r.json() == {"message": "No such container: nope"}
        cid = _create(c, Cmd=["true"])
        r = c.get(f"/v1.43/containers/{cid}/attach/ws")
        assert r.status_code == 400 and r.json()["message"]
        c.delete(f"/v1.43/containers/{cid}")
