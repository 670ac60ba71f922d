"""Pure conversions from OCI ``linux.resources`` values to cgroup file contents.

No I/O here, so every rule can be unit-tested. The formulas follow runc's
(libcontainer/cgroups/utils.go) so that containers behave the same under both.
"""

from __future__ import annotations

from typing import Any

from dockyard.errors import InvalidArgument

#: v1 reports "no limit" as a huge page-aligned number (PAGE_COUNTER_MAX pages).
V1_UNLIMITED_THRESHOLD = 1 << 62

DEFAULT_CFS_PERIOD = 100_000


def shares_to_weight(shares: int) -> int:
    """cpu.shares [2, 262144] to cgroup v2 cpu.weight [1, 10000]; 0 means unset."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio.weight [10, 1000] to cgroup v2 io.weight [1, 10000]; 0 means unset."""
    if weight == 0:
        return 0
    return 1 + ((weight - 10) * 9999) // 990


def cpu_max(quota: int | None, period: int | None) -> str | None:
    """The cgroup v2 ``cpu.max`` line, or None when neither value is set."""
    q = quota or 0
    p = period or 0
    if q == 0 and p == 0:
        return None
    if p == 0:
        p = DEFAULT_CFS_PERIOD
    if q <= 0:
        return f"max {p}"
    return f"{q} {p}"


def swap_v2(swap: int | None, limit: int | None) -> int | None:
    """OCI ``memory.swap`` (memory+swap total) to ``memory.swap.max`` (swap only).

    Returns None for "leave unset" and -1 for "max".
    """
    s = swap or 0
    m = limit or 0
    if m == -1 and s == 0:
        return -1  # unlimited memory and swap not given: unlimited swap too, as on v1
    if s == -1:
        return -1
    if s == 0:
        return None
    if m in (0, -1):
        raise InvalidArgument("unable to set swap limit without memory limit")
    if m < 0:
        raise InvalidArgument(f"invalid memory value: {m}")
    if s < m:
        raise InvalidArgument("memory+swap limit should be >= memory limit")
    return s - m


def v2_limit(value: int) -> str:
    """A v2 byte or count limit: negative means "max"."""
    return "max" if value < 0 else str(value)


def pids_max(limit: int) -> str:
    """OCI ``pids.limit``: 0 or -1 (any value <= 0) means unlimited."""
    return "max" if limit <= 0 else str(limit)


def normalise_limit(raw: str) -> int:
    """A limit read back from either version as an int, 0 meaning unlimited."""
    raw = raw.strip()
    if raw in ("max", "", "-1"):
        return 0
    value = int(raw)
    return 0 if value >= V1_UNLIMITED_THRESHOLD else value


def _dev_number(value: Any) -> str:
    if value is None or value == -1:
        return "*"
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidArgument(f"invalid device number {value!r} in device cgroup rule")
    return str(value)


def device_rule(rule: dict[str, Any]) -> tuple[bool, str]:
    """An OCI ``linux.resources.devices`` entry as (allow, "type major:minor access")."""
    if "allow" not in rule or not isinstance(rule["allow"], bool):
        raise InvalidArgument(f"device cgroup rule {rule!r} needs a boolean 'allow'")
    dtype = rule.get("type") or "a"
    if dtype not in ("a", "b", "c"):
        raise InvalidArgument(f"invalid device type {dtype!r} in device cgroup rule")
    access = rule.get("access") or "rwm"
    if not isinstance(access, str) or not set(access) <= set("rwm"):
        raise InvalidArgument(f"invalid device access {access!r} in device cgroup rule")
    if dtype == "a":
        return rule["allow"], f"a *:* {access}"
    return rule[
        "allow"
    ], f"{dtype} {_dev_number(rule.get('major'))}:{_dev_number(rule.get('minor'))} {access}"


def is_allow_all(devices: list[dict[str, Any]] | None) -> bool:
    """True when the rules leave every device allowed (the cgroup default).

    That is: after the last rule covering all devices and all access, only
    allow rules follow, and that rule (if any) is itself an allow.
    """
    rules = [device_rule(d) for d in devices or []]
    start = 0
    for i, (_allow, text) in enumerate(rules):
        if text == "a *:* rwm":
            start = i
    return all(allow for allow, _ in rules[start:])


def throttle_v1(entry: dict[str, Any]) -> str:
    """A blkio.throttle.* line: "major:minor rate"."""
    return f"{int(entry['major'])}:{int(entry['minor'])} {int(entry['rate'])}"


def io_max_v2(key: str, entry: dict[str, Any]) -> str:
    """An io.max line for one device and one of rbps/wbps/riops/wiops."""
    rate = int(entry["rate"])
    return f"{int(entry['major'])}:{int(entry['minor'])} {key}={'max' if rate <= 0 else rate}"


def parse_flat_keyed(text: str) -> dict[str, int]:
    """Files like memory.stat and cpu.stat: one "key value" pair a line."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def parse_blkio_bytes(text: str) -> tuple[int, int]:
    """Sum read and write bytes from blkio.*io_service_bytes* ("8:0 Read 123")."""
    read = write = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            if parts[1] == "Read":
                read += int(parts[2])
            elif parts[1] == "Write":
                write += int(parts[2])
    return read, write


def parse_io_stat(text: str) -> tuple[int, int]:
    """Sum rbytes and wbytes from v2 io.stat ("8:0 rbytes=1 wbytes=2 ...")."""
    read = write = 0
    for line in text.splitlines():
        for field in line.split()[1:]:
            key, _, value = field.partition("=")
            if key == "rbytes" and value.isdigit():
                read += int(value)
            elif key == "wbytes" and value.isdigit():
                write += int(value)
    return read, write
