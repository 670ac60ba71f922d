"""Debian's ``docker-registry`` (distribution 2.8) on a free loopback port, for tests
and benchmarks: a temp config, optional htpasswd auth and TLS; stopped by its PID."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "/usr/bin/docker-registry"


@dataclass
class Registry:
    host: str  # 127.0.0.1:PORT
    scheme: str
    base: Path
    ca: Path | None = None
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"


def available() -> bool:
    return shutil.which(REGISTRY) is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_cert(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` (an IP); returns (cert, key)."""
    cert, key = directory / "registry.crt", directory / "registry.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            f"/CN={host}",
            "-addext",
            f"subjectAltName=IP:{host}",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            urllib.request.urlopen(url + "/v2/", timeout=2, context=ctx)
            return True
        except urllib.error.HTTPError:
            return True  # 401 counts: it is answering
        except OSError:
            time.sleep(0.05)
    return False


@contextlib.contextmanager
def registry(
    base: Path,
    *,
    htpasswd: tuple[str, str] | None = None,
    tls: bool = False,
) -> Iterator[Registry]:
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    lines = [
        "version: 0.1",
        "log:",
        "  level: error",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {base / 'data'}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
    ]
    ca = None
    if tls:
        cert, key = make_cert(base)
        ca = cert
        lines += ["  tls:", f"    certificate: {cert}", f"    key: {key}"]
    if htpasswd:
        user, password = htpasswd
        out = subprocess.run(
            ["htpasswd", "-Bbn", user, password], check=True, capture_output=True
        ).stdout
        (base / "htpasswd").write_bytes(out)
        lines += [
            "auth:",
            "  htpasswd:",
            "    realm: basic-realm",
            f"    path: {base / 'htpasswd'}",
        ]
    config = base / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log = open(base / "registry.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=log, stderr=log)
    reg = Registry(
        host=f"127.0.0.1:{port}",
        scheme="https" if tls else "http",
        base=base,
        ca=ca,
        username=htpasswd[0] if htpasswd else None,
        password=htpasswd[1] if htpasswd else None,
    )
    try:
        if not _ready(reg.url, proc):
            raise RuntimeError(
                f"docker-registry did not start: {(base / 'registry.log').read_text()}"
            )
        yield reg
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
