"""The container lifecycle of the OCI runtime spec: create, start, state, kill, delete, exec.

Process shape (runc's): the runtime process P forks stage 1, which joins/creates the
namespaces and forks stage 2 — pid 1 of a new pid namespace — then exits. P puts stage
2 in its cgroup and tells it to go on; stage 2 prepares the rootfs and the process, says
ready, then blocks opening the exec fifo for writing until ``start`` opens it for reading.
P talks to both stages over one socketpair, one JSON message per line.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dockyard.errors import Conflict, DockyardError, InvalidArgument, SystemFailure, Unsupported
from dockyard.runtime.linux import namespaces as ns
from dockyard.runtime.linux import process as proc
from dockyard.runtime.linux import syscalls as sc
from dockyard.runtime.linux.state import State, StateStore, start_time


@dataclass
class _InitOptions:
    """What stage 2 of create needs besides the spec."""

    rootfs: str
    fifo_fd: int
    console: socket.socket | None
    preserve_fds: int
    no_pivot: bool


class _Channel:
    """JSON lines over one end of a socketpair."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")

    def send(self, **message: Any) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def recv(self) -> dict[str, Any]:
        line = self.reader.readline()
        if not line:
            raise SystemFailure("container init exited before it was ready")
        result: dict[str, Any] = json.loads(line)
        return result


def _child(chan: _Channel, body: Callable[[], None]) -> None:
    """Run ``body`` in a forked child; report any failure to the parent; never return."""
    code = 1
    try:
        body()
        code = 0
    except BaseException as exc:
        msg = exc.message if isinstance(exc, DockyardError) else f"{exc}"
        with contextlib.suppress(BaseException):
            chan.send(type="error", msg=msg, kind=type(exc).__name__)
    finally:
        os._exit(code)


def _preload(spec_linux: dict[str, Any], console: bool) -> None:
    """Import now what the child needs after pivot_root/setns, when our files are gone."""
    import fcntl  # noqa: F401

    if console:
        from dockyard.runtime.linux import console as _console  # noqa: F401
    if spec_linux.get("seccomp"):
        with contextlib.suppress(ImportError):
            from dockyard.runtime.linux import seccomp

            seccomp.api_level()  # dlopens libseccomp while the host's /lib is still there


def load_spec(bundle: str) -> dict[str, Any]:
    path = os.path.join(bundle, "config.json")
    try:
        with open(path) as f:
            spec: dict[str, Any] = json.load(f)
    except FileNotFoundError:
        raise InvalidArgument(f"JSON specification file {path} not found") from None
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"invalid {path}: {exc}") from None
    if not isinstance(spec.get("process"), dict) and spec.get("process") is not None:
        raise InvalidArgument("process must be an object")
    return spec


def cgroup_manager(path: str, resources: dict[str, Any] | None) -> Any | None:
    """The cgroup manager, or None where this build has none yet."""
    try:
        from dockyard.runtime.linux.cgroups import CgroupManager
    except ImportError:
        return None
    return CgroupManager(path, resources)


# runc's AllowedDevices: mknod of anything, the default devices, ptys and tun.
DEFAULT_DEVICE_RULES: tuple[tuple[str, int | None, int | None, str], ...] = (
    ("c", None, None, "m"),
    ("b", None, None, "m"),
    ("c", 1, 3, "rwm"),
    ("c", 1, 8, "rwm"),
    ("c", 1, 7, "rwm"),
    ("c", 5, 0, "rwm"),
    ("c", 1, 5, "rwm"),
    ("c", 1, 9, "rwm"),
    ("c", 136, None, "rwm"),
    ("c", 5, 2, "rwm"),
    ("c", 10, 200, "rwm"),
)


def cgroup_resources(linux: dict[str, Any]) -> dict[str, Any]:
    """linux.resources with runc's default device rules and the config's devices allowed."""
    resources = dict(linux.get("resources") or {})
    rules = list(resources.get("devices") or [])
    for kind, major, minor, access in DEFAULT_DEVICE_RULES:
        rule: dict[str, Any] = {"allow": True, "type": kind, "access": access}
        if major is not None:
            rule["major"] = major
        if minor is not None:
            rule["minor"] = minor
        rules.append(rule)
    for dev in linux.get("devices") or []:
        rule = {"allow": True, "type": dev.get("type", "c"), "access": "rwm"}
        rule.update(major=dev.get("major", 0), minor=dev.get("minor", 0))
        rules.append(rule)
    resources["devices"] = rules
    return resources


