"""The real docker CLI (a private dockerd) pushing to and pulling from dockyard's
registry server on 127.0.0.1 (docker treats loopback registries as insecure,
so plain HTTP works), with and without htpasswd credentials. Skips cleanly
when dockerd is not installed or cannot start here."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dockerd import private_dockerd
from tests.imagegen import layer_tar, random_layer, write_archive
from tests.unit.test_registry_server_helpers import running_server

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(
        shutil.which("dockerd") is None or shutil.which("docker") is None,
        reason="docker not installed",
    ),
]


@pytest.fixture(scope="module")
def dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    base = tmp_path_factory.mktemp("dockerd")
    with private_dockerd(base, storage_driver="vfs", namespace="dy-registry") as env:
        if env is None:
            pytest.skip("dockerd could not start here")
        env = dict(env, DOCKER_CONFIG=str(base / "client-config"))
        yield env
    shutil.rmtree(base, ignore_errors=True)


def docker(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}"
    return proc


def test_push_and_pull(tmp_path: Path, dockerd: dict[str, str]) -> None:
    archive = tmp_path / "image.tar"
    image_id = write_archive(archive, [random_layer(0, 2_000_000),
                                       layer_tar([("etc/x", b"x\n")])], ["dyreg/app:1"])
    docker(dockerd, "load", "-i", str(archive))
    with running_server(tmp_path / "root") as s:
        ref = f"{s.address}/dyreg/app:1"
        docker(dockerd, "tag", "dyreg/app:1", ref)
        out = docker(dockerd, "push", ref).stdout
        assert "1: digest: sha256:" in out
        docker(dockerd, "rmi", ref, "dyreg/app:1")
        out = docker(dockerd, "pull", ref).stdout
        assert f"Status: Downloaded newer image for {ref}" in out
        image = docker(dockerd, "image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()
        assert image == image_id
        docker(dockerd, "rmi", ref)


def test_login_push_with_htpasswd(tmp_path: Path, dockerd: dict[str, str]) -> None:
    if shutil.which("htpasswd") is None:
        pytest.skip("htpasswd (apache2-utils) not installed")
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(subprocess.run(["htpasswd", "-Bbn", "dockeruser", "pw123"], check=True,
                                       capture_output=True, text=True).stdout)
    archive = tmp_path / "image.tar"
    write_archive(archive, [layer_tar([("etc/secret", b"s\n")])], ["dyreg/secret:1"])
    docker(dockerd, "load", "-i", str(archive))
    with running_server(tmp_path / "root", "--htpasswd", str(htpasswd)) as s:
        ref = f"{s.address}/dyreg/secret:1"
        docker(dockerd, "tag", "dyreg/secret:1", ref)
        denied = docker(dockerd, "push", ref, check=False)
        assert denied.returncode != 0 and "no basic auth credentials" in denied.stderr
        bad = subprocess.run(["docker", "login", "-u", "dockeruser", "--password-stdin",
                              s.address], input="wrong", env=dockerd, capture_output=True,
                             text=True, timeout=60)
        assert bad.returncode != 0
        good = subprocess.run(["docker", "login", "-u", "dockeruser", "--password-stdin",
                               s.address], input="pw123", env=dockerd, capture_output=True,
                              text=True, timeout=60)
        assert good.returncode == 0, good.stderr
        assert "Login Succeeded" in good.stdout
        docker(dockerd, "push", ref)
        docker(dockerd, "rmi", ref, "dyreg/secret:1")
        docker(dockerd, "pull", ref)
        docker(dockerd, "rmi", ref)
        docker(dockerd, "logout", s.address)
