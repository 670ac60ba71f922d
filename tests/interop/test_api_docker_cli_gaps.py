"""More of the docker CLI through ``dockyard serve``: update, rename, pause/unpause,
restart, kill -s, diff, export, import, wait, plugin ls and the prunes — the commands
the other CLI tests leave out."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Dockyard, Result, needs_root
from tests.integration._api_support import running_server

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
pytestmark = [
    needs_root,
    pytest.mark.interop,
    pytest.mark.skipif(not os.path.exists(DOCKER), reason="the docker CLI is not installed"),
]


class DockerCLI:
    def __init__(self, host: str, config: Path) -> None:
        self.env = dict(os.environ, DOCKER_HOST=host, DOCKER_CONFIG=str(config))
        for name in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            self.env.pop(name, None)

    def raw(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([DOCKER, *args], capture_output=True, env=self.env, timeout=60)

    def __call__(self, *args: str, check: bool = True) -> Result:
        proc = self.raw(*args)
        result = Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())
        if check:
            assert result.code == 0, f"docker {' '.join(args)}: {result.err}"
        return result


@pytest.fixture
def docker(dy: Dockyard, busybox: str, tmp_path: Path) -> Iterator[DockerCLI]:
    with running_server(dy) as server:
        yield DockerCLI(server.host, tmp_path / "docker-config")


def test_update_rename_pause_restart_kill(docker: DockerCLI, dy: Dockyard) -> None:
    docker("run", "-d", "--name", "web", "busybox", "sleep", "300")
    assert docker("update", "--memory", "64m", "--memory-swap", "128m", "web").out == "web\n"
    limits = "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}"
    assert docker("inspect", "-f", limits, "web").out == f"{64 << 20} {128 << 20}\n"
    assert docker("update", "--pids-limit", "50", "web").out == "web\n"
    assert dy("inspect", "-f", "{{.HostConfig.PidsLimit}}", "web").out == "50\n"
    docker("rename", "web", "web2")
    assert docker("pause", "web2").out == "web2\n"
    assert docker("ps", "--format", "{{.Names}} {{.State}}").out == "web2 paused\n"
    assert docker("unpause", "web2").out == "web2\n"
    assert docker("restart", "-t", "1", "web2").out == "web2\n"
    # pid 1 ignores a signal it has no handler for; the wait must not take the
    # restart's end for this one
    assert docker("kill", "-s", "USR1", "web2").out == "web2\n"
    waiting = subprocess.Popen([DOCKER, "wait", "web2"], env=docker.env, stdout=subprocess.PIPE)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(1.5)
        assert docker("kill", "web2").out == "web2\n"
        assert waiting.communicate(timeout=30)[0] == b"137\n"
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    gone = docker("unpause", "web2", check=False)
    assert gone.code == 1 and gone.err == (
        "Error response from daemon: Container "
        f"{dy('inspect', '-f', '{{.Id}}', 'web2').out.strip()} is not paused\n"
    )
    docker("rm", "web2")


def test_diff_export_import_and_plugins(docker: DockerCLI, dy: Dockyard, tmp_path: Path) -> None:
    docker("run", "--name", "files", "busybox", "sh", "-c", "echo x > /added; rm /bin/ls")
    assert docker("diff", "files").out == dy("diff", "files").out
    exported = docker.raw("export", "files")
    assert exported.returncode == 0
    with tarfile.open(fileobj=io.BytesIO(exported.stdout)) as tar:
        names = tar.getnames()
    assert "added" in names and "bin/ls" not in names
    archive = tmp_path / "files.tar"
    archive.write_bytes(exported.stdout)
    image_id = docker("import", "-c", 'CMD ["cat", "/added"]', str(archive), "flat:1").out
    assert image_id.startswith("sha256:")
    assert docker("run", "--rm", "flat:1").out == "x\n"
    assert docker("plugin", "ls", "--format", "{{.Name}}").out == ""
    assert docker("rm", "files").out == "files\n"


def test_prunes(docker: DockerCLI) -> None:
    docker("run", "--name", "done", "busybox", "true")
    docker("volume", "create", "spare")
    docker("network", "create", "spare-net")
    pruned = docker("container", "prune", "-f").out
    assert pruned.startswith("Deleted Containers:\n") and "Total reclaimed space:" in pruned
    assert docker("volume", "prune", "-af").out.startswith("Deleted Volumes:\nspare\n")
    assert docker("network", "prune", "-f").out == "Deleted Networks:\nspare-net\n\n"
    assert docker("image", "prune", "-f").out == "Total reclaimed space: 0B\n"
