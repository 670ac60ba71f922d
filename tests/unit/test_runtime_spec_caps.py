"""Capabilities: Docker's defaults and moby's TweakCapabilities cases."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.spec.caps import (
    ALL_CAPABILITIES,
    DEFAULT_CAPABILITIES,
    normalize_capabilities,
    tweak_capabilities,
)
from dockyard.runtime.spec.host import capabilities_from_mask, parse_kernel_release

DOCKER_DEFAULTS = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]


def test_default_set_is_dockers_fourteen_in_order() -> None:
    assert list(DEFAULT_CAPABILITIES) == DOCKER_DEFAULTS
    assert tweak_capabilities(None, None, False) == DOCKER_DEFAULTS


def test_all_capabilities_in_kernel_number_order() -> None:
    assert len(ALL_CAPABILITIES) == 41
    assert ALL_CAPABILITIES[0] == "CAP_CHOWN"
    assert ALL_CAPABILITIES[21] == "CAP_SYS_ADMIN"
    assert ALL_CAPABILITIES[24] == "CAP_SYS_RESOURCE"
    assert ALL_CAPABILITIES[40] == "CAP_CHECKPOINT_RESTORE"


def test_add_accepts_any_case_with_or_without_prefix() -> None:
    caps = tweak_capabilities(["sys_admin", "CAP_net_admin", "Sys_Time"], None, False)
    assert caps == [*DOCKER_DEFAULTS, "CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_TIME"]


def test_drop_removes_and_keeps_order() -> None:
    caps = tweak_capabilities(None, ["chown", "CAP_KILL"], False)
    assert caps == [c for c in DOCKER_DEFAULTS if c not in ("CAP_CHOWN", "CAP_KILL")]


def test_drop_all_keeps_only_added() -> None:
    assert tweak_capabilities(["NET_BIND_SERVICE"], ["ALL"], False) == ["CAP_NET_BIND_SERVICE"]
    assert tweak_capabilities(None, ["all"], False) == []


def test_add_all_minus_drops() -> None:
    caps = tweak_capabilities(["ALL"], ["SYS_ADMIN"], False)
    assert caps == [c for c in ALL_CAPABILITIES if c != "CAP_SYS_ADMIN"]


def test_add_all_wins_over_drop_all() -> None:
    assert tweak_capabilities(["ALL"], ["ALL"], False) == list(ALL_CAPABILITIES)


def test_adding_a_default_does_not_duplicate() -> None:
    assert tweak_capabilities(["CHOWN"], None, False) == DOCKER_DEFAULTS


def test_privileged_is_every_available_capability() -> None:
    assert tweak_capabilities(None, ["ALL"], True) == list(ALL_CAPABILITIES)
    available = [c for c in ALL_CAPABILITIES if c != "CAP_SYS_RESOURCE"]
    assert tweak_capabilities(None, None, True, available) == available


def test_unknown_capability_uses_dockers_message() -> None:
    with pytest.raises(InvalidArgument) as e:
        tweak_capabilities(["foo"], None, False)
    assert str(e.value) == 'unknown capability: "CAP_FOO"'
    with pytest.raises(InvalidArgument, match='unknown capability: "CAP_BAR"'):
        tweak_capabilities(None, ["bar"], False)


def test_capability_missing_from_environment_is_refused() -> None:
    available = [c for c in ALL_CAPABILITIES if c != "CAP_SYS_RESOURCE"]
    with pytest.raises(InvalidArgument) as e:
        normalize_capabilities(["SYS_RESOURCE"], available)
    assert str(e.value) == (
        "capability not supported by your kernel or not available in the current "
        'environment: "CAP_SYS_RESOURCE"'
    )


def test_bounding_mask_decoding() -> None:
    assert capabilities_from_mask(0x1) == ("CAP_CHOWN",)
    full = (1 << 41) - 1
    assert capabilities_from_mask(full) == ALL_CAPABILITIES
    without_resource = full & ~(1 << 24)
    assert "CAP_SYS_RESOURCE" not in capabilities_from_mask(without_resource)


def test_kernel_release_parsing() -> None:
    assert parse_kernel_release("6.1.0-18-amd64") == (6, 1)
    assert parse_kernel_release("5.15.90.1-microsoft-standard-WSL2") == (5, 15)
    assert parse_kernel_release("garbage") == (0, 0)
