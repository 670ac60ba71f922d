"""The --console-socket protocol: the container opens a pty and sends its master over
a unix socket with SCM_RIGHTS, as runc does; the slave becomes its controlling tty."""

from __future__ import annotations

import array
import os
import socket

from dockyard.runtime.linux import syscalls as sc

TIOCSPTLCK = 0x40045431
TIOCGPTN = 0x80045430


def connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def open_pty() -> tuple[int, int, str]:
    """(master fd, slave fd, slave path) from /dev/ptmx of the current mount namespace."""
    import fcntl

    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, array.array("i", [0]))  # unlockpt
    number = array.array("I", [0])
    fcntl.ioctl(master, TIOCGPTN, number)
    path = f"/dev/pts/{number[0]}"
    slave = os.open(path, os.O_RDWR | os.O_NOCTTY)
    return master, slave, path


def send_fd(sock: socket.socket, fd: int, name: str) -> None:
    sock.sendmsg([name.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])


def recv_fd(sock: socket.socket) -> tuple[int, str]:
    """Receive one fd (for callers of the runtime and tests)."""
    fds = array.array("i")
    msg, ancdata, _flags, _addr = sock.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if not fds:
        raise OSError("no file descriptor received on the console socket")
    return fds[0], msg.decode(errors="replace")


def setup_console(sys: sc.Syscalls, sock: socket.socket) -> None:
    """Open a pty in the container, hand the master over, make the slave our tty and stdio."""
    master, slave, path = open_pty()
    try:
        send_fd(sock, master, path)
    finally:
        os.close(master)
        sock.close()
    sys.set_controlling_tty(slave)
    for fd in (0, 1, 2):
        sys.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def proxy(master: int, pid: int) -> int:
    """Copy our stdin to the pty master and the master to our stdout until ``pid`` exits.

    Our stdin goes raw while this runs when it is a terminal. Returns the exit code.
    """
    import select
    import termios
    import tty

    saved = None
    if os.isatty(0):
        saved = termios.tcgetattr(0)
        tty.setraw(0)
    stdin_open = True
    try:
        while True:
            fds = [master, 0] if stdin_open else [master]
            ready, _, _ = select.select(fds, [], [], 0.1)
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                os.write(1, data)
            if 0 in ready:
                data = os.read(0, 65536)
                if data:
                    os.write(master, data)
                else:
                    stdin_open = False
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return _code(status)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        os.close(master)
    _, status = os.waitpid(pid, 0)
    return _code(status)


def _code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)