def run_hooks(hooks: list[dict[str, Any]] | None, state: State, kind: str) -> None:
    for hook in hooks or []:
        args = hook.get("args") or [hook["path"]]
        env = dict(e.partition("=")[::2] for e in hook.get("env") or [])
        timeout = hook.get("timeout")
        try:
            subprocess.run(
                args,
                executable=hook["path"],
                input=json.dumps(state.to_oci()).encode(),
                env=env,
                timeout=timeout,
                check=True,
                capture_output=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise SystemFailure(f"error running {kind} hook {hook['path']}: {exc}") from exc


def _wait_for(pid: int) -> int:
    """waitpid(pid) as an exit code: the status, or 128 + signal."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
        if os.WIFEXITED(status):
            return os.WEXITSTATUS(status)
        if os.WIFSIGNALED(status):
            return 128 + os.WTERMSIG(status)


class Runtime:
    """One runtime invocation: a state root and the syscall layer."""

    def __init__(self, root: str | None = None, sys: sc.Syscalls | None = None) -> None:
        self.store = StateStore(root)
        self.sys = sys or sc.Syscalls()

    # --- create ------------------------------------------------------------
    def create(
        self,
        container_id: str,
        bundle: str,
        *,
        pid_file: str | None = None,
        console_socket: str | None = None,
        console: socket.socket | None = None,
        preserve_fds: int = 0,
        subreaper: bool = False,
        no_pivot: bool = False,
    ) -> State:
        """Create the container; ``console`` is an already connected console socket."""
        bundle = os.path.realpath(bundle)
        spec = load_spec(bundle)
        process = spec.get("process") or {}
        linux = spec.get("linux") or {}
        plan = ns.plan(spec)
        if not plan.has("mount"):
            raise InvalidArgument("a mount namespace is required (linux.namespaces)")
        if process.get("terminal") and not (console_socket or console):
            raise InvalidArgument(
                "cannot allocate tty if runtime will detach without setting console socket"
            )
        if console_socket and not process.get("terminal"):
            raise InvalidArgument("--console-socket given but process.terminal is false")
        from dockyard.runtime.linux.rootfs import rootfs_path

        rootfs = rootfs_path(spec, bundle)
        if not os.path.isdir(rootfs):
            raise InvalidArgument(f"rootfs ({rootfs}) does not exist")
        state_dir = self.store.reserve(container_id)
        state = State(
            id=container_id,
            bundle=bundle,
            rootfs=rootfs,
            annotations=spec.get("annotations") or {},
            created=_now(),
            owner="",
            cgroups_path=linux.get("cgroupsPath") or f"/{container_id}",
        )
        manager = None
        try:
            with open(os.path.join(state_dir, "config.json"), "w") as f:
                json.dump(spec, f)
            fifo = self.store.fifo(container_id)
            os.mkfifo(fifo, 0o622)
            os.chmod(fifo, 0o622)
            fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
            sock = console or _connect_console(console_socket)
            _preload(linux, sock is not None)
            if subreaper:
                self.sys.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
            init = _InitOptions(rootfs, fifo_fd, sock, preserve_fds, no_pivot)
            parent, child = socket.socketpair()
            pid1 = self.sys.fork()
            if pid1 == 0:
                parent.close()
                chan = _Channel(child)
                _child(
                    chan,
                    lambda: self._stage1(chan, spec, plan, init),
                )
            child.close()
            os.close(fifo_fd)
            if sock is not None:
                sock.close()
            chan = _Channel(parent)
            try:
                manager = self._drive(chan, pid1, plan, spec, state, linux)
            finally:
                parent.close()
            state.status = "created"
            state.start_time = start_time(state.pid) or 0
            self.store.save(state)
            if pid_file:
                _write_pid_file(pid_file, state.pid)
            return state
        except BaseException:
            if state.pid > 0:
                with contextlib.suppress(OSError):
                    os.kill(state.pid, signal.SIGKILL)
            if manager is not None:
                with contextlib.suppress(Exception):
                    _destroy(manager, state.pid)
            self.store.remove(container_id)
            raise

    def _drive(
        self,
        chan: _Channel,
        pid1: int,
        plan: ns.Plan,
        spec: dict[str, Any],
        state: State,
        linux: dict[str, Any],
    ) -> Any:
        """The parent's half of the create protocol; returns the cgroup manager."""
        manager = None
        try:
            while True:
                msg = chan.recv()
                kind = msg.get("type")
                if kind == "error":
                    raise _error(msg)
                if kind == "userns":
                    _write_id_maps(pid1, linux)
                    chan.send(type="ok")
                elif kind == "pid":
                    state.pid = int(msg["pid"])
                    _wait_for(pid1)
                    resources = cgroup_resources(linux)
                    manager = cgroup_manager(state.cgroups_path, resources)
                    if manager is not None:
                        manager.create()
                        manager.apply(state.pid)
                        manager.set(resources)
                    hooks = spec.get("hooks") or {}
                    state.status = "creating"
                    run_hooks(hooks.get("prestart"), state, "prestart")
                    run_hooks(hooks.get("createRuntime"), state, "createRuntime")
                    chan.send(type="go")
                elif kind == "ready":
                    return manager
        except BaseException:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid1, os.WNOHANG)
            if state.pid > 0:
                with contextlib.suppress(OSError):
                    os.kill(state.pid, signal.SIGKILL)
                _wait_gone(state.pid, start_time(state.pid) or 0)
            if manager is not None:
                with contextlib.suppress(Exception):
                    _destroy(manager, state.pid)
            raise

    def _stage1(
        self,
        chan: _Channel,
        spec: dict[str, Any],
        plan: ns.Plan,
        init: _InitOptions,
    ) -> None:
        sys = self.sys
        joins = dict(plan.join)
        if "user" in joins:
            ns.join(sys, "user", joins["user"])
        elif plan.new_user:
            sys.unshare(sc.CLONE_NEWUSER)
            chan.send(type="userns")
            if chan.recv().get("type") != "ok":
                raise SystemFailure("user namespace mapping failed")
        for kind, path in plan.join:
            if kind not in ("user", "cgroup"):
                ns.join(sys, kind, path)
        new = [k for k in plan.new if k not in ("user", "cgroup")]
        if new:
            sys.unshare(ns.unshare_flags(new))
        if plan.new_user or "user" in joins:
            sys.setresgid(0)
            sys.setresuid(0)
        pid2 = sys.fork()
        if pid2 == 0:
            _child(chan, lambda: self._stage2(chan, spec, plan, init))
        chan.send(type="pid", pid=pid2)

    def _stage2(
        self,
        chan: _Channel,
        spec: dict[str, Any],
        plan: ns.Plan,
        init: _InitOptions,
    ) -> None:
        sys = self.sys
        msg = chan.recv()
        if msg.get("type") != "go":
            raise SystemFailure("container init: unexpected message from the runtime")
        joins = dict(plan.join)
        if "cgroup" in joins:
            ns.join(sys, "cgroup", joins["cgroup"])
        elif "cgroup" in plan.new:
            sys.unshare(sc.CLONE_NEWCGROUP)
        sys.setsid()
        fifo_fd, sock = init.fifo_fd, init.console
        _cloexec_from(3 + init.preserve_fds, keep={fifo_fd, chan.sock.fileno()})
        from dockyard.runtime.linux.rootfs import RootfsSetup

        setup = RootfsSetup(sys, spec, init.rootfs, userns=plan.has("user"))
        setup.prepare()
        setup.pivot(no_pivot=init.no_pivot)
        linux = spec.get("linux") or {}
        if "uts" in plan.new:
            if spec.get("hostname"):
                sys.sethostname(spec["hostname"])
            if spec.get("domainname"):
                sys.setdomainname(spec["domainname"])
        if sock is not None:
            from dockyard.runtime.linux.console import setup_console

            setup_console(sys, sock)
        setup.finalize()

        def wait_for_start() -> None:
            chan.send(type="ready")
            chan.sock.close()
            fd = os.open(f"/proc/self/fd/{fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
            os.write(fd, b"0")
            os.close(fd)
            os.close(fifo_fd)

        proc.finalize(sys, spec.get("process") or {}, linux, before_exec=wait_for_start)

    # --- start / state / kill / delete ---------------------------------------
    def state(self, container_id: str) -> State:
        state = self.store.load(container_id)
        if state.status in ("running", "paused"):
            manager = self._manager(state)
            if manager is not None:
                with contextlib.suppress(Exception):
                    state.status = "paused" if manager.state() == "frozen" else "running"
        return state

    def start(self, container_id: str) -> State:
        state = self.state(container_id)
        if state.status != "created":
            raise Conflict(
                f"cannot start a container that has {state.status}, recreate the container"
            )
        fifo = self.store.fifo(container_id)
        fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            while True:
                ready, _, _ = select.select([fd], [], [], 0.5)
                if ready:
                    os.read(fd, 1)
                    break
                if start_time(state.pid) != state.start_time:
                    raise SystemFailure("container init exited before it was started")
        finally:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(fifo)
        state.status = "running"
        self.store.save(state)
        spec = self._spec(container_id)
        with contextlib.suppress(DockyardError):
            run_hooks((spec.get("hooks") or {}).get("poststart"), state, "poststart")
        return state

    def kill(self, container_id: str, sig: int, *, all_processes: bool = False) -> None:
        state = self.state(container_id)
        if state.status == "stopped" and not all_processes:
            raise Conflict("container not running")
        pids = [state.pid] if state.status != "stopped" else []
        if all_processes:
            manager = self._manager(state)
            if manager is not None:
                pids = list(manager.pids()) or pids
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def delete(self, container_id: str, *, force: bool = False) -> None:
        try:
            state = self.state(container_id)
        except DockyardError:
            if force:
                self.store.remove(container_id)
                return
            raise
        if state.status in ("running", "paused") and not force:
            raise Conflict(
                f"cannot delete container {container_id} that is not stopped: {state.status}"
            )
        manager = self._manager(state)
        if state.status != "stopped":
            if manager is not None and state.status == "paused":
                with contextlib.suppress(Exception):
                    manager.thaw()
            self.kill(container_id, signal.SIGKILL, all_processes=True)
            _wait_gone(state.pid, state.start_time)
        if manager is not None:
            with contextlib.suppress(Exception):
                _destroy(manager, 0)
        spec = self._spec(container_id)
        state.status = "stopped"
        try:
            run_hooks((spec.get("hooks") or {}).get("poststop"), state, "poststop")
        finally:
            self.store.remove(container_id)

    def pause(self, container_id: str) -> None:
        state = self.state(container_id)
        if state.status != "running":
            raise Conflict(f"container not running: {state.status}")
        manager = self._require_manager(state)
        manager.freeze()
        state.status = "paused"
        self.store.save(state)

    def resume(self, container_id: str) -> None:
        state = self.state(container_id)
        if state.status != "paused":
            raise Conflict("container not paused")
        manager = self._require_manager(state)
        manager.thaw()
        state.status = "running"
        self.store.save(state)

    def pids(self, container_id: str) -> list[int]:
        state = self.state(container_id)
        manager = self._manager(state)
        if manager is not None:
            with contextlib.suppress(Exception):
                return sorted(int(p) for p in manager.pids())
        return [state.pid] if state.status != "stopped" else []

    def _spec(self, container_id: str) -> dict[str, Any]:
        try:
            with open(os.path.join(self.store.dir(container_id), "config.json")) as f:
                spec: dict[str, Any] = json.load(f)
                return spec
        except (OSError, ValueError):
            return {}

    def _manager(self, state: State) -> Any | None:
        if not state.cgroups_path:
            return None
        return cgroup_manager(state.cgroups_path, None)

    def _require_manager(self, state: State) -> Any:
        manager = self._manager(state)
        if manager is None:
            raise Unsupported("pause/resume need the cgroup manager, not available")
        return manager

    # --- exec -----------------------------------------------------------------
    def exec(
        self,
        container_id: str,
        process: dict[str, Any],
        *,
        detach: bool = False,
        pid_file: str | None = None,
        console_socket: str | None = None,
    ) -> int:
        """Run ``process`` in the container; returns its exit code (0 when detached)."""
        state = self.state(container_id)
        if state.status not in ("created", "running"):
            raise Conflict(f"cannot exec in a {state.status} container")
        own_console = None
        sock: socket.socket | None
        if process.get("terminal") and not console_socket:
            if detach:
                raise InvalidArgument("cannot allocate tty if detached without --console-socket")
            own_console, sock = socket.socketpair()  # we proxy the pty ourselves
        else:
            sock = _connect_console(console_socket if process.get("terminal") else None)
        spec = self._spec(container_id)
        linux = spec.get("linux") or {}
        kinds = [k for k in ns.ORDER if not ns.same_as_ours(state.pid, k)]
        _preload(linux, sock is not None)
        if not detach:
            self.sys.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
        parent, child = socket.socketpair()
        pid1 = self.sys.fork()
        if pid1 == 0:
            parent.close()
            chan = _Channel(child)
            _child(chan, lambda: self._exec_stage1(chan, state.pid, kinds, process, linux, sock))
        child.close()
        if sock is not None:
            sock.close()
        chan = _Channel(parent)
        pid = 0
        try:
            while True:
                msg = chan.recv()
                if msg.get("type") == "error":
                    raise _error(msg)
                if msg.get("type") == "pid":
                    pid = int(msg["pid"])
                    _wait_for(pid1)
                    manager = self._manager(state)
                    if manager is not None:
                        with contextlib.suppress(Exception):
                            manager.apply(pid)
                    chan.send(type="go")
                elif msg.get("type") == "ready":
                    break
        except BaseException:
            if pid:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                if not detach:
                    _wait_for(pid)
            raise
        finally:
            parent.close()
        if pid_file:
            _write_pid_file(pid_file, pid)
        if own_console is not None:
            from dockyard.runtime.linux.console import proxy, recv_fd

            master, _ = recv_fd(own_console)
            own_console.close()
            return proxy(master, pid)
        if detach:
            return 0
        return _wait_forwarding(pid)

    def _exec_stage1(
        self,
        chan: _Channel,
        init_pid: int,
        kinds: list[str],
        process: dict[str, Any],
        linux: dict[str, Any],
        sock: socket.socket | None,
    ) -> None:
        sys = self.sys
        fds = {k: os.open(f"/proc/{init_pid}/ns/{ns.PROC_NAMES[k]}", os.O_RDONLY) for k in kinds}
        for kind in kinds:
            if kind != "cgroup":
                sys.setns(fds[kind], ns.FLAGS[kind])
        pid2 = sys.fork()
        if pid2 == 0:

            def stage2() -> None:
                if chan.recv().get("type") != "go":
                    raise SystemFailure("exec: unexpected message from the runtime")
                if "cgroup" in fds:
                    sys.setns(fds["cgroup"], sc.CLONE_NEWCGROUP)
                for fd in fds.values():
                    os.close(fd)
                sys.setsid()
                if sock is not None:
                    from dockyard.runtime.linux.console import setup_console

                    setup_console(sys, sock)

                def ready() -> None:
                    chan.send(type="ready")
                    chan.sock.close()

                proc.finalize(sys, process, linux, before_exec=ready)

            _child(chan, stage2)
        chan.send(type="pid", pid=pid2)


def _error(msg: dict[str, Any]) -> DockyardError:
    text = str(msg.get("msg", "container init failed"))
    kinds: dict[str, type[DockyardError]] = {
        "InvalidArgument": InvalidArgument,
        "Unsupported": Unsupported,
        "Conflict": Conflict,
    }
    return kinds.get(str(msg.get("kind")), SystemFailure)(text)


def _connect_console(path: str | None) -> socket.socket | None:
    if not path:
        return None
    from dockyard.runtime.linux.console import connect

    try:
        return connect(path)
    except OSError as exc:
        raise InvalidArgument(f"cannot connect to console socket {path}: {exc}") from exc


def _write_id_maps(pid: int, linux: dict[str, Any]) -> None:
    def lines(entries: list[dict[str, Any]] | None) -> str:
        rows = [f"{e['containerID']} {e['hostID']} {e['size']}" for e in entries or []]
        return "\n".join(rows) + "\n"

    with open(f"/proc/{pid}/uid_map", "w") as f:
        f.write(lines(linux.get("uidMappings")))
    with open(f"/proc/{pid}/gid_map", "w") as f:
        f.write(lines(linux.get("gidMappings")))


def _cloexec_from(first: int, keep: set[int]) -> None:
    """Mark every fd >= first close-on-exec, so only stdio (and preserved fds) leak in."""
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd >= first and fd not in keep:
            with contextlib.suppress(OSError):
                os.set_inheritable(fd, False)


def _destroy(manager: Any, pid: int) -> None:
    manager.destroy()


def _wait_gone(pid: int, started: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if start_time(pid) != started:
            return
        time.sleep(0.02)


FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1)


def _wait_forwarding(pid: int) -> int:
    """Wait for our (reparented) child ``pid``, forwarding terminating signals to it.

    The caller may have blocked FORWARDED_SIGNALS before starting the process: what
    arrived meanwhile is delivered (and forwarded) once the handlers are in place."""
    previous = {}
    for sig in FORWARDED_SIGNALS:

        def handler(signum: int, _frame: object) -> None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

        previous[sig] = signal.signal(sig, handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED_SIGNALS)
    try:
        return _wait_for(pid)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _write_pid_file(path: str, pid: int) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.replace(tmp, path)


def _now() -> str:
    import datetime

    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
