"""docker-py (PyPI ``docker``) against ``dockyard serve``."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator

import pytest

from tests.conftest import Dockyard, needs_root
from tests.integration._api_support import running_server

docker = pytest.importorskip("docker")
pytestmark = [needs_root, pytest.mark.interop]


@pytest.fixture
def client(dy: Dockyard, busybox: str) -> Iterator[object]:
    with running_server(dy) as server:
        c = docker.DockerClient(base_url=server.host, timeout=60)
        try:
            yield c
        finally:
            c.close()


def test_version_ping_info(client) -> None:  # type: ignore[no-untyped-def]
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.43"
    assert client.info()["Images"] == 1


def test_containers_run_logs_and_wait(client) -> None:  # type: ignore[no-untyped-def]
    out = client.containers.run("busybox", ["sh", "-c", "echo hi; echo err >&2"], remove=True)
    assert out == b"hi\n"
    with pytest.raises(docker.errors.ContainerError) as failed:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], remove=True)
    assert failed.value.exit_status == 3 and b"bad" in failed.value.stderr
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("nope:latest")
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("nope")
    container = client.containers.run(
        "busybox", ["sh", "-c", "echo one; echo two; sleep 60"], detach=True, name="pyrun"
    )
    container.reload()
    assert container.status == "running" and container.name == "pyrun"
    assert [c.name for c in client.containers.list()] == ["pyrun"]
    assert [c.name for c in client.containers.list(filters={"name": "pyr"})] == ["pyrun"]
    logs = b""
    for chunk in container.logs(stream=True, follow=True):
        logs += chunk
        if logs == b"one\ntwo\n":
            break
    assert container.logs(tail=1) == b"two\n"
    container.kill()
    assert container.wait() == {"StatusCode": 137, "Error": None}
    container.reload()
    assert container.status == "exited"
    container.remove()
    assert client.containers.list(all=True) == []


def test_exec_run(client) -> None:  # type: ignore[no-untyped-def]
    container = client.containers.run("busybox", ["sleep", "60"], detach=True)
    try:
        result = container.exec_run(["sh", "-c", "echo out; echo err >&2; exit 4"])
        assert result.exit_code == 4 and result.output == b"out\nerr\n"
        result = container.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
        assert result.output == (b"out\n", b"err\n")
        result = container.exec_run(["sh", "-c", "echo $V"], environment={"V": "seven"})
        assert result.output == b"seven\n"
        result = container.exec_run("tty", tty=True)
        assert result.output.startswith(b"/dev/pts/")
        result = container.exec_run(["sh", "-c", "echo x > /tmp/x"], detach=True)
        # docker-py inspects at once: None while it runs, then its code (as dockerd)
        assert result.exit_code in (None, 0)
    finally:
        container.remove(force=True)


def test_attach_socket_and_stream(client) -> None:  # type: ignore[no-untyped-def]
    container = client.containers.create(
        "busybox", ["sh", "-c", "read l; echo got $l"], stdin_open=True, name="pyattach"
    )
    sock = container.attach_socket(params={"stdin": 1, "stdout": 1, "stream": 1})
    container.start()
    raw = sock._sock  # the hijacked connection
    raw.sendall(b"line\n")
    data = b""
    while b"got line" not in data:
        chunk = raw.recv(4096)
        assert chunk
        data += chunk
    sock.close()
    assert container.wait()["StatusCode"] == 0
    assert container.attach(stdout=True, stderr=True, logs=True) == b"got line\n"
    container.remove()


def test_put_and_get_archive(client) -> None:  # type: ignore[no-untyped-def]
    container = client.containers.run("busybox", ["sleep", "60"], detach=True)
    try:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("note.txt")
            info.size = 4
            tar.addfile(info, io.BytesIO(b"data"))
        assert container.put_archive("/tmp", buf.getvalue()) is True
        chunks, stat = container.get_archive("/tmp/note.txt")
        assert stat["name"] == "note.txt" and stat["size"] == 4
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
            member = tar.extractfile("note.txt")
            assert member is not None and member.read() == b"data"
        with pytest.raises(docker.errors.NotFound):
            container.get_archive("/nope")
    finally:
        container.remove(force=True)


def test_images_and_volumes(client, busybox: str) -> None:  # type: ignore[no-untyped-def]
    images = client.images.list()
    assert [i.tags for i in images] == [["busybox:latest"]] and images[0].id == busybox
    image = client.images.get("busybox")
    assert image.tag("example/box", "v2") is True
    assert sorted(client.images.get(busybox).tags) == ["busybox:latest", "example/box:v2"]
    client.images.remove("example/box:v2")
    archive = b"".join(client.api.get_image("busybox:latest"))
    client.images.remove("busybox")
    assert client.images.list() == []
    loaded = client.images.load(archive)
    assert [i.id for i in loaded] == [busybox]
    volume = client.volumes.create("pyvol", labels={"k": "v"})
    assert volume.attrs["Labels"] == {"k": "v"}
    assert [v.name for v in client.volumes.list()] == ["pyvol"]
    out = client.containers.run(
        "busybox", ["sh", "-c", "echo kept > /v/f; cat /v/f"], volumes=["pyvol:/v"], remove=True
    )
    assert out == b"kept\n"
    volume.remove()
    assert client.volumes.list() == []
    df = client.df()
    assert df["Images"][0]["RepoTags"] == ["busybox:latest"]


def test_events_stream(client) -> None:  # type: ignore[no-untyped-def]
    import time

    since = time.time()
    client.containers.run("busybox", "true", remove=True, name="pyevents")
    events = client.events(
        since=since, until=time.time() + 0.5, decode=True, filters={"container": "pyevents"}
    )
    assert [e["Action"] for e in events] == ["create", "start", "die", "destroy"]
