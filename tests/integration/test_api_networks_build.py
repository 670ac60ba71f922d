"""Network and build routes of ``dockyard serve``."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration._api_support import Server, running_server
from tests.integration._network_support import NetDockyard, free_subnet, links, nbusybox, ndy

pytestmark = pytest.mark.skipif(__import__("os").geteuid() != 0, reason="needs root")


__all__ = ["nbusybox", "ndy"]


@pytest.fixture
def api(ndy: NetDockyard, nbusybox: str) -> Iterator[Server]:
    with running_server(ndy) as server:
        yield server


@pytest.fixture
def c(api: Server) -> Iterator[httpx.Client]:
    with api.client() as client:
        yield client


def _context(files: dict[str, str], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:  # type: ignore[call-overload]
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _messages(r: httpx.Response) -> list[dict[str, object]]:
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def test_network_create_inspect_list_remove(c: httpx.Client, ndy: NetDockyard) -> None:
    body = {
        "Name": "apinet",
        "Driver": "bridge",
        "Attachable": True,
        "Labels": {"team": "a"},
        "Options": {"com.docker.network.driver.mtu": "1400"},
        "IPAM": {
            "Config": [
                {
                    "Subnet": "10.251.7.0/24",
                    "Gateway": "10.251.7.254",
                    "IPRange": "10.251.7.128/25",
                    "AuxiliaryAddresses": {"r": "10.251.7.2"},
                }
            ]
        },
        "CheckDuplicate": True,
    }
    r = c.post("/v1.43/networks/create", json=body)
    assert r.status_code == 201, r.text
    net_id = r.json()["Id"]
    assert r.json()["Warning"] == "" and len(net_id) == 64
    assert f"br-{net_id[:12]}" in links()
    r = c.post("/networks/create", json=body)
    assert r.status_code == 409 and "already exists" in r.json()["message"]
    info = c.get(f"/networks/{net_id[:12]}", params={"verbose": "true", "scope": "local"}).json()
    assert info["Name"] == "apinet" and info["Attachable"] is True
    assert info["IPAM"]["Config"][0]["Subnet"] == "10.251.7.0/24"
    assert info["IPAM"]["Config"][0]["Gateway"] == "10.251.7.254"
    assert info["Labels"] == {"team": "a"}
    assert info == json.loads(ndy("network", "inspect", "apinet").out)[0]
    names = [n["Name"] for n in c.get("/networks").json()]
    assert {"bridge", "host", "none", "apinet"} <= set(names)
    r = c.get("/networks", params={"filters": json.dumps({"label": ["team=a"]})})
    assert [n["Name"] for n in r.json()] == ["apinet"]
    r = c.get("/networks", params={"filters": json.dumps({"type": ["custom"]})})
    assert [n["Id"] for n in r.json()] == [net_id]
    r = c.get("/networks", params={"filters": json.dumps({"colour": ["x"]})})
    assert r.status_code == 400
    assert c.delete("/networks/apinet").status_code == 204
    assert f"br-{net_id[:12]}" not in links()
    r = c.get("/networks/apinet")
    assert r.status_code == 404 and r.json()["message"] == "network apinet not found"
    assert c.delete("/networks/apinet").status_code == 404


def test_network_bad_input(c: httpx.Client) -> None:
    assert c.post("/networks/create", content=b"{nope").status_code == 400
    assert c.post("/networks/create", json={"Name": 5}).status_code == 400
    assert c.post("/networks/create", json={}).status_code == 400
    assert c.post("/networks/create", json={"Name": "bad name"}).status_code == 400
    r = c.post("/networks/create", json={"Name": "x", "IPAM": {"Config": [{"Gateway": "1.2.3.4"}]}})
    assert r.status_code == 400
    r = c.post("/networks/create", json={"Name": "x", "Driver": "overlayz"})
    assert r.status_code == 404
    assert c.post("/networks/create", json={"Name": "host"}).status_code == 409
    assert c.delete("/networks/bridge").status_code == 409
    assert c.get("/networks", params={"filters": "{bad"}).status_code == 400
    assert c.get("/networks").status_code == 200
    assert "x" not in [n["Name"] for n in c.get("/networks").json()]


def test_connect_disconnect_and_prune(c: httpx.Client, ndy: NetDockyard) -> None:
    subnet = free_subnet()
    r = c.post(
        "/networks/create",
        json={
            "Name": "n1",
            "Labels": {"keep": "no"},
            "IPAM": {"Config": [{"Subnet": str(subnet)}]},
        },
    )
    assert r.status_code == 201
    net_id = r.json()["Id"]
    wanted_ip = str(subnet[77])
    r = c.post(
        "/containers/create",
        params={"name": "web"},
        json={"Image": "busybox", "Cmd": ["sleep", "60"]},
    )
    assert r.status_code == 201, r.text
    cid = r.json()["Id"]
    assert c.post(f"/containers/{cid}/start").status_code == 204
    r = c.post(
        f"/networks/{net_id}/connect",
        json={
            "Container": "web",
            "EndpointConfig": {"Aliases": ["www"], "IPAMConfig": {"IPv4Address": wanted_ip}},
        },
    )
    assert r.status_code == 200, r.text
    info = c.get("/networks/n1").json()
    assert info["Containers"][cid]["IPv4Address"].startswith(wanted_ip + "/")
    ip_out = ndy("exec", "web", "ip", "-o", "-4", "addr").out
    assert wanted_ip in ip_out
    r = c.post("/networks/n1/connect", json={"Container": "web"})
    assert r.status_code == 409
    r = c.post("/networks/n1/connect", json={"Container": "nosuch"})
    assert r.status_code == 404
    r = c.post("/networks/nosuch/connect", json={"Container": "web"})
    assert r.status_code == 404
    assert c.delete("/networks/n1").status_code == 409  # in use
    assert c.post("/networks/prune").json() == {"NetworksDeleted": None}
    r = c.post("/networks/n1/disconnect", json={"Container": "web", "Force": False})
    assert r.status_code == 200, r.text
    assert c.get("/networks/n1").json()["Containers"] == {}
    assert wanted_ip not in ndy("exec", "web", "ip", "-o", "-4", "addr").out
    r = c.post("/networks/n1/disconnect", json={"Container": "web"})
    assert r.status_code == 409
    assert c.delete(f"/containers/{cid}", params={"force": "1"}).status_code == 204
    r = c.post("/networks/prune", params={"filters": json.dumps({"label": ["keep=yes"]})})
    assert r.json() == {"NetworksDeleted": None}
    r = c.post("/networks/prune", params={"filters": json.dumps({"label": ["keep=no"]})})
    assert r.json() == {"NetworksDeleted": ["n1"]}
    assert f"br-{net_id[:12]}" not in links()


DOCKERFILE = "FROM busybox\nCOPY hello.txt /hello.txt\nRUN echo built-$GREETING && cat /hello.txt\n"


@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_build_streams_classic_output(c: httpx.Client, ndy: NetDockyard, mode: str) -> None:
    dockerfile = DOCKERFILE.replace("\n", "\nARG GREETING\n", 1)
    ctx = _context({"Dockerfile": dockerfile, "hello.txt": "from-context\n"}, mode)
    params = [
        ("t", "built:1"),
        ("t", "other"),
        ("buildargs", json.dumps({"GREETING": "yo"})),
        ("labels", json.dumps({"made": "api"})),
        ("rm", "1"),
    ]
    r = c.post(
        "/v1.43/build", params=params, content=ctx, headers={"Content-Type": "application/x-tar"}
    )
    assert r.status_code == 200, r.text
    msgs = _messages(r)
    streams = "".join(str(m.get("stream", "")) for m in msgs)
    assert not [m for m in msgs if "error" in m], msgs
    assert "Step 1/3 : FROM busybox" in streams
    assert "Step 2/3 : COPY hello.txt /hello.txt\n" in streams
    assert "Step 3/3 : RUN echo built-yo && cat /hello.txt\n" in streams
    assert "built-yo\nfrom-context\n" in streams
    aux = [m["aux"] for m in msgs if "aux" in m]
    image_id = aux[0]["ID"]  # type: ignore[index]
    assert image_id.startswith("sha256:")
    assert f"Successfully built {image_id[7:19]}\n" in streams
    assert "Successfully tagged built:1\n" in streams
    assert "Successfully tagged other:latest\n" in streams
    inspected = c.get("/images/built:1/json").json()
    assert inspected["Id"] == image_id and inspected["Config"]["Labels"]["made"] == "api"
    # again: the steps come from the cache
    r = c.post(
        "/build", params={"t": "built:1", "buildargs": json.dumps({"GREETING": "yo"})}, content=ctx
    )
    assert " ---> Using cache" in r.text
    r = c.post(
        "/build",
        params={"q": "1", "nocache": "1", "buildargs": json.dumps({"GREETING": "yo"})},
        content=ctx,
    )
    msgs = _messages(r)
    assert [m["stream"] for m in msgs if "stream" in m] == [
        next(m["aux"] for m in msgs if "aux" in m)["ID"] + "\n"  # type: ignore[index]
    ]


def test_build_errors(c: httpx.Client) -> None:
    failing = _context({"Dockerfile": "FROM busybox\nRUN echo before && exit 3\n"})
    r = c.post("/build", content=failing)
    assert r.status_code == 200
    msgs = _messages(r)
    assert "before\n" in "".join(str(m.get("stream", "")) for m in msgs)
    last = msgs[-1]
    assert "error" in last and last["errorDetail"] == {"message": last["error"]}
    assert "3" in str(last["error"])
    assert not [m for m in msgs if "aux" in m]
    r = c.post("/build", params={"dockerfile": "Other"}, content=failing)
    assert r.status_code == 400
    assert r.json()["message"] == "Cannot locate specified Dockerfile: Other"
    r = c.post("/build", params={"buildargs": "{bad"}, content=failing)
    assert r.status_code == 400
    r = c.post("/build", params={"t": "Bad Tag"}, content=failing)
    assert r.status_code == 400
    r = c.post("/build", params={"platform": "linux/s390x"}, content=failing)
    assert r.status_code == 400
    r = c.post("/build", content=_context({"Dockerfile": "FROMM busybox\n"}))
    msgs = _messages(r) if r.status_code == 200 else [{"error": r.json()["message"]}]
    assert "unknown instruction" in str(msgs[-1]["error"]).lower()


def test_build_prune(c: httpx.Client) -> None:
    ctx = _context({"Dockerfile": "FROM busybox\nRUN echo cached > /f\n"})
    r = c.post("/build", params={"t": "p:1"}, content=ctx)
    assert "Successfully built" in r.text
    assert c.delete("/images/p:1").status_code == 200
    r = c.post("/build/prune", params={"all": "1"})
    assert r.status_code == 200
    body = r.json()
    assert body["CachesDeleted"] and body["SpaceReclaimed"] > 0
    r = c.post("/build/prune", params={"all": "1"})
    assert r.json() == {"CachesDeleted": None, "SpaceReclaimed": 0}
    r = c.post("/build/prune", params={"filters": json.dumps({"colour": ["x"]})})
    assert r.status_code == 400


def test_networks_and_allocations_survive_a_server_restart(
    ndy: NetDockyard, nbusybox: str
) -> None:
    subnet = free_subnet()
    first, second = Server(ndy), Server(ndy)
    try:
        first.start()
        with first.client() as client:
            r = client.post(
                "/networks/create", json={"Name": "keep", "IPAM": {"Config": [
                    {"Subnet": str(subnet)}]}},
            )
            assert r.status_code == 201, r.text
            net_id = r.json()["Id"]
            r = client.post("/containers/create", params={"name": "stay"}, json={
                "Image": "busybox", "Cmd": ["sleep", "300"],
                "HostConfig": {"NetworkMode": "keep"},
            })
            assert r.status_code == 201, r.text
            assert client.post("/containers/stay/start").status_code == 204
            before = client.get("/containers/stay/json").json()["NetworkSettings"]["Networks"]
        first.cleanup()  # the server stops; the container runs on under its monitor
        assert ndy("inspect", "-f", "{{.State.Status}}", "stay").out == "running\n"
        second.start()
        with second.client() as client:
            after = client.get("/containers/stay/json").json()["NetworkSettings"]["Networks"]
            assert after["keep"]["IPAddress"] == before["keep"]["IPAddress"] != ""
            assert client.get("/networks/keep").json()["Id"] == net_id
            # a new container gets another address: the first one's allocation holds
            r = client.post("/containers/create", params={"name": "next"}, json={
                "Image": "busybox", "Cmd": ["sleep", "300"],
                "HostConfig": {"NetworkMode": "keep"},
            })
            assert client.post("/containers/next/start").status_code == 204
            other = client.get("/containers/next/json").json()["NetworkSettings"]["Networks"]
            assert other["keep"]["IPAddress"] not in ("", after["keep"]["IPAddress"])
    finally:
        first.cleanup()
        second.cleanup()
        ndy("rm", "-f", "stay", "next", check=False)
        ndy("network", "rm", "keep", check=False)


def test_push_and_pull_with_x_registry_auth(
    ndy: NetDockyard, nbusybox: str, tmp_path: Path
) -> None:
    import base64

    import bcrypt

    from tests.unit.test_registry_server_helpers import running_server as registry

    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=5)).decode()
    (tmp_path / "htpasswd").write_text(f"alice:{hashed}\n")
    ndy.env["DOCKER_CONFIG"] = str(tmp_path / "no-stored-credentials")
    with registry(tmp_path / "storage", "--htpasswd", str(tmp_path / "htpasswd")) as reg, \
            running_server(ndy) as server, server.client() as client:
        name = f"{reg.address}/team/box"
        ndy("tag", "busybox:latest", f"{name}:1")

        def header(password: str) -> dict[str, str]:
            auth = {"username": "alice", "password": password, "serveraddress": reg.address}
            return {"X-Registry-Auth": base64.urlsafe_b64encode(json.dumps(auth).encode()).decode()}

        denied = _messages(client.post(f"/images/{name}/push", params={"tag": "1"}))
        assert "unauthorized" in str(denied[-1].get("error")), denied
        wrong = _messages(
            client.post(f"/images/{name}/push", params={"tag": "1"}, headers=header("nope"))
        )
        assert "error" in wrong[-1], wrong
        pushed = _messages(
            client.post(f"/images/{name}/push", params={"tag": "1"}, headers=header("s3cret"))
        )
        assert "error" not in pushed[-1], pushed
        assert any(str(m.get("status", "")).startswith("1: digest: sha256:") for m in pushed)
        ndy("rmi", f"{name}:1")
        pulled = _messages(client.post(
            "/images/create", params={"fromImage": name, "tag": "1"}, headers=header("s3cret")
        ))
        assert pulled[-1].get("status") == f"Status: Downloaded newer image for {name}:1", pulled
        assert not (tmp_path / "no-stored-credentials").exists()  # nothing was stored
