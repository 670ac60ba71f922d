"""skopeo (Debian's) against dockyard's registry server, all on 127.0.0.1: copy an
image in and out (Docker and OCI manifests), inspect, list-tags, cross-repository
copies, delete, and the same through TLS with htpasswd credentials."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.imagegen import layer_tar, random_layer, write_archive
from tests.unit.test_registry_server_helpers import running_server, self_signed_cert

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed"),
]


def skopeo(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOME=os.environ.get("HOME", "/root"))
    proc = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True,
                          text=True, timeout=180, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"skopeo {' '.join(args)} failed: {proc.stderr}")
    return proc


@pytest.fixture
def image(tmp_path: Path) -> tuple[Path, list[bytes]]:
    layers = [random_layer(0, 3_000_000), layer_tar([("etc/hello", b"hello\n")])]
    path = tmp_path / "image.tar"
    write_archive(path, layers, ["interop/app:latest"])
    return path, layers


def _diff_ids_of_dir(directory: Path) -> set[str]:
    """sha256 of every uncompressed layer skopeo wrote to a ``dir:`` copy."""
    import gzip

    manifest = json.loads((directory / "manifest.json").read_text())
    found = set()
    for layer in manifest["layers"]:
        data = (directory / layer["digest"].split(":")[1]).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == layer["digest"]
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        found.add("sha256:" + hashlib.sha256(data).hexdigest())
    return found


def test_copy_in_and_out(tmp_path: Path, image: tuple[Path, list[bytes]]) -> None:
    archive, layers = image
    expected = {"sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers}
    with running_server(tmp_path / "root", "--enable-delete") as s:
        base = f"docker://{s.address}"
        skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{archive}",
               f"{base}/interop/app:v1")
        skopeo("copy", "--dest-tls-verify=false", "--format", "oci",
               f"docker-archive:{archive}", f"{base}/interop/app:oci")
        info = json.loads(skopeo("inspect", "--tls-verify=false", f"{base}/interop/app:v1").stdout)
        assert info["Name"] == f"{s.address}/interop/app"
        assert len(info["Layers"]) == 2
        assert info["Architecture"] == "amd64" and info["Os"] == "linux"
        raw = skopeo("inspect", "--raw", "--tls-verify=false", f"{base}/interop/app:oci").stdout
        assert json.loads(raw)["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"{base}/interop/app").stdout)
        assert sorted(tags["Tags"]) == ["oci", "v1"]

        out = tmp_path / "out"
        skopeo("copy", "--src-tls-verify=false", f"{base}/interop/app:v1", f"dir:{out}")
        assert _diff_ids_of_dir(out) == expected
        # Between repositories of the same registry (blob mounts), then by digest.
        skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false",
               f"{base}/interop/app:v1", f"{base}/other/copy:latest")
        digest = info["Digest"]
        out2 = tmp_path / "out2"
        skopeo("copy", "--src-tls-verify=false", f"{base}/other/copy@{digest}", f"dir:{out2}")
        assert _diff_ids_of_dir(out2) == expected
        oci_out = tmp_path / "oci-layout"
        skopeo("copy", "--src-tls-verify=false", f"{base}/interop/app:oci",
               f"oci:{oci_out}:app")
        assert (oci_out / "index.json").exists()

        skopeo("delete", "--tls-verify=false", f"{base}/other/copy:latest")
        gone = skopeo("inspect", "--tls-verify=false", f"{base}/other/copy:latest", check=False)
        assert gone.returncode != 0 and "manifest unknown" in gone.stderr


def test_tls_and_htpasswd(tmp_path: Path, image: tuple[Path, list[bytes]]) -> None:
    if shutil.which("htpasswd") is None:
        pytest.skip("htpasswd (apache2-utils) not installed")
    archive, layers = image
    cert, key = self_signed_cert(tmp_path)
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(subprocess.run(["htpasswd", "-Bbn", "alice", "s3cret"], check=True,
                                       capture_output=True, text=True).stdout)
    certs_dir = tmp_path / "certs.d"
    certs_dir.mkdir()
    shutil.copy(cert, certs_dir / "ca.crt")
    with running_server(tmp_path / "root", "--tls-cert", str(cert), "--tls-key", str(key),
                        "--htpasswd", str(htpasswd)) as s:
        base = f"docker://{s.address}"
        denied = skopeo("copy", f"--dest-cert-dir={certs_dir}", f"docker-archive:{archive}",
                        f"{base}/secure/app:v1", check=False)
        assert denied.returncode != 0
        assert "authentication required" in denied.stderr or "unauthorized" in denied.stderr
        wrong = skopeo("copy", f"--dest-cert-dir={certs_dir}", "--dest-creds", "alice:nope",
                       f"docker-archive:{archive}", f"{base}/secure/app:v1", check=False)
        assert wrong.returncode != 0
        skopeo("copy", f"--dest-cert-dir={certs_dir}", "--dest-creds", "alice:s3cret",
               f"docker-archive:{archive}", f"{base}/secure/app:v1")
        out = tmp_path / "out"
        skopeo("copy", f"--src-cert-dir={certs_dir}", "--src-creds", "alice:s3cret",
               f"{base}/secure/app:v1", f"dir:{out}")
        assert _diff_ids_of_dir(out) == {
            "sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers
        }
        tags = skopeo("list-tags", f"--cert-dir={certs_dir}", "--creds", "alice:s3cret",
                      f"{base}/secure/app").stdout
        assert json.loads(tags)["Tags"] == ["v1"]
