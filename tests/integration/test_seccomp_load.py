"""Loading filters for real. A filter cannot be removed, so each one goes into a forked child."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import InvalidArgument, SystemFailure
from dockyard.runtime.linux.seccomp import compile_filter, load_filter
from tests.unit._seccomp_support import (
    PR_GET_NO_NEW_PRIVS,
    docker_profile_as_oci,
    in_child,
    libc,
    needs_docker_profile,
    needs_libseccomp,
    raw_syscall,
    syscall_number,
)

pytestmark = needs_libseccomp


def allow_but(*syscalls: dict[str, Any]) -> dict[str, Any]:
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": list(syscalls)}


def chmod_errno(path: Path) -> int:
    try:
        os.chmod(path, 0o600)
    except OSError as e:
        return e.errno or -1
    return 0


def killed_by(status: int) -> int | None:
    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else None


def test_errno_on_chmod_leaves_other_calls_working(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    profile = allow_but({"names": ["chmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO"})

    def body() -> dict[str, Any]:
        before = chmod_errno(target)
        load_filter(profile)
        return {
            "before": before,
            "after": chmod_errno(target),
            "read": target.read_text(),
            "pid": os.getpid(),
            "listdir": sorted(os.listdir(tmp_path)),
        }

    status, out = in_child(body)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert out["before"] == 0
    assert out["after"] == errno.EPERM
    assert out["read"] == "x" and out["listdir"] == ["f"]
    # the test process itself is unaffected
    os.chmod(target, 0o644)


def test_errno_ret_and_trace_without_tracer(tmp_path: Path) -> None:
    profile = allow_but(
        {
            "names": ["chmod", "fchmodat", "fchmodat2"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": errno.EROFS,
        },
        {"names": ["getppid"], "action": "SCMP_ACT_TRACE", "errnoRet": 5},
    )

    def body() -> list[int]:
        load_filter(profile)
        # with no tracer attached the kernel fails a TRACE'd syscall with ENOSYS
        return [chmod_errno(tmp_path), raw_syscall(syscall_number("getppid"))]

    status, out = in_child(body)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert out == [errno.EROFS, -errno.ENOSYS]


def test_arg_condition_on_personality() -> None:
    nr = syscall_number("personality")
    profile = allow_but(
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}],
        }
    )

    def body() -> list[int]:
        load_filter(profile)
        return [raw_syscall(nr, 0), raw_syscall(nr, 0xFFFFFFFF), raw_syscall(nr, 8)]

    status, out = in_child(body)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert out[0] >= 0  # personality(0) is allowed
    assert out[1:] == [-errno.EPERM, -errno.EPERM]


def test_conditions_on_the_same_arg_become_alternatives() -> None:
    nr = syscall_number("personality")
    profile = allow_but(
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": errno.EACCES,
            "args": [
                {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 0x20000, "op": "SCMP_CMP_EQ"},
            ],
        }
    )

    def body() -> list[int]:
        load_filter(profile)
        return [raw_syscall(nr, 8), raw_syscall(nr, 0x20000), raw_syscall(nr, 0xFFFFFFFF)]

    status, out = in_child(body)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert out[:2] == [-errno.EACCES, -errno.EACCES]
    assert out[2] >= 0


def test_masked_eq_condition() -> None:
    nr = syscall_number("personality")
    profile = allow_but(
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": 0xFF, "valueTwo": 0x08, "op": "SCMP_CMP_MASKED_EQ"}],
        }
    )

    def body() -> list[int]:
        load_filter(profile)
        return [raw_syscall(nr, 0x0108), raw_syscall(nr, 0x0000)]

    status, out = in_child(body)
    assert os.WIFEXITED(status)
    assert out[0] == -errno.EPERM and out[1] >= 0


@pytest.mark.parametrize(
    "action", ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"]
)
def test_kill_on_getppid_kills_with_sigsys(action: str) -> None:
    def body() -> str:
        load_filter(allow_but({"names": ["getppid"], "action": action}))
        os.getppid()
        return "survived"

    status, out = in_child(body)
    assert killed_by(status) == signal.SIGSYS
    assert out is None


def test_trap_delivers_sigsys() -> None:
    def body() -> dict[str, Any]:
        seen: list[int] = []
        signal.signal(signal.SIGSYS, lambda signum, frame: seen.append(signum))
        load_filter(allow_but({"names": ["getppid"], "action": "SCMP_ACT_TRAP"}))
        raw_syscall(syscall_number("getppid"))
        return {"seen": seen}

    status, out = in_child(body)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert out["seen"] == [signal.SIGSYS]

    def unhandled() -> str:
        load_filter(allow_but({"names": ["getppid"], "action": "SCMP_ACT_TRAP"}))
        raw_syscall(syscall_number("getppid"))
        return "survived"

    status, out = in_child(unhandled)
    assert killed_by(status) == signal.SIGSYS


@pytest.mark.parametrize("action", ["SCMP_ACT_LOG", "SCMP_ACT_ALLOW"])
def test_log_and_allow_let_the_call_through(action: str) -> None:
    parent = os.getpid()

    def body() -> int:
        default = "SCMP_ACT_LOG" if action == "SCMP_ACT_ALLOW" else "SCMP_ACT_ALLOW"
        load_filter(
            {"defaultAction": default, "syscalls": [{"names": ["getppid"], "action": action}]}
        )
        return os.getppid()

    status, out = in_child(body)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert out == parent


def test_unknown_names_are_skipped_and_the_rest_applies(tmp_path: Path) -> None:
    profile = allow_but(
        {
            "names": ["no_such_syscall_xyz", "chmod", "fchmodat", "fchmodat2", "also_not_real"],
            "action": "SCMP_ACT_ERRNO",
        }
    )

    def body() -> int:
        load_filter(profile)
        return chmod_errno(tmp_path)

    status, out = in_child(body)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert out == errno.EPERM


def test_invalid_action_raises_before_anything_is_loaded(tmp_path: Path) -> None:
    def body() -> list[Any]:
        try:
            load_filter(allow_but({"names": ["chmod"], "action": "SCMP_ACT_EXPLODE"}))
        except InvalidArgument as e:
            return [str(e), chmod_errno(tmp_path)]
        return ["loaded"]

    status, out = in_child(body)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert "SCMP_ACT_EXPLODE" in out[0]
    assert out[1] == 0  # no filter went in


def test_compile_before_fork_load_after() -> None:
    with compile_filter(
        allow_but({"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33})
    ) as filt:

        def body() -> int:
            filt.load()
            return raw_syscall(syscall_number("getppid"))

        status, out = in_child(body)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert out == -33


@needs_docker_profile
def test_docker_default_profile_loads_and_a_shell_runs_under_it() -> None:
    profile = docker_profile_as_oci()
    personality = syscall_number("personality")
    keyctl = syscall_number("keyctl")

    def probe() -> list[int]:
        load_filter(profile)
        # personality is allowed for a few listed values only; keyctl is in no rule at all
        return [
            raw_syscall(personality, 0xFFFFFFFF),
            raw_syscall(personality, 1),
            raw_syscall(keyctl, 0, 2**64 - 3, 0),
            os.getppid(),
        ]

    status, out = in_child(probe)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert out[0] >= 0
    assert out[1:3] == [-errno.EPERM, -errno.EPERM]
    assert out[3] == os.getpid()

    profile_enosys = {**profile, "defaultErrnoRet": errno.ENOSYS}

    def probe_default() -> int:
        load_filter(profile_enosys)
        return raw_syscall(keyctl, 0, 2**64 - 3, 0)

    status, out = in_child(probe_default)
    assert out == -errno.ENOSYS

    def shell() -> None:
        load_filter(profile)
        os.execv("/bin/sh", ["sh", "-c", "/bin/true && test -d / && exit 7"])

    status, out = in_child(shell)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 7, status
    assert out is None  # exec closed the pipe without a report


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@needs_root
def test_with_cap_sys_admin_no_new_privs_is_left_to_the_caller() -> None:
    def body() -> list[int]:
        load_filter(allow_but({"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}))
        return [
            int(libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)),
            raw_syscall(syscall_number("getppid")),
        ]

    status, out = in_child(body, no_new_privs=False)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert out == [0, -errno.EPERM]


@needs_root
def test_without_privilege_or_no_new_privs_loading_fails_with_system_failure() -> None:
    def body() -> str:
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)  # drops every capability
        try:
            load_filter(allow_but({"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}))
        except SystemFailure as e:
            return str(e)
        return "loaded"

    status, out = in_child(body, no_new_privs=False)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert "loading the filter" in out and "ermission denied" in out
