"""The real docker CLI against ``dockyard serve``: networks, published ports, the
classic build (``DOCKER_BUILDKIT=0``) and pull/push with a loopback registry."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Result
from tests.integration._api_support import Server, running_server
from tests.integration._network_support import (
    NetDockyard,
    free_subnet,
    links,
    nbusybox,
    ndy,
)

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not os.path.exists(DOCKER), reason="the docker CLI is not installed"),
]


__all__ = ["nbusybox", "ndy"]


class DockerCLI:
    def __init__(self, server: Server, config_dir: Path) -> None:
        self.env = dict(os.environ)
        self.env.update(DOCKER_HOST=server.host, DOCKER_CONFIG=str(config_dir), DOCKER_BUILDKIT="0")
        for name in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            self.env.pop(name, None)

    def __call__(
        self, *args: str, input: bytes | None = None, timeout: float = 60, cwd: str | None = None
    ) -> Result:
        proc = subprocess.run(
            [DOCKER, *args],
            input=input,
            capture_output=True,
            env=self.env,
            timeout=timeout,
            cwd=cwd,
        )
        return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    def ok(self, *args: str, **kw: object) -> Result:
        r = self(*args, **kw)  # type: ignore[arg-type]
        assert r.code == 0, f"docker {' '.join(args)}: {r.code}\n{r.out}\n{r.err}"
        return r


@pytest.fixture
def docker(ndy: NetDockyard, nbusybox: str, tmp_path: Path) -> Iterator[DockerCLI]:
    config = tmp_path / "docker-config"
    config.mkdir()
    with running_server(ndy) as server:
        yield DockerCLI(server, config)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_network_commands(docker: DockerCLI, ndy: NetDockyard) -> None:
    subnet = free_subnet()
    net_id = docker.ok(
        "network", "create", "--subnet", str(subnet), "--label", "k=v", "clinet"
    ).out.strip()
    assert len(net_id) == 64 and f"br-{net_id[:12]}" in links()
    r = docker("network", "create", "clinet")
    assert r.code == 1 and "network with name clinet already exists" in r.err
    ls = docker.ok("network", "ls", "--format", "{{.Name}} {{.Driver}}").out.split("\n")
    assert "clinet bridge" in ls and "bridge bridge" in ls
    assert docker.ok("network", "ls", "-q", "-f", "label=k=v").out.strip() == net_id[:12]
    inspected = json.loads(docker.ok("network", "inspect", "clinet").out)[0]
    assert inspected == json.loads(ndy("network", "inspect", "clinet").out)[0]
    r = docker("network", "inspect", "nosuch")
    assert r.code == 1 and "network nosuch not found" in r.err
    docker.ok("run", "-d", "--name", "box", "busybox", "sleep", "60")
    ip = str(subnet[9])
    docker.ok("network", "connect", "--ip", ip, "--alias", "boxy", "clinet", "box")
    got = docker.ok(
        "inspect", "-f", '{{(index .NetworkSettings.Networks "clinet").IPAddress}}', "box"
    ).out.strip()
    assert got == ip
    r = docker("network", "rm", "clinet")
    assert r.code == 1 and "has active endpoints" in r.err
    docker.ok("network", "disconnect", "clinet", "box")
    docker.ok("rm", "-f", "box")
    assert docker.ok("network", "rm", "clinet").out.strip() == "clinet"
    assert f"br-{net_id[:12]}" not in links()


def test_containers_reach_each_other_by_name(docker: DockerCLI) -> None:
    docker.ok("network", "create", "talk")
    docker.ok(
        "run",
        "-d",
        "--name",
        "server",
        "--network",
        "talk",
        "busybox",
        "sh",
        "-c",
        "echo hello-from-server | nc -l -p 7000",
    )
    r = Result(1, "", "")
    for _ in range(100):  # until the listener is up
        r = docker(
            "run",
            "--rm",
            "--network",
            "talk",
            "busybox",
            "sh",
            "-c",
            "nc -w 2 server 7000 </dev/null",
        )
        if "hello-from-server" in r.out:
            break
        time.sleep(0.1)
    assert "hello-from-server" in r.out, r
    docker.ok("rm", "-f", "server")
    docker.ok("network", "rm", "talk")


def test_published_port_answers_from_host(docker: DockerCLI) -> None:
    port = _free_port()
    docker.ok(
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        f"127.0.0.1:{port}:80",
        "busybox",
        "sh",
        "-c",
        "while true; do echo answered | nc -l -p 80; done",
    )
    assert docker.ok("port", "web", "80").out.strip() == f"127.0.0.1:{port}"
    data = b""
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                data = s.recv(100)
            if data:
                break
        except OSError:
            pass
        time.sleep(0.1)
    assert data == b"answered\n"
    docker.ok("rm", "-f", "web")


def test_classic_build_then_run(docker: DockerCLI, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        'FROM busybox\nCOPY msg /msg\nRUN echo step-ran\nCMD ["cat", "/msg"]\n'
    )
    (ctx / "msg").write_text("built by dockyard\n")
    r = docker.ok("build", "-t", "x", ".", cwd=str(ctx))
    assert "Step 1/3 : FROM busybox" in r.out and "step-ran" in r.out
    assert "Successfully built " in r.out and "Successfully tagged x:latest" in r.out
    assert docker.ok("run", "--rm", "x").out == "built by dockyard\n"
    r = docker.ok("build", "-q", "-t", "x", ".", cwd=str(ctx))
    image_id = docker.ok("image", "inspect", "-f", "{{.Id}}", "x").out.strip()
    assert r.out.strip() == image_id
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN exit 7\n")
    r = docker("build", ".", cwd=str(ctx))
    assert r.code != 0 and "7" in r.err
    docker.ok("rmi", "x")


def test_push_and_pull_through_loopback_registry(docker: DockerCLI, tmp_path: Path) -> None:
    from tests.unit.test_registry_server_helpers import running_server as registry

    with registry(tmp_path / "registry") as reg:
        target = f"{reg.address}/team/box:1"
        docker.ok("tag", "busybox", target)
        r = docker.ok("push", target, timeout=120)
        assert "1: digest: sha256:" in r.out
        with reg.client() as client:
            assert client.get("/v2/team/box/tags/list").json()["tags"] == ["1"]
        docker.ok("rmi", target)
        r = docker.ok("pull", target, timeout=120)
        assert f"Status: Image is up to date for {target}" in r.out or (
            f"Downloaded newer image for {target}" in r.out
        )
        pulled = docker.ok("image", "inspect", "-f", "{{.Id}}", target).out.strip()
        assert pulled == docker.ok("image", "inspect", "-f", "{{.Id}}", "busybox").out.strip()
        assert docker.ok("run", "--rm", target, "echo", "pulled-runs").out == "pulled-runs\n"
        r = docker("pull", f"{reg.address}/team/missing:1", timeout=60)
        assert r.code == 1 and "team/missing:1 not found: manifest unknown" in r.err
        docker.ok("rmi", target)


@pytest.fixture
def pyclient(ndy: NetDockyard, nbusybox: str) -> Iterator[object]:
    docker_py = pytest.importorskip("docker")
    with running_server(ndy) as server:
        c = docker_py.DockerClient(base_url=server.host, timeout=60)
        try:
            yield c
        finally:
            c.close()


def test_docker_py_networks(pyclient) -> None:  # type: ignore[no-untyped-def]
    import docker as docker_py

    subnet = free_subnet()
    ipam = docker_py.types.IPAMConfig(pool_configs=[docker_py.types.IPAMPool(subnet=str(subnet))])
    net = pyclient.networks.create("pynet", driver="bridge", ipam=ipam, labels={"a": "b"})
    assert net.name == "pynet" and net.attrs["Labels"] == {"a": "b"}
    assert [n.name for n in pyclient.networks.list(names=["pynet"])] == ["pynet"]
    container = pyclient.containers.run("busybox", ["sleep", "60"], detach=True, name="pybox")
    net.connect(container, aliases=["pyalias"], ipv4_address=str(subnet[20]))
    net.reload()
    assert container.id in net.attrs["Containers"]
    container.reload()
    assert container.attrs["NetworkSettings"]["Networks"]["pynet"]["IPAddress"] == str(subnet[20])
    with pytest.raises(docker_py.errors.APIError) as conflict:
        net.remove()
    assert conflict.value.status_code == 409
    net.disconnect(container)
    container.remove(force=True)
    net.remove()
    with pytest.raises(docker_py.errors.NotFound):
        pyclient.networks.get("pynet")


def test_docker_py_build(pyclient, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import io

    import docker as docker_py

    image, logs = pyclient.images.build(
        fileobj=io.BytesIO(b"FROM busybox\nRUN echo from-fileobj > /f\n"), tag="pyb:1", rm=True
    )
    assert "pyb:1" in image.tags
    assert any("Successfully built" in str(entry.get("stream", "")) for entry in logs)
    assert pyclient.containers.run("pyb:1", ["cat", "/f"], remove=True) == b"from-fileobj\n"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile.alt").write_text(
        "FROM busybox\nARG V\nCOPY data /data\nRUN echo $V >> /data\n"
    )
    (ctx / "data").write_text("path-context\n")
    image, _ = pyclient.images.build(
        path=str(ctx), dockerfile="Dockerfile.alt", tag="pyb:2", buildargs={"V": "arg"}
    )
    out = pyclient.containers.run(image.id, ["cat", "/data"], remove=True)
    assert out == b"path-context\narg\n"
    with pytest.raises(docker_py.errors.BuildError) as failed:
        pyclient.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 5\n"))
    assert "5" in str(failed.value)
    pyclient.images.remove("pyb:1")
    pyclient.images.remove("pyb:2")


def test_pull_of_missing_tag_is_an_error_response(
    docker: DockerCLI, ndy: NetDockyard, tmp_path: Path
) -> None:
    """Nothing is streamed before the registry answers: the missing manifest is an
    HTTP 404, which the CLI prints as dockerd's "Error response from daemon"."""
    from tests.unit.test_registry_server_helpers import running_server as registry

    with registry(tmp_path / "registry") as reg:
        target = f"{reg.address}/x:nope"
        message = f"manifest for {target} not found: manifest unknown: manifest unknown"
        r = docker("pull", target, timeout=60)
        assert (r.code, r.out, r.err) == (1, "", f"Error response from daemon: {message}\n")
        own = ndy("pull", target, check=False)
        assert (own.code, own.err) == (r.code, r.err)
