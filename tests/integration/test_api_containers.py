"""Container routes of ``dockyard serve``, driven with httpx over its unix socket."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Dockyard, needs_root
from tests.integration._api_support import Server, demux, running_server, wait_for

pytestmark = needs_root


@pytest.fixture
def api(dy: Dockyard, busybox: str) -> Iterator[Server]:
    with running_server(dy) as server:
        yield server


@pytest.fixture
def c(api: Server) -> Iterator[httpx.Client]:
    with api.client() as client:
        yield client


def create(c: httpx.Client, cmd: list[str], name: str | None = None, **config: Any) -> str:
    params = {"name": name} if name else {}
    body = {"Image": "busybox", "Cmd": cmd, **config}
    r = c.post("/v1.43/containers/create", params=params, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["Warnings"] == []
    return str(r.json()["Id"])


def status(c: httpx.Client, cid: str) -> str:
    return str(c.get(f"/containers/{cid}/json").json()["State"]["Status"])


def test_create_inspect_list_and_delete(c: httpx.Client, dy: Dockyard) -> None:
    cid = create(c, ["echo", "hi"], "first", Labels={"tier": "web"}, Env=["A=1"])
    r = c.post("/containers/create", params={"name": "first"}, json={"Image": "busybox"})
    assert r.status_code == 409
    assert 'The container name "/first" is already in use' in r.json()["message"]
    r = c.post("/containers/create", json={"Image": "nothere:1"})
    assert r.status_code == 404 and r.json()["message"] == "No such image: nothere:1"
    r = c.post("/containers/create", params={"name": "bad name"}, json={"Image": "busybox"})
    assert r.status_code == 400 and "Invalid container name" in r.json()["message"]
    inspected = c.get(f"/containers/{cid}/json").json()
    assert inspected["Name"] == "/first" and inspected["Path"] == "echo"
    assert inspected["Args"] == ["hi"] and inspected["Config"]["Labels"] == {"tier": "web"}
    assert "A=1" in inspected["Config"]["Env"]
    assert inspected["HostConfig"]["NetworkMode"] in ("default", "bridge")
    # the same JSON as `dockyard inspect`
    cli = json.loads(dy("inspect", "first").out)[0]
    assert {k: v for k, v in cli.items() if k != "ExecIDs"} == {
        k: v for k, v in inspected.items() if k != "ExecIDs"
    }
    assert c.get("/containers/json").json() == []
    listed = c.get("/containers/json", params={"all": "1"}).json()
    assert len(listed) == 1
    summary = listed[0]
    assert summary["Id"] == cid and summary["Names"] == ["/first"]
    assert summary["Image"] == "busybox" and summary["Command"] == "echo hi"
    assert summary["State"] == "created" and summary["Status"] == "Created"
    assert summary["Labels"] == {"tier": "web"}
    filters = json.dumps({"label": ["tier=web"], "status": ["created"]})
    assert len(c.get("/containers/json", params={"filters": filters}).json()) == 1
    filters = json.dumps({"name": ["other"]})
    assert c.get("/containers/json", params={"all": "1", "filters": filters}).json() == []
    sized = c.get("/containers/json", params={"all": "1", "size": "1"}).json()[0]
    assert "SizeRw" in sized and sized["SizeRootFs"] >= sized["SizeRw"]
    assert c.delete(f"/containers/{cid}").status_code == 204
    r = c.delete(f"/containers/{cid}")
    assert r.status_code == 404 and r.json()["message"] == f"No such container: {cid}"


def test_a_string_cmd_and_bridge_network_mode_are_accepted(c: httpx.Client) -> None:
    r = c.post(
        "/containers/create",
        json={"Image": "busybox", "Cmd": "true", "HostConfig": {"NetworkMode": "bridge"}},
    )
    assert r.status_code == 201, r.text
    cid = r.json()["Id"]
    assert c.get(f"/containers/{cid}/json").json()["Args"] == []
    assert c.post(f"/containers/{cid}/start").status_code == 204
    r = c.post(f"/containers/{cid}/wait")
    assert r.json() == {"StatusCode": 0, "Error": None}


def test_start_wait_logs(c: httpx.Client) -> None:
    cid = create(c, ["sh", "-c", "echo out1; echo err1 >&2; echo out2; exit 3"])
    assert c.post(f"/containers/{cid}/start").status_code == 204
    r = c.post(f"/containers/{cid}/wait", params={"condition": "not-running"})
    assert r.status_code == 200 and r.json() == {"StatusCode": 3, "Error": None}
    assert status(c, cid) == "exited"
    r = c.get(f"/containers/{cid}/logs", params={"stdout": "1", "stderr": "1"})
    assert r.headers["content-type"] == "application/vnd.docker.multiplexed-stream"
    streams = demux(r.content)
    assert streams == {1: b"out1\nout2\n", 2: b"err1\n"}
    r = c.get(f"/containers/{cid}/logs", params={"stdout": "1", "tail": "1"})
    assert demux(r.content) == {1: b"out2\n"}
    r = c.get(f"/containers/{cid}/logs", params={"stderr": "1", "timestamps": "1"})
    line = demux(r.content)[2].decode()
    stamp, _, text = line.partition(" ")
    assert text == "err1\n" and len(stamp) == len("2024-01-01T00:00:00.000000000Z")
    r = c.get(f"/containers/{cid}/logs", params={"stdout": "1", "since": str(time.time() + 60)})
    assert r.content == b""
    r = c.get(f"/containers/{cid}/logs")
    assert r.status_code == 400
    assert r.json()["message"] == "Bad parameters: you must choose at least one stream"


def test_logs_of_a_tty_container_are_raw(c: httpx.Client) -> None:
    cid = create(c, ["echo", "tty"], Tty=True)
    c.post(f"/containers/{cid}/start")
    c.post(f"/containers/{cid}/wait")
    r = c.get(f"/containers/{cid}/logs", params={"stdout": "1"})
    assert r.headers["content-type"] == "application/vnd.docker.raw-stream"
    assert r.content == b"tty\r\n"


def test_logs_follow_until_the_container_ends(c: httpx.Client) -> None:
    cid = create(c, ["sh", "-c", "for i in 1 2 3; do echo n$i; sleep 0.2; done"])
    c.post(f"/containers/{cid}/start")
    started = time.monotonic()
    r = c.get(f"/containers/{cid}/logs", params={"stdout": "1", "follow": "1"})
    assert demux(r.content) == {1: b"n1\nn2\nn3\n"}
    assert time.monotonic() - started > 0.3  # it waited for the lines still to come


def test_wait_next_exit_is_answered_when_the_container_ends(c: httpx.Client, api: Server) -> None:
    cid = create(c, ["sh", "-c", "sleep 0.5; exit 4"])
    results: list[Any] = []
    import threading

    def waiter() -> None:
        with api.client() as other:
            results.append(other.post(f"/containers/{cid}/wait", params={"condition": "next-exit"}))

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.3)
    c.post(f"/containers/{cid}/start")
    thread.join(30)
    assert results[0].json() == {"StatusCode": 4, "Error": None}
    r = c.post(f"/containers/{cid}/wait", params={"condition": "sideways"})
    assert r.status_code == 400


def test_wait_removed_with_auto_remove(c: httpx.Client) -> None:
    cid = create(c, ["sh", "-c", "exit 2"], HostConfig={"AutoRemove": True})
    c.post(f"/containers/{cid}/start")
    r = c.post(f"/containers/{cid}/wait", params={"condition": "removed"})
    assert r.json()["StatusCode"] == 2
    assert c.get(f"/containers/{cid}/json").status_code == 404


def test_stop_kill_restart_pause(c: httpx.Client) -> None:
    cid = create(c, ["sleep", "60"], "sleeper")
    assert c.post(f"/containers/{cid}/start").status_code == 204
    assert c.post(f"/containers/{cid}/start").status_code == 304
    assert status(c, cid) == "running"
    assert c.post(f"/containers/{cid}/pause").status_code == 204
    assert status(c, cid) == "paused"
    assert c.post(f"/containers/{cid}/unpause").status_code == 204
    top = c.get(f"/containers/{cid}/top").json()
    assert "PID" in top["Titles"] and any("sleep" in " ".join(p) for p in top["Processes"])
    r = c.post(f"/containers/{cid}/kill", params={"signal": "NOPE"})
    assert r.status_code == 400
    before = c.get(f"/containers/{cid}/json").json()["State"]["StartedAt"]
    assert c.post(f"/containers/{cid}/restart", params={"t": "0"}).status_code == 204
    after = c.get(f"/containers/{cid}/json").json()["State"]
    assert after["Status"] == "running" and after["StartedAt"] != before
    assert c.post(f"/containers/{cid}/stop", params={"t": "0"}).status_code == 204
    assert status(c, cid) == "exited"
    assert c.post(f"/containers/{cid}/stop").status_code == 304
    r = c.post(f"/containers/{cid}/kill")
    assert r.status_code == 409 and r.json()["message"] == f"Container {cid} is not running"
    r = c.delete(f"/containers/{cid}")
    assert r.status_code == 204


def test_delete_running_needs_force(c: httpx.Client) -> None:
    cid = create(c, ["sleep", "60"])
    c.post(f"/containers/{cid}/start")
    r = c.delete(f"/containers/{cid}")
    assert r.status_code == 409 and "Stop the container before attempting removal" in r.text
    assert c.delete(f"/containers/{cid}", params={"force": "1", "v": "1"}).status_code == 204


def test_stats_changes_export_resize_rename_update(c: httpx.Client) -> None:
    cid = create(c, ["sh", "-c", "touch /made; sleep 60"], "stat1", Tty=True)
    c.post(f"/containers/{cid}/start")
    wait_for(
        lambda: any(
            ch["Path"] == "/made" for ch in c.get(f"/containers/{cid}/changes").json() or []
        )
    )
    changes = c.get(f"/containers/{cid}/changes").json()
    assert {"Path": "/made", "Kind": 1} in changes
    one = c.get(f"/containers/{cid}/stats", params={"stream": "0", "one-shot": "1"}).json()
    assert one["id"] == cid and one["name"] == "/stat1"
    assert one["memory_stats"]["usage"] > 0 and one["pids_stats"]["current"] >= 1
    with c.stream("GET", f"/containers/{cid}/stats") as r:
        lines = r.iter_lines()
        first = json.loads(next(lines))
        second = json.loads(next(lines))
    assert first["precpu_stats"]["cpu_usage"]["total_usage"] == 0
    assert second["precpu_stats"]["system_cpu_usage"] > 0
    r = c.post(f"/containers/{cid}/resize", params={"h": "30", "w": "90"})
    assert r.status_code == 200
    exe = c.post(f"/containers/{cid}/exec", json={"Cmd": ["stty", "size", "-F", "/dev/console"]})
    assert exe.status_code == 201
    r = c.post(f"/containers/{cid}/rename", params={"name": "stat2"})
    assert r.status_code == 204
    assert c.get("/containers/stat2/json").status_code == 200
    r = c.post(f"/containers/{cid}/update", json={"Memory": 64 << 20, "MemorySwap": -1})
    assert r.status_code == 200 and r.json() == {"Warnings": []}
    assert c.get(f"/containers/{cid}/json").json()["HostConfig"]["Memory"] == 64 << 20
    c.post(f"/containers/{cid}/stop", params={"t": "0"})
    with c.stream("GET", f"/containers/{cid}/export") as r:
        data = b"".join(r.iter_bytes())
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
    assert "made" in names and "bin/busybox" in names


def test_archive_head_get_put(c: httpx.Client) -> None:
    cid = create(c, ["sleep", "60"])
    c.post(f"/containers/{cid}/start")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        info.mode = 0o640
        tar.addfile(info, io.BytesIO(b"hello"))
    r = c.put(f"/containers/{cid}/archive", params={"path": "/tmp"}, content=buf.getvalue())
    assert r.status_code == 200, r.text
    r = c.head(f"/containers/{cid}/archive", params={"path": "/tmp/hello.txt"})
    stat = json.loads(base64.b64decode(r.headers["x-docker-container-path-stat"]))
    assert stat["name"] == "hello.txt" and stat["size"] == 5 and stat["mode"] == 0o640
    r = c.head(f"/containers/{cid}/archive", params={"path": "/tmp"})
    stat = json.loads(base64.b64decode(r.headers["x-docker-container-path-stat"]))
    assert stat["mode"] & (1 << 31)  # Go's ModeDir
    r = c.get(f"/containers/{cid}/archive", params={"path": "/tmp/hello.txt"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        member = tar.extractfile("hello.txt")
        assert member is not None and member.read() == b"hello"
    r = c.get(f"/containers/{cid}/archive", params={"path": "/nope"})
    assert r.status_code == 404
    assert (
        r.json()["message"] == f"Could not find the file /nope in container {status_name(c, cid)}"
    )
    r = c.head(f"/containers/{cid}/archive")
    assert r.status_code == 400
    r = c.put(f"/containers/{cid}/archive", params={"path": "/etc/passwd"}, content=buf.getvalue())
    assert r.status_code == 400


def status_name(c: httpx.Client, cid: str) -> str:
    return str(c.get(f"/containers/{cid}/json").json()["Name"]).lstrip("/")


def test_prune(c: httpx.Client) -> None:
    done = create(c, ["true"])
    c.post(f"/containers/{done}/start")
    c.post(f"/containers/{done}/wait")
    keep = create(c, ["sleep", "60"])
    c.post(f"/containers/{keep}/start")
    r = c.post("/containers/prune")
    assert r.json()["ContainersDeleted"] == [done]
    assert c.get(f"/containers/{keep}/json").status_code == 200
    c.delete(f"/containers/{keep}", params={"force": "1"})
