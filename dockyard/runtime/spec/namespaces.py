"""``linux.namespaces`` from the network, IPC, PID, UTS and cgroupns modes (moby's WithNamespaces).

Joining another container's namespace needs that container's process, so the
caller resolves ``container:<id>`` modes to ``/proc/<pid>/ns/<type>`` paths and
passes them in ``paths`` (keyed by OCI type: ``network``, ``ipc``, ``pid``,
``uts``). A path given for a private mode joins that namespace (a network
namespace the network layer prepared, for instance).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.errors import InvalidArgument

_DEFAULT_ORDER = ("mount", "network", "uts", "pid", "ipc")
_IPC_MODES = ("", "private", "shareable", "none", "host")


def _is_container(mode: str) -> bool:
    return mode.startswith("container:")


def _need_path(paths: Mapping[str, str], ns: str, mode: str) -> str:
    path = paths.get(ns)
    if not path:
        raise InvalidArgument(f"{mode}: no namespace path resolved for {ns}")
    return path


def build_namespaces(
    *,
    network_mode: str = "",
    ipc_mode: str = "",
    pid_mode: str = "",
    uts_mode: str = "",
    cgroupns_mode: str = "",
    cgroup_v2: bool = True,
    paths: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The namespace list; an empty ``cgroupns_mode`` is Docker's default for the host
    (private on cgroup v2, host on v1 or hybrid)."""
    paths = paths or {}
    ns: dict[str, dict[str, Any]] = {t: {"type": t} for t in _DEFAULT_ORDER}

    def join(t: str, mode: str) -> None:
        ns[t] = {"type": t, "path": _need_path(paths, t, mode)}

    def private(t: str) -> None:
        ns[t] = {"type": t, "path": paths[t]} if paths.get(t) else {"type": t}

    if network_mode == "host":
        del ns["network"]
    elif _is_container(network_mode):
        join("network", network_mode)
    else:
        private("network")

    if ipc_mode == "host":
        del ns["ipc"]
    elif _is_container(ipc_mode):
        join("ipc", ipc_mode)
    elif ipc_mode in _IPC_MODES:
        private("ipc")
    else:
        raise InvalidArgument(f"invalid IPC mode: {ipc_mode}")

    if pid_mode == "host":
        del ns["pid"]
    elif _is_container(pid_mode):
        join("pid", pid_mode)
    elif pid_mode == "":
        private("pid")
    else:
        raise InvalidArgument(f"invalid PID mode: {pid_mode}")

    if uts_mode == "host":
        del ns["uts"]
    elif uts_mode == "":
        private("uts")
    else:
        raise InvalidArgument(f"invalid UTS mode: {uts_mode}")

    mode = cgroupns_mode or ("private" if cgroup_v2 else "host")
    if mode == "private":
        ns["cgroup"] = {"type": "cgroup"}
    elif mode != "host":
        raise InvalidArgument(f"invalid cgroup namespace mode: {cgroupns_mode}")
    return list(ns.values())
