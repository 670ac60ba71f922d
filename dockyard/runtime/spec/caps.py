"""Capabilities: Docker's default set and ``--cap-add`` / ``--cap-drop`` / ``--privileged``.

Follows moby's ``oci/caps``: names are upper-cased and get a ``CAP_`` prefix,
``ALL`` is magic, unknown names are rejected, and known ones this environment
cannot grant are rejected with a different message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dockyard.errors import InvalidArgument

# Every capability the kernel knows (6.x), in capability-number order.
ALL_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)  # fmt: skip

# Docker's default set (moby oci/caps/defaults.go), in Docker's order.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)  # fmt: skip

_ALL = "ALL"


def _go_quote(s: str) -> str:
    """Go's ``%q`` for the plain strings capability names are."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def normalize_capabilities(names: Iterable[str], available: Sequence[str]) -> list[str]:
    """Upper-case, add ``CAP_``, and validate; ``ALL`` passes through."""
    out: list[str] = []
    for raw in names:
        c = raw.upper()
        if c == _ALL:
            out.append(c)
            continue
        if not c.startswith("CAP_"):
            c = "CAP_" + c
        if c not in ALL_CAPABILITIES:
            raise InvalidArgument(f"unknown capability: {_go_quote(c)}")
        if c not in available:
            raise InvalidArgument(
                "capability not supported by your kernel or not available in the current "
                f"environment: {_go_quote(c)}"
            )
        out.append(c)
    return out


def tweak_capabilities(
    cap_add: Sequence[str] | None,
    cap_drop: Sequence[str] | None,
    privileged: bool,
    available: Sequence[str] = ALL_CAPABILITIES,
    basics: Sequence[str] = DEFAULT_CAPABILITIES,
) -> list[str]:
    """The container's capability list, as moby's ``TweakCapabilities`` computes it.

    ``available`` is what the environment can grant (the host's bounding set):
    ``--privileged`` and ``--cap-add ALL`` give exactly those, in number order.
    """
    all_available = [c for c in ALL_CAPABILITIES if c in available]
    if privileged:
        return all_available
    if not cap_add and not cap_drop:
        return list(basics)
    drops = normalize_capabilities(cap_drop or (), available)
    adds = normalize_capabilities(cap_add or (), available)
    if _ALL in adds:
        return [c for c in all_available if c not in drops]
    if _ALL in drops:
        return list(dict.fromkeys(adds))
    return list(dict.fromkeys([c for c in basics if c not in drops] + adds))
