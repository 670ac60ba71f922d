"""The cgroup manager of dockyard's OCI runtime, for cgroup v1, v2 and hybrid hosts.

``detect_mode`` tells which layout the host has. In hybrid mode the v1
controllers carry the limits and the process is also placed in the unified v2
tree, as runc does.
"""

from __future__ import annotations

from .manager import CgroupManager, detect_mode

__all__ = ["CgroupManager", "detect_mode"]
