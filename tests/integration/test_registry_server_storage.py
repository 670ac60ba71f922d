"""The registry server's storage: a killed server never leaves a partial blob
visible, and the on-disk layout is distribution's (Debian's docker-registry
serves what dockyard wrote, and the other way round)."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.unit.test_registry_server_helpers import (
    push_blob,
    push_image,
    running_server,
    sha256,
    start_server,
)

REGISTRY_BINARY = "/usr/bin/docker-registry"
needs_docker_registry = pytest.mark.skipif(
    not os.access(REGISTRY_BINARY, os.X_OK), reason="docker-registry not installed"
)


def _blob_path(root: Path, digest: str) -> Path:
    hexpart = digest.split(":")[1]
    return root / f"docker/registry/v2/blobs/sha256/{hexpart[:2]}/{hexpart}/data"


def _upload_files(root: Path, name: str) -> list[Path]:
    return list((root / f"docker/registry/v2/repositories/{name}/_uploads").glob("*/data"))


def test_kill_during_upload_leaves_no_blob(tmp_path: Path) -> None:
    root = tmp_path / "root"
    data = os.urandom(16 << 20)
    digest = sha256(data)
    server = start_server(root)
    host, port = server.address.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            f"POST /v2/crash/app/blobs/uploads/?digest={digest} HTTP/1.1\r\n"
            f"Host: {server.address}\r\nContent-Length: {len(data)}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        sock.sendall(data[: 8 << 20])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until the server has written some of it
            files = _upload_files(root, "crash/app")
            if files and files[0].stat().st_size >= (4 << 20):
                break
            time.sleep(0.01)
        else:
            raise AssertionError("the upload never reached the disk")
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
    assert not _blob_path(root, digest).exists()
    with running_server(root) as s, s.client() as c:
        assert c.head(f"/v2/crash/app/blobs/{digest}").status_code == 404
        assert push_blob(c, "crash/app", data) == digest
        assert c.get(f"/v2/crash/app/blobs/{digest}").content == data
    assert _blob_path(root, digest).read_bytes() == data


def test_kill_during_chunked_upload_then_resume(tmp_path: Path) -> None:
    root = tmp_path / "root"
    data = os.urandom(6 << 20)
    server = start_server(root)
    with server.client() as c:
        location = c.post("/v2/crash/chunks/blobs/uploads/").headers["Location"]
        assert c.patch(location, content=data[: 2 << 20]).status_code == 202
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    with running_server(root) as s, s.client() as c:
        r = c.get(location)
        assert r.status_code == 204
        offset = int(r.headers["Range"].split("-")[1]) + 1
        assert offset == 2 << 20
        r = c.put(location, params={"digest": sha256(data)}, content=data[offset:],
                  headers={"Content-Range": f"{offset}-{len(data) - 1}"})
        assert r.status_code == 201, r.text
        assert c.get(f"/v2/crash/chunks/blobs/{sha256(data)}").content == data


class _DockerRegistry:
    def __init__(self, root: Path, workdir: Path) -> None:
        import subprocess

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = workdir / "docker-registry.yml"
        config.write_text(
            "version: 0.1\nlog: {level: error}\n"
            f"storage: {{filesystem: {{rootdirectory: {root}}}}}\n"
            f"http: {{addr: 127.0.0.1:{port}}}\n"
        )
        self.address = f"127.0.0.1:{port}"
        self.proc = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://{self.address}/v2/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError("docker-registry did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=15)


def _pull(client: httpx.Client, name: str, tag: str) -> dict[str, bytes]:
    r = client.get(f"/v2/{name}/manifests/{tag}",
                   headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 200, r.text
    found = {"manifest": r.content}
    body = json.loads(r.content)
    for desc in [body["config"], *body["layers"]]:
        blob = client.get(f"/v2/{name}/blobs/{desc['digest']}")
        assert blob.status_code == 200
        found[desc["digest"]] = blob.content
    return found


@needs_docker_registry
def test_docker_registry_serves_what_dockyard_wrote(tmp_path: Path) -> None:
    root = tmp_path / "root"
    layers = [os.urandom(300_000), b"second layer"]
    with running_server(root) as s, s.client() as c:
        push_image(c, "shared/app", "v1", layers)
        ours = _pull(c, "shared/app", "v1")
    theirs_server = _DockerRegistry(root, tmp_path)
    try:
        with httpx.Client(base_url=f"http://{theirs_server.address}") as c:
            assert _pull(c, "shared/app", "v1") == ours
            assert c.get("/v2/shared/app/tags/list").json()["tags"] == ["v1"]
            assert c.get("/v2/_catalog").json()["repositories"] == ["shared/app"]
    finally:
        theirs_server.stop()


@needs_docker_registry
def test_dockyard_serves_what_docker_registry_wrote(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    layers = [os.urandom(200_000), b"their layer"]
    theirs_server = _DockerRegistry(root, tmp_path)
    try:
        with httpx.Client(base_url=f"http://{theirs_server.address}") as c:
            push_image(c, "theirs/app", "v2", layers, single_post=False)
            theirs = _pull(c, "theirs/app", "v2")
    finally:
        theirs_server.stop()
    with running_server(root) as s, s.client() as c:
        assert _pull(c, "theirs/app", "v2") == theirs
        assert c.get("/v2/theirs/app/tags/list").json()["tags"] == ["v2"]
        assert c.get("/v2/_catalog").json()["repositories"] == ["theirs/app"]
