"""Compiling filters with the real libseccomp (nothing is loaded into this process)."""

from __future__ import annotations

import struct

import pytest

from dockyard.errors import InvalidArgument, Unsupported
from dockyard.runtime.linux import seccomp
from tests.unit._seccomp_support import (
    docker_profile_as_oci,
    needs_docker_profile,
    needs_libseccomp,
)

pytestmark = needs_libseccomp

CHMOD_DENIED = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO"}],
}


def instructions(bpf: bytes) -> list[tuple[int, int, int, int]]:
    assert len(bpf) % 8 == 0
    return [struct.unpack_from("=HBBI", bpf, i) for i in range(0, len(bpf), 8)]


def test_export_bpf_gives_a_program() -> None:
    with seccomp.compile_filter(CHMOD_DENIED) as filt:
        bpf = filt.export_bpf()
    prog = instructions(bpf)
    assert prog
    # every path ends in a BPF_RET (class 0x06); the ERRNO(EPERM) and ALLOW values appear
    returns = {k for code, _, _, k in prog if code & 0x07 == 0x06}
    assert seccomp.act_errno(1) in returns
    assert seccomp.SCMP_ACT_ALLOW in returns


def test_more_rules_make_a_bigger_program_and_filters_are_independent() -> None:
    small = seccomp.compile_filter(CHMOD_DENIED)
    bigger = seccomp.compile_filter(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {
                    "names": ["chmod", "fchmodat", "mkdir", "rmdir"],
                    "action": "SCMP_ACT_ERRNO",
                    "errnoRet": 13,
                },
                {
                    "names": ["personality"],
                    "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}],
                },
            ],
        }
    )
    try:
        assert len(bigger.export_bpf()) > len(small.export_bpf())
        assert seccomp.act_errno(13) in {k for *_, k in instructions(bigger.export_bpf())}
    finally:
        small.close()
        bigger.close()
    small.close()  # closing twice is harmless
    with pytest.raises(Exception, match="released"):
        small.export_bpf()


def test_unknown_syscall_names_are_skipped() -> None:
    with seccomp.compile_filter(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["no_such_syscall_xyz", "chmod"], "action": "SCMP_ACT_ERRNO"}],
        }
    ) as filt:
        assert filt.skipped == ["no_such_syscall_xyz"]
        assert filt.export_bpf()


def test_same_arg_index_conditions_compile() -> None:
    # libseccomp alone refuses two conditions on arg 0 in one rule; runc's split makes it work
    with seccomp.compile_filter(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {
                    "names": ["personality"],
                    "action": "SCMP_ACT_ERRNO",
                    "args": [
                        {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                        {"index": 0, "value": 0x20000, "op": "SCMP_CMP_EQ"},
                    ],
                }
            ],
        }
    ) as filt:
        assert filt.export_bpf()


def test_flags_and_existing_native_arch() -> None:
    spec = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86_64"],
        "flags": seccomp.supported_flags(),
        "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_LOG"}],
    }
    with seccomp.compile_filter(spec) as filt:
        assert filt.export_bpf()


def test_invalid_action_raises_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="SCMP_ACT_WHATEVER"):
        seccomp.compile_filter(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_WHATEVER"}],
            }
        )


def test_notify_raises_unsupported() -> None:
    with pytest.raises(Unsupported):
        seccomp.compile_filter(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_NOTIFY"}],
            }
        )


@needs_docker_profile
def test_docker_default_profile_compiles() -> None:
    profile = docker_profile_as_oci()
    assert len(profile["syscalls"]) > 20
    with seccomp.compile_filter(profile) as filt:
        bpf = filt.export_bpf()
    assert len(bpf) > 8 * 300  # hundreds of syscalls over several architectures


def test_features() -> None:
    actions = seccomp.supported_actions()
    assert {
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_TRACE",
    } <= set(actions)
    assert "SCMP_ACT_NOTIFY" not in actions
    arches = seccomp.supported_architectures()
    assert {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"} <= set(
        arches
    )
    assert set(arches) <= set(seccomp.ARCHITECTURES)
    assert seccomp.api_level() >= 1
    assert "SECCOMP_FILTER_FLAG_TSYNC" in seccomp.supported_flags()


def test_mixing_byte_orders_is_invalid() -> None:
    with pytest.raises(InvalidArgument, match="byte order"):
        seccomp.compile_filter(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_MIPS64"],
            }
        )


def test_operators() -> None:
    assert seccomp.supported_operators() == [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ]
