"""The pure half of seccomp: validating an OCI section and turning it into rules."""

from __future__ import annotations

import errno
from typing import Any

import pytest

from dockyard.errors import InvalidArgument, Unsupported
from dockyard.runtime.linux.seccomp import (
    SCMP_ACT_ALLOW,
    SCMP_ACT_KILL_PROCESS,
    SCMP_ACT_KILL_THREAD,
    SCMP_ACT_LOG,
    SCMP_ACT_TRAP,
    Condition,
    Rule,
    act_errno,
    act_trace,
    parse_seccomp,
)


def section(
    *syscalls: dict[str, Any], default: str = "SCMP_ACT_ALLOW", **extra: Any
) -> dict[str, Any]:
    return {"defaultAction": default, "syscalls": list(syscalls), **extra}


def test_action_values_match_seccomp_h() -> None:
    assert act_errno(errno.EPERM) == 0x00050001
    assert act_trace(7) == 0x7FF00007
    assert act_errno(0x12345) == 0x00052345  # only 16 bits travel
    cases = {
        "SCMP_ACT_KILL": SCMP_ACT_KILL_THREAD,
        "SCMP_ACT_KILL_THREAD": 0,
        "SCMP_ACT_KILL_PROCESS": 0x80000000,
        "SCMP_ACT_TRAP": 0x00030000,
        "SCMP_ACT_ALLOW": 0x7FFF0000,
        "SCMP_ACT_LOG": 0x7FFC0000,
        "SCMP_ACT_ERRNO": 0x00050001,
        "SCMP_ACT_TRACE": 0x7FF00001,
    }
    for name, value in cases.items():
        default = "SCMP_ACT_ERRNO" if name == "SCMP_ACT_ALLOW" else "SCMP_ACT_ALLOW"
        plan = parse_seccomp(section({"names": ["getpid"], "action": name}, default=default))
        assert plan.rules == (Rule("getpid", value, ()),), name


def test_errno_defaults_to_eperm_and_errnoret_is_used() -> None:
    plan = parse_seccomp(
        section(
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES},
            {"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 42},
            default="SCMP_ACT_ERRNO",
            defaultErrnoRet=errno.ENOSYS,
        )
    )
    assert plan.default_action == act_errno(errno.ENOSYS)
    assert [r.action for r in plan.rules] == [
        act_errno(errno.EPERM),
        act_errno(errno.EACCES),
        act_trace(42),
    ]


def test_rules_with_the_default_action_are_dropped() -> None:
    plan = parse_seccomp(
        section(
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2},
            default="SCMP_ACT_ERRNO",
        )
    )
    assert [r.name for r in plan.rules] == ["read", "write", "mkdir"]
    assert plan.entries == 4


def test_conditions_on_distinct_args_stay_in_one_rule() -> None:
    plan = parse_seccomp(
        section(
            {
                "names": ["socket"],
                "action": "SCMP_ACT_ERRNO",
                "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                    {"index": 2, "value": 0xFF, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"},
                ],
            }
        )
    )
    assert plan.rules == (
        Rule("socket", act_errno(1), (Condition(0, 4, 1, 0), Condition(2, 7, 0xFF, 3))),
    )


def test_repeated_arg_index_splits_every_condition_into_its_own_rule() -> None:
    args = [
        {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
        {"index": 1, "value": 2, "op": "SCMP_CMP_NE"},
        {"index": 0, "value": 9, "op": "SCMP_CMP_GT"},
    ]
    plan = parse_seccomp(section({"names": ["a", "b"], "action": "SCMP_ACT_LOG", "args": args}))
    assert [(r.name, r.action, r.conditions) for r in plan.rules] == [
        (name, SCMP_ACT_LOG, (cond,))
        for name in ("a", "b")
        for cond in (Condition(0, 4, 8, 0), Condition(1, 1, 2, 0), Condition(0, 6, 9, 0))
    ]


def test_all_ops_map() -> None:
    ops = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT"]
    args = [{"index": i, "value": 2**64 - 1, "op": op} for i, op in enumerate(ops)]
    plan = parse_seccomp(section({"names": ["x"], "action": "SCMP_ACT_TRAP", "args": args}))
    assert [c.op for c in plan.rules[0].conditions] == [1, 2, 3, 4, 5, 6]
    assert plan.rules[0].action == SCMP_ACT_TRAP


def test_architectures_and_flags_are_kept() -> None:
    plan = parse_seccomp(
        section(
            architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"],
            default="SCMP_ACT_KILL_PROCESS",
        )
    )
    assert plan.architectures == ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86")
    assert plan.flags == ("SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC")
    assert plan.default_action == SCMP_ACT_KILL_PROCESS
    assert plan.rules == ()


def test_no_syscalls_is_fine() -> None:
    assert parse_seccomp({"defaultAction": "SCMP_ACT_ALLOW"}).default_action == SCMP_ACT_ALLOW


@pytest.mark.parametrize(
    "seccomp",
    [
        {},
        {"defaultAction": "SCMP_ACT_BOGUS"},
        {"defaultAction": "scmp_act_allow"},
        {"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1},
        {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1},
        {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 0x10000},
        {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": "1"},
        {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]},
        {"defaultAction": "SCMP_ACT_ALLOW", "architectures": "SCMP_ARCH_X86"},
        {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]},
        section({"names": ["chmod"], "action": "SCMP_ACT_NOPE"}),
        section({"names": ["chmod"]}),
        section({"names": [], "action": "SCMP_ACT_ERRNO"}),
        section({"names": [""], "action": "SCMP_ACT_ERRNO"}),
        section({"names": "chmod", "action": "SCMP_ACT_ERRNO"}),
        section({"names": ["chmod"], "action": "SCMP_ACT_KILL", "errnoRet": 1}),
        section(
            {
                "names": ["x"],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}],
            }
        ),
        section(
            {
                "names": ["x"],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 0, "op": "EQ"}],
            }
        ),
        section(
            {
                "names": ["x"],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 2**64, "op": "SCMP_CMP_EQ"}],
            }
        ),
        section(
            {
                "names": ["x"],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "op": "SCMP_CMP_EQ"}],
            }
        ),
        section(
            {
                "names": ["x"],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": True, "value": 0, "op": "SCMP_CMP_EQ"}],
            }
        ),
        section("chmod"),  # type: ignore[arg-type]
    ],
)
def test_invalid_sections_raise_invalid_argument(seccomp: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        parse_seccomp(seccomp)


@pytest.mark.parametrize(
    "seccomp",
    [
        {"defaultAction": "SCMP_ACT_NOTIFY"},
        section({"names": ["chmod"], "action": "SCMP_ACT_NOTIFY"}, listenerPath="/run/agent.sock"),
        {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]},
    ],
)
def test_notify_is_refused_as_unsupported(seccomp: dict[str, Any]) -> None:
    with pytest.raises(Unsupported, match="NOTIFY"):
        parse_seccomp(seccomp)
