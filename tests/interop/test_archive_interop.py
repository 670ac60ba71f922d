"""save/load interoperate with skopeo and with the real docker engine, both ways."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Dockyard, needs_root
from tests.dockerd import private_dockerd
from tests.imagegen import random_layer, small_files_layer, write_archive

pytestmark = [needs_root, pytest.mark.interop]

needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")
needs_docker = pytest.mark.skipif(
    shutil.which("dockerd") is None or shutil.which("docker") is None,
    reason="docker.io not installed",
)


def skopeo(*args: str) -> str:
    proc = subprocess.run(
        ["skopeo", "--insecure-policy", *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@needs_skopeo
def test_skopeo_reads_our_save_both_ways(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    archive = tmp_path / "bb.tar"
    dy("save", "-o", str(archive), "busybox")
    # As a docker archive.
    info = json.loads(skopeo("inspect", "--config", f"docker-archive:{archive}"))
    assert (
        info["rootfs"]["diff_ids"]
        == json.loads(dy("inspect", "busybox").out)[0]["RootFS"]["Layers"]
    )
    # As an OCI archive.
    oci_dir = tmp_path / "oci"
    skopeo("copy", f"oci-archive:{archive}:latest", f"oci:{oci_dir}:bb")
    assert (oci_dir / "index.json").exists()
    # skopeo's own archive, written from that copy, loads back into dockyard.
    back = tmp_path / "back.tar"
    skopeo("copy", f"oci:{oci_dir}:bb", f"docker-archive:{back}:again/bb:2")
    dy("rmi", "busybox")
    assert dy("load", "-i", str(back)).out == "Loaded image: again/bb:2\n"
    assert dy("images", "-q", "--no-trunc", "again/bb:2").out == busybox + "\n"


@needs_skopeo
def test_oci_archive_from_skopeo_loads(dy: Dockyard, tmp_path: Path) -> None:
    source = tmp_path / "src.tar"
    write_archive(source, [random_layer(1, 100_000), small_files_layer(50)], ["src:1"])
    oci_archive = tmp_path / "oci.tar"
    # skopeo compresses layers with gzip in OCI archives: loading must decompress.
    skopeo("copy", f"docker-archive:{source}", f"oci-archive:{oci_archive}:docker.io/library/x:9")
    out = dy("load", "-i", str(oci_archive)).out
    assert out == "Loaded image: x:9\n"
    ids = dy("images", "-q", "--no-trunc").lines
    assert len(ids) == 1
    # skopeo rewrites the config as an OCI config (a new image ID); the layers are the same.
    source_config = json.loads(skopeo("inspect", "--config", f"docker-archive:{source}"))
    assert (
        source_config["rootfs"]["diff_ids"]
        == json.loads(dy("inspect", "x:9").out)[0]["RootFS"]["Layers"]
    )
    # Saving it again gives plain layers whose digests are the diff ids.
    again = tmp_path / "again.tar"
    dy("save", "-o", str(again), ids[0])
    info = json.loads(skopeo("inspect", "--config", f"docker-archive:{again}"))
    ours = json.loads(dy("inspect", ids[0]).out)[0]["RootFS"]["Layers"]
    assert info["rootfs"]["diff_ids"] == ours
    layers = json.loads(skopeo("inspect", f"docker-archive:{again}"))["Layers"]
    assert layers == ours


@pytest.fixture(scope="module")
def dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    base = tmp_path_factory.mktemp("dockerd")
    with private_dockerd(base, storage_driver="vfs") as env:
        if env is None:
            pytest.skip("dockerd is not installed or could not start here")
        yield env
    shutil.rmtree(base, ignore_errors=True)


def docker(env: dict[str, str], *args: str, input: bytes | None = None) -> str:
    proc = subprocess.run(["docker", *args], env=env, capture_output=True, input=input, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


@needs_docker
def test_docker_loads_our_save(
    dy: Dockyard, busybox: str, tmp_path: Path, dockerd: dict[str, str]
) -> None:
    archive = tmp_path / "bb.tar"
    dy("tag", "busybox", "dytest/bb:1")
    dy("save", "-o", str(archive), "dytest/bb:1")
    out = docker(dockerd, "load", "-i", str(archive))
    assert "Loaded image: dytest/bb:1" in out
    assert docker(dockerd, "images", "-q", "--no-trunc", "dytest/bb:1").strip() == busybox
    docker(dockerd, "rmi", "dytest/bb:1")


@needs_docker
def test_we_load_docker_save(dy: Dockyard, tmp_path: Path, dockerd: dict[str, str]) -> None:
    source = tmp_path / "src.tar"
    write_archive(
        source, [random_layer(2, 50_000), small_files_layer(30, seed=3)], ["dytest/multi:2"]
    )
    docker(dockerd, "load", "-i", str(source))
    expected = docker(dockerd, "images", "-q", "--no-trunc", "dytest/multi:2").strip()
    saved = tmp_path / "from-docker.tar"
    docker(dockerd, "save", "-o", str(saved), "dytest/multi:2")
    docker(dockerd, "rmi", "dytest/multi:2")
    assert dy("load", "-i", str(saved)).out == "Loaded image: dytest/multi:2\n"
    assert dy("images", "-q", "--no-trunc").out == expected + "\n"
    ours = json.loads(dy("inspect", "dytest/multi:2").out)[0]
    assert len(ours["RootFS"]["Layers"]) == 2
