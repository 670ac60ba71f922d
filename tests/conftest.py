"""Shared fixtures: a private dockyard root per test, a CLI runner, a busybox rootfs."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCKYARD = str(Path(sys.executable).parent / "dockyard")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


class Dockyard:
    """Runs the real ``dockyard`` console script against a private root."""

    def __init__(self, root: Path, run_root: Path) -> None:
        self.root = root
        self.run_root = run_root
        self.env = dict(os.environ)
        self.env.update(
            DOCKYARD_ROOT=str(root),
            DOCKYARD_RUN=str(run_root),
            DOCKYARD_CONFIG_FILE=str(root.parent / "daemon.json"),
        )
        (root.parent / "daemon.json").write_text("{}")

    def __call__(
        self, *args: str, input: bytes | None = None, check: bool = True, timeout: float = 120
    ) -> Result:
        proc = subprocess.run(
            [DOCKYARD, *args], input=input, capture_output=True, env=self.env, timeout=timeout
        )
        result = Result(
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )
        if check and result.code != 0:
            raise AssertionError(
                f"dockyard {' '.join(args)} exited {result.code}\n"
                f"stdout: {result.out}\nstderr: {result.err}"
            )
        return result

    def fails(self, *args: str, input: bytes | None = None) -> Result:
        result = self(*args, input=input, check=False)
        assert result.code != 0, f"expected failure: {args}\n{result.out}"
        return result

    def engine(self):  # type: ignore[no-untyped-def]
        from dockyard.config import resolve_options
        from dockyard.engine import Engine

        return Engine(
            resolve_options(
                root=str(self.root),
                run_root=str(self.run_root),
                config_file=str(self.root.parent / "daemon.json"),
            )
        )


@pytest.fixture
def dy(tmp_path: Path) -> Iterator[Dockyard]:
    root = tmp_path / "root"
    run_root = tmp_path / "run"
    dockyard = Dockyard(root, run_root)
    yield dockyard
    stop_zygote(run_root)
    if os.path.isdir("/sys/class/net/dockyard0") and (root / "dockyard.db").exists():
        # a container on the default network made the default bridge: it goes with
        # the root (it stays while any container, of any root, is on it)
        engine = dockyard.engine()
        try:
            engine.networks.release_default_bridge()
        finally:
            engine.close()
    _unmount_below(tmp_path)


@pytest.fixture(autouse=True)
def _stop_zygotes(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, stop the monitor zygotes of the run roots in its tmp_path
    (fixtures other than ``dy`` make roots too: second roots, network roots)."""
    yield
    tmp = request.node.funcargs.get("tmp_path")
    if not isinstance(tmp, Path):
        return
    for pattern in (
        "*/monitor/zygote.pid",
        "*/*/monitor/zygote.pid",
        "*/cli/warm.pid",
        "*/*/cli/warm.pid",
    ):
        for pid_file in tmp.glob(pattern):
            stop_zygote(pid_file.parent.parent)
    for name in ("dnsd.pid", "portd.pid"):  # the run roots' DNS server and port proxy
        for pid_file in [*tmp.glob(f"*/network/{name}"), *tmp.glob(f"*/*/network/{name}")]:
            _terminate_by_pid_file(pid_file)


def _terminate_by_pid_file(pid_file: Path) -> None:
    import signal

    with contextlib.suppress(OSError, ValueError):
        pid = int(pid_file.read_text().strip() or 0)
        if pid > 1:
            os.kill(pid, signal.SIGTERM)


def stop_zygote(run_root: Path) -> None:
    """Stop the run root's monitor zygote (container starts start it on demand) and its
    warm CLI process (the first command starts it), each by the pid in its pid file,
    and wait until they are gone (their lock on that file is free)."""
    _stop_locked_pid_file(run_root / "monitor" / "zygote.pid")
    _stop_locked_pid_file(run_root / "cli" / "warm.pid")


def _stop_locked_pid_file(pid_file: Path) -> None:
    import fcntl
    import signal
    import time

    try:
        fd = os.open(pid_file, os.O_RDWR | os.O_CLOEXEC)
    except OSError:  # none was started (or its directory could not be made)
        return
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return  # no zygote holds it
            except BlockingIOError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{pid_file}: its process did not stop")
            text = os.pread(fd, 32, 0).strip()
            if text:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(text), signal.SIGKILL)
            time.sleep(0.01)
    finally:
        os.close(fd)


def _unmount_below(path: Path) -> None:
    prefix = str(path)
    with open("/proc/mounts") as f:
        mounts = [line.split()[1] for line in f]
    for mount_point in reversed(mounts):
        if mount_point.startswith(prefix):
            subprocess.run(["umount", "-l", mount_point], check=False)


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not os.path.exists("/bin/busybox"):
        pytest.skip("busybox-static is not installed")
    out = tmp_path_factory.mktemp("busybox") / "rootfs.tar"
    subprocess.run([str(REPO / "scripts" / "make-busybox-rootfs.sh"), str(out)], check=True)
    return out


@pytest.fixture
def busybox(dy: Dockyard, busybox_tar: Path) -> str:
    """A ``busybox:latest`` image imported into the test's root; returns its ID."""
    return dy("import", "-c", 'CMD ["sh"]', str(busybox_tar), "busybox:latest").out.strip()


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


@pytest.fixture(scope="session", autouse=True)
def _remove_cgroup_parents_we_made() -> Iterator[None]:
    """Containers live in /dockyard/<id> cgroups; the runtime makes the /dockyard parents.
    Each test removes its containers' cgroups; the session removes the parents it made."""
    existed = set(Path("/sys/fs/cgroup").glob("*/dockyard"))
    yield
    for parent in Path("/sys/fs/cgroup").glob("*/dockyard"):
        if parent not in existed:
            # Not empty means a test left a container behind; its own check reports that.
            with contextlib.suppress(OSError):
                parent.rmdir()
