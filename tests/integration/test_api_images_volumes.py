"""Image and volume routes of ``dockyard serve``."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Dockyard, needs_root
from tests.integration._api_support import Server, running_server

pytestmark = needs_root


@pytest.fixture
def api(dy: Dockyard, busybox: str) -> Iterator[Server]:
    with running_server(dy) as server:
        yield server


@pytest.fixture
def c(api: Server) -> Iterator[httpx.Client]:
    with api.client() as client:
        yield client


def test_list_inspect_history(c: httpx.Client, busybox: str, dy: Dockyard) -> None:
    images = c.get("/v1.43/images/json").json()
    assert len(images) == 1
    image = images[0]
    assert image["Id"] == busybox and image["RepoTags"] == ["busybox:latest"]
    assert image["Size"] > 0 and isinstance(image["Created"], int)
    assert image["Containers"] == 0
    inspected = c.get("/images/busybox/json").json()
    assert inspected == json.loads(dy("image", "inspect", "busybox").out)[0]
    history = c.get("/images/busybox:latest/history").json()
    assert history[0]["Id"] == busybox and history[0]["Tags"] == ["busybox:latest"]
    r = c.get("/images/json", params={"filters": json.dumps({"dangling": ["true"]})})
    assert r.json() == []
    r = c.get("/images/json", params={"filters": json.dumps({"reference": ["busy*"]})})
    assert len(r.json()) == 1
    r = c.get("/images/json", params={"filters": json.dumps({"colour": ["x"]})})
    assert r.status_code == 400


def test_tag_delete_and_prune(c: httpx.Client, busybox: str) -> None:
    r = c.post("/images/busybox/tag", params={"repo": "example.com/team/box", "tag": "v1"})
    assert r.status_code == 201
    tags = c.get("/images/json").json()[0]["RepoTags"]
    assert sorted(tags) == ["busybox:latest", "example.com/team/box:v1"]
    assert c.get("/images/example.com/team/box:v1/json").json()["Id"] == busybox
    r = c.post("/images/busybox/tag", params={"repo": "Bad Name"})
    assert r.status_code == 400
    r = c.delete("/images/example.com/team/box:v1")
    assert r.json() == [{"Untagged": "example.com/team/box:v1"}]
    r = c.delete("/images/nothere")
    assert r.status_code == 404
    cid = c.post("/containers/create", json={"Image": "busybox", "Cmd": ["true"]}).json()["Id"]
    r = c.delete(f"/images/{busybox}")
    assert r.status_code == 409 and "image is being used by stopped container" in r.text
    c.delete(f"/containers/{cid}")
    r = c.post("/images/prune")
    assert r.json() == {"ImagesDeleted": None, "SpaceReclaimed": 0}
    r = c.delete("/images/busybox")
    assert r.json()[0] == {"Untagged": "busybox:latest"}
    assert {"Deleted": busybox} in r.json()
    assert c.get("/images/json").json() == []


def test_save_and_load_round_trip(c: httpx.Client, busybox: str) -> None:
    with c.stream("GET", "/images/busybox/get") as r:
        assert r.headers["content-type"] == "application/x-tar"
        archive = b"".join(r.iter_bytes())
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = tar.getnames()
    assert "manifest.json" in names and "index.json" in names
    r = c.get("/images/get", params=[("names", "busybox:latest")])
    assert r.content == archive  # the same images always give the same bytes
    assert c.get("/images/nothere/get").status_code == 404
    c.delete("/images/busybox")
    r = c.post("/images/load", params={"quiet": "1"}, content=archive)
    assert r.status_code == 200
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert lines == [{"stream": "Loaded image: busybox:latest\n"}]
    assert c.get("/images/json").json()[0]["Id"] == busybox
    r = c.post("/images/load", content=b"this is not a tar archive at all" * 40)
    assert 400 <= r.status_code < 500 and r.json()["message"]


def test_registry_routes_answer_with_messages(c: httpx.Client) -> None:
    r = c.post("/images/create", params={"fromImage": "127.0.0.1:1/none", "tag": "x"})
    # as dockerd, an error before any progress (a registry nobody listens on) is a JSON
    # message with its status, not a stream (501 when pulling is not there at all)
    assert r.status_code in (500, 501) and r.json()["message"]
    assert c.post("/images/create").status_code == 400
    r = c.get("/images/search")
    assert r.status_code == 400


def test_import_from_the_request_body(c: httpx.Client, busybox: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    r = c.post(
        "/images/create",
        params={"fromSrc": "-", "repo": "imported", "tag": "v1"},
        content=buf.getvalue(),
    )
    assert r.status_code == 200
    image_id = json.loads(r.text.splitlines()[-1])["status"]
    assert c.get("/images/imported:v1/json").json()["Id"] == image_id


def test_volumes(c: httpx.Client) -> None:
    r = c.post("/volumes/create", json={"Name": "data", "Labels": {"a": "b"}})
    assert r.status_code == 201
    volume = r.json()
    assert volume["Name"] == "data" and volume["Driver"] == "local"
    assert volume["Labels"] == {"a": "b"} and volume["Scope"] == "local"
    assert c.get("/volumes/data").json() == volume
    listed = c.get("/volumes").json()
    assert listed["Volumes"] == [volume] and listed["Warnings"] == []
    filtered = c.get("/volumes", params={"filters": json.dumps({"label": ["a=c"]})}).json()
    assert filtered["Volumes"] == []
    r = c.post("/volumes/create", json={"Name": "bad/name"})
    assert r.status_code == 400
    r = c.post("/volumes/create", json={"Name": 5})
    assert r.status_code == 400
    anonymous = c.post("/volumes/create", json={}).json()["Name"]
    assert len(anonymous) == 64
    cid = c.post(
        "/containers/create",
        json={"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": ["data:/data"]}},
    ).json()["Id"]
    r = c.delete("/volumes/data")
    assert r.status_code == 409 and "volume is in use" in r.json()["message"]
    c.delete(f"/containers/{cid}")
    assert c.delete("/volumes/data").status_code == 204
    r = c.get("/volumes/data")
    assert r.status_code == 404 and r.json()["message"] == "get data: no such volume"
    pruned = c.post("/volumes/prune", params={"filters": json.dumps({"all": ["true"]})}).json()
    assert pruned["VolumesDeleted"] == [anonymous]
