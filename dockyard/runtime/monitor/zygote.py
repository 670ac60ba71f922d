"""The monitor zygote: monitors forked from a warm parent, one zygote per run root.

An exec'd monitor pays for a whole interpreter of its own (~3.5 MiB PSS, nearly
all of it private dirty pages). The zygote imports everything a monitor needs,
calls ``gc.freeze()`` (the collector never touches, so never un-shares, those
objects) and forks a monitor for each request, so the interpreter's pages are
shared by every monitor of the run root.

:func:`.launch.spawn` starts the zygote on demand (``$RUN/monitor/zygote.sock``,
its pid in ``zygote.pid``, a lock on that file so only one runs). A request is
one ``SOCK_SEQPACKET`` message: the JSON of :func:`encode_request` (the monitor's
argv as ``Options.to_argv()`` gives it, the caller's environment, cwd and
rlimits, the caller's interpreter and source tree) with the monitor's sync pipe
attached by ``SCM_RIGHTS``. The zygote forks; the child becomes a daemon exactly
as an exec'd monitor does (:func:`.main.become_daemon`, then :func:`.main.run`)
and the zygote replies ``{"ok": true}`` once the intermediate child has exited.
The monitor's report travels over the sync pipe, as with an exec'd monitor.

Never stale code: before each fork the zygote stats the source files it loaded;
when one changed (or the caller runs another interpreter or source tree) it
answers ``{"stale": true}`` and exits, and the caller starts a new zygote.

Lifetime: it exits after :data:`IDLE_EXIT` seconds without a request. Its
monitors do not depend on it (they are not its children); the idle time only
trades a ~60 ms restart against the zygote's own memory while nothing starts.
A minute covers a burst of ``run``s and restarts without keeping it forever.

``DOCKYARD_MONITOR_ZYGOTE=0`` turns it off (every monitor is exec'd).
"""

from __future__ import annotations

import os
import sys

from . import jsonlite

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: monitors inherit what the zygote imports
if TYPE_CHECKING:
    import _socket
    import socket
    from collections.abc import Callable
    from typing import Any

IDLE_EXIT = 60.0
ENV_SWITCH = "DOCKYARD_MONITOR_ZYGOTE"
PKG_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
MAX_REQUEST = 1 << 20
_MONITOR_DIR = os.path.dirname(__file__)


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def paths(run_root: str) -> tuple[str, str]:
    """The zygote's socket and pid file under ``run_root``."""
    base = os.path.join(run_root, "monitor")
    return os.path.join(base, "zygote.sock"), os.path.join(base, "zygote.pid")


def run_root_of(state_dir: str) -> str | None:
    """The engine's run root for a monitor state dir ``$RUN/containers/<id>``, else None
    (a monitor started elsewhere, e.g. by hand, is exec'd)."""
    parent = os.path.dirname(os.path.abspath(state_dir))
    if os.path.basename(parent) != "containers":
        return None
    return os.path.dirname(parent)


def rlimits() -> dict[str, list[int]]:
    import resource

    limits = {}
    for name in dir(resource):
        if name.startswith("RLIMIT_"):
            soft, hard = resource.getrlimit(getattr(resource, name))
            limits[name] = [soft, hard]
    return limits


def encode_request(argv: list[str], env: dict[str, str] | None = None) -> bytes:
    """One request: the monitor's argv and the caller's process context."""
    request = {
        "python": sys.executable,
        "root": PKG_ROOT,
        "argv": list(argv),
        "env": dict(os.environ if env is None else env),
        "cwd": os.getcwd(),
        "rlimits": rlimits(),
    }
    return jsonlite.dumps(request).encode()


def decode_request(data: bytes) -> dict[str, Any]:
    """The request as a dict; ``ValueError`` on anything malformed."""
    value = jsonlite.loads(data)
    if not isinstance(value, dict):
        raise ValueError("request is not an object")
    argv, env = value.get("argv"), value.get("env")
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise ValueError("argv must be a list of strings")
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise ValueError("env must map strings to strings")
    for key in ("python", "root", "cwd"):
        if not isinstance(value.get(key), str):
            raise ValueError(f"{key} must be a string")
    limits = value.get("rlimits", {})
    if not isinstance(limits, dict) or not all(
        isinstance(v, list) and len(v) == 2 and all(isinstance(n, int) for n in v)
        for v in limits.values()
    ):
        raise ValueError("rlimits must map names to [soft, hard]")
    return value


# ------------------------------------------------------------------ the caller's side


class NotStarted(Exception):
    """The zygote did not fork a monitor (the caller may exec one instead)."""


