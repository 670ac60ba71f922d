"""Setting up the container process just before execve: rlimits, user, capabilities,
no_new_privs, seccomp, cwd and environment (runc's finalizeNamespace order)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

from dockyard.errors import InvalidArgument, Unsupported
from dockyard.runtime.linux import capabilities as caps
from dockyard.runtime.linux import syscalls as sc

RLIMITS = {
    "RLIMIT_CPU": 0,
    "RLIMIT_FSIZE": 1,
    "RLIMIT_DATA": 2,
    "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6,
    "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8,
    "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12,
    "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14,
    "RLIMIT_RTTIME": 15,
}
RLIM_INFINITY = 0xFFFFFFFFFFFFFFFF
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _as_limit(value: Any) -> int:
    v = int(value)
    return RLIM_INFINITY if v < 0 else v


def apply_rlimits(sys: sc.Syscalls, rlimits: list[dict[str, Any]] | None) -> None:
    """Set each rlimit; a hard limit above what we may raise keeps the current limits."""
    for entry in rlimits or []:
        name = str(entry.get("type", "")).upper()
        if name not in RLIMITS:
            raise InvalidArgument(f"unknown rlimit type {entry.get('type')!r}")
        resource = RLIMITS[name]
        soft, hard = _as_limit(entry.get("soft", 0)), _as_limit(entry.get("hard", 0))
        try:
            sys.setrlimit(resource, soft, hard)
        except PermissionError:
            _, cur_hard = sys.getrlimit(resource)
            sys.setrlimit(resource, min(soft, cur_hard), cur_hard)


def setup_user(sys: sc.Syscalls, user: dict[str, Any] | None) -> None:
    user = user or {}
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    groups = [int(g) for g in user.get("additionalGids") or []]
    try:
        sys.setgroups(groups)
    except PermissionError:
        # setgroups is denied in a user namespace without a gid mapping rule; runc skips it.
        if groups:
            raise
    sys.setresgid(gid)
    sys.setresuid(uid)
    umask = user.get("umask")
    if umask is not None:
        os.umask(int(umask))


def finalize(
    sys: sc.Syscalls,
    process: dict[str, Any],
    linux: dict[str, Any],
    *,
    before_exec: Callable[[], None] | None = None,
) -> None:
    """Everything from rlimits to execve. ``before_exec`` runs last (the exec fifo wait)."""
    apply_rlimits(sys, process.get("rlimits"))
    if process.get("oomScoreAdj") is not None:
        sys.write_file("/proc/self/oom_score_adj", str(int(process["oomScoreAdj"])))
    nnp = bool(process.get("noNewPrivileges"))
    seccomp = linux.get("seccomp")
    if seccomp and not nnp:
        load_seccomp(seccomp)  # needs CAP_SYS_ADMIN without no_new_privs: before the drop
    capabilities = process.get("capabilities")
    if capabilities is not None:
        caps.apply_bounding(sys, capabilities)
    sys.prctl(sc.PR_SET_KEEPCAPS, 1)
    setup_user(sys, process.get("user"))
    sys.prctl(sc.PR_SET_KEEPCAPS, 0)
    if capabilities is not None:
        caps.apply_sets(sys, capabilities)
    cwd = process.get("cwd") or "/"
    sys.chdir(cwd)
    if nnp:
        sys.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    env = environment(process.get("env"))
    args = list(process.get("args") or [])
    if not args:
        raise InvalidArgument("process.args must not be empty")
    path = resolve(args[0], env.get("PATH", DEFAULT_PATH))
    if seccomp and nnp:
        load_seccomp(seccomp)
    if before_exec is not None:
        before_exec()
    sys.execve(path, args, env)


def load_seccomp(profile: dict[str, Any]) -> None:
    import importlib

    try:
        seccomp = importlib.import_module("dockyard.runtime.linux.seccomp")
    except ImportError as exc:
        raise Unsupported(f"seccomp is not available in this build: {exc}") from exc
    seccomp.load_filter(profile)


def environment(env: list[str] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in env or []:
        key, sep, value = item.partition("=")
        if sep:
            result[key] = value
    return result


def resolve(arg0: str, path: str) -> str:
    """The executable for argv[0], searched in the container's PATH as execvp would."""
    if "/" in arg0:
        if not os.access(arg0, os.X_OK):
            raise InvalidArgument(f"exec: {arg0}: no such file or not executable")
        return arg0
    found = shutil.which(arg0, path=path)
    if found is None:
        raise InvalidArgument(f'exec: "{arg0}": executable file not found in $PATH')
    return found
