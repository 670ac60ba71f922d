"""Docker's defaults turned into an OCI runtime config.json (pure logic).

Entry point: :func:`build_spec`. Inputs the host must resolve (mounts, devices,
namespace paths, /etc/passwd contents, host facts) are the records in
:mod:`.types`; :mod:`.etc_files` makes the /etc/hosts, /etc/hostname and
/etc/resolv.conf contents.
"""

from __future__ import annotations

from dockyard.runtime.spec.builder import (
    DEFAULT_MASKED_PATHS,
    DEFAULT_READONLY_PATHS,
    build_spec,
)
from dockyard.runtime.spec.caps import DEFAULT_CAPABILITIES
from dockyard.runtime.spec.types import (
    DeviceNode,
    EtcFiles,
    HostInfo,
    MountSpec,
    SpecOptions,
    Ulimit,
)

__all__ = [
    "DEFAULT_CAPABILITIES",
    "DEFAULT_MASKED_PATHS",
    "DEFAULT_READONLY_PATHS",
    "DeviceNode",
    "EtcFiles",
    "HostInfo",
    "MountSpec",
    "SpecOptions",
    "Ulimit",
    "build_spec",
]
