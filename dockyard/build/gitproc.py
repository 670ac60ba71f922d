"""Running ``git`` (and its helpers) for a build so that nothing outlives it.

git starts helpers of its own (``ssh``, ``git-remote-http``, ``index-pack``), and
a child killed alone leaves them running, writing into a directory the build is
removing. So each command runs in a process group of its own, killed as a group
when the build is interrupted (Ctrl-C, ``kill``), cancelled (another stage
failed) or the command times out; and git gets SIGKILL from the kernel if the
build process dies (``kill -9``). A group of its own also keeps a terminal's
Ctrl-C from reaching git before the build has decided what to do.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable


class Cancelled(Exception):
    """The build was cancelled: no new git command starts."""


class GitRunner:
    """One build's git commands: those running now can all be killed at once."""

    def __init__(self) -> None:
        self._running: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()
        self._cancelled = False

    def run(
        self, argv: list[str], env: dict[str, str], cwd: str | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """``subprocess.run`` with the output captured; raises FileNotFoundError,
        subprocess.TimeoutExpired, Cancelled, or what interrupted the wait."""
        with self._lock:
            if self._cancelled:
                raise Cancelled()
            proc = subprocess.Popen(
                argv, env=env, cwd=cwd, text=True, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True, preexec_fn=_die_with_parent(),
            )  # fmt: skip
            self._running.add(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            with self._lock:
                self._running.discard(proc)
        if self._cancelled and proc.returncode == -signal.SIGKILL:
            raise Cancelled()
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)

    def cancel(self) -> None:
        """Kill the running commands (their callers see Cancelled) and refuse new ones."""
        with self._lock:
            self._cancelled = True
            procs = list(self._running)
        for proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


_prctl: Callable[..., int] | None = None


def _die_with_parent() -> Callable[[], None] | None:
    """The child-side hook asking for SIGKILL when its parent dies; libc is looked
    up here, before the fork, so the child runs no Python import."""
    global _prctl
    if _prctl is None:
        import ctypes

        try:
            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            return None
    prctl = _prctl

    def hook() -> None:
        prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG

    return hook


DEFAULT = GitRunner()  # for callers outside a build (tests, tools)

__all__ = ["DEFAULT", "Cancelled", "GitRunner"]
