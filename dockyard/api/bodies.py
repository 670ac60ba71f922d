"""Type checks for request bodies, as Go's encoding/json makes them in dockerd: a
field of the wrong JSON type is a 400 (``json: cannot unmarshal string into Go
struct field HostConfig.Memory of type int64``), before the engine sees it.

A type is ``"int"``, ``"uint16"``, ``"str"``, ``"bool"``, ``"any"``, ``[item]`` (a
list), ``{"*": value}`` (a map) or ``{"Field": type, ...}`` (a struct; unknown fields
are ignored, as Go does). ``null`` is always allowed (Go's zero value).
"""

from __future__ import annotations

from typing import Any

from dockyard.errors import InvalidArgument

Type = Any
STRS: Type = ["str"]
STR_MAP: Type = {"*": "str"}
_GO = {"int": "int64", "uint16": "uint16", "str": "string", "bool": "bool"}
_RANGES = {"int": (-(1 << 63), (1 << 63) - 1), "uint16": (0, 0xFFFF)}

THROTTLE: Type = [{"Path": "str", "Rate": "int"}]
RESOURCES: Type = {
    **{
        k: "int"
        for k in [
            "BlkioWeight",
            "CpuCount",
            "CpuPercent",
            "CpuPeriod",
            "CpuQuota",
            "CpuRealtimePeriod",
            "CpuRealtimeRuntime",
            "CpuShares",
            "IOMaximumBandwidth",
            "IOMaximumIOps",
            "KernelMemoryTCP",
            "Memory",
            "MemoryReservation",
            "MemorySwap",
            "MemorySwappiness",
            "NanoCpus",
            "PidsLimit",
        ]
    },
    "CgroupParent": "str",
    "CpusetCpus": "str",
    "CpusetMems": "str",
    "BlkioWeightDevice": [{"Path": "str", "Weight": "int"}],
    "BlkioDeviceReadBps": THROTTLE,
    "BlkioDeviceReadIOps": THROTTLE,
    "BlkioDeviceWriteBps": THROTTLE,
    "BlkioDeviceWriteIOps": THROTTLE,
    "DeviceCgroupRules": STRS,
    "DeviceRequests": [
        {
            "Driver": "str",
            "Count": "int",
            "DeviceIDs": STRS,
            "Capabilities": [STRS],
            "Options": STR_MAP,
        }
    ],
    "Devices": [{"PathOnHost": "str", "PathInContainer": "str", "CgroupPermissions": "str"}],
    "Ulimits": [{"Name": "str", "Soft": "int", "Hard": "int"}],
    "Init": "bool",
    "OomKillDisable": "bool",
}
RESTART_POLICY: Type = {"Name": "str", "MaximumRetryCount": "int"}
HOST_CONFIG: Type = {
    **RESOURCES,
    **{
        k: "str"
        for k in [
            "Cgroup",
            "CgroupnsMode",
            "ContainerIDFile",
            "IpcMode",
            "Isolation",
            "NetworkMode",
            "PidMode",
            "Runtime",
            "UTSMode",
            "UsernsMode",
            "VolumeDriver",
        ]
    },
    **{
        k: STRS
        for k in [
            "Binds",
            "CapAdd",
            "CapDrop",
            "Dns",
            "DnsOptions",
            "DnsSearch",
            "ExtraHosts",
            "GroupAdd",
            "Links",
            "MaskedPaths",
            "ReadonlyPaths",
            "SecurityOpt",
            "VolumesFrom",
        ]
    },
    **{k: "bool" for k in ["AutoRemove", "Privileged", "PublishAllPorts", "ReadonlyRootfs"]},
    "OomScoreAdj": "int",
    "ShmSize": "int",
    "ConsoleSize": ["uint16"],
    "Annotations": STR_MAP,
    "StorageOpt": STR_MAP,
    "Sysctls": STR_MAP,
    "Tmpfs": STR_MAP,
    "LogConfig": {"Type": "str", "Config": STR_MAP},
    "PortBindings": {"*": [{"HostIp": "str", "HostPort": "str"}]},
    "RestartPolicy": RESTART_POLICY,
    "Mounts": [
        {
            "Target": "str",
            "Source": "str",
            "Type": "str",
            "ReadOnly": "bool",
            "Consistency": "str",
            "BindOptions": {
                "Propagation": "str",
                "NonRecursive": "bool",
                "CreateMountpoint": "bool",
            },
            "VolumeOptions": {
                "NoCopy": "bool",
                "Labels": STR_MAP,
                "DriverConfig": {"Name": "str", "Options": STR_MAP},
            },
            "TmpfsOptions": {"SizeBytes": "int", "Mode": "int"},
        }
    ],
}
HEALTH: Type = {
    "Test": STRS,
    "Interval": "int",
    "Timeout": "int",
    "Retries": "int",
    "StartPeriod": "int",
    "StartInterval": "int",
}
CONTAINER_CONFIG: Type = {
    **{
        k: "str"
        for k in [
            "Domainname",
            "Hostname",
            "Image",
            "MacAddress",
            "StopSignal",
            "User",
            "WorkingDir",
        ]
    },
    **{
        k: "bool"
        for k in [
            "ArgsEscaped",
            "AttachStderr",
            "AttachStdin",
            "AttachStdout",
            "NetworkDisabled",
            "OpenStdin",
            "StdinOnce",
            "Tty",
        ]
    },
    "ExposedPorts": {"*": "any"},
    "Volumes": {"*": "any"},
    "Labels": STR_MAP,
    "Env": STRS,
    "Healthcheck": HEALTH,
    "StopTimeout": "int",
}
ENDPOINT: Type = {
    "IPAMConfig": {"IPv4Address": "str", "IPv6Address": "str", "LinkLocalIPs": STRS},
    "Links": STRS,
    "Aliases": STRS,
    "NetworkID": "str",
    "EndpointID": "str",
    "Gateway": "str",
    "IPAddress": "str",
    "IPPrefixLen": "int",
    "MacAddress": "str",
    "DriverOpts": STR_MAP,
}
NETWORKING_CONFIG: Type = {"EndpointsConfig": {"*": ENDPOINT}}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _go_type(kind: Type) -> str:
    if isinstance(kind, str):
        return _GO.get(kind, "interface {}")
    if isinstance(kind, list):
        return "[]" + _go_type(kind[0])
    if "*" in kind:
        return "map[string]" + _go_type(kind["*"])
    return "struct"


