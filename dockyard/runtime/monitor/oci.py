"""Drive an OCI runtime (runc, crun or dockyard-runtime) through runc's command line.

Only ``os``, ``select`` and ``_signal`` are used (no ``subprocess``), because the
monitor imports this module and must stay small.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]
import os
import select

from . import jsonlite

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the monitor memory
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


class OciError(Exception):
    """The runtime failed: ``argv`` exited with ``code``; ``message`` is its complaint."""

    def __init__(self, argv: Sequence[str], code: int, message: str, verb: str = "") -> None:
        name = os.path.basename(argv[0]) if argv else "runtime"
        super().__init__(f"{name} {verb}: {message}" if verb else f"{name}: {message}")
        self.argv = list(argv)
        self.code = code
        self.message = message

    @property
    def not_found(self) -> bool:
        m = self.message.lower()
        return "does not exist" in m or "not found" in m or "no such" in m


def spawn(
    argv: Sequence[str],
    stdin: int | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
    cwd: str | None = None,
) -> int:
    """Fork and exec ``argv`` with the given fds as 0, 1, 2 (``None``: /dev/null); the pid."""
    errr, errw = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: only async-signal-safe-ish work, then exec
        try:
            os.close(errr)
            null = os.open(os.devnull, os.O_RDWR)
            fds = [null if fd is None else fd for fd in (stdin, stdout, stderr)]
            # dup everything above 2 first, so dup2 into 0..2 cannot clobber a source
            high = [os.dup(fd) if fd < 3 else fd for fd in fds]
            for target, fd in enumerate(high):
                os.dup2(fd, target)
            _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
            _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
            _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
            if cwd is not None:
                os.chdir(cwd)
            os.execvp(argv[0], list(argv))
        except OSError as e:
            os.write(errw, str(e.errno).encode())
        finally:
            os._exit(127)
    os.close(errw)
    try:
        data = os.read(errr, 64)
    finally:
        os.close(errr)
    if data:
        os.waitpid(pid, 0)
        raise OciError(argv, 127, os.strerror(int(data)))
    return pid


def wait_status_code(status: int) -> int:
    """A wait status as a shell exit code: 128+N for a signal (137 for SIGKILL)."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 255


def run(
    argv: Sequence[str],
    stdin: int | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
) -> tuple[int, bytes, bytes]:
    """Run ``argv`` to completion; capture stdout/stderr unless fds are given."""
    pipes: dict[int, list[bytes]] = {}
    fds: list[int | None] = [stdin, stdout, stderr]
    close_after: list[int] = []
    for i in (1, 2):
        if fds[i] is None:
            r, w = os.pipe()
            fds[i] = w
            pipes[r] = []
            close_after.append(w)
    try:
        pid = spawn(argv, fds[0], fds[1], fds[2])
    finally:
        for w in close_after:
            os.close(w)
    order = list(pipes)
    poller = select.poll()
    for r in order:
        poller.register(r, select.POLLIN)
    open_fds = set(order)
    try:
        while open_fds:
            for fd, _ev in poller.poll():
                chunk = os.read(fd, 65536)
                if chunk:
                    pipes[fd].append(chunk)
                else:
                    poller.unregister(fd)
                    open_fds.discard(fd)
    finally:
        for r in order:
            os.close(r)
    _, status = os.waitpid(pid, 0)
    outs = [b"".join(pipes[r]) for r in order]
    out = outs[0] if stdout is None else b""
    err = outs[-1] if stderr is None and outs else b""
    return wait_status_code(status), out, err


class OciRuntime:
    """``binary --root root VERB ...`` with runc's flags."""

    def __init__(
        self,
        binary: str,
        root: str,
        *,
        log_path: str | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.binary = binary
        self.root = root
        self.log_path = log_path
        self.extra_args = list(extra_args)  # daemon.json runtimeArgs, before the verb

    def argv(self, *args: str) -> list[str]:
        argv = [self.binary, "--root", self.root]
        if self.log_path:
            argv += ["--log", self.log_path, "--log-format", "json"]
        return argv + self.extra_args + list(args)

    def _check(
        self,
        argv: list[str],
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        verb: str = "",
    ) -> bytes:
        code, out, err = run(argv, stdin, stdout, stderr)
        if code != 0:
            if not verb and len(argv) > len(self.argv()):
                verb = argv[len(self.argv())]
            raise OciError(argv, code, self._message(err), verb)
        return out

    def _message(self, err: bytes) -> str:
        text = err.decode(errors="replace").strip()
        if not text and self.log_path:
            text = last_log_error(self.log_path)
        for line in reversed(text.splitlines()):
            if line.strip():
                return _strip_level(line.strip())
        return "failed (no message)"

    def create(
        self,
        container_id: str,
        bundle: str,
        *,
        pid_file: str,
        console_socket: str | None = None,
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        start: bool = False,
    ) -> None:
        """``create``: the container's stdio are ``stdin``/``stdout``/``stderr`` (no tty);
        with ``start``, ``run --detach`` (created and started in one call).

        When the fds are given, the runtime's own complaints also go to them
        (runc passes its stdio through), so they are read from ``--log`` instead.
        """
        verb = ["run", "--detach"] if start else ["create"]
        args = [*verb, "--bundle", bundle, "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        # `run --detach` fails where create would: it says so, as Docker does
        self._check(self.argv(*args, container_id), stdin, stdout, stderr, verb="create")

    def start(self, container_id: str) -> None:
        self._check(self.argv("start", container_id))

    def state(self, container_id: str) -> dict[str, Any]:
        out = self._check(self.argv("state", container_id))
        value = jsonlite.loads(out)
        if not isinstance(value, dict):
            raise OciError([self.binary, "state"], 1, "state is not a JSON object")
        return value

    def kill(self, container_id: str, sig: int | str = "KILL", *, all: bool = False) -> None:
        args = ["kill"] + (["--all"] if all else []) + [container_id, str(sig)]
        self._check(self.argv(*args))

    def delete(self, container_id: str, force: bool = False) -> None:
        self._check(self.argv("delete", *(["--force"] if force else []), container_id))

    def exec_argv(self, container_id: str, args: Sequence[str], *, tty: bool = False) -> list[str]:
        """The argv of ``exec`` (the monitor spawns it itself, to poll its output)."""
        return self.argv("exec", *(["--tty"] if tty else []), container_id, *args)


def _strip_level(line: str) -> str:
    if line.startswith("{"):
        try:
            rec = jsonlite.loads(line)
            if isinstance(rec, dict) and isinstance(rec.get("msg"), str):
                return str(rec["msg"])
        except ValueError:
            pass
    for prefix in ("ERRO[", "level=error msg="):
        if line.startswith(prefix):
            return line.split(" ", 1)[-1].strip().strip('"')
    return line


def last_log_error(path: str) -> str:
    """The last ``error``-level message of a runtime's JSON log (``--log-format json``)."""
    try:
        with open(path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        try:
            rec = jsonlite.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("level") in ("error", "fatal"):
            return str(rec.get("msg", ""))
    return ""
