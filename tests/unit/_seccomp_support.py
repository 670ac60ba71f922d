"""Helpers for the seccomp tests: a naive Docker-profile converter and a forked-child runner."""

from __future__ import annotations

import ctypes
import json
import os
import platform
import resource
import select
import signal
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DOCKER_PROFILE = Path("/work/shared/reference/docker-default-seccomp.json")


def _has_libseccomp() -> bool:
    try:
        ctypes.CDLL("libseccomp.so.2")
    except OSError:
        return False
    return True


needs_libseccomp = pytest.mark.skipif(not _has_libseccomp(), reason="needs libseccomp.so.2")
needs_docker_profile = pytest.mark.skipif(
    not DOCKER_PROFILE.exists(), reason="needs the reference Docker seccomp profile"
)


def docker_profile_as_oci(path: Path = DOCKER_PROFILE) -> dict[str, Any]:
    """Docker's profile format turned into OCI naively: every entry, includes/excludes ignored."""
    docker = json.loads(path.read_text())
    native = "SCMP_ARCH_" + platform.machine().upper()
    arches: list[str] = []
    for entry in docker.get("archMap") or []:
        if entry["architecture"] == native:  # Docker takes only the host's entry
            arches += [entry["architecture"], *(entry.get("subArchitectures") or [])]
    syscalls = []
    for entry in docker["syscalls"]:
        rule: dict[str, Any] = {"names": list(entry["names"]), "action": entry["action"]}
        if "errnoRet" in entry:
            rule["errnoRet"] = entry["errnoRet"]
        if entry.get("args"):
            rule["args"] = [
                {k: a[k] for k in ("index", "value", "valueTwo", "op") if k in a}
                for a in entry["args"]
            ]
        syscalls.append(rule)
    oci: dict[str, Any] = {
        "defaultAction": docker["defaultAction"],
        "architectures": arches,
        "syscalls": syscalls,
    }
    if "defaultErrnoRet" in docker:
        oci["defaultErrnoRet"] = docker["defaultErrnoRet"]
    return oci


libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39


def raw_syscall(nr: int, *args: int) -> int:
    """syscall(2); returns the result, or -errno."""
    res = int(libc.syscall(ctypes.c_long(nr), *(ctypes.c_ulong(a) for a in args)))
    return -ctypes.get_errno() if res == -1 else res


def syscall_number(name: str) -> int:
    lib = ctypes.CDLL("libseccomp.so.2")
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    nr = int(lib.seccomp_syscall_resolve_name(name.encode()))
    assert nr >= 0, name
    return nr


def in_child(
    body: Callable[[], object], timeout: float = 30.0, no_new_privs: bool = True
) -> tuple[int, Any]:
    """Run ``body`` in a forked child with no_new_privs set (unless told) and no core dumps.

    Returns the child's wait status and what ``body`` returned (JSON through a pipe;
    None if the child died before writing). Loading a seccomp filter is irreversible,
    so every load happens in here, never in the test process.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            os.close(r)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if no_new_privs and libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
            payload = json.dumps({"ok": body()})
        except BaseException:
            payload = json.dumps({"error": traceback.format_exc()})
            code = 99
        try:
            os.write(w, payload.encode())
        finally:
            os._exit(code)
    os.close(w)
    data = b""
    status = 0
    deadline = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("seccomp test child hung")
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
        _, status = os.waitpid(pid, 0)
        pid = 0
    finally:
        os.close(r)
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    result = json.loads(data) if data else None
    if result is not None and "error" in result:
        raise AssertionError("child failed:\n" + result["error"])
    return status, None if result is None else result["ok"]
