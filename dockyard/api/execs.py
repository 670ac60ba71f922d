"""Exec instances of the API (``POST /containers/{id}/exec``, ``/exec/{id}/start``…).

Like dockerd, the server keeps them in memory: an exec is a request until it is
started, then a worker process (:mod:`dockyard.api.exec_worker`) runs it, with a
pty (whose master this side holds, for output and resizes) or pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import secrets
import shutil
import struct
import sys
import tempfile
import termios
import tty
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.errors import Conflict, NotFound
from dockyard.runtime.monitor import protocol

if TYPE_CHECKING:
    from dockyard.api.hijack import RawConnection
    from dockyard.config import Options

KEEP_FINISHED = 1000
# ``-I -S`` start the worker faster (it needs nothing from site-packages); the
# snippet puts this source tree on sys.path, as the monitor's does.
_PKG_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_WORKER_BOOT = (
    f"import sys;sys.path.insert(0,{_PKG_ROOT!r});"
    "from dockyard.api.exec_worker import main;raise SystemExit(main(sys.argv[1:]))"
)


@dataclass
class ExecInstance:
    id: str
    container_id: str
    config: dict[str, Any]
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    work_dir: str = ""  # the worker's, where the runtime writes the process's pid
    master_fd: int = -1
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def inspect(self) -> dict[str, Any]:
        if self.running and not self.pid and self.work_dir:
            from dockyard.api.exec_worker import exec_pid

            self.pid = exec_pid(self.work_dir)
        cmd = list(self.config.get("Cmd") or [])
        return {
            "CanRemove": False,
            "ContainerID": self.container_id,
            "DetachKeys": self.config.get("DetachKeys") or "",
            "ExitCode": self.exit_code,
            "ID": self.id,
            "OpenStderr": bool(self.config.get("AttachStderr")),
            "OpenStdin": bool(self.config.get("AttachStdin")),
            "OpenStdout": bool(self.config.get("AttachStdout")),
            "ProcessConfig": {
                "arguments": cmd[1:],
                "entrypoint": cmd[0] if cmd else "",
                "privileged": bool(self.config.get("Privileged")),
                "tty": bool(self.config.get("Tty")),
                "user": self.config.get("User") or "",
            },
            "Running": self.running,
            "Pid": self.pid,
        }

    def resize(self, height: int, width: int) -> None:
        if self.master_fd < 0:
            self.config["ConsoleSize"] = [height, width]  # for the pty still to come
            return
        if height and width:
            with contextlib.suppress(OSError):
                fcntl.ioctl(
                    self.master_fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0)
                )


class ExecRegistry:
    def __init__(self) -> None:
        self.instances: dict[str, ExecInstance] = {}
        self.workers: set[asyncio.subprocess.Process] = set()
        self.waiters: set[asyncio.Task[None]] = set()  # detached execs' ends

    def create(self, container_id: str, config: dict[str, Any]) -> ExecInstance:
        self._trim()
        instance = ExecInstance(secrets.token_hex(32), container_id, config)
        self.instances[instance.id] = instance
        return instance

    def get(self, exec_id: str) -> ExecInstance:
        instance = self.instances.get(exec_id)
        if instance is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return instance

    def for_container(self, container_id: str) -> list[str]:
        return [i.id for i in self.instances.values() if i.container_id == container_id]

    def _trim(self) -> None:
        finished = [i for i in self.instances.values() if i.exit_code is not None]
        for instance in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            self.instances.pop(instance.id, None)

    def close_all(self) -> None:
        for worker in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                worker.kill()


def claim(instance: ExecInstance) -> None:
    if instance.running:
        raise Conflict(f"Error: Exec command {instance.id} is already running")
    if instance.started:
        raise Conflict(f"Error: Exec command {instance.id} has already run")
    instance.started = True
    instance.running = True


def worker_request(
    instance: ExecInstance, options: Options, *, detach: bool, tty: bool, result: str
) -> dict[str, Any]:
    config = instance.config
    size = config.get("ConsoleSize")
    return {
        "options": {
            "root": options.root,
            "run_root": options.run_root,
            "storage_driver": options.storage_driver,
            "debug": options.debug,
            "log_level": options.log_level,
            "config_file": options.config_file,
            "daemon": options.daemon,
        },
        "container": instance.container_id,
        "cmd": list(config.get("Cmd") or []),
        "env": list(config.get("Env") or []),
        "user": config.get("User") or "",
        "workdir": config.get("WorkingDir") or "",
        "privileged": bool(config.get("Privileged")),
        "tty": tty,
        "interactive": bool(config.get("AttachStdin")) and not detach,
        "detach": detach,
        "console_size": size if isinstance(size, list) and len(size) == 2 and all(size) else None,
        "detach_keys": config.get("DetachKeys") or "",
        "result": result,
    }


async def run_worker(
    registry: ExecRegistry,
    instance: ExecInstance,
    options: Options,
    conn: RawConnection | None,
    *,
    detach: bool,
    tty: bool,
) -> None:
    """Run the exec to its end (or, detached, until it runs or has failed; a task
    then tracks its end), streaming to ``conn``."""
    tmp = tempfile.mkdtemp(prefix="dockyard-apiexec-")
    result_path = os.path.join(tmp, "result.json")
    request = worker_request(instance, options, detach=detach, tty=tty, result=result_path)
    instance.work_dir = tmp
    argv = [sys.executable, "-I", "-S", "-c", _WORKER_BOOT, json.dumps(request)]
    if detach or conn is None:
        await _start_detached(registry, instance, argv, tmp, result_path)
        return
    fds_to_close: list[int] = []
    try:
        if tty:
            await _run_with_pty(registry, instance, argv, conn, fds_to_close, request)
        else:
            await _run_with_pipes(registry, instance, argv, conn)
        code = instance.exit_code
        _finish(instance, result_path, code if code is not None else 0)
    finally:
        for fd in fds_to_close:
            with contextlib.suppress(OSError):
                os.close(fd)
        _cleanup(instance, tmp)


async def _start_detached(
    registry: ExecRegistry, instance: ExecInstance, argv: list[str], tmp: str, result_path: str
) -> None:
    """Start the worker; return once it names the running process (its first line on
    stdout) or has ended (a failed start), leaving a task to wait for the end."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except BaseException:
        _cleanup(instance, tmp)
        raise
    registry.workers.add(proc)

    async def wait_for_end() -> None:
        try:
            await proc.wait()
        finally:
            registry.workers.discard(proc)
            _finish(instance, result_path, proc.returncode)
            _cleanup(instance, tmp)

    task = asyncio.get_running_loop().create_task(wait_for_end())
    registry.waiters.add(task)
    task.add_done_callback(registry.waiters.discard)
    assert proc.stdout is not None
    line = await proc.stdout.readline()
    try:
        instance.pid = int(json.loads(line)["Pid"])
    except (ValueError, KeyError, TypeError):
        await asyncio.shield(task)  # no process: the start failed, or it ended at once


