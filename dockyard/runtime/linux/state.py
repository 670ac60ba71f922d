"""Container state on disk: <root>/<id>/state.json plus the exec fifo.

Status is derived, as runc does: the init's pid alive (and its start time unchanged,
so a reused pid is not mistaken for it) with the exec fifo present is ``created``;
alive without it ``running`` (``paused`` when the cgroup is frozen); else ``stopped``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import Conflict, InvalidArgument, NotFound

DEFAULT_ROOT = "/run/dockyard-runtime"
OCI_VERSION = "1.0.2"
FIFO = "exec.fifo"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def check_id(container_id: str) -> None:
    if not _ID.match(container_id) or len(container_id) > 1024:
        raise InvalidArgument(f"invalid container id format: {container_id}")


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks); None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode(errors="replace")
    except OSError:
        return None
    rest = data[data.rfind(")") + 2 :].split()
    if not rest or rest[0] in ("Z", "X"):
        return None
    return int(rest[19])


@dataclass
class State:
    id: str
    bundle: str
    pid: int = 0
    status: str = "creating"
    created: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    start_time: int = 0
    cgroups_path: str = ""
    rootfs: str = ""
    owner: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_oci(self) -> dict[str, Any]:
        """The state as ``runc state`` prints it."""
        out: dict[str, Any] = {
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "pid": self.pid if self.status != "stopped" else 0,
            "status": self.status,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        }
        if self.annotations:
            out["annotations"] = self.annotations
        return out

    def to_json(self) -> dict[str, Any]:
        data = self.to_oci()
        data["pid"] = self.pid
        data["init_start_time"] = self.start_time
        data["cgroups_path"] = self.cgroups_path
        data["dockyard"] = self.extra
        return data


class StateStore:
    def __init__(self, root: str | None = None) -> None:
        self.root = root or DEFAULT_ROOT

    def dir(self, container_id: str) -> str:
        check_id(container_id)
        return os.path.join(self.root, container_id)

    def fifo(self, container_id: str) -> str:
        return os.path.join(self.dir(container_id), FIFO)

    def reserve(self, container_id: str) -> str:
        path = self.dir(container_id)
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        try:
            os.mkdir(path, 0o711)
        except FileExistsError:
            raise Conflict(f"container with id exists: {container_id}") from None
        return path

    def save(self, state: State) -> None:
        path = os.path.join(self.dir(state.id), "state.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state.to_json(), f)
        os.replace(tmp, path)

    def load(self, container_id: str) -> State:
        path = os.path.join(self.dir(container_id), "state.json")
        try:
            with open(path) as f:
                data = json.load(f)
        except FileNotFoundError:
            raise NotFound(f"container does not exist: {container_id}") from None
        state = State(
            id=data["id"],
            bundle=data.get("bundle", ""),
            pid=int(data.get("pid", 0)),
            status=data.get("status", "stopped"),
            created=data.get("created", ""),
            annotations=data.get("annotations") or {},
            start_time=int(data.get("init_start_time", 0)),
            cgroups_path=data.get("cgroups_path", ""),
            rootfs=data.get("rootfs", ""),
            owner=data.get("owner", ""),
            extra=data.get("dockyard") or {},
        )
        state.status = self.current_status(state)
        return state

    def current_status(self, state: State) -> str:
        if state.pid <= 0 or start_time(state.pid) != state.start_time:
            return "stopped"
        if os.path.exists(self.fifo(state.id)):
            return "created"
        if state.status == "paused":
            return "paused"
        return "running"

    def remove(self, container_id: str) -> None:
        shutil.rmtree(self.dir(container_id), ignore_errors=True)

    def list(self) -> list[str]:
        try:
            return sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []
