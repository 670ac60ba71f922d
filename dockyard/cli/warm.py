"""The warm CLI: commands run in a process forked from a warm parent.

Starting Python and importing the engine costs a ``dockyard`` command ~40 ms,
about a third of ``run --rm``. So a run root keeps a *warm process*: an
interpreter that has imported the CLI and the engine and forks for each command.
The ``dockyard`` the user runs is then only a small client
(:func:`run_in_warm_process`), which hands over what makes up a process: argv, the
environment, the working directory, umask, rlimits and the stdio file descriptors
themselves (``SCM_RIGHTS``); forwards the signals it gets; and exits with the
command's exit status (or dies of its signal).

Per command (``$RUN/cli/warm.sock``, ``SOCK_SEQPACKET``):

* the warm process accepts and forks a *keeper*; the keeper reads the request and
  checks that the command would run exactly as in the client: same interpreter,
  package tree, ``sys.path``, flags and filesystem encoding; same uid, namespaces,
  root directory, capabilities, no_new_privs and seccomp mode (read from
  ``/proc/<peer pid>``, not taken from the client's word). It answers ``A``
  (accepted) or ``R<reason>`` (refused: the client runs the command itself);
* the client answers ``G`` and from then on the command is the keeper's: it forks
  the *command process*, which becomes the client's process (stdio, environment,
  cwd, umask, rlimits, signal dispositions) and runs :func:`dockyard.cli.main.run`;
* the keeper relays ``S<signal>`` from the client to the command process, kills it
  when the client goes away (as if the client had been killed: the command process
  is the client's body), and ends with ``E<code>`` or ``K<signal>``.

Never stale: before each fork the warm process stats the package sources it
loaded; when one changed it answers ``X`` and exits (the client runs the command
itself and starts a fresh warm process afterwards). It also exits after
:data:`IDLE_EXIT` seconds without a command, and within a second when its socket
is gone (its run root was removed). ``DOCKYARD_WARM_CLI=0`` turns it off.
"""

from __future__ import annotations

import os
import sys

from dockyard.runtime.monitor import jsonlite
from dockyard.runtime.monitor.zygote import PKG_ROOT

TYPE_CHECKING = False  # the client imports this module: keep it lean
if TYPE_CHECKING:
    import _socket
    from typing import Any

ENV_SWITCH = "DOCKYARD_WARM_CLI"
IDLE_EXIT = 600.0
TICK = 1.0
ACCEPT_TIMEOUT = 10.0  # how long a client waits to be accepted before it runs the command
MAX_REQUEST = 1 << 20
DEFAULT_RUN_ROOT = "/run/dockyard"  # dockyard.config's (not imported: the client stays lean)

# Signals the client passes on to the command process.
FORWARDED = (1, 2, 3, 10, 12, 14, 15, 28)  # HUP INT QUIT USR1 USR2 ALRM TERM WINCH
NAMESPACES = ("mnt", "net", "pid", "ipc", "uts", "user", "cgroup")
STATUS_FIELDS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")

# What the warm process imports before it serves: the CLI and the engine behind
# the everyday commands (a command importing more imports it in its own process).
PRELOAD = (
    "dockyard.cli.main",
    "dockyard.cli.errors",
    "dockyard.cli.output",
    "dockyard.cli.parser",
    "dockyard.cli.runflags",
    "dockyard.cli.attach",
    "dockyard.cli.format.tabwriter",
    "dockyard.cli.format.template",
    "dockyard.cli.commands.container",
    "dockyard.cli.commands.image",
    "dockyard.cli.commands.exec",
    "dockyard.cli.commands.manage",
    "dockyard.cli.commands.filesystem",
    "dockyard.cli.commands.network",
    "dockyard.cli.commands.volume",
    "dockyard.cli.commands.system",
    "dockyard.cli.commands.build",
    "dockyard.config",
    "dockyard.log",
    "dockyard.engine",
    "dockyard.engine.changes",
    "dockyard.engine.containers",
    "dockyard.engine.events",
    "dockyard.engine.execs",
    "dockyard.engine.images",
    "dockyard.engine.layerstore",
    "dockyard.engine.lifecycle",
    "dockyard.engine.logs",
    "dockyard.engine.mounts",
    "dockyard.engine.networks",
    "dockyard.engine.views",
    "dockyard.engine.volumes",
    "dockyard.network.netns",
    "dockyard.oci.image",
    "dockyard.oci.platform",
    "dockyard.runtime.spec",
    "dockyard.runtime.spec.etc_files",
    "dockyard.runtime.spec.host",
    "dockyard.runtime.monitor.client",
    "dockyard.runtime.monitor.health",
    "dockyard.runtime.monitor.launch",
    "dockyard.runtime.monitor.logs",
    "dockyard.runtime.monitor.policy",
    "dockyard.store.content",
    "dockyard.store.snapshots.overlay",
    "dockyard.build.builder",
    "dockyard.build.context",
    "dockyard.build.dockerfile.stages",
    "dockyard.build.dockerignore",
    "dockyard.build.gitsource",
    "dockyard.build.hashmemo",
    "ctypes",
    "encodings.ascii",
    "ipaddress",
    "queue",
    "resource",
    "shlex",
    "sqlite3",
    "urllib.parse",
)


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def paths(run_root: str) -> tuple[str, str]:
    """The warm process's socket and pid file under ``run_root``."""
    base = os.path.join(run_root, "cli")
    return os.path.join(base, "warm.sock"), os.path.join(base, "warm.pid")


def client_run_root(argv: list[str]) -> str | None:
    """The run root whose warm process serves this command line (None: none does,
    because the command line names another run root)."""
    if any(a == "--run-root" or a.startswith("--run-root=") for a in argv):
        return None
    return os.environ.get("DOCKYARD_RUN") or DEFAULT_RUN_ROOT


# ------------------------------------------------------------------ the client


class Absent(Exception):
    """No warm process answers for the run root (one may be started)."""


class Declined(Exception):
    """The warm process would not run this command (the caller runs it itself)."""


def encode_request(argv: list[str], stdio: list[bool]) -> bytes:
    """The client's process, as the command process has to become it (``stdio``: which
    of fds 0-2 are open, and so sent along)."""
    import _signal  # type: ignore[import-not-found]

    from dockyard.runtime.monitor.zygote import rlimits

    umask = os.umask(0)
    os.umask(umask)
    streams = []
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        streams.append(
            [getattr(stream, "encoding", None) or "utf-8", getattr(stream, "errors", None)]
        )
    request = {
        "python": sys.executable,
        "root": PKG_ROOT,
        "path": sys.path[1:],
        "flags": list(sys.flags),
        "fsencoding": [sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()],
        "argv": list(argv),
        "stdio": stdio,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "umask": umask,
        "rlimits": rlimits(),
        "streams": streams,
        "ignored": [s for s in (*FORWARDED, 13) if _signal.getsignal(s) == _signal.SIG_IGN],
    }
    return jsonlite.dumps(request).encode()


def run_in_warm_process(argv: list[str], run_root: str) -> int:
    """Run the command line ``argv`` (``sys.argv``) in ``run_root``'s warm process and
    return its exit code (or die of the signal that ended it).

    Raises :class:`Absent` when no warm process answers and :class:`Declined` when it
    would not run the command; in both cases nothing has run."""
    import _signal
    import _socket

    sock_path, _ = paths(run_root)
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    try:
        conn.settimeout(ACCEPT_TIMEOUT)
        conn.connect(sock_path)
    except OSError:
        conn.close()
        raise Absent from None
    try:
        fds = [fd for fd in (0, 1, 2) if _fd_open(fd)]
        try:
            message = encode_request(argv, [fd in fds for fd in (0, 1, 2)])
        except (OSError, ValueError) as e:  # no cwd; bytes that are not UTF-8 in env or argv
            raise Declined(str(e)) from None
        try:
            conn.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, _fd_bytes(fds))])
            answer = conn.recv(4096)
        except OSError as e:  # no answer in time: the keeper drops it (no G comes)
            raise Declined(str(e)) from None
        if answer == b"X":
            raise Absent("stale")
        if answer != b"A":
            raise Declined(answer[1:].decode(errors="replace"))
        def forward(signum: int, _frame: object) -> None:
            try:  # noqa: SIM105 (the client does not import contextlib)
                conn.send(b"S%d" % signum)
            except OSError:  # the keeper is gone: the reply loop says so
                pass

        # All of them, even those ignored here: the command process starts with the
        # same dispositions (an ignored one stays ignored there unless the command
        # handles it, as `attach` does SIGINT whatever it inherited). One that comes
        # before the G below reaches the command once it exists.
        for signum in FORWARDED:
            _signal.signal(signum, forward)
        conn.settimeout(None)
        conn.send(b"G")  # from here on the command is the keeper's: never run it here too
        while True:
            try:
                reply = conn.recv(64)
            except InterruptedError:
                continue
            except OSError:
                reply = b""
            if not reply:
                sys.stderr.write("dockyard: the command's process went away\n")
                return 125
            if reply[:1] == b"E":
                return int(reply[1:])
            if reply[:1] == b"K":
                signum = int(reply[1:])
                _signal.signal(signum, _signal.SIG_DFL)
                os.kill(os.getpid(), signum)
                return 128 + signum
    finally:
        conn.close()


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _fd_bytes(fds: list[int]) -> bytes:
    import array

    return array.array("i", fds).tobytes()


def start(run_root: str) -> None:
    """Start the warm process of ``run_root`` in the background (a daemon, not our
    child) unless one runs. It holds the lock on its pid file from the start (it
    inherits ours), so no one sees the run root without it in between. Its
    environment is only what decides how Python starts and imports (``PATH``, the
    locale, ``PYTHON*``): each command brings its own."""
    import fcntl

    from dockyard.runtime.monitor.zygote import spawn_detached

    sock_path, pid_path = paths(run_root)
    try:
        os.makedirs(os.path.dirname(sock_path), mode=0o700, exist_ok=True)
        lock = os.open(pid_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # one runs, or is starting
        env = {
            k: v
            for k, v in os.environ.items()
            if k == "PATH" or k.startswith(("PYTHON", "LC_")) or k in ("LANG", "LANGUAGE")
        }
        boot = (
            "import sys;sys.path[1:]=sys.argv[3:];"
            "from dockyard.cli.warm import serve;serve(sys.argv[1],int(sys.argv[2]))"
        )
        argv = [sys.executable, "-c", boot, run_root, str(lock), *sys.path[1:]]
        spawn_detached(argv, env, pid_fd=lock)
    finally:
        os.close(lock)


# ------------------------------------------------------------------ the warm process


def loaded_sources() -> dict[str, tuple[int, int]]:
    """The stamps of the package's files this process has loaded (and of the default
    seccomp profile, which it has read)."""
    from dockyard.runtime.monitor.zygote import file_stamps, loaded_package_files

    profile = os.path.join(PKG_ROOT, "dockyard", "runtime", "spec", "seccomp_default.json")
    return file_stamps([profile, *loaded_package_files()])


def process_context(pid: int | str) -> dict[str, object]:
    """What a command process inherits from the kernel that the warm process cannot
    give it: namespaces, root directory, credentials' capabilities and confinement."""
    context: dict[str, object] = {}
    for ns in NAMESPACES:
        try:
            st = os.stat(f"/proc/{pid}/ns/{ns}")
            context[ns] = (st.st_dev, st.st_ino)
        except OSError:
            context[ns] = None
    st = os.stat(f"/proc/{pid}/root/")
    context["root"] = (st.st_dev, st.st_ino)
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in STATUS_FIELDS:
                context[key] = value.strip()
    try:
        with open(f"/proc/{pid}/attr/current") as f:
            context["lsm"] = f.read().strip("\0\n")
    except OSError:
        context["lsm"] = None
    return context


def mismatch(request: dict[str, Any], peer: dict[str, object], own: dict[str, object]) -> str:
    """Why this warm process cannot run the request as the client would ('' if it can)."""
    if request.get("python") != sys.executable or request.get("root") != PKG_ROOT:
        return "another interpreter or source tree"
    if request.get("path") != sys.path[1:]:
        return "another sys.path"
    if request.get("flags") != list(sys.flags):
        return "other interpreter flags"
    if request.get("fsencoding") != [
        sys.getfilesystemencoding(),
        sys.getfilesystemencodeerrors(),
    ]:
        return "another filesystem encoding"
    for key, value in own.items():
        if peer.get(key) != value:
            return f"another {key}"
    return ""


# Servers: nothing to gain from a warm start, and they are what service managers
# supervise (their own cgroup, process, passed sockets and notify socket).
DAEMONS = ("serve", "registry serve")
SERVICE_ENV = ("LISTEN_FDS", "LISTEN_PID", "NOTIFY_SOCKET")


def not_for_warm(request: dict[str, Any]) -> str:
    """Why a command is best run by its client itself ('' if it is not)."""
    from dockyard.cli.main import find_command, split_global
    from dockyard.errors import DockyardError

    if any(k in request["env"] for k in SERVICE_ENV):
        return "run by a service manager"
    try:
        name, _ = find_command(split_global(request["argv"][1:])[1])
    except DockyardError:
        return ""  # the command process says what is wrong, as the client would
    return "a server" if name in DAEMONS else ""


def join_cgroups(peer: int | str) -> str:
    """Move this process into the cgroups of process ``peer`` (what a command process
    forked from here then runs in, as the client's own would); the reason when it
    cannot ('' once done, or when they are the same already)."""
    with open(f"/proc/{peer}/cgroup") as f:
        theirs = f.read().splitlines()
    with open("/proc/self/cgroup") as f:
        mine = set(f.read().splitlines())
    moves = [line for line in theirs if line not in mine]
    if not moves:
        return ""
    mounts = _cgroup_mounts()
    for line in moves:
        _hierarchy, controllers, path = line.split(":", 2)
        wanted = frozenset(controllers.split(",")) if controllers else frozenset()
        # v1: the hierarchy mounted with these controllers (or name=); v2: cgroup2's
        mount = next((m for opts, m in mounts if wanted <= opts and (wanted or not opts)), None)
        if mount is None:
            return "another cgroup"
        try:
            with open(os.path.join(mount, path.lstrip("/"), "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        except OSError:
            return "another cgroup"
    return ""


def _cgroup_mounts() -> list[tuple[frozenset[str], str]]:
    """(controllers, mount point) of each cgroup hierarchy mounted at its root
    (cgroup2: no controllers)."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, options = fields[sep + 1], fields[sep + 3].split(",")
            if fields[3] != "/" or fstype not in ("cgroup", "cgroup2"):
                continue
            names = (
                frozenset(o for o in options if o not in ("rw", "ro"))
                if fstype == "cgroup"
                else frozenset()
            )
            found.append((names, fields[4]))
    return found


def validate(value: object) -> dict[str, Any]:
    """The request as a dict; ``ValueError`` on anything malformed."""
    if not isinstance(value, dict):
        raise ValueError("request is not an object")
    argv, env = value.get("argv"), value.get("env")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError("argv must be a non-empty list of strings")
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise ValueError("env must map strings to strings")
    if not isinstance(value.get("cwd"), str) or not isinstance(value.get("umask"), int):
        raise ValueError("cwd and umask are required")
    stdio = value.get("stdio")
    if not isinstance(stdio, list) or len(stdio) != 3:
        raise ValueError("stdio must list three booleans")
    streams = value.get("streams")
    if not isinstance(streams, list) or len(streams) != 3:
        raise ValueError("streams must describe stdin, stdout and stderr")
    return value


class WarmProcess:
    """Accept and fork; the keeper and the command process do everything else."""

    def __init__(self, listener: _socket.socket, lock_fd: int, sock_path: str) -> None:
        self.listener = listener
        self.lock_fd = lock_fd
        self.sock_path = sock_path
        self.sock_inode = os.stat(sock_path).st_ino
        self.sources: dict[str, tuple[int, int]] = {}
        self.context: dict[str, object] = {}

    def serve(self) -> None:
        import time

        from dockyard.runtime.monitor.zygote import stamps_unchanged, unlink_if_ours

        self.listener.settimeout(TICK)
        idle_since = time.monotonic()
        while True:
            try:
                fd = self.listener._accept()[0]  # type: ignore[attr-defined]
            except TimeoutError:
                if time.monotonic() - idle_since > IDLE_EXIT or not self._socket_is_ours():
                    return
                continue
            except OSError:
                continue
            idle_since = time.monotonic()
            if not stamps_unchanged(self.sources):
                unlink_if_ours(self.sock_path, self.sock_inode)
                try:
                    os.write(fd, b"X")
                finally:
                    os.close(fd)
                return
            try:
                pid = os.fork()
            except OSError:
                os.close(fd)  # the client sees no answer: it runs the command itself
                continue
            if pid == 0:
                try:
                    self.keep(fd)
                finally:
                    os._exit(0)
            os.close(fd)

    def _socket_is_ours(self) -> bool:
        try:
            return os.stat(self.sock_path).st_ino == self.sock_inode
        except OSError:
            return False

    def keep(self, fd: int) -> None:
        """In the keeper: check the request, fork the command process, relay, report."""
        import _signal
        import _socket
        import contextlib
        import select
        import struct

        from dockyard.runtime.monitor.zygote import fd_ints

        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        for signum in (*FORWARDED, _signal.SIGPIPE):
            # a relay: what kills a whole cgroup or session must not leave the client
            # without its command's status (the command process restores them all)
            _signal.signal(signum, _signal.SIG_IGN)
        self.listener.close()
        os.close(self.lock_fd)
        conn = _socket.socket(fileno=fd)
        conn.settimeout(ACCEPT_TIMEOUT)
        data, ancdata, _flags, _addr = conn.recvmsg(MAX_REQUEST, _socket.CMSG_SPACE(3 * 4))
        fds: list[int] = []
        for level, kind, payload in ancdata:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                fds.extend(fd_ints(payload[: len(payload) - len(payload) % 4]))
        peer_pid, peer_uid, _gid = struct.unpack(
            "3i", conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        )
        try:
            request = validate(jsonlite.loads(data))
            if sum(1 for x in request["stdio"] if x) != len(fds):
                raise ValueError("the stdio descriptors do not match the request")
            reason = "another user" if peer_uid != os.getuid() else ""
            reason = reason or mismatch(request, process_context(peer_pid), self.context)
            reason = reason or not_for_warm(request) or join_cgroups(peer_pid)
            if not reason:
                os.chdir(request["cwd"])  # the command process's, inherited
        except (ValueError, OSError) as e:
            reason = f"cannot run it here: {e}"
        if reason:
            conn.send(b"R" + reason.encode(errors="replace"))
            return
        conn.send(b"A")
        early: list[int] = []  # signals the client got before it committed
        while (message := conn.recv(16)) != b"G":
            if message[:1] != b"S" or not message[1:].isdigit():
                return  # the client gave up waiting and runs the command itself
            early.append(int(message[1:]))
        # blocked across the fork, as they are ignored here: the command process
        # takes them once it has the client's dispositions (see _run_main)
        _signal.pthread_sigmask(_signal.SIG_BLOCK, FORWARDED)
        pid = os.fork()
        if pid == 0:
            try:
                conn.close()
                become_client(request, fds)
            except BaseException:
                import traceback

                traceback.print_exc()  # the client's stderr, once it is ours
            finally:
                os._exit(125)
        for received in fds:
            os.close(received)
        pidfd = os.pidfd_open(pid)
        for signum in early:
            with contextlib.suppress(OSError):
                os.kill(pid, signum)
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        client_gone = False
        while True:
            ready = {fd for fd, _ in poller.poll()}
            if pidfd in ready:
                break
            if conn.fileno() in ready and not client_gone:
                try:
                    message = conn.recv(64)
                except OSError:
                    message = b""
                if message[:1] == b"S" and message[1:].isdigit():
                    try:  # noqa: SIM105
                        os.kill(pid, int(message[1:]))
                    except OSError:
                        pass
                elif not message:
                    # the client was killed: so is the command process (it is its body)
                    client_gone = True
                    poller.unregister(conn.fileno())
                    os.kill(pid, _signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if client_gone:
            return
        code = os.waitstatus_to_exitcode(status)
        with contextlib.suppress(OSError):
            conn.send(b"K%d" % -code if code < 0 else b"E%d" % code)


def become_client(request: dict[str, Any], fds: list[int]) -> None:
    """In the command process: take on the client's process and run its command."""
    import _signal
    import contextlib
    import gc
    import time

    from dockyard.runtime.monitor.zygote import setrlimits

    received = iter(fds)
    for target, present in enumerate(request["stdio"]):
        source = next(received) if present else os.open(os.devnull, os.O_RDWR)
        if source != target:
            os.dup2(source, target)
    for source in fds:
        if source > 2:
            os.close(source)
    for signum in range(1, _signal.NSIG):
        with contextlib.suppress(OSError, ValueError):
            _signal.signal(signum, _signal.SIG_DFL)
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
    for signum in request.get("ignored", []):
        _signal.signal(signum, _signal.SIG_IGN)
    os.environ.clear()  # through unsetenv/putenv: what the command runs sees it
    os.environ.update(request["env"])
    time.tzset()  # the C library read TZ once, when the warm process started
    os.umask(request["umask"])
    setrlimits(request.get("rlimits", {}))
    _reopen_stdio(request["streams"])
    sys.argv = list(request["argv"])
    gc.enable()
    code = _run_main(sys.argv[1:])
    _exit(code)


def _reopen_stdio(streams: list[list[str | None]]) -> None:
    """New ``sys.std*`` on fds 0-2 with the client's encodings and Python's buffering
    (stdout line-buffered on a terminal, stderr always)."""
    (in_enc, in_err), (out_enc, out_err), (err_enc, err_err) = streams
    stdin = open(0, encoding=in_enc, errors=in_err, closefd=False)  # noqa: SIM115
    stdout = open(  # noqa: SIM115
        1,
        "w",
        buffering=1 if os.isatty(1) else -1,
        encoding=out_enc,
        errors=out_err,
        closefd=False,
    )
    stderr = open(  # noqa: SIM115
        2,
        "w",
        buffering=1,
        encoding=err_enc,
        errors=err_err or "backslashreplace",
        closefd=False,
    )
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr


def _run_main(argv: list[str]) -> int:
    import _signal

    from dockyard.cli.main import run

    try:
        # what the keeper forwarded meanwhile arrives now, as the client's would
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, FORWARDED)
        return run(argv)
    except KeyboardInterrupt:
        return 130
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        sys.stderr.write(f"{e.code}\n")
        return 1


def _exit(code: int) -> None:
    """End the command process as an interpreter's exit would: non-daemon threads are
    joined, atexit handlers run, the standard streams are flushed."""
    import atexit

    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120
    os._exit(code & 0xFF)


def _exercise() -> None:
    """Do once here what every command would do first: compile the patterns the
    reference parser compiles on first use, read the host's facts and the default
    seccomp profile (all pure, or cached per process by design)."""
    try:
        from dockyard.oci.reference import parse_any_reference
        from dockyard.runtime.spec.host import detect_host
        from dockyard.runtime.spec.seccomp import default_profile

        parse_any_reference("busybox:latest")
        detect_host()
        default_profile()
    except Exception:  # each command does this again, and reports it
        pass


def exit_now(code: int) -> None:
    """End the client with the command's exit code, skipping the interpreter's
    teardown (the client has nothing to clean up; that saves ~1-2 ms)."""
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 (the client does not import contextlib)
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code & 0xFF)


def serve(run_root: str, lock: int) -> None:
    """The warm process of ``run_root`` (started by :func:`start`, which passes the
    pid file it locked for us as ``lock``)."""
    import _signal
    import _socket
    import contextlib
    import gc
    import importlib

    from dockyard.runtime.monitor.zygote import unlink_if_ours

    gc.disable()  # collections would un-share pages with every command process
    sock_path, _pid_path = paths(run_root)
    os.set_inheritable(lock, False)
    before = loaded_sources()
    for name in PRELOAD:
        with contextlib.suppress(Exception):  # it fails in its command too, and says so
            importlib.import_module(name)
    _exercise()
    _signal.signal(_signal.SIGCHLD, _signal.SIG_IGN)  # keepers are reaped by the kernel
    listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    try:  # noqa: SIM105
        os.unlink(sock_path)
    except FileNotFoundError:
        pass
    listener.bind(sock_path)
    os.chmod(sock_path, 0o600)
    listener.listen(128)
    warm = WarmProcess(listener, lock, sock_path)
    warm.sources = {**loaded_sources(), **before}
    warm.context = process_context("self")
    gc.freeze()
    try:
        warm.serve()
    finally:
        unlink_if_ours(sock_path, warm.sock_inode)
        os.ftruncate(lock, 0)
    os._exit(0)