def request(run_root: str, argv: list[str], sync_fd: int, timeout: float = 10.0) -> bool:
    """Have the zygote of ``run_root`` fork a monitor with ``argv`` and ``sync_fd``.

    Starts the zygote when none answers, and a new one when it is stale. Returns
    True when the zygote forked the monitor, False when the request went out but no
    answer came back (whether a monitor started then shows on the sync pipe).
    Raises :class:`NotStarted` when no monitor was forked.
    """
    import socket

    sock_path, _ = paths(run_root)
    try:
        message = encode_request(argv)
    except (OSError, ValueError) as e:  # no working directory; an environment not UTF-8
        raise NotStarted(f"monitor zygote: {e}") from None
    started = False
    for _attempt in range(3):
        try:
            conn = _connect(sock_path, timeout)
        except OSError:
            if started:
                raise NotStarted("the monitor zygote did not start") from None
            try:
                start(run_root)
            except OSError as e:
                raise NotStarted(f"the monitor zygote did not start: {e}") from None
            started = True
            conn = _wait_connect(sock_path, 5.0)
        with conn:
            try:
                conn.sendmsg(
                    [message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(_fd_array(sync_fd)))]
                )
            except OSError as e:
                raise NotStarted(f"monitor zygote: {e}") from None
            try:
                data = conn.recv(4096)
            except OSError:
                return False
        if not data:
            return False
        reply = jsonlite.loads(data)
        if not isinstance(reply, dict):
            raise NotStarted(f"monitor zygote: bad reply {data!r}")
        if reply.get("ok"):
            return True
        if reply.get("stale"):
            # it exits now; the next round starts a fresh one
            started = False
            _wait_gone(sock_path, 5.0)
            continue
        raise NotStarted(f"monitor zygote: {reply.get('error', data)!r}")
    raise NotStarted("monitor zygote: stale after restarts")


def _fd_array(fd: int) -> Any:
    import array

    return array.array("i", [fd])


def _connect(sock_path: str, timeout: float) -> socket.socket:
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        s.settimeout(timeout)
        s.connect(sock_path)
    except OSError:
        s.close()
        raise
    return s


def _wait_connect(sock_path: str, within: float) -> socket.socket:
    import time

    deadline = time.monotonic() + within
    while True:
        try:
            return _connect(sock_path, 10.0)
        except OSError:
            if time.monotonic() > deadline:
                raise NotStarted("the monitor zygote did not start") from None
            time.sleep(0.005)


def _wait_gone(sock_path: str, within: float) -> None:
    """Until the stale zygote has unlinked its socket (it does so first when it exits)."""
    import time

    deadline = time.monotonic() + within
    while os.path.exists(sock_path) and time.monotonic() < deadline:
        time.sleep(0.005)


def zygote_argv(run_root: str) -> list[str]:
    boot = (
        f"import sys;sys.path.insert(0,{PKG_ROOT!r});"
        "from dockyard.runtime.monitor.zygote import main;main(sys.argv[1:])"
    )
    return [sys.executable, "-I", "-S", "-c", boot, run_root]


