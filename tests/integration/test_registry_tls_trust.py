"""A registry that is not on loopback is secure: its certificate must be trusted
through certs.d (Docker's rule). The registry runs in a network namespace this test
makes, reached over a veth pair; nothing leaves the machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Dockyard, needs_root
from tests.integration._distribution_support import second_root
from tests.registryd import make_cert
from tests.unit.test_registry_server_helpers import SERVE_CODE

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 is not installed"),
]

NS = f"dy-regtls-{os.getpid()}"
HOST_IF, NS_IF = f"dyrt{os.getpid() % 100000}h", "eth0"
HOST_IP, NS_IP = "10.251.77.1", "10.251.77.2"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def registry_in_netns(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``registry serve`` with TLS on NS_IP:5000 inside a fresh namespace; (address, ca)."""
    cert, key = make_cert(tmp_path, NS_IP)
    _ip("netns", "add", NS)
    proc = None
    try:
        _ip("link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF, "netns", NS)
        _ip("addr", "add", f"{HOST_IP}/30", "dev", HOST_IF)
        _ip("link", "set", HOST_IF, "up")
        _ip("-n", NS, "addr", "add", f"{NS_IP}/30", "dev", NS_IF)
        _ip("-n", NS, "link", "set", NS_IF, "up")
        _ip("-n", NS, "link", "set", "lo", "up")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", NS, sys.executable, "-c", SERVE_CODE, "--addr",
             f"{NS_IP}:5000", "--storage", str(tmp_path / "storage"), "--tls-cert", str(cert),
             "--tls-key", str(key)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
        )
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert b"listening on" in line, line
        yield f"{NS_IP}:5000", cert
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        subprocess.run(["ip", "link", "del", HOST_IF], capture_output=True)
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
        deadline = time.monotonic() + 5
        while os.path.exists(f"/run/netns/{NS}") and time.monotonic() < deadline:
            time.sleep(0.05)


def test_certs_d_trust_for_a_secure_registry(
    dy: Dockyard, busybox: str, tmp_path: Path, registry_in_netns: tuple[str, Path]
) -> None:
    address, ca = registry_in_netns
    name = f"{address}/trust/busybox:1"
    dy("tag", "busybox:latest", name)
    certs_d = tmp_path / "certs.d"
    dy.env["DOCKYARD_CERTS_D"] = str(certs_d)
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    # not loopback, not in insecure-registries: an unknown certificate is refused
    refused = dy("push", name, check=False)
    assert refused.code == 1
    assert refused.err == (
        f'Error response from daemon: Get "https://{address}/v2/": tls: failed to verify'
        " certificate: x509: certificate signed by unknown authority\n"
    )
    # trusted through certs.d/<host:port>/ca.crt, as docker does
    (certs_d / address).mkdir(parents=True)
    shutil.copy(ca, certs_d / address / "ca.crt")
    dy("push", name)
    other = second_root(tmp_path)
    other.env.update(DOCKYARD_CERTS_D=str(certs_d), DOCKER_CONFIG=str(tmp_path / "docker-config"))
    assert other("pull", name).out.splitlines()[-1] == name
    assert other("images", "-q", name).out == dy("images", "-q", name).out
