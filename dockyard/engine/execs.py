"""``exec``: run another process in a running container through its OCI runtime.

The process is an OCI ``process`` object derived from the container's bundle; the
runtime (``<runtime> exec --detach --process FILE``) puts it in the container's
namespaces, cgroup and seccomp profile, starts it and exits. We are the child
subreaper, so the process then becomes our child and we wait for it ourselves.
Without a tty it gets our stdin and stdout directly; its stderr, which it shares
with the runtime, passes through a pipe held back until the process has started, so
that a failure to start is reported in Docker's words instead of the runtime's.
With a tty the runtime hands us the pty master over a console socket.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field

from dockyard.errors import Conflict, DockyardError, InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.engine import Engine
    from dockyard.engine.containers import Container

PR_SET_CHILD_SUBREAPER = 36


class DetachedFromExec(DockyardError):
    """The user typed the detach keys: the process goes on, the CLI exits 1."""


class ExecStartFailed(DockyardError):
    """The process could not be started (Docker's CLI prints it without a prefix)."""

    exit_code = 126


@dataclass
class ExecRequest:
    cmd: list[str]
    env: list[str] = field(default_factory=list)
    user: str = ""
    workdir: str = ""
    privileged: bool = False
    tty: bool = False
    interactive: bool = False
    detach: bool = False
    console_size: tuple[int, int] | None = None  # (rows, columns)
    detach_keys: str = ""  # Docker's format, "ctrl-p,ctrl-q" when empty


@dataclass
class _Job:
    binary: str
    root: str
    container_id: str
    tmp: str
    extra_args: tuple[str, ...] = ()  # daemon.json runtimeArgs

    def path(self, name: str) -> str:
        return os.path.join(self.tmp, name)

    def argv(self, *flags: str) -> list[str]:
        return [
            self.binary,
            "--root",
            self.root,
            "--log",
            self.path("runtime.log"),
            "--log-format",
            "json",
            *self.extra_args,
            "exec",
            "--process",
            self.path("process.json"),
            "--pid-file",
            self.path("pid"),
            *flags,
            self.container_id,
        ]

    def log_error(self) -> str:
        from dockyard.runtime.monitor.oci import last_log_error

        return last_log_error(self.path("runtime.log"))

    def failure(self, fallback: str = "") -> ExecStartFailed:
        message = self.log_error() or fallback.strip() or "unknown error"
        return ExecStartFailed(f"OCI runtime exec failed: {message}: unknown")

    def pid(self) -> int:
        with open(self.path("pid")) as f:
            return int(f.read().strip())

    def started(self) -> bool:
        return os.path.exists(self.path("pid"))


def check_running(container: Container, given: str) -> None:
    status = container.status
    if status == "paused":
        raise Conflict(f"Container {given} is paused, unpause the container before exec")
    if status == "restarting":
        raise Conflict(f"Container {given} is restarting, wait until the container is running")
    if status != "running":
        raise Conflict(f"Container {container.id} is not running")


def build_process(e: Engine, container: Container, req: ExecRequest) -> dict[str, Any]:
    """The OCI process: the container's own, with the command, env, user, cwd of the exec."""
    from dockyard.engine.lifecycle import read_in_root
    from dockyard.runtime.spec.process import DEFAULT_PATH, replace_or_append_env
    from dockyard.runtime.spec.users import resolve_process_user

    with open(os.path.join(e.lifecycle.state_dir(container.id), "bundle", "config.json")) as f:
        spec = json.load(f)
    process: dict[str, Any] = dict(spec.get("process") or {})
    config = container.config
    rootfs = e.lifecycle.rootfs_dir(container.id)
    try:
        user, home = resolve_process_user(
            req.user or config.get("User") or "",
            container.host_config.get("GroupAdd") or [],
            read_in_root(rootfs, "etc", "passwd"),
            read_in_root(rootfs, "etc", "group"),
        )
    except InvalidArgument as exc:
        raise ExecStartFailed(exc.message) from None
    # Docker's CreateDaemonEnvironment for the exec, then the container's Env, then -e.
    env = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={spec.get('hostname') or container.id[:12]}"]
    if req.tty:
        env.append("TERM=xterm")
    env = replace_or_append_env(env, config.get("Env") or [])
    env = replace_or_append_env(env, req.env)
    if not any(v.startswith("HOME=") for v in env):
        env.append(f"HOME={home}")
    process.update(
        terminal=req.tty,
        args=list(req.cmd),
        env=env,
        user=user,
        cwd=req.workdir or process.get("cwd") or "/",
    )
    if req.tty and req.console_size:
        process["consoleSize"] = {"height": req.console_size[0], "width": req.console_size[1]}
    else:
        process.pop("consoleSize", None)
    if req.privileged:
        from dockyard.runtime.spec.caps import tweak_capabilities
        from dockyard.runtime.spec.host import detect_host

        every = tweak_capabilities(None, None, True, detect_host().capabilities)
        process["capabilities"] = {"bounding": every, "effective": every, "permitted": every}
    process.pop("apparmorProfile", None)
    process.pop("selinuxLabel", None)
    return process


def run_exec(
    e: Engine,
    target: str,
    req: ExecRequest,
    stdio: tuple[int, int, int] = (0, 1, 2),
) -> int:
    """Run ``req`` in container ``target``; the process's exit code (0 when detached)."""
    keys = parse_detach_keys(req.detach_keys or "ctrl-p,ctrl-q")
    container = e.containers.get(target)
    e.lifecycle.refresh(container)
    check_running(container, target)
    process = build_process(e, container, req)
    runtime = container.host_config.get("Runtime") or "runc"
    job = _Job(
        e.lifecycle.runtime_binary(runtime),
        e.lifecycle.runtime_root(runtime),
        container.id,
        tempfile.mkdtemp(prefix="dockyard-exec-"),
        tuple(e.lifecycle.runtime_args(runtime)),
    )
    attrs = {"execID": secrets.token_hex(32)}
    text = f"{req.cmd[0]} {' '.join(req.cmd[1:])}"
    e.events.container(f"exec_create: {text}", container, attrs)
    # On SIGTERM and SIGHUP too: clean up (and restore the terminal).
    previous = {sig: signal.signal(sig, _terminated) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with open(job.path("process.json"), "w") as f:
            json.dump(process, f)
        e.events.container(f"exec_start: {text}", container, attrs)
        if req.detach:
            _run_detached(job)
            return 0
        code = _run_tty(job, req, stdio, keys) if req.tty else _run_plain(job, req, stdio)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(job.tmp, ignore_errors=True)
    e.events.container("exec_die", container, {**attrs, "exitCode": str(code)})
    return code


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _run_detached(job: _Job) -> None:
    with open(os.devnull, "r+b") as null:
        proc = subprocess.run(
            job.argv("--detach"), stdin=null, stdout=null, stderr=null, check=False
        )
    if proc.returncode != 0:
        raise job.failure()


def _run_plain(job: _Job, req: ExecRequest, stdio: tuple[int, int, int]) -> int:
    """The runtime starts the process with our stdin and stdout and exits (``--detach``;
    without it runc would copy through pipes of its own and wait for every holder of
    them); the process is then our child."""
    import threading

    _set_subreaper()
    null = os.open(os.devnull, os.O_RDWR)
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            job.argv("--detach"),
            stdin=stdio[0] if req.interactive else null,
            stdout=stdio[1],
            stderr=write_end,
        )
    finally:
        os.close(write_end)
        os.close(null)
    done = threading.Event()
    held = bytearray()
    relay = threading.Thread(
        target=_relay_stderr, args=(read_end, stdio[2], job, done, held), daemon=True
    )
    relay.start()
    try:
        if proc.wait() != 0 or not job.started():
            done.set()
            relay.join()
            raise job.failure(held.decode(errors="replace"))
        code = _wait_child(job.pid())
    finally:
        done.set()
        relay.join()
        os.close(read_end)
    _write_all(stdio[2], bytes(held))
    return code


def _wait_child(pid: int) -> int:
    """The exit code of our child ``pid`` (128 + the signal that killed it)."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except InterruptedError:
            continue
        code = os.waitstatus_to_exitcode(status)
        return 128 - code if code < 0 else code


def _relay_stderr(fd: int, out: int, job: _Job, done: Any, held: bytearray) -> None:
    """Copy ``fd`` to ``out``, holding data back until the process has started. Once
    the runtime has exited, only what is already pending is copied (a background
    child may hold the pipe open for ever)."""
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN)
    started = False
    budget = 1 << 20
    while budget > 0:
        finishing = done.is_set()
        ready = poller.poll(0 if finishing else 50)
        if not started and held and job.started():
            started = True
            _write_all(out, bytes(held))
            held.clear()
        if not ready:
            if finishing:
                return
            continue
        data = os.read(fd, 65536)
        if not data:
            return
        if finishing:
            budget -= len(data)
        if started or job.started():
            started = True
            _write_all(out, bytes(held) + data)
            held.clear()
        else:
            held.extend(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            import select

            select.select([], [fd], [])
            continue
        view = view[n:]


def _set_subreaper() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _run_tty(job: _Job, req: ExecRequest, stdio: tuple[int, int, int], keys: bytes) -> int:
    import socket

    from dockyard.runtime.linux.console import recv_fd

    _set_subreaper()  # the process is reparented to us when the runtime exits
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(job.path("console.sock"))
        listener.listen(1)
        with (
            open(os.devnull, "r+b") as null,
            open(job.path("runtime.err"), "w+b") as err,
        ):
            proc = subprocess.run(
                job.argv("--detach", "--console-socket", job.path("console.sock")),
                stdin=null,
                stdout=null,
                stderr=err,
                check=False,
            )
            err.seek(0)
            err_text = err.read().decode(errors="replace")
        if proc.returncode != 0:
            raise job.failure(err_text)
        listener.settimeout(10)
        try:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                master, _ = recv_fd(conn)
        except OSError as exc:
            raise ExecStartFailed(f"OCI runtime exec failed: no console: {exc}: unknown") from None
    finally:
        listener.close()
    return _proxy(master, job.pid(), stdio, interactive=req.interactive, keys=keys)


def _proxy(
    master: int, pid: int, stdio: tuple[int, int, int], *, interactive: bool, keys: bytes
) -> int:
    """Copy between our stdio and the pty until the process exits; its exit code.

    The local terminal is raw meanwhile, and its size follows ours (SIGWINCH). The
    detach keys leave the process running (a forked helper keeps its pty open).
    """
    import errno
    import select

    in_fd, out_fd, _ = stdio
    size_fd = in_fd if os.isatty(in_fd) else out_fd if os.isatty(out_fd) else -1

    def resize(*_: object) -> None:
        if size_fd >= 0:
            _copy_winsize(size_fd, master)

    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(master, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    if interactive:
        poller.register(in_fd, select.POLLIN)
    master_open = True
    resize()
    previous = signal.signal(signal.SIGWINCH, resize)
    restore = None
    escape = _EscapeFilter(keys)
    try:
        if interactive and os.isatty(in_fd):
            restore = _make_raw(in_fd)
        while True:
            try:
                events = poller.poll()
            except InterruptedError:
                continue
            exited = False
            for fd, _ev in events:
                if fd == pidfd:
                    exited = True
                elif fd == master:
                    try:
                        data = os.read(master, 65536)
                    except OSError as exc:
                        if exc.errno != errno.EIO:
                            raise
                        data = b""
                    if data:
                        _write_all(out_fd, data)
                    else:  # every slave is closed; wait for the process itself
                        poller.unregister(master)
                        master_open = False
                elif fd == in_fd:
                    data = os.read(in_fd, 65536)
                    if data:
                        passed, detach = escape.feed(data)
                        _write_all(master, passed)
                        if detach:
                            _keep_pty(master)
                            raise DetachedFromExec("read escape sequence")
                    else:
                        poller.unregister(in_fd)
            if exited:
                break
        if master_open:
            _drain(master, out_fd)
        code = _wait_child(pid)
    finally:
        if restore is not None:
            restore()
        signal.signal(signal.SIGWINCH, previous)
        os.close(pidfd)
        os.close(master)
    return code


_CTRL_KEYS = {
    **{f"ctrl-{chr(c)}": c - 96 for c in range(ord("a"), ord("z") + 1)},
    "ctrl-@": 0,
    "ctrl-[": 27,
    "ctrl-\\": 28,
    "ctrl-]": 29,
    "ctrl-^": 30,
    "ctrl-_": 31,
}


def parse_detach_keys(keys: str) -> bytes:
    """Docker's ``term.ToBytes``: single characters and ``ctrl-X``, comma-separated."""
    out = bytearray()
    for key in keys.split(","):
        if len(key) == 1:
            out += key.encode()[:1]
        elif key.lower() in _CTRL_KEYS:
            out.append(_CTRL_KEYS[key.lower()])
        else:
            raise InvalidArgument(f"Invalid escape keys ({keys}) provided")
    return bytes(out)


class _EscapeFilter:
    """Holds back a prefix of the detach sequence; passes it on when it breaks off."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.matched = 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        for byte in data:
            if self.keys and byte == self.keys[self.matched]:
                self.matched += 1
                if self.matched == len(self.keys):
                    return bytes(out), True
                continue
            out += self.keys[: self.matched]
            self.matched = 0
            if self.keys and byte == self.keys[0]:
                self.matched = 1
                if len(self.keys) == 1:
                    return bytes(out), True
                continue
            out.append(byte)
        return bytes(out), False


def _keep_pty(master: int) -> None:
    """Hand the pty master to a forked helper that drains it until the process and
    its children have closed the terminal, so detaching does not hang them up."""
    if os.fork() != 0:
        return
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.set_blocking(master, True)
        while os.read(master, 65536):
            pass
    except BaseException:
        pass  # the helper must never return into the CLI
    os._exit(0)


def _drain(master: int, out_fd: int) -> None:
    """What the process wrote before it ended (a background child may keep the pty)."""
    os.set_blocking(master, False)
    while True:
        try:
            data = os.read(master, 65536)
        except (BlockingIOError, OSError):
            return
        if not data:
            return
        _write_all(out_fd, data)


def _copy_winsize(src: int, dst: int) -> None:
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def _make_raw(fd: int) -> Any:
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    return lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)