def start(run_root: str) -> None:
    """Start a zygote for ``run_root``, detached (not our child: double fork, setsid)."""
    os.makedirs(os.path.dirname(paths(run_root)[0]), mode=0o700, exist_ok=True)
    # not the caller's environment: the zygote outlives it and serves others
    # (each monitor gets its caller's environment with the request)
    spawn_detached(
        zygote_argv(run_root), {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    )


def spawn_detached(argv: list[str], env: dict[str, str], pid_fd: int = -1) -> None:
    """Exec ``argv`` with ``env`` as a daemon: not our child (double fork), a session
    of its own, stdio on /dev/null, cwd ``/``.

    With ``pid_fd`` (a pid file the caller has open and ``flock``ed) the daemon
    inherits it, so it holds the lock from its first instruction, and its pid is in
    the file when this returns: whoever finds the lock held can stop it by that pid."""
    from .main import detach_stdio

    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            child = os.fork()
            if child > 0:
                if pid_fd >= 0:
                    os.ftruncate(pid_fd, 0)
                    os.pwrite(pid_fd, f"{child}\n".encode(), 0)
                os._exit(0)
            detach_stdio()
            # nothing else of the caller's: it serves others
            if pid_fd >= 0:
                os.closerange(3, pid_fd)
                os.set_inheritable(pid_fd, True)
            os.closerange(max(3, pid_fd + 1), 1 << 16)
            os.chdir("/")
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    os.waitpid(pid, 0)


# ------------------------------------------------------------------ the zygote


def loaded_package_files() -> list[str]:
    """The files of this package's modules that this process has loaded."""
    names = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.startswith(PKG_ROOT + os.sep):
            names.append(path)
    return names


def file_stamps(names: list[str]) -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of each file of ``names`` that exists (stat only: cheap)."""
    found: dict[str, tuple[int, int]] = {}
    for name in names:
        try:
            st = os.stat(name)
        except OSError:
            continue
        found[name] = (st.st_mtime_ns, st.st_size)
    return found


def stamps_unchanged(stamps: dict[str, tuple[int, int]]) -> bool:
    """Whether every file of ``stamps`` is still there, as it was then."""
    for name, seen in stamps.items():
        try:
            st = os.stat(name)
        except OSError:
            return False
        if (st.st_mtime_ns, st.st_size) != seen:
            return False
    return True


def _source_files() -> dict[str, tuple[int, int]]:
    """The stamps of the monitor's sources: its own directory and what is loaded."""
    names = [os.path.join(_MONITOR_DIR, n) for n in os.listdir(_MONITOR_DIR) if n.endswith(".py")]
    return file_stamps(names + loaded_package_files())


def _still_fresh(sources: dict[str, tuple[int, int]]) -> bool:
    if not stamps_unchanged(sources):
        return False
    # a new module file in the package (only the monitor's own directory is listed:
    # the rest of what was loaded is known by name)
    return all(
        os.path.join(_MONITOR_DIR, n) in sources
        for n in os.listdir(_MONITOR_DIR)
        if n.endswith(".py")
    )


def _warm_up() -> Callable[..., int]:
    """Import everything a monitor and the forked child import, so that they share it
    (an import in the child would write all over the shared heap)."""
    import _socket  # noqa: F401  (not socket: it costs 1.5 MiB with enum)
    import array  # noqa: F401
    import fcntl  # noqa: F401  (tty containers)
    import gc  # noqa: F401
    import resource  # noqa: F401

    from . import health, logs, oci, options, policy, protocol, supervisor  # noqa: F401
    from .main import libc_prctl

    return libc_prctl()


def _exercise(sources: dict[str, tuple[int, int]]) -> None:
    """Run what each forked child runs before it supervises, a few times over.

    CPython 3.11 counts a function's first calls in its code object and then
    rewrites its bytecode in place (quickening): done in the zygote, so that the
    children do not copy those pages to do it."""
    from .options import parse

    saved = dict(os.environ)
    for _ in range(10):
        request = decode_request(encode_request(["--id", "x"], saved))
        parse([*request["argv"], "--bundle", "b", "--state-dir", "s", "--runtime-root", "r"])
        parse(
            jsonlite.loads(
                jsonlite.dumps(
                    [
                        "--id=x",
                        "--bundle=b",
                        "--state-dir=s",
                        "--runtime-root=r",
                        "--sync-fd",
                        "3",
                        "--tty",
                    ]
                )
            )
        )
        _still_fresh(sources)
        os.environ.clear()
        os.environ.update(saved)


STALE_EXIT = 3  # the forked child's exit code: the code changed, the zygote must go
REFUSED_EXIT = 4  # the forked child's exit code: a bad request, answered


class Zygote:
    """Accept, fork, wait; everything else happens in the forked child.

    The zygote itself does as little as it can between forks: every page it writes
    after forking a monitor stops being shared with that monitor."""

    def __init__(self, listener: _socket.socket, lock_fd: int, prctl: Callable[..., int]) -> None:
        self.listener = listener
        self.lock_fd = lock_fd
        self.prctl = prctl
        self.sources: dict[str, tuple[int, int]] = {}
        self.sock_inode = -1

    def serve(self, sock_path: str) -> None:
        self.listener.settimeout(IDLE_EXIT)
        accept = self.listener._accept  # type: ignore[attr-defined]  # the fd, no object
        while True:
            try:
                fd, _ = accept()
            except TimeoutError:
                break
            except OSError:
                continue
            if not self.fork_for(fd):
                break
        # No new callers can reach us once the path is gone; serve those already queued.
        unlink_if_ours(sock_path, self.sock_inode)
        self.listener.setblocking(False)
        while True:
            try:
                fd, _ = accept()
            except OSError:
                break
            os.set_blocking(fd, True)
            self.fork_for(fd)

    def fork_for(self, fd: int) -> bool:
        """Fork a child that serves the request on ``fd``; False when the code is stale.

        The child replies itself when it refuses; once it has forked the monitor it
        exits 0 and the zygote replies ``ok``."""
        try:
            pid = os.fork()
        except OSError:
            os.close(fd)  # the caller sees no answer and no report: it execs one
            return True
        if pid == 0:
            self.child(fd)  # never returns
        try:
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            if code == 0:
                os.write(fd, b'{"ok": true}')
        except OSError:
            code = 0
        finally:
            os.close(fd)
        return code != STALE_EXIT

    def child(self, fd: int) -> None:
        """In the forked child: read the request, then become a monitor exactly like an
        exec'd one after its exec (:func:`.main.become_daemon`, then :func:`.main.run`)."""
        try:
            import _socket
            import gc

            from .main import become_daemon, run
            from .options import parse

            self.listener.close()
            os.close(self.lock_fd)
            conn = _socket.socket(fileno=fd)
            conn.settimeout(10.0)
            data, ancdata, _flags, _addr = conn.recvmsg(MAX_REQUEST, _socket.CMSG_SPACE(4 * 4))
            fds: list[int] = []
            for level, kind, payload in ancdata:
                if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                    fds.extend(fd_ints(payload[: len(payload) - len(payload) % 4]))
            try:
                req = decode_request(data)
                if len(fds) != 1:
                    raise ValueError("want exactly one file descriptor (the sync pipe)")
            except ValueError as e:
                conn.sendall(jsonlite.dumps({"error": str(e)}).encode())
                os._exit(REFUSED_EXIT)
            if (
                req["python"] != sys.executable
                or req["root"] != PKG_ROOT
                or not _still_fresh(self.sources)
            ):
                conn.sendall(b'{"stale": true}')
                os._exit(STALE_EXIT)
            conn.detach()  # the zygote answers on it; the monitor must not keep it
            os.close(fd)
            become_daemon(self.prctl)  # the forked child exits 0 here
            sync_fd = fds[0]
            if sync_fd != 3:
                os.dup2(sync_fd, 3)
                os.close(sync_fd)
            os.closerange(4, 1 << 16)
            setrlimits(req.get("rlimits", {}))
            os.environ.clear()  # through unsetenv/putenv: the runtime we exec sees it
            os.environ.update(req["env"])
            try:
                os.chdir(req["cwd"])
            except OSError:
                os.chdir("/")
            opts = parse(req["argv"])
            opts.sync_fd = 3
            opts.daemonized = True
            gc.enable()
            run(opts)
        finally:
            os._exit(127)


def fd_ints(payload: bytes) -> list[int]:
    import array

    values = array.array("i")
    values.frombytes(payload)
    return list(values)


def setrlimits(limits: dict[str, list[int]]) -> None:
    import resource

    for name, (soft, hard) in limits.items():
        which = getattr(resource, name, None)
        if isinstance(which, int):
            try:  # noqa: SIM105 (contextlib costs memory)
                resource.setrlimit(which, (soft, hard))
            except (OSError, ValueError):
                pass


def unlink_if_ours(sock_path: str, inode: int) -> None:
    """Unlink the socket path unless another zygote has bound it since (the inode of
    a socket file is not the socket's own: it is noted when the path is bound)."""
    try:
        if os.stat(sock_path).st_ino == inode:
            os.unlink(sock_path)
    except OSError:
        pass


def main(argv: list[str]) -> None:
    import _socket
    import fcntl
    import gc

    # No collections from here on: a collection leaves freed holes in pages that the
    # monitors would then share and fill (copy). gc.freeze() before serving; each
    # monitor turns the collector back on (see Zygote.child).
    gc.disable()
    run_root = argv[0]
    sock_path, pid_path = paths(run_root)
    os.makedirs(os.path.dirname(sock_path), mode=0o700, exist_ok=True)
    lock = os.open(pid_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os._exit(0)  # another zygote serves this run root
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()}\n".encode())
    before = _source_files()  # what we are about to load, as it is now
    prctl = _warm_up()
    listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    try:  # noqa: SIM105 (contextlib costs memory)
        os.unlink(sock_path)
    except FileNotFoundError:
        pass
    listener.bind(sock_path)
    listener.listen(64)
    zygote = Zygote(listener, lock, prctl)
    zygote.sock_inode = os.stat(sock_path).st_ino
    zygote.sources = {**_source_files(), **before}
    _exercise(zygote.sources)
    gc.freeze()
    try:
        zygote.serve(sock_path)
    finally:
        unlink_if_ours(sock_path, zygote.sock_inode)
        os.ftruncate(lock, 0)
    os._exit(0)
