"""Linux capabilities: names to bits, and applying the five sets of process.capabilities."""

from __future__ import annotations

from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.runtime.linux import syscalls as sc

_NAMES_TEXT = (
    "CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_KILL "
    "CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_LINUX_IMMUTABLE CAP_NET_BIND_SERVICE "
    "CAP_NET_BROADCAST CAP_NET_ADMIN CAP_NET_RAW CAP_IPC_LOCK CAP_IPC_OWNER CAP_SYS_MODULE "
    "CAP_SYS_RAWIO CAP_SYS_CHROOT CAP_SYS_PTRACE CAP_SYS_PACCT CAP_SYS_ADMIN CAP_SYS_BOOT "
    "CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SYS_TIME CAP_SYS_TTY_CONFIG CAP_MKNOD CAP_LEASE "
    "CAP_AUDIT_WRITE CAP_AUDIT_CONTROL CAP_SETFCAP CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG "
    "CAP_WAKE_ALARM CAP_BLOCK_SUSPEND CAP_AUDIT_READ CAP_PERFMON CAP_BPF CAP_CHECKPOINT_RESTORE"
)
NAMES = tuple(_NAMES_TEXT.split())
NUMBERS = {name: i for i, name in enumerate(NAMES)}
SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def last_cap() -> int:
    """The highest capability number this kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(NAMES) - 1


def mask(names: list[str] | None, *, strict: bool = False) -> int:
    """A bit mask of capability names; unknown names are skipped (as runc warns), or raise."""
    bits = 0
    top = last_cap()
    for name in names or []:
        number = NUMBERS.get(name.upper() if name.upper().startswith("CAP_") else "CAP_" + name)
        if number is None:
            if strict:
                raise InvalidArgument(f"unknown capability {name!r}")
            continue
        if number <= top:
            bits |= 1 << number
    return bits


def masks(capabilities: dict[str, Any] | None) -> dict[str, int]:
    caps = capabilities or {}
    return {s: mask(caps.get(s)) for s in SETS}


def apply_bounding(sys: sc.Syscalls, capabilities: dict[str, Any] | None) -> None:
    """Drop every capability outside the bounding set (needs CAP_SETPCAP; before setuid)."""
    keep = masks(capabilities)["bounding"]
    for number in range(last_cap() + 1):
        if not keep & (1 << number):
            sys.prctl(sc.PR_CAPBSET_DROP, number)


def apply_sets(sys: sc.Syscalls, capabilities: dict[str, Any] | None) -> None:
    """Set effective/permitted/inheritable with capset, then raise the ambient set."""
    m = masks(capabilities)
    sys.capset(m["effective"], m["permitted"], m["inheritable"])
    sys.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_CLEAR_ALL)
    # The kernel refuses ambient capabilities outside permitted & inheritable; runc
    # only warns about those, so they are skipped here.
    ambient = m["ambient"] & m["permitted"] & m["inheritable"]
    for number in range(last_cap() + 1):
        if ambient & (1 << number):
            sys.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_RAISE, number)
