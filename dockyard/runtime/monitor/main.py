"""The monitor process: parse, daemonize (unless already), supervise, exit.

Imports are deliberately few (no ``argparse``, ``json``, ``subprocess``, ``logging``,
``asyncio``): every running container pays for them in memory.
"""

from __future__ import annotations

import os
import sys

from .options import USAGE, Options, parse

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the monitor memory
if TYPE_CHECKING:
    from collections.abc import Callable

PR_SET_CHILD_SUBREAPER = 36


def libc_prctl() -> Callable[..., int]:
    """libc's ``prctl``, looked up ahead of a fork (no dlopen in a forked child)."""
    import ctypes

    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


def set_subreaper(prctl: Callable[..., int] | None = None) -> None:
    """Become the child subreaper: the container is reparented to us when the runtime exits.

    The flag survives ``execve``, so :func:`.launch.spawn` sets it before it execs
    the monitor and passes ``--daemonized``; only a hand-started monitor pays for ctypes.
    """
    if prctl is None:
        prctl = libc_prctl()
    if prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError("prctl(PR_SET_CHILD_SUBREAPER) failed")


def detach_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def daemonize(opts: Options) -> None:
    """Double fork and setsid. The first process waits for the monitor's report and exits."""
    if opts.sync_fd < 0:
        r, w = os.pipe()
        opts.sync_fd = w
    else:
        r = -1
    pid = os.fork()
    if pid > 0:
        if r < 0:
            os._exit(0)
        os.close(opts.sync_fd)
        report = b""
        while chunk := os.read(r, 4096):
            report += chunk
        os.waitpid(pid, 0)
        ok = report.startswith(b'{"Pid"')
        if not ok:
            sys.stderr.write(report.decode(errors="replace") or "monitor failed\n")
        os._exit(0 if ok else 1)
    if r >= 0:
        os.close(r)
    become_daemon()


def become_daemon(prctl: Callable[..., int] | None = None) -> None:
    """In a forked child: a session of its own, fork again (the caller exits, so the
    monitor is nobody's child but init's), and become the child subreaper.

    What :func:`.launch.spawn` does before it execs a monitor, and what the zygote
    does for each monitor it forks."""
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    set_subreaper(prctl)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        opts = parse(args)
    except ValueError as e:
        sys.stderr.write(f"dockyard-monitor: {e}\n{USAGE}\n")
        raise SystemExit(2) from None
    if not opts.daemonized:
        daemonize(opts)
    run(opts)


def run(opts: Options) -> None:
    """Supervise the container and exit: every monitor's life once daemonized
    (an exec'd one from :func:`main`, a forked one from the zygote)."""
    if opts.sync_fd >= 0:
        os.set_inheritable(opts.sync_fd, False)
    detach_stdio()
    os.umask(0o022)
    from .supervisor import Supervisor

    try:
        code = Supervisor(opts).run()
    except BaseException as e:  # leave a trace: nobody sees a daemon's stderr
        try:
            with open(os.path.join(opts.state_dir, "monitor.err"), "a") as f:
                f.write(f"{type(e).__name__}: {e}\n")
        except OSError:
            pass
        raise
    os._exit(code & 0xFF)
