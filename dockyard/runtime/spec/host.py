"""The one impure helper: what this host offers, for :class:`~.types.HostInfo`.

Reads ``uname``, the capability bounding set from /proc/self/status and whether
/sys/fs/cgroup is a cgroup v2 (unified) mount. A hybrid host (v1 controllers plus
v2 at /sys/fs/cgroup/unified) counts as v1, as it does for Docker.
"""

from __future__ import annotations

import os
import re
from functools import cache

from dockyard.runtime.spec.caps import ALL_CAPABILITIES
from dockyard.runtime.spec.types import HostInfo

_MACHINE_TO_GOARCH = {
    "x86_64": "amd64", "i386": "386", "i686": "386", "aarch64": "arm64", "armv7l": "arm",
    "armv6l": "arm", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
    "mips64": "mips64",
}  # fmt: skip


def parse_kernel_release(release: str) -> tuple[int, int]:
    """``6.1.0-18-amd64`` -> (6, 1)."""
    m = re.match(r"(\d+)\.(\d+)", release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def capabilities_from_mask(mask: int) -> tuple[str, ...]:
    return tuple(c for i, c in enumerate(ALL_CAPABILITIES) if mask >> i & 1)


def _bounding_set() -> tuple[str, ...]:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return capabilities_from_mask(int(line.split()[1], 16))
    except OSError:
        pass
    return ALL_CAPABILITIES


@cache
def detect_host() -> HostInfo:
    """Probe this host once (cached for the process).

    ``rro`` stays False: whether the runtime supports it is the runtime's to say.
    """
    u = os.uname()
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    return HostInfo(
        arch=_MACHINE_TO_GOARCH.get(u.machine, u.machine),
        kernel=parse_kernel_release(u.release),
        cgroup_v2=v2,
        capabilities=_bounding_set(),
        seccomp=_has_seccomp_field(),
        swap_limit=v2 or os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"),
    )


def _has_seccomp_field() -> bool:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return any(line.startswith("Seccomp:") for line in f)
    except OSError:
        return False
