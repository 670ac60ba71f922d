"""``--ssh`` and ``RUN --mount=type=ssh``: SSH agents a build forwards to its steps.

``--ssh id=<socket>`` forwards an agent that runs already (``default`` alone
means ``$SSH_AUTH_SOCK``); ``--ssh id=<key>[,<key>]`` starts an ``ssh-agent``
for the build holding those keys (BuildKit runs one in-process; dockyard uses
OpenSSH's), stopped when the build ends and when the build dies (a parent-death
signal to the shell that holds it: ssh-agent, often set-group-ID, loses its own).
A RUN step never sees the agent's own socket: it gets a socket of its own, owned
and moded as the mount asks (BuildKit's default: root, 0600), whose connections
are relayed to the agent while the step runs, as BuildKit relays them over its
session.

Unix socket paths are limited to 108 bytes, and run roots can be deep, so the
sockets are bound through ``/proc/self/fd/<dir fd>/<name>``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator

from dockyard.errors import InvalidArgument


class Agents:
    """The build's forwarded agents: ssh id -> a socket path this process can use."""

    def __init__(self, base: str) -> None:
        self.base = base  # a directory of our own (removed on close)
        self.dir_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.sockets: dict[str, str] = {}  # for this process (maybe through /proc/self/fd)
        self.paths: dict[str, str] = {}  # real paths, for child processes (git's ssh)
        self.procs: list[subprocess.Popen[bytes]] = []

    def short(self, name: str) -> str:
        return f"/proc/self/fd/{self.dir_fd}/{name}"

    def add(self, ssh_id: str, paths: list[str]) -> None:
        if len(paths) == 1 and _is_socket(paths[0]):
            self.sockets[ssh_id] = self.paths[ssh_id] = paths[0]
            return
        for p in paths:
            if _is_socket(p):
                raise InvalidArgument(f"failed to parse {p}: a socket cannot be one of the keys")
            if not os.path.isfile(p):
                raise InvalidArgument(f"failed to read {p}: open {p}: no such file or directory")
        self.sockets[ssh_id] = self._start_agent(ssh_id, paths)
        self.paths[ssh_id] = os.path.join(self.base, f"agent-{len(self.procs) - 1}.sock")

    def _start_agent(self, ssh_id: str, keys: list[str]) -> str:
        name = f"agent-{len(self.procs)}.sock"
        path = self.short(name)
        if shutil.which("ssh-agent") is None:
            raise InvalidArgument(f"ssh {ssh_id}: forwarding keys needs ssh-agent (openssh-client)")
        proc = subprocess.Popen(
            ["sh", "-c", _KEEPER, "ssh-agent", path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(self.dir_fd,),
            preexec_fn=_die_with_parent,
        )
        self.procs.append(proc)
        deadline = time.monotonic() + 10
        while not _accepts(path):  # bound is not enough: it listens a moment later
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise InvalidArgument(f"ssh {ssh_id}: ssh-agent did not start: {err.strip()}")
            time.sleep(0.01)
        env = dict(os.environ, SSH_AUTH_SOCK=path, SSH_ASKPASS_REQUIRE="never")
        env.pop("DISPLAY", None)
        added = subprocess.run(
            ["ssh-add", "-q", *keys],
            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            pass_fds=(self.dir_fd,), timeout=30,
        )  # fmt: skip
        if added.returncode != 0:
            raise InvalidArgument(f"ssh {ssh_id}: {added.stderr.strip() or 'ssh-add failed'}")
        return path

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        self.procs.clear()
        os.close(self.dir_fd)
        shutil.rmtree(self.base, ignore_errors=True)


def start(requested: dict[str, list[str]], base: str) -> Agents:
    """The agents for ``--ssh`` (id -> sockets or key files) in ``base``."""
    agents = Agents(base)
    try:
        for ssh_id, paths in requested.items():
            agents.add(ssh_id, paths)
    except BaseException:
        agents.close()
        raise
    return agents


def _accepts(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as s:
        try:
            s.connect(path)
        except OSError:
            return False
    return True


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


# ssh-agent is often set-group-ID (Debian: group _ssh), and exec'ing such a file
# clears the parent-death signal; so a shell holds it (and the signal): told to
# stop, by us or by the kernel when the build dies, it stops the agent and waits.
_KEEPER = (
    "trap 'kill -TERM $! 2>/dev/null; wait; exit 0' TERM INT HUP; ssh-agent -D -a \"$1\" & wait"
)


def _die_with_parent() -> None:
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


# ----------------------------------------------------------------- a step's socket


@contextlib.contextmanager
def forwarded(agent: str, directory: str, uid: int, gid: int, mode: int) -> Iterator[str]:
    """A socket in ``directory`` (returned as its real path, for the bind mount)
    relaying each connection to ``agent`` until the block ends."""
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    conns: list[socket.socket] = []
    lock = threading.Lock()
    try:
        listener.bind(f"/proc/self/fd/{dir_fd}/ssh.sock")
        real = os.path.join(directory, "ssh.sock")
        os.chown(real, uid, gid)
        os.chmod(real, mode)
        listener.listen(16)

        def serve(conn: socket.socket) -> None:
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            with lock:
                conns.append(up)
            try:
                up.connect(agent)
            except OSError:
                conn.close()
                up.close()
                return
            back = threading.Thread(target=_pump, args=(up, conn), daemon=True)
            back.start()
            _pump(conn, up)
            back.join()
            conn.close()
            up.close()

        def accept() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with lock:
                    conns.append(conn)
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

        acceptor = threading.Thread(target=accept, daemon=True)
        acceptor.start()
        try:
            yield real
        finally:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
            acceptor.join(5)
            with lock:
                for c in conns:
                    with contextlib.suppress(OSError):
                        c.shutdown(socket.SHUT_RDWR)
    finally:
        listener.close()
        os.close(dir_fd)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


__all__ = ["Agents", "forwarded", "start"]
