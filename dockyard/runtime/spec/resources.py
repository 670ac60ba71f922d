"""``linux.resources``, devices, sysctls and rlimits from a HostConfig.

Memory, CPU and pids follow moby's ``getMemoryResources`` / ``getCPUResources`` /
``getPidsLimit``; the device cgroup rules follow ``oci.DefaultLinuxSpec`` and
``WithDevices``; sysctls are checked as Docker's CLI does (``ValidateSysctl``)
plus runc's refusal of ``net.*`` in the host's network namespace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.runtime.spec.types import DeviceNode, Ulimit

CPU_PERIOD = 100_000  # 100ms in µs, the period NanoCpus is expressed against
_MIN_MEMORY = 6 * 1024 * 1024
_RULE_RE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")
_NAMESPACED_SYSCTLS = frozenset(
    {
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
        "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
    }
)  # fmt: skip
_SYSCTL_PREFIXES = ("net.", "fs.mqueue.")
ULIMIT_NAMES = frozenset(
    {
        "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
        "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
    }
)  # fmt: skip


def _rule(allow: bool, typ: str | None, major: int | None, minor: int | None) -> dict[str, Any]:
    d: dict[str, Any] = {"allow": allow}
    if typ is not None:
        d["type"] = typ
    if major is not None:
        d["major"] = major
    if minor is not None:
        d["minor"] = minor
    d["access"] = "rwm"
    return d


def default_device_rules() -> list[dict[str, Any]]:
    """Docker's device cgroup rules (moby ``oci.DefaultLinuxSpec``), in its order.

    Deny everything, then allow zero, null, urandom, random, tty and console;
    the trailing deny of 10:229 (/dev/fuse) is Docker's too. The runtime adds
    its own default devices (full, ptmx, /dev/pts/*) on top.
    """
    return [
        _rule(False, None, None, None),
        _rule(True, "c", 1, 5),
        _rule(True, "c", 1, 3),
        _rule(True, "c", 1, 9),
        _rule(True, "c", 1, 8),
        _rule(True, "c", 5, 0),
        _rule(True, "c", 5, 1),
        _rule(False, "c", 10, 229),
    ]


def _int(hc: Mapping[str, Any], key: str) -> int:
    v = hc.get(key)
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else 0


def validate_resources(hc: Mapping[str, Any]) -> None:
    """The host-independent checks of moby's ``verifyPlatformContainerResources``."""
    memory, swap, reservation = (
        _int(hc, "Memory"),
        _int(hc, "MemorySwap"),
        _int(hc, "MemoryReservation"),
    )
    if memory != 0 and memory < _MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if memory > 0 and swap > 0 and swap < memory:
        raise InvalidArgument(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if memory == 0 and swap > 0:
        raise InvalidArgument(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    swappiness = hc.get("MemorySwappiness")
    if isinstance(swappiness, int) and swappiness != -1 and not 0 <= swappiness <= 100:
        raise InvalidArgument(
            f"Invalid value: {swappiness}, valid memory swappiness range is 0-100"
        )
    if 0 < reservation < _MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if memory > 0 and reservation > 0 and memory < reservation:
        raise InvalidArgument(
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        )
    nano, period, quota = _int(hc, "NanoCpus"), _int(hc, "CpuPeriod"), _int(hc, "CpuQuota")
    if nano > 0 and period > 0:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano > 0 and quota > 0:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if period != 0 and not 1000 <= period <= 1_000_000:
        raise InvalidArgument(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        )
    if 0 < quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if _int(hc, "CpuShares") < 0:
        raise InvalidArgument(
            f"invalid CPU shares ({_int(hc, 'CpuShares')}): value must be a positive integer"
        )


def build_resources(hc: Mapping[str, Any], *, swap_limit: bool = True) -> dict[str, Any]:
    """``memory``, ``cpu`` and ``pids`` of ``linux.resources`` (devices added separately).

    An unset MemorySwap with a memory limit means twice the limit, as Docker
    fills it in at create time; without swap accounting no swap limit is set.
    """
    out: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    if _int(hc, "Memory") > 0:
        memory["limit"] = _int(hc, "Memory")
    if _int(hc, "MemoryReservation") > 0:
        memory["reservation"] = _int(hc, "MemoryReservation")
    swap = _int(hc, "MemorySwap")
    if swap == 0 and _int(hc, "Memory") > 0:
        swap = 2 * _int(hc, "Memory")  # moby's adaptContainerSettings default
    if swap > 0 and swap_limit:
        memory["swap"] = swap
    swappiness = hc.get("MemorySwappiness")
    if isinstance(swappiness, int) and 0 <= swappiness <= 100:
        memory["swappiness"] = swappiness
    if isinstance(hc.get("OomKillDisable"), bool):
        memory["disableOOMKiller"] = hc["OomKillDisable"]
    if memory:
        out["memory"] = memory

    cpu: dict[str, Any] = {}
    shares = _int(hc, "CpuShares")
    if shares < 0:
        raise InvalidArgument(f"invalid CPU shares ({shares}): value must be a positive integer")
    if shares:
        cpu["shares"] = shares
    nano = _int(hc, "NanoCpus")
    if nano > 0:
        cpu["quota"] = nano * CPU_PERIOD // 1_000_000_000
        cpu["period"] = CPU_PERIOD
    if _int(hc, "CpuPeriod"):
        cpu["period"] = _int(hc, "CpuPeriod")
    if _int(hc, "CpuQuota"):
        cpu["quota"] = _int(hc, "CpuQuota")
    if _int(hc, "CpuRealtimePeriod"):
        cpu["realtimePeriod"] = _int(hc, "CpuRealtimePeriod")
    if _int(hc, "CpuRealtimeRuntime"):
        cpu["realtimeRuntime"] = _int(hc, "CpuRealtimeRuntime")
    for key, name in (("CpusetCpus", "cpus"), ("CpusetMems", "mems")):
        if hc.get(key):
            cpu[name] = hc[key]
    if cpu:
        out["cpu"] = cpu

    pids = hc.get("PidsLimit")
    if isinstance(pids, int) and not isinstance(pids, bool):
        out["pids"] = {"limit": pids if pids > 0 else -1}
    weight = _int(hc, "BlkioWeight")
    if weight:
        out["blockIO"] = {"weight": weight}
    return out


def device_cgroup_rules(rules: Sequence[str]) -> list[dict[str, Any]]:
    """``--device-cgroup-rule`` values (``c 1:3 rwm``, ``a *:* m``) as cgroup rules."""
    out = []
    for rule in rules:
        m = _RULE_RE.match(rule)
        if not m:
            raise InvalidArgument(f"invalid device cgroup rule format: '{rule}'")
        typ, major, minor, access = m.groups()
        out.append(
            {
                "allow": True,
                "type": typ,
                "major": -1 if major == "*" else int(major),
                "minor": -1 if minor == "*" else int(minor),
                "access": access,
            }
        )
    return out


def device_entry(d: DeviceNode) -> dict[str, Any]:
    """A ``linux.devices`` entry."""
    return {
        "path": d.path,
        "type": d.type,
        "major": d.major,
        "minor": d.minor,
        "fileMode": d.file_mode,
        "uid": d.uid,
        "gid": d.gid,
    }


def build_devices(
    devices: Sequence[DeviceNode],
    *,
    privileged: bool,
    host_devices: Sequence[DeviceNode] = (),
    cgroup_rules: Sequence[str] = (),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(linux.devices, linux.resources.devices)`` as moby's ``WithDevices`` builds them.

    With ``privileged``, ``host_devices`` (every node under the host's /dev, found
    by the caller) are created and the cgroup allows everything; ``--device``
    entries whose path is the same inside and out are then redundant and skipped.
    """
    nodes: list[dict[str, Any]] = []
    if privileged:
        nodes.extend(device_entry(d) for d in host_devices)
        nodes.extend(device_entry(d) for d in devices if d.host_path != d.path)
        return nodes, [{"allow": True, "access": "rwm"}]
    rules = default_device_rules()
    for d in devices:
        nodes.append(device_entry(d))
        rules.append(
            {
                "allow": True,
                "type": d.type,
                "major": d.major,
                "minor": d.minor,
                "access": d.permissions,
            }
        )
    rules.extend(device_cgroup_rules(cgroup_rules))
    return nodes, rules


def validate_sysctls(sysctls: Mapping[str, str], *, host_network: bool, host_ipc: bool) -> None:
    """Docker allows only namespaced sysctls; runc refuses net.* and IPC ones in host namespaces."""
    for key, value in sysctls.items():
        if key in _NAMESPACED_SYSCTLS or key.startswith("fs.mqueue."):
            if host_ipc:
                raise InvalidArgument(f'sysctl "{key}" not allowed in host ipc namespace')
            continue
        if key.startswith("net."):
            if host_network:
                raise InvalidArgument(f'sysctl "{key}" not allowed in host network namespace')
            continue
        raise InvalidArgument(f"sysctl '{key}={value}' is not allowed")


def build_rlimits(
    ulimits: Sequence[Mapping[str, Any]] | None, defaults: Sequence[Ulimit] = ()
) -> list[dict[str, Any]]:
    """``process.rlimits`` from ``HostConfig.Ulimits`` merged with daemon defaults."""
    out: list[dict[str, Any]] = []
    merged = [
        (str(u.get("Name", "")), int(u.get("Soft", 0)), int(u.get("Hard", 0)))
        for u in ulimits or ()
    ]
    names = {n for n, _, _ in merged}
    merged += [(u.name, u.soft, u.hard) for u in defaults if u.name not in names]
    for name, soft, hard in merged:
        if name not in ULIMIT_NAMES:
            raise InvalidArgument(f"invalid ulimit type: {name}")
        if soft > hard:
            raise InvalidArgument(
                f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )
        out.append({"type": "RLIMIT_" + name.upper(), "hard": hard, "soft": soft})
    return out