def _cleanup(instance: ExecInstance, tmp: str) -> None:
    instance.master_fd = -1
    instance.work_dir = ""
    shutil.rmtree(tmp, ignore_errors=True)  # the engine's job directory too, if left
    instance.done.set()


def _finish(instance: ExecInstance, result_path: str, returncode: int | None) -> None:
    try:
        with open(result_path) as f:
            result = json.load(f)
    except (OSError, ValueError):  # the worker was killed
        code = returncode if returncode is not None else -9
        result = {"ExitCode": 128 - code if code < 0 else code}
    instance.running = False
    if result.get("Detached") and not result.get("Error"):
        instance.exit_code = None  # detach keys: it goes on without us, untracked
        return
    instance.exit_code = int(result.get("ExitCode") or 0)


async def _feed(conn: RawConnection, proc: asyncio.subprocess.Process) -> None:
    """The client's stdin into the worker's, until the client half-closes."""
    assert proc.stdin is not None
    while (data := await conn.read()) is not None:
        try:
            proc.stdin.write(data)
            await proc.stdin.drain()
        except (ConnectionError, BrokenPipeError):
            return
    with contextlib.suppress(Exception):
        proc.stdin.close()


async def _run_with_pipes(
    registry: ExecRegistry, instance: ExecInstance, argv: list[str], conn: RawConnection
) -> None:
    config = instance.config
    attach_stdin = bool(config.get("AttachStdin"))
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if attach_stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    registry.workers.add(proc)
    loop = asyncio.get_running_loop()
    writes = asyncio.Lock()

    async def copy(reader: asyncio.StreamReader | None, stream: int, wanted: bool) -> None:
        assert reader is not None
        while data := await reader.read(65536):
            if wanted:
                async with writes:
                    await conn.write(protocol.frame(stream, data))

    feeder = loop.create_task(_feed(conn, proc)) if attach_stdin else None
    try:
        await asyncio.gather(
            copy(proc.stdout, protocol.STDOUT, bool(config.get("AttachStdout"))),
            copy(proc.stderr, protocol.STDERR, bool(config.get("AttachStderr"))),
        )
        await proc.wait()
    finally:
        if feeder is not None:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
        registry.workers.discard(proc)
    instance.exit_code = proc.returncode


async def _run_with_pty(
    registry: ExecRegistry,
    instance: ExecInstance,
    argv: list[str],
    conn: RawConnection,
    fds_to_close: list[int],
    request: dict[str, Any],
) -> None:
    master, slave = os.openpty()
    fds_to_close.append(master)
    tty.setraw(slave)
    instance.master_fd = master
    size = request.get("console_size")
    if size:
        instance.resize(int(size[0]), int(size[1]))
    # stdin is a pipe: the worker's terminal handling would flush input that is
    # already waiting on a tty; the slave (its controlling tty) carries output and size
    attach_stdin = bool(instance.config.get("AttachStdin"))
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if attach_stdin else asyncio.subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
    finally:
        os.close(slave)
    registry.workers.add(proc)
    loop = asyncio.get_running_loop()
    output: asyncio.Queue[bytes | None] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(master, 65536)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(master)
        output.put_nowait(data or None)

    os.set_blocking(master, False)
    loop.add_reader(master, readable)

    feeder = loop.create_task(_feed(conn, proc)) if attach_stdin else None
    try:
        while (data := await output.get()) is not None:
            await conn.write(data)
        await proc.wait()
    finally:
        loop.remove_reader(master)
        if feeder is not None:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
        registry.workers.discard(proc)
    instance.exit_code = proc.returncode
