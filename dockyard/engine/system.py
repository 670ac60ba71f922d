"""System-wide views and upkeep: ``system df``, ``system prune``, ``info``, ``version``."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard import __version__

if TYPE_CHECKING:
    from dockyard.engine import Engine

API_VERSION = "1.43"
MIN_API_VERSION = "1.24"


@dataclass
class OrphanReport:
    leases: int
    ingest_bytes: int
    snapshots: int
    layers: int
    blobs: int
    reclaimed: int


class SystemService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect_orphans(self) -> OrphanReport:
        """Reclaim what killed processes left behind: stale leases, ingest files,
        unfinished snapshots, layers no image uses, blobs nothing references, and
        directories without a row."""
        e = self.engine
        reaped = e.leases.reap()
        freed = e.content.clean_ingest()
        held = e.leases.held("snapshot")
        layer_keys = {r["chain_id"] for r in e.db.query("SELECT chain_id FROM layers")}
        removed_snapshots = 0
        for info in sorted(e.snapshots.walk(), key=lambda i: i.kind != "active"):
            if info.key in held or info.key in layer_keys:
                continue
            if info.kind == "active" and not info.key.startswith("extract-"):
                continue  # a container's writable layer (containers own those)
            try:
                freed += e.snapshots.usage(info.key).size
                e.snapshots.remove(info.key)
                removed_snapshots += 1
            except Exception:  # a parent with children: the next pass takes it
                continue
        layers = e.layers.collect_garbage(None)
        referenced = {r["blob_digest"] for r in e.db.query("SELECT blob_digest FROM layers")}
        referenced |= {r["id"] for r in e.db.query("SELECT id FROM images")}
        referenced |= e.leases.held("blob")
        blobs = 0
        for digest in list(e.content.walk()):
            if digest not in referenced:
                try:
                    freed += e.content.size(digest)
                except Exception:
                    continue
                e.layers.drop_blob_if_unused(digest)
                blobs += 1
        freed += e.snapshots.cleanup()
        return OrphanReport(reaped, freed, removed_snapshots, len(layers), blobs, freed)

    def disk_usage(self) -> dict[str, Any]:
        """The Engine API's /system/df shape (images part; the rest grows with them)."""
        e = self.engine
        images = e.images.all()
        shared = e.images.shared_sizes()
        used = e.images.in_use()
        layer_sizes = {  # the images' layers: the build cache's own are counted there
            r["chain_id"]: r["size"]
            for r in e.db.query(
                "SELECT chain_id, size FROM layers"
                " WHERE chain_id IN (SELECT chain_id FROM image_layers)"
            )
        }
        layers_size = sum(layer_sizes.values())
        summaries = []
        for image in images:
            summaries.append(
                {
                    "Id": image.id,
                    "ParentId": image.parent,
                    "RepoTags": image.repo_tags,
                    "RepoDigests": image.repo_digests,
                    "Created": int(image.created_unix),
                    "Size": image.size,
                    "SharedSize": shared.get(image.id, 0),
                    "VirtualSize": image.size,
                    "Labels": image.labels,
                    "Containers": 1 if image.id in used else 0,
                }
            )
        from dockyard.engine.builds import summarize

        build_cache = e.builds.records()
        return {
            "LayersSize": layers_size,
            "Images": summaries,
            "Containers": [],
            "Volumes": e.volumes.usage(),
            "BuildCache": build_cache,
            # API < 1.42 (docker 20.10's CLI prints it as the Build Cache size)
            "BuilderSize": summarize(build_cache)[2],
        }

    def version(self) -> dict[str, Any]:
        return {
            "Platform": {"Name": "dockyard"},
            "Components": [
                {
                    "Name": "Engine",
                    "Version": __version__,
                    "Details": {
                        "ApiVersion": API_VERSION,
                        "MinAPIVersion": MIN_API_VERSION,
                        "Experimental": str(
                            bool(self.engine.options.daemon.get("experimental"))
                        ).lower(),
                        "GoVersion": "python" + platform.python_version(),
                        "GitCommit": "",
                        "KernelVersion": platform.release(),
                        "Os": "linux",
                        "Arch": _go_arch(),
                        "BuildTime": "",
                    },
                }
            ],
            "Version": __version__,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": "python" + platform.python_version(),
            "Os": "linux",
            "Arch": _go_arch(),
            "KernelVersion": platform.release(),
            "Experimental": bool(self.engine.options.daemon.get("experimental", False)),
            "BuildTime": "",
        }

    def info(self) -> dict[str, Any]:
        e = self.engine
        opts = e.options
        images = e.db.query_one("SELECT COUNT(*) AS n FROM images")
        containers = e.db.query_one("SELECT COUNT(*) AS n FROM containers")
        mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        driver = e.storage_driver
        status = [["Backing Filesystem", _backing_fs(opts.root)]]
        if driver == "overlay":
            status += [
                ["Supports d_type", "true"],
                ["Native Overlay Diff", "true"],
                ["userxattr", "false"],
            ]
        return {
            "ID": _engine_id(opts.root),
            "Containers": containers["n"] if containers else 0,
            "ContainersRunning": 0,
            "ContainersPaused": 0,
            "ContainersStopped": containers["n"] if containers else 0,
            "Images": images["n"] if images else 0,
            "Driver": "overlay2" if driver == "overlay" else driver,
            "DriverStatus": status,
            "Plugins": {
                "Volume": ["local"],
                "Network": ["bridge", "host", "null"],
                "Authorization": None,
                "Log": ["json-file", "local", "none"],
            },
            "MemoryLimit": True,
            "SwapLimit": True,
            "CpuCfsPeriod": True,
            "CpuCfsQuota": True,
            "CPUShares": True,
            "CPUSet": True,
            "PidsLimit": True,
            "IPv4Forwarding": True,
            "Debug": opts.debug,
            "NFd": len(os.listdir("/proc/self/fd")),
            "NGoroutines": 1,
            "SystemTime": _now_rfc3339(),
            "LoggingDriver": opts.daemon.get("log-driver", "json-file"),
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1",
            "KernelVersion": platform.release(),
            "OperatingSystem": _os_name(),
            "OSVersion": _os_version(),
            "OSType": "linux",
            "Architecture": platform.machine(),
            "NCPU": os.cpu_count() or 1,
            "MemTotal": mem_total,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {
                "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                "IndexConfigs": {},
                "Mirrors": opts.registry_mirrors,
            },
            "DockerRootDir": opts.root,
            "Name": platform.node(),
            "Labels": list(opts.daemon.get("labels", [])),
            "ExperimentalBuild": bool(opts.daemon.get("experimental", False)),
            "ServerVersion": __version__,
            "Runtimes": {"runc": {"path": "runc"}},
            "DefaultRuntime": opts.daemon.get("default-runtime", "runc"),
            "Swarm": {"LocalNodeState": "inactive"},
            "LiveRestoreEnabled": False,
            "Isolation": "",
            "InitBinary": "",
            "SecurityOptions": ["name=seccomp,profile=default"],
            "Warnings": None,
            "InsecureRegistries": ["127.0.0.0/8", *opts.insecure_registries],
        }


def _go_arch() -> str:
    from dockyard.oci.platform import host_platform

    return host_platform().architecture


def _now_rfc3339() -> str:
    from dockyard.timeutil import rfc3339_nano

    return rfc3339_nano(time.time())


def _engine_id(root: str) -> str:
    """A stable engine ID, made once per root (Docker's is a UUID in engine-id)."""
    import uuid

    path = os.path.join(root, "engine-id")
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        value = str(uuid.uuid4())
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(value)
        os.replace(tmp, path)
        return value


def _os_release() -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        with open("/etc/os-release") as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                values[key] = value.strip('"')
    except OSError:
        pass
    return values


def _os_name() -> str:
    return _os_release().get("PRETTY_NAME", "Linux")


def _os_version() -> str:
    return _os_release().get("VERSION_ID", "")


def _backing_fs(path: str) -> str:
    best = ("", "")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                mount_point, fstype = parts[1], parts[2]
                if path.startswith(mount_point) and len(mount_point) >= len(best[0]):
                    best = (mount_point, fstype)
    except OSError:
        return "unknown"
    return {"ext4": "extfs", "ext3": "extfs", "ext2": "extfs"}.get(best[1], best[1])
