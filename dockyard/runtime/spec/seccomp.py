"""Docker-format seccomp profiles turned into the OCI ``linux.seccomp`` section.

A port of ``github.com/moby/profiles/seccomp`` (``setupSeccomp``): a rule is kept
only when its ``includes`` match (all listed capabilities in the container's
bounding set, the host architecture listed, kernel at least ``minKernel``) and
its ``excludes`` do not (any listed capability present, the architecture
listed, kernel at least ``minKernel``). ``archMap`` expands to the host
architecture and its sub-architectures. The default profile ships as package
data (``seccomp_default.json``, Docker's, Apache-2.0).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from functools import cache

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every container start ~3 ms to import
    from typing import Any

# GOARCH -> libseccomp's native arch name -> SCMP_ARCH_* (moby's goToNative/nativeToSeccomp).
_GO_TO_NATIVE = {
    "386": "x86", "amd64": "amd64", "arm": "arm", "arm64": "arm64", "mips64": "mips64",
    "mips64p32": "mips64n32", "mips64le": "mipsel64", "mips64p32le": "mips3l64n32",
    "mipsle": "mipsel", "ppc": "ppc", "ppc64": "ppc64", "ppc64le": "ppc64le",
    "riscv64": "riscv64", "s390": "s390", "s390x": "s390x",
}  # fmt: skip
_NATIVE_TO_SECCOMP = {
    "x86": "SCMP_ARCH_X86", "amd64": "SCMP_ARCH_X86_64", "arm": "SCMP_ARCH_ARM",
    "arm64": "SCMP_ARCH_AARCH64", "mips64": "SCMP_ARCH_MIPS64",
    "mips64n32": "SCMP_ARCH_MIPS64N32", "mipsel64": "SCMP_ARCH_MIPSEL64",
    "mips3l64n32": "SCMP_ARCH_MIPSEL64N32", "mipsle": "SCMP_ARCH_MIPSEL",
    "ppc": "SCMP_ARCH_PPC", "ppc64": "SCMP_ARCH_PPC64", "ppc64le": "SCMP_ARCH_PPC64LE",
    "riscv64": "SCMP_ARCH_RISCV64", "s390": "SCMP_ARCH_S390", "s390x": "SCMP_ARCH_S390X",
}  # fmt: skip

# Fields of runtime-spec's LinuxSeccomp / LinuxSyscall / LinuxSeccompArg that carry over.
_PROFILE_FIELDS = ("defaultAction", "defaultErrnoRet", "flags", "listenerPath", "listenerMetadata")
_SYSCALL_FIELDS = ("names", "action", "errnoRet", "args")
_ARG_FIELDS = ("index", "value", "valueTwo", "op")


@cache
def _default_profile_text() -> str:
    # a plain open, not importlib.resources: that costs every container start ~5 ms
    path = os.path.join(os.path.dirname(__file__), "seccomp_default.json")
    with open(path, encoding="utf-8") as f:
        return f.read()


def default_profile() -> dict[str, Any]:
    """A fresh copy of Docker's default profile (Docker's format, not OCI's)."""
    doc: dict[str, Any] = json.loads(_default_profile_text())
    return doc


def parse_profile(text: str) -> dict[str, Any]:
    """Decode a ``--security-opt seccomp=<json>`` profile."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise InvalidArgument(f"Decoding seccomp profile failed: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("Decoding seccomp profile failed: expected a JSON object")
    return doc


def _parse_kernel(v: Any) -> tuple[int, int]:
    bad = f'invalid kernel version: "{v}", expected "<kernel>.<major>"'
    if not isinstance(v, str):
        raise InvalidArgument(bad)
    parts = v.split(".", 2)
    if len(parts) != 2 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise InvalidArgument(bad)
    version = (int(parts[0]), int(parts[1]))
    if version == (0, 0):
        raise InvalidArgument(bad + ": version cannot be 0.0")
    return version


def _strings(v: Any) -> list[str]:
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


def _copy_syscall(call: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _SYSCALL_FIELDS:
        value = call.get(key)
        if value in (None, [], ""):
            continue
        if key == "args":
            value = [{k: a[k] for k in _ARG_FIELDS if a.get(k) is not None} for a in value]
            for a in value:
                a.setdefault("index", 0)
                a.setdefault("value", 0)
        out[key] = value
    return out


def _rule_applies(
    call: Mapping[str, Any], arch: str, caps: Sequence[str], kernel: tuple[int, int]
) -> bool:
    excludes = call.get("excludes") or {}
    includes = call.get("includes") or {}
    if arch in _strings(excludes.get("arches")):
        return False
    if any(c in caps for c in _strings(excludes.get("caps"))):
        return False
    if excludes.get("minKernel") and kernel >= _parse_kernel(excludes["minKernel"]):
        return False
    inc_arches = _strings(includes.get("arches"))
    if inc_arches and arch not in inc_arches:
        return False
    if not all(c in caps for c in _strings(includes.get("caps"))):
        return False
    return not (includes.get("minKernel") and kernel < _parse_kernel(includes["minKernel"]))


def to_oci(
    profile: Mapping[str, Any],
    capabilities: Sequence[str],
    arch: str = "amd64",
    kernel: tuple[int, int] = (6, 1),
) -> dict[str, Any] | None:
    """Convert a Docker-format profile for a container with ``capabilities``.

    ``arch`` is a Go GOARCH name. Returns None for an empty profile (no default
    action and no syscalls), which Docker treats as "seccomp disabled".
    """
    syscalls = profile.get("syscalls") or []
    if not profile.get("defaultAction") and not syscalls:
        return None
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidArgument(
            "both 'architectures' and 'archMap' are specified in the seccomp profile, "
            "use either 'architectures' or 'archMap'"
        )
    out: dict[str, Any] = {}
    for key in _PROFILE_FIELDS:
        if profile.get(key) not in (None, "", []):
            out[key] = profile[key]
    arches = list(_strings(profile.get("architectures")))
    native = _GO_TO_NATIVE.get(arch, arch)
    scmp_arch = _NATIVE_TO_SECCOMP.get(native)
    if scmp_arch:
        for entry in profile.get("archMap") or []:
            if entry.get("architecture") == scmp_arch:
                arches.append(scmp_arch)
                arches.extend(_strings(entry.get("subArchitectures")))
                break
    if arches:
        out["architectures"] = arches
    rules: list[dict[str, Any]] = []
    for call in syscalls:
        if not isinstance(call, Mapping):
            raise InvalidArgument("Decoding seccomp profile failed: syscall must be an object")
        if call.get("name"):
            if call.get("names"):
                raise InvalidArgument(
                    "both 'name' and 'names' are specified in the seccomp profile, "
                    "use either 'name' or 'names'"
                )
            call = {**call, "names": [call["name"]]}
        if _rule_applies(call, native, capabilities, kernel):
            rules.append(_copy_syscall(call))
    if rules:
        out["syscalls"] = rules
    return out
