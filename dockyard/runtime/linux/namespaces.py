"""Namespaces: which to join (setns) and which to create (unshare), in runc's order.

The user namespace comes first (it owns the others); joined namespaces before new
ones; the cgroup namespace last, after the process is in its cgroup.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.runtime.linux import syscalls as sc

FLAGS = {
    "user": sc.CLONE_NEWUSER,
    "ipc": sc.CLONE_NEWIPC,
    "uts": sc.CLONE_NEWUTS,
    "network": sc.CLONE_NEWNET,
    "pid": sc.CLONE_NEWPID,
    "mount": sc.CLONE_NEWNS,
    "cgroup": sc.CLONE_NEWCGROUP,
    "time": sc.CLONE_NEWTIME,
}
# /proc/<pid>/ns/<name> for each spec type
PROC_NAMES = {
    "user": "user",
    "ipc": "ipc",
    "uts": "uts",
    "network": "net",
    "pid": "pid",
    "mount": "mnt",
    "cgroup": "cgroup",
    "time": "time",
}
ORDER = ("user", "ipc", "uts", "network", "pid", "time", "mount", "cgroup")


@dataclass
class Plan:
    join: list[tuple[str, str]] = field(default_factory=list)  # (type, path), in order
    new: list[str] = field(default_factory=list)  # types to unshare, in order

    def has(self, kind: str) -> bool:
        return kind in self.new or any(k == kind for k, _ in self.join)

    @property
    def new_user(self) -> bool:
        return "user" in self.new


def plan(spec: dict[str, Any]) -> Plan:
    entries = ((spec.get("linux") or {}).get("namespaces")) or []
    by_type: dict[str, str] = {}
    for ns in entries:
        kind = ns.get("type")
        if kind not in FLAGS:
            raise InvalidArgument(f"unknown namespace type {kind!r}")
        if kind in by_type:
            raise InvalidArgument(f"duplicate namespace {kind!r}")
        by_type[kind] = ns.get("path") or ""
    result = Plan()
    for kind in ORDER:
        if kind not in by_type:
            continue
        if by_type[kind]:
            result.join.append((kind, by_type[kind]))
        else:
            result.new.append(kind)
    return result


def join(sys: sc.Syscalls, kind: str, path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        sys.setns(fd, FLAGS[kind])
    finally:
        os.close(fd)


def unshare_flags(kinds: list[str]) -> int:
    flags = 0
    for kind in kinds:
        flags |= FLAGS[kind]
    return flags


def same_as_ours(pid: int, kind: str) -> bool:
    """Whether process ``pid`` shares our namespace of this kind (then exec need not join)."""
    name = PROC_NAMES[kind]
    try:
        return os.stat(f"/proc/{pid}/ns/{name}").st_ino == os.stat(f"/proc/self/ns/{name}").st_ino
    except FileNotFoundError:
        return True
