"""``POST /commit`` (docker commit, docker-py's ``container.commit``) through
``dockyard serve``: a new image with the container's changes, tags, author, comment
and ``changes``; Docker's errors for bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Dockyard, needs_root
from tests.integration._api_support import Server, running_server

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
pytestmark = needs_root


@pytest.fixture
def api(dy: Dockyard, busybox: str) -> Iterator[Server]:
    with running_server(dy) as server:
        yield server


def _made_file(c: httpx.Client) -> str:
    r = c.post(
        "/v1.43/containers/create",
        json={"Image": "busybox", "Cmd": ["sh", "-c", "echo made > /made"]},
        params={"name": "maker"},
    )
    assert r.status_code == 201, r.text
    cid = str(r.json()["Id"])
    assert c.post(f"/v1.43/containers/{cid}/start").status_code == 204
    assert c.post(f"/v1.43/containers/{cid}/wait").json()["StatusCode"] == 0
    return cid


def test_commit_over_http(api: Server) -> None:
    with api.client() as c:
        cid = _made_file(c)
        r = c.post(
            "/v1.43/commit",
            params=[
                ("container", "maker"),
                ("repo", "committed"),
                ("tag", "v1"),
                ("author", "A. Uthor"),
                ("comment", "a message"),
                ("changes", "ENV FOO=bar"),
                ("changes", 'CMD ["cat", "/made"]'),
            ],
            json={},
        )
        assert r.status_code == 201, r.text
        image_id = r.json()["Id"]
        assert image_id.startswith("sha256:")
        image = c.get("/v1.43/images/committed:v1/json").json()
        assert image["Id"] == image_id
        assert image["Author"] == "A. Uthor" and image["Comment"] == "a message"
        assert "FOO=bar" in image["Config"]["Env"]
        assert image["Config"]["Cmd"] == ["cat", "/made"]
        history = c.get("/v1.43/images/committed:v1/history").json()
        assert history[0]["Comment"] == "a message"
        # the new image runs with the container's file
        r = c.post("/v1.43/containers/create", json={"Image": "committed:v1"})
        new = r.json()["Id"]
        assert c.post(f"/v1.43/containers/{new}/start").status_code == 204
        assert c.post(f"/v1.43/containers/{new}/wait").json()["StatusCode"] == 0
        logs = c.get(f"/v1.43/containers/{new}/logs", params={"stdout": "1"}).content
        assert logs[8:] == b"made\n"
        # no repo: an untagged image
        r = c.post("/v1.43/commit", params={"container": cid})
        assert r.status_code == 201
        assert c.get(f"/v1.43/images/{r.json()['Id']}/json").json()["RepoTags"] == []
        # errors
        r = c.post("/v1.43/commit", params={"container": "nope"})
        assert r.status_code == 404 and r.json() == {"message": "No such container: nope"}
        r = c.post("/v1.43/commit", params={"container": cid, "repo": "Bad Name"})
        assert r.status_code == 400 and r.json()["message"].startswith("invalid reference format")
        r = c.post("/v1.43/commit", params={"container": cid}, json={"Env": "x"})
        assert r.status_code == 400 and "Config.Env" in r.json()["message"]
        for ident in (new, cid):
            c.delete(f"/v1.43/containers/{ident}")


@pytest.mark.skipif(not os.path.exists(DOCKER), reason="the docker CLI is not installed")
def test_docker_commit(api: Server, tmp_path: object) -> None:
    with api.client() as c:
        _made_file(c)
    env = dict(os.environ, DOCKER_HOST=api.host, DOCKER_CONFIG=str(tmp_path))
    for name in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        env.pop(name, None)
    done = subprocess.run(
        [DOCKER, "commit", "-c", "LABEL via=cli", "-m", "from the cli", "maker", "viacli:1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sha256:") and len(done.stdout.strip()) == 71
    shown = subprocess.run(
        [DOCKER, "image", "inspect", "-f", "{{.Comment}} {{.Config.Labels.via}}", "viacli:1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert shown.stdout == "from the cli cli\n", shown.stderr


def test_docker_py_commit(api: Server) -> None:
    docker = pytest.importorskip("docker")
    with api.client() as c:
        _made_file(c)
    client = docker.DockerClient(base_url=api.host, timeout=60)
    try:
        image = client.containers.get("maker").commit("viapy", "2", message="py", author="me")
        assert "viapy:2" in image.tags
        assert image.attrs["Comment"] == "py" and image.attrs["Author"] == "me"
    finally:
        client.close()
