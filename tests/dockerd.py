"""A private dockerd (own data root, exec root and socket) for interop tests and
benchmarks; stopped by its PID and unmounted afterwards."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def private_dockerd(
    base: Path, *, storage_driver: str | None = None, namespace: str = "dy-test"
) -> Iterator[dict[str, str] | None]:
    """Yield the environment that points the docker CLI at it, or None when docker
    is not installed or cannot start here."""
    if shutil.which("dockerd") is None or shutil.which("docker") is None:
        yield None
        return
    base.mkdir(parents=True, exist_ok=True)
    # containerd's sockets live under the exec root: keep it (and docker's socket)
    # short, since a unix socket path must fit in 108 bytes and pytest's are long.
    short = Path(tempfile.mkdtemp(prefix="dyd-", dir="/tmp"))
    sock = short / "docker.sock"
    args = [
        "dockerd",
        "--data-root",
        str(base / "root"),
        "--exec-root",
        str(short / "exec"),
        "-H",
        f"unix://{sock}",
        "--pidfile",
        str(base / "pid"),
        "--bridge",
        "none",
        "--iptables=false",
        "--ip-masq=false",
        "--ip-forward=false",
        "--containerd-namespace",
        f"{namespace}-{os.getpid()}",
    ]
    if storage_driver:
        args += ["--storage-driver", storage_driver]
    with open(base / "dockerd.log", "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=log)
        env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
        try:
            ready = False
            for _ in range(150):
                if (
                    subprocess.run(["docker", "version"], env=env, capture_output=True).returncode
                    == 0
                ):
                    ready = True
                    break
                if proc.poll() is not None:
                    break
                time.sleep(0.2)
            yield env if ready else None
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            subprocess.run(["umount", "-R", "-l", str(base / "root")], capture_output=True)
            subprocess.run(["umount", "-R", "-l", str(short / "exec")], capture_output=True)
            shutil.rmtree(short, ignore_errors=True)
