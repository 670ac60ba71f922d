"""Docker-format seccomp profiles converted to the OCI section, as moby's setupSeccomp does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.spec.caps import ALL_CAPABILITIES, DEFAULT_CAPABILITIES
from dockyard.runtime.spec.seccomp import default_profile, parse_profile, to_oci

REFERENCE = Path("/work/shared/reference/docker-default-seccomp.json")
DEFAULTS = list(DEFAULT_CAPABILITIES)


def allowed(section: dict[str, Any]) -> set[str]:
    """Names allowed unconditionally (rules without argument filters)."""
    return {
        n
        for r in section["syscalls"]
        if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args")
        for n in r["names"]
    }


def rules_for(section: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [r for r in section["syscalls"] if name in r["names"]]


def default_oci(caps: list[str], arch: str = "amd64", kernel: tuple[int, int] = (6, 1)) -> Any:
    return to_oci(default_profile(), caps, arch, kernel)


def test_shipped_profile_is_dockers() -> None:
    if not REFERENCE.exists():
        pytest.skip("reference profile not present")
    assert default_profile() == json.loads(REFERENCE.read_text())


def test_top_level_fields() -> None:
    s = default_oci(DEFAULTS)
    assert s["defaultAction"] == "SCMP_ACT_ERRNO"
    assert s["defaultErrnoRet"] == 1
    assert s["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert "archMap" not in s
    for rule in s["syscalls"]:
        assert set(rule) <= {"names", "action", "errnoRet", "args"}


def test_architectures_follow_host_arch() -> None:
    assert default_oci(DEFAULTS, "arm64")["architectures"] == [
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM",
    ]
    assert default_oci(DEFAULTS, "riscv64")["architectures"] == ["SCMP_ARCH_RISCV64"]
    assert "architectures" not in default_oci(DEFAULTS, "ppc64le")  # not in the archMap


def test_reboot_needs_cap_sys_boot() -> None:
    assert "reboot" not in allowed(default_oci(DEFAULTS))
    assert "reboot" in allowed(default_oci([*DEFAULTS, "CAP_SYS_BOOT"]))


def test_chroot_allowed_with_default_caps_but_not_without_sys_chroot() -> None:
    assert "chroot" in allowed(default_oci(DEFAULTS))
    no_chroot = [c for c in DEFAULTS if c != "CAP_SYS_CHROOT"]
    assert "chroot" not in allowed(default_oci(no_chroot))


def test_sys_admin_switches_clone_rules() -> None:
    plain = default_oci(DEFAULTS)
    clone = rules_for(plain, "clone")
    assert clone == [
        {
            "names": ["clone"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
        }
    ]
    assert rules_for(plain, "clone3") == [
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
    ]
    assert "mount" not in allowed(plain)

    admin = default_oci([*DEFAULTS, "CAP_SYS_ADMIN"])
    assert {"clone", "clone3", "mount", "umount2", "setns", "unshare"} <= allowed(admin)
    assert all(r["action"] == "SCMP_ACT_ALLOW" for r in rules_for(admin, "clone3"))
    assert not any(r.get("args") for r in rules_for(admin, "clone"))


def test_s390_clone_rule_only_on_s390() -> None:
    s = default_oci(DEFAULTS, "s390x")
    clone = rules_for(s, "clone")
    assert [r["args"][0]["index"] for r in clone] == [1]


def test_arch_specific_rules() -> None:
    assert "arch_prctl" in allowed(default_oci(DEFAULTS, "amd64"))
    assert "arch_prctl" not in allowed(default_oci(DEFAULTS, "arm64"))
    assert "modify_ldt" in allowed(default_oci(DEFAULTS, "386"))
    assert "arm_fadvise64_64" in allowed(default_oci(DEFAULTS, "arm64"))


def test_min_kernel_rules() -> None:
    assert "ptrace" in allowed(default_oci(DEFAULTS, kernel=(6, 1)))
    assert "ptrace" in allowed(default_oci(DEFAULTS, kernel=(4, 8)))
    assert "ptrace" not in allowed(default_oci(DEFAULTS, kernel=(4, 4)))
    # CAP_SYS_PTRACE allows it whatever the kernel.
    assert "ptrace" in allowed(default_oci([*DEFAULTS, "CAP_SYS_PTRACE"], kernel=(4, 4)))


def test_all_caps_allows_every_capability_gated_call() -> None:
    s = default_oci(list(ALL_CAPABILITIES))
    assert {"reboot", "bpf", "perf_event_open", "syslog", "init_module", "acct"} <= allowed(s)
    assert not rules_for(s, "clone3") or all(
        r["action"] == "SCMP_ACT_ALLOW" for r in rules_for(s, "clone3")
    )


def test_socket_argument_rules_kept() -> None:
    s = default_oci(DEFAULTS)
    socket = rules_for(s, "socket")
    assert [r["args"][0]["value"] for r in socket] == [38, 39, 40]
    assert [r["args"][0]["op"] for r in socket] == ["SCMP_CMP_LT", "SCMP_CMP_EQ", "SCMP_CMP_GT"]


def test_custom_profile_with_name_and_architectures() -> None:
    profile = parse_profile(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [
                    {"name": "chmod", "action": "SCMP_ACT_ERRNO", "comment": "old style"},
                    {
                        "names": ["mkdir"],
                        "action": "SCMP_ACT_ERRNO",
                        "errnoRet": 13,
                        "excludes": {"caps": ["CAP_DAC_OVERRIDE"]},
                    },
                ],
            }
        )
    )
    s = to_oci(profile, DEFAULTS)
    assert s == {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_ERRNO"}],
    }


def test_empty_profile_disables_seccomp() -> None:
    assert to_oci({}, DEFAULTS) is None
    assert to_oci({"syscalls": []}, DEFAULTS) is None


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (
            {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["x"], "archMap": [{}]},
            "both 'architectures' and 'archMap'",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}],
            },
            "both 'name' and 'names'",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [
                    {"names": ["b"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4"}}
                ],
            },
            "invalid kernel version",
        ),
    ],
)
def test_invalid_profiles(profile: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        to_oci(profile, DEFAULTS)


def test_undecodable_profile() -> None:
    with pytest.raises(InvalidArgument, match="Decoding seccomp profile failed"):
        parse_profile("{not json")
