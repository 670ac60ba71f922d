"""Debian's docker-compose (1.29, Python, on docker-py) against ``dockyard serve``:
a two-service project up, talking by name, logs, ps, down — and nothing left."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration._api_support import running_server
from tests.integration._network_support import NetDockyard, nbusybox, ndy

COMPOSE = shutil.which("docker-compose")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(COMPOSE is None, reason="docker-compose (Debian's 1.29) is not installed"),
]

__all__ = ["nbusybox", "ndy"]

PROJECT = """\
version: "3.8"
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo hello-from-web > /index.html; echo web-ready; httpd -f -p 80 -h /"]
  client:
    image: busybox
    depends_on: [web]
    command:
      - sh
      - -c
      - sleep 0.5; nc web 80 </dev/null >/dev/null && echo reached-web; sleep 300
"""


def test_compose_up_ps_logs_down(ndy: NetDockyard, nbusybox: str, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "docker-compose.yml").write_text(PROJECT)
    with running_server(ndy) as server:
        env = dict(os.environ, DOCKER_HOST=server.host, COMPOSE_PROJECT_NAME="dyproj")
        for name in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            env.pop(name, None)

        def compose(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
            assert COMPOSE is not None
            return subprocess.run([COMPOSE, *args], cwd=project, env=env, capture_output=True,
                                  text=True, timeout=timeout)

        try:
            up = compose("up", "-d")
            assert up.returncode == 0, up.stderr
            assert "Creating dyproj_web_1" in up.stderr and "Creating dyproj_client_1" in up.stderr
            names = ndy("ps", "--format", "{{.Names}}").out.split()
            assert sorted(names) == ["dyproj_client_1", "dyproj_web_1"]
            assert ndy("network", "ls", "-q", "-f", "name=dyproj_default").out.strip()
            logs = ""
            for _ in range(100):
                logs = compose("logs", "--no-color").stdout
                if "reached-web" in logs:
                    break
                subprocess.run(["sleep", "0.1"])
            assert "web-ready" in logs and "reached-web" in logs, logs
            ps = compose("ps")
            assert ps.returncode == 0 and "dyproj_web_1" in ps.stdout and "Up" in ps.stdout
        finally:
            down = compose("down", "-t", "1")
        assert down.returncode == 0, down.stderr
        assert ndy("ps", "-aq").out == ""
        assert ndy("network", "ls", "-q", "-f", "name=dyproj_default").out == ""