def check(value: Any, kind: Type, where: str) -> None:
    """Raise InvalidArgument when ``value`` could not be decoded into ``kind``."""
    if value is None or kind == "any":
        return
    ok = True
    if kind == "str":
        ok = isinstance(value, str)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif isinstance(kind, str):
        low, high = _RANGES[kind]
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    elif isinstance(kind, list):
        ok = isinstance(value, list)
        if ok:
            for item in value:
                check(item, kind[0], where)
    elif "*" in kind:
        ok = isinstance(value, dict)
        if ok:
            for item in value.values():
                check(item, kind["*"], where)
    else:
        ok = isinstance(value, dict)
        if ok:
            for key, item in value.items():
                if key in kind:
                    check(item, kind[key], f"{where}.{key}")
    if not ok:
        raise InvalidArgument(
            f"json: cannot unmarshal {_json_kind(value)} into Go struct field {where}"
            f" of type {_go_type(kind)}"
        )


# ------------------------------------------------------------------ cpusets

_CPUSET_SOURCES = {
    "cpus": (
        "/sys/fs/cgroup/cpuset.cpus.effective",
        "/sys/fs/cgroup/cpuset/cpuset.cpus",
        "/sys/devices/system/cpu/online",
    ),
    "mems": (
        "/sys/fs/cgroup/cpuset.mems.effective",
        "/sys/fs/cgroup/cpuset/cpuset.mems",
        "/sys/devices/system/node/online",
    ),
}


def _parse_list(text: str) -> set[int] | None:
    """A cpuset list ("0-3,5"), as Go's parsers.ParseUintList; None when malformed."""
    out: set[int] = set()
    if not text:
        return out
    for part in text.split(","):
        low, sep, high = part.partition("-")
        if not low.isdigit() or (sep and not high.isdigit()):
            return None
        first, last = int(low), int(high) if sep else int(low)
        if last < first or last > 1 << 16:
            return None
        out.update(range(first, last + 1))
    return out


def _available(kind: str) -> str | None:
    for path in _CPUSET_SOURCES[kind]:
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            continue
    return None


def check_cpusets(resources: dict[str, Any]) -> None:
    """dockerd's check of CpusetCpus and CpusetMems against what this host has: a
    400 at create or update rather than a failed start."""
    for key, kind, what, missing in (
        ("CpusetCpus", "cpus", "cpuset cpus", "CPUs"),
        ("CpusetMems", "mems", "cpuset mems", "memory nodes"),
    ):
        value = resources.get(key)
        if not isinstance(value, str) or not value:
            continue
        wanted = _parse_list(value)
        if wanted is None:
            raise InvalidArgument(f"Invalid value {value} for {what}")
        available = _available(kind)
        have = _parse_list(available) if available is not None else None
        if have is not None and not wanted <= have:
            raise InvalidArgument(
                f"Requested {missing} are not available - requested {value}, available: {available}"
            )
