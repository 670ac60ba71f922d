"""Resolved inputs of :func:`dockyard.runtime.spec.build_spec`.

Everything here is already looked up by the caller (volume directories, device
numbers, namespace paths, host facts), so that building the spec stays pure.
NamedTuples rather than dataclasses: each dataclass costs ~0.5 ms to define, and
this module is imported by every container start.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from dockyard.runtime.spec.caps import ALL_CAPABILITIES

MountType = Literal["bind", "volume", "tmpfs"]


class MountSpec(NamedTuple):
    """One user mount (``-v``, ``--mount``), resolved to a host path.

    ``source`` is the host path (a volume's ``_data`` directory for volumes) and is
    ignored for tmpfs. ``propagation`` empty means Docker's default: ``rprivate``
    for binds, nothing for volumes. ``tmpfs_options`` is Docker's data string,
    e.g. ``"size=65536k,mode=1777"`` (see :func:`tmpfs_data`).
    """

    destination: str
    source: str = ""
    type: MountType = "bind"
    read_only: bool = False
    propagation: str = ""
    non_recursive: bool = False
    read_only_non_recursive: bool = False
    read_only_force_recursive: bool = False
    tmpfs_options: str = ""


class EtcFiles(NamedTuple):
    """Host paths of the container's generated files; None leaves the image's file."""

    resolv_conf: str | None = None
    hostname: str | None = None
    hosts: str | None = None


class DeviceNode(NamedTuple):
    """A host device node (``--device``), stat'ed by the caller.

    ``path`` is the path inside the container, ``host_path`` the one on the host;
    ``permissions`` is the cgroup access string (``rwm`` by default).
    """

    path: str
    type: Literal["c", "b", "p", "u"]
    major: int
    minor: int
    file_mode: int = 0o666
    uid: int = 0
    gid: int = 0
    host_path: str = ""
    permissions: str = "rwm"


class HostInfo(NamedTuple):
    """Facts about the host the spec depends on (see :func:`.host.detect_host`).

    ``arch`` is a Go GOARCH name (``amd64``, ``arm64``…); ``kernel`` is
    (version, major revision), used by seccomp ``minKernel`` rules;
    ``capabilities`` are the ones this environment can grant (what
    ``--privileged`` gives); ``rro`` says whether the runtime and kernel support
    recursively read-only bind mounts; ``swap_limit`` whether the memory
    cgroup can limit swap (cgroup v1 needs swap accounting).
    """

    arch: str = "amd64"
    kernel: tuple[int, int] = (6, 1)
    cgroup_v2: bool = True
    capabilities: tuple[str, ...] = ALL_CAPABILITIES
    rro: bool = False
    seccomp: bool = True
    swap_limit: bool = True


class Ulimit(NamedTuple):
    name: str
    soft: int
    hard: int


class SpecOptions(NamedTuple):
    """Daemon-level settings (``daemon.json``) that shape every spec.

    ``default_sysctls`` adds Docker's ``net.ipv4.ping_group_range`` and
    ``net.ipv4.ip_unprivileged_port_start`` in private network namespaces;
    ``extra_masked_paths`` extends the masked list (Docker adds each CPU's
    ``thermal_throttle`` directory that exists on the host).
    """

    default_ulimits: tuple[Ulimit, ...] = ()
    init_by_default: bool = False
    default_sysctls: bool = True
    extra_masked_paths: tuple[str, ...] = ()
