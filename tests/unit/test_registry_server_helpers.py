"""Helpers for the registry server tests: start ``registry serve`` on a free
loopback port in a subprocess, push images with plain HTTP, and make test
certificates. Imported by the unit, integration, interop tests and the benchmark."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

SERVE_CODE = (
    "import sys\n"
    "from dockyard.cli.commands.registry import cmd_serve\n"
    "from dockyard.cli.errors import report\n"
    "from dockyard.errors import DockyardError\n"
    "try:\n"
    "    sys.exit(cmd_serve(None, sys.argv[1:], 'registry serve'))\n"
    "except DockyardError as e:\n"
    "    sys.exit(report(e))\n"
)
GC_CODE = SERVE_CODE.replace("cmd_serve", "cmd_garbage_collect").replace(
    "registry serve", "registry garbage-collect"
)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    address: str
    scheme: str
    storage: Path

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}"

    def client(self, **kwargs: object) -> httpx.Client:
        kwargs.setdefault("verify", False)
        kwargs.setdefault("timeout", 30)
        return httpx.Client(base_url=self.url, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def start_server(storage: Path, *args: str, timeout: float = 20) -> Server:
    """``registry serve --addr 127.0.0.1:0 --storage DIR ARGS``; waits for its line."""
    cmd = [sys.executable, "-c", SERVE_CODE, "--addr", "127.0.0.1:0", "--storage",
           str(storage), *args]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        match = re.search(rb"listening on (\S+) \((https?)\)", line)
        if match:
            os.set_blocking(proc.stderr.fileno(), False)
            return Server(proc, match.group(1).decode(), match.group(2).decode(), storage)
    proc.kill()
    rest = proc.stderr.read() or b""
    proc.wait()
    raise AssertionError(f"registry did not start: {(line + rest).decode(errors='replace')}")


@contextmanager
def running_server(storage: Path, *args: str) -> Iterator[Server]:
    server = start_server(storage, *args)
    try:
        yield server
    finally:
        server.stop()


def run_gc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", GC_CODE, *args], capture_output=True, text=True, timeout=60
    )


def push_blob(client: httpx.Client, name: str, data: bytes, single_post: bool = True) -> str:
    """Upload with one POST (``single_post``) or POST then PUT (any registry)."""
    digest = sha256(data)
    if single_post:
        r = client.post(f"/v2/{name}/blobs/uploads/", params={"digest": digest}, content=data)
    else:
        r = client.post(f"/v2/{name}/blobs/uploads/")
        assert r.status_code == 202, r.text
        location = r.headers["Location"]  # may carry its own query (distribution's _state)
        separator = "&" if "?" in location else "?"
        r = client.put(f"{location}{separator}digest={digest}", content=data,
                       headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    return digest


def push_image(
    client: httpx.Client, name: str, tag: str, layers: list[bytes],
    media_type: str = OCI_MANIFEST, single_post: bool = True,
) -> tuple[str, bytes]:
    """Upload layers and a config, then the manifest under ``tag``; returns its digest."""
    config = json.dumps(
        {"architecture": "amd64", "os": "linux",
         "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in layers]}}
    ).encode()
    config_digest = push_blob(client, name, config, single_post)
    layer_descs = [
        {"mediaType": OCI_LAYER if media_type == OCI_MANIFEST
         else "application/vnd.docker.image.rootfs.diff.tar",
         "digest": push_blob(client, name, layer, single_post), "size": len(layer)}
        for layer in layers
    ]
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": OCI_CONFIG if media_type == OCI_MANIFEST
                   else "application/vnd.docker.container.image.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": layer_descs,
    }).encode()
    r = client.put(f"/v2/{name}/manifests/{tag}", content=manifest,
                   headers={"Content-Type": media_type})
    assert r.status_code == 201, r.text
    return r.headers["Docker-Content-Digest"], manifest


def self_signed_cert(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` made with ``openssl req``."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={host}", "-addext", f"subjectAltName=IP:{host}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key
