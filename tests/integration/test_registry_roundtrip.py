"""dockyard's client against dockyard's own registry server: plain, TLS, and TLS
with htpasswd — push from one root, pull into another, run what came back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import Dockyard, needs_root
from tests.integration._distribution_support import second_root
from tests.unit.test_registry_server_helpers import running_server, self_signed_cert

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]


def _htpasswd(path: Path, user: str, password: str) -> None:
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    path.write_text(f"{user}:{hashed}\n")


@pytest.mark.parametrize("mode", ["plain", "tls", "tls+htpasswd"])
def test_push_and_pull_through_dockyards_registry(
    dy: Dockyard, busybox: str, tmp_path: Path, mode: str
) -> None:
    args: list[str] = []
    if "tls" in mode:
        cert, key = self_signed_cert(tmp_path)
        args += ["--tls-cert", str(cert), "--tls-key", str(key)]
    if "htpasswd" in mode:
        _htpasswd(tmp_path / "htpasswd", "alice", "s3cret")
        args += ["--htpasswd", str(tmp_path / "htpasswd")]
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    with running_server(tmp_path / "storage", *args) as server:
        assert server.scheme == ("https" if "tls" in mode else "http")
        name = f"{server.address}/demo/busybox:v1"
        dy("tag", "busybox:latest", name)
        if "htpasswd" in mode:
            denied = dy("push", name, check=False)
            assert denied.code == 1
            assert denied.err.endswith("unauthorized: authentication required\n"), denied.err
            dy("login", "-u", "alice", "--password-stdin", server.address, input=b"s3cret\n")
        pushed = dy("push", name).out
        assert pushed.splitlines()[-1].startswith("v1: digest: sha256:")
        other = second_root(tmp_path)
        other.env["DOCKER_CONFIG"] = dy.env["DOCKER_CONFIG"]
        pulled = other("pull", name)
        assert pulled.out.splitlines()[-1] == name
        assert other("images", "-q", name).out == dy("images", "-q", name).out  # same image ID
        assert other("run", "--rm", name, "echo", "round", "trip").out == "round trip\n"
        tags = server.client(auth=("alice", "s3cret")).get("/v2/demo/busybox/tags/list").json()
        assert tags == {"name": "demo/busybox", "tags": ["v1"]}
        if "htpasswd" in mode:
            logout = dy("logout", server.address).out
            assert logout == f"Removing login credentials for {server.address}\n"
            assert dy("pull", name, check=False).code == 1


def test_build_pulls_a_missing_base_image(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    with running_server(tmp_path / "storage") as server:
        name = f"{server.address}/base/busybox:1"
        dy("tag", "busybox:latest", name)
        dy("push", name)
        other = second_root(tmp_path)
        context = tmp_path / "context"
        context.mkdir()
        (context / "Dockerfile").write_text(f"FROM {name}\nRUN echo built > /built\n")
        other("build", "-q", "-t", "app", str(context))
        assert other("run", "--rm", "app", "cat", "/built").out == "built\n"
        assert other("images", "-q", name).out == dy("images", "-q", name).out
