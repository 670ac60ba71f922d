"""A compose service as the Engine API's container request: the same ``Config``,
``HostConfig`` and ``NetworkingConfig`` bodies ``dockyard run`` builds from its flags
(see :mod:`dockyard.cli.runflags`), plus Docker Compose's labels.

Conversion is pure: everything that depends on other containers (``network_mode:
service:x``, ``volumes_from``, ``links``) is looked up through the ``peers`` callback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard import __version__
from dockyard.compose.model import Healthcheck, Service
from dockyard.compose.planner import config_hash
from dockyard.errors import InvalidArgument

LABEL_PREFIX = "com.docker.compose."
PROJECT = LABEL_PREFIX + "project"
SERVICE = LABEL_PREFIX + "service"
NUMBER = LABEL_PREFIX + "container-number"
ONEOFF = LABEL_PREFIX + "oneoff"
CONFIG_HASH = LABEL_PREFIX + "config-hash"
WORKING_DIR = LABEL_PREFIX + "project.working_dir"
CONFIG_FILES = LABEL_PREFIX + "project.config_files"
ENVIRONMENT_FILE = LABEL_PREFIX + "project.environment_file"
VERSION = LABEL_PREFIX + "version"
DEPENDS_ON = LABEL_PREFIX + "depends_on"
IMAGE = LABEL_PREFIX + "image"
NETWORK = LABEL_PREFIX + "network"
VOLUME = LABEL_PREFIX + "volume"


Peers = Callable[[str], str]
PeerIds = Callable[[str], "str | None"]  # service -> its first container's ID
"""Service name -> the name of its first container (for service: references)."""


@dataclass
class ProjectInfo:
    name: str
    working_dir: str
    config_files: list[str]
    networks: dict[str, str] = field(default_factory=dict)  # key -> engine name
    volumes: dict[str, str] = field(default_factory=dict)  # key -> engine name
    env_files: list[str] = field(default_factory=list)


@dataclass
class ContainerRequest:
    name: str
    image: str
    config: dict[str, Any]
    host: dict[str, Any]
    networking: dict[str, Any]
    files: list[tuple[str, bytes, int]] = field(default_factory=list)  # path, data, mode


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1e9)


def healthcheck(check: Healthcheck | None) -> dict[str, Any] | None:
    if check is None:
        return None
    if check.disable or (check.test and check.test[0] == "NONE"):
        return {"Test": ["NONE"]}
    result: dict[str, Any] = {}
    if check.test:
        result["Test"] = list(check.test)
    for key, value in (
        ("Interval", check.interval),
        ("Timeout", check.timeout),
        ("StartPeriod", check.start_period),
        ("StartInterval", check.start_interval),
    ):
        ns = _ns(value)
        if ns is not None:
            result[key] = ns
    if check.retries is not None:
        result["Retries"] = check.retries
    return result or None


def restart_policy(service: Service) -> dict[str, Any]:
    text = service.restart
    if text is None and service.deploy is not None and service.deploy.restart_policy:
        policy = service.deploy.restart_policy
        condition = {"none": "no", "on-failure": "on-failure", "any": "always"}.get(
            str(policy.get("condition") or "any"), "always"
        )
        return {"Name": condition, "MaximumRetryCount": int(policy.get("max_attempts") or 0)}
    text = text or "no"
    name, _, count = text.partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped"):
        raise InvalidArgument(f"invalid restart policy: unknown policy '{name}'")
    return {"Name": name, "MaximumRetryCount": int(count) if count else 0}


def _env(service: Service) -> list[str] | None:
    env = [f"{k}={v}" for k, v in service.environment.items() if v is not None]
    return env or None


def _ports(service: Service, publish: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for text in service.expose:
        number, _, proto = str(text).partition("/")
        first, _, last = number.partition("-")
        for number_ in range(int(first), int(last or first) + 1):
            exposed[f"{number_}/{proto or 'tcp'}"] = {}
    for port in service.ports:
        key = f"{port.target}/{port.protocol or 'tcp'}"
        exposed[key] = {}
        if publish:
            bindings.setdefault(key, []).append(
                {"HostIp": port.host_ip or "", "HostPort": str(port.published or "")}
            )
    return exposed, bindings


def _ulimits(values: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, value in sorted(values.items()):
        if isinstance(value, dict):
            out.append({"Name": name, "Soft": int(value["soft"]), "Hard": int(value["hard"])})
        else:
            out.append({"Name": name, "Soft": int(value), "Hard": int(value)})
    return out


def _devices(values: list[Any]) -> list[dict[str, str]]:
    out = []
    for value in values:
        if isinstance(value, dict):
            host = str(value.get("source", ""))
            inside = str(value.get("target") or host)
            perms = str(value.get("permissions") or "rwm")
        else:
            parts = str(value).split(":")
            host, inside, perms = parts[0], parts[0], "rwm"
            if len(parts) >= 2:
                inside = parts[1]
            if len(parts) >= 3:
                perms = parts[2]
        out.append({"PathOnHost": host, "PathInContainer": inside, "CgroupPermissions": perms})
    return out


def _tmpfs(values: list[str]) -> dict[str, str]:
    out = {}
    for value in values:
        path, _, options = str(value).partition(":")
        out[path] = options
    return out


def _mounts(service: Service, info: ProjectInfo) -> tuple[list[str], list[dict[str, Any]]]:
    """(Binds, Mounts): binds that may create their source go as ``-v`` does (the engine
    makes a missing directory), everything else as ``--mount``."""
    binds: list[str] = []
    mounts: list[dict[str, Any]] = []
    for m in service.volumes:
        if m.type == "bind":
            if m.bind.get("create_host_path", True) and not m.bind.get("propagation"):
                binds.append(f"{m.source}:{m.target}{':ro' if m.read_only else ''}")
                continue
            mount: dict[str, Any] = {"Type": "bind", "Source": m.source, "Target": m.target}
            if m.bind.get("propagation"):
                mount["BindOptions"] = {"Propagation": m.bind["propagation"]}
        elif m.type == "volume":
            mount = {"Type": "volume", "Target": m.target}
            if m.source:
                mount["Source"] = info.volumes.get(m.source, m.source)
            if m.volume.get("nocopy"):
                mount["VolumeOptions"] = {"NoCopy": True}
        elif m.type == "tmpfs":
            mount = {"Type": "tmpfs", "Target": m.target}
            opts: dict[str, Any] = {}
            if m.tmpfs.get("size") is not None:
                opts["SizeBytes"] = int(m.tmpfs["size"])
            if m.tmpfs.get("mode") is not None:
                opts["Mode"] = int(m.tmpfs["mode"])
            if opts:
                mount["TmpfsOptions"] = opts
        else:
            raise InvalidArgument(f"unsupported mount type {m.type!r} for service {service.name}")
        if m.read_only:
            mount["ReadOnly"] = True
        mounts.append(mount)
    return binds, mounts


def labels(
    info: ProjectInfo,
    service: Service,
    number: int,
    *,
    oneoff: bool,
    image_id: str = "",
    peer_ids: PeerIds | None = None,
) -> dict[str, str]:
    """Docker Compose's container labels (the state both tools read); ``peer_ids``
    resolves ``service:`` references for the config hash, as Compose does."""
    result = dict(service.labels)
    if service.deploy is not None:
        result.update(service.deploy.labels)
    result.update(
        {
            PROJECT: info.name,
            SERVICE: service.name,
            NUMBER: str(number),
            ONEOFF: "True" if oneoff else "False",
            CONFIG_HASH: config_hash(service.raw, peer_ids),
            WORKING_DIR: info.working_dir,
            CONFIG_FILES: ",".join(info.config_files),
            VERSION: __version__,
            DEPENDS_ON: ",".join(
                f"{name}:{dep.condition}:{'true' if dep.restart else 'false'}"
                for name, dep in sorted(service.depends_on.items())
            ),
        }
    )
    if info.env_files:
        result[ENVIRONMENT_FILE] = ",".join(info.env_files)
    if image_id:
        result[IMAGE] = image_id
    return result


def _service_network_order(service: Service) -> list[str]:
    return sorted(service.networks, key=lambda k: (-service.networks[k].priority, k))


def networking(
    info: ProjectInfo, service: Service, container_name: str, peers: Peers
) -> tuple[str, dict[str, Any]]:
    """(HostConfig.NetworkMode, NetworkingConfig)."""
    mode = service.network_mode
    if mode:
        kind, _, target = mode.partition(":")
        if kind == "service":
            return f"container:{peers(target)}", {"EndpointsConfig": {}}
        return mode, {"EndpointsConfig": {}}
    keys = _service_network_order(service)
    if not keys:
        return "none", {"EndpointsConfig": {}}
    endpoints: dict[str, Any] = {}
    for key in keys:
        spec = service.networks[key]
        endpoint: dict[str, Any] = {
            "Aliases": [container_name, service.name, *spec.aliases],
        }
        if spec.ipv4_address or spec.ipv6_address:
            endpoint["IPAMConfig"] = {
                "IPv4Address": spec.ipv4_address or "",
                "IPv6Address": spec.ipv6_address or "",
            }
        if spec.mac_address:
            endpoint["MacAddress"] = spec.mac_address
        endpoints[info.networks.get(key, key)] = endpoint
    return info.networks.get(keys[0], keys[0]), {"EndpointsConfig": endpoints}


def container_request(
    info: ProjectInfo,
    service: Service,
    number: int,
    name: str,
    image: str,
    peers: Peers,
    *,
    oneoff: bool = False,
    publish: bool = True,
    image_id: str = "",
    peer_ids: PeerIds | None = None,
) -> ContainerRequest:
    """The create request for container ``number`` of ``service``."""
    exposed, bindings = _ports(service, publish)
    binds, mounts = _mounts(service, info)
    raw = service.raw
    config: dict[str, Any] = {
        "Hostname": service.hostname or "",
        "Domainname": service.domainname or "",
        "User": service.user or "",
        "AttachStdin": False,
        "AttachStdout": True,
        "AttachStderr": True,
        "ExposedPorts": exposed or None,
        "Tty": service.tty,
        "OpenStdin": service.stdin_open,
        "StdinOnce": False,
        "Env": _env(service),
        "Cmd": list(service.command) if service.command is not None else None,
        "Image": image,
        "Volumes": None,
        "WorkingDir": service.working_dir or "",
        "Entrypoint": list(service.entrypoint) if service.entrypoint is not None else None,
        "OnBuild": None,
        "Labels": labels(
            info, service, number, oneoff=oneoff, image_id=image_id, peer_ids=peer_ids
        ),
    }
    if service.entrypoint == []:
        config["Entrypoint"] = [""]  # an explicit empty entrypoint resets the image's
    if service.stop_signal:
        config["StopSignal"] = service.stop_signal
    if service.stop_grace_period is not None:
        config["StopTimeout"] = int(service.stop_grace_period)
    check = healthcheck(service.healthcheck)
    if check is not None:
        config["Healthcheck"] = check
    if service.mac_address:
        config["MacAddress"] = service.mac_address
    limits = service.deploy.limits if service.deploy else None
    reservations = service.deploy.reservations if service.deploy else None
    memory = service.mem_limit or (limits.memory if limits else None) or 0
    cpus = service.cpus or (limits.cpus if limits else None) or 0
    pids = raw.get("pids_limit")
    if pids is None and limits is not None and limits.pids is not None:
        pids = limits.pids
    logging = service.logging
    network_mode, networking_config = networking(info, service, name, peers)
    host: dict[str, Any] = {
        "Binds": binds or None,
        "ContainerIDFile": "",
        "LogConfig": {
            "Type": (logging.driver if logging else None) or "",
            "Config": {
                k: str(v) for k, v in (logging.options if logging else {}).items() if v is not None
            }
            or None,
        },
        "NetworkMode": network_mode,
        "PortBindings": bindings or None,
        "RestartPolicy": restart_policy(service),
        "AutoRemove": False,
        "VolumeDriver": str(raw.get("volume_driver") or ""),
        "VolumesFrom": [_volumes_from(v, peers) for v in service.volumes_from] or None,
        "CapAdd": list(service.cap_add) or None,
        "CapDrop": list(service.cap_drop) or None,
        "CgroupnsMode": str(raw.get("cgroup") or ""),
        "Dns": list(service.dns),
        "DnsOptions": list(service.dns_opt),
        "DnsSearch": list(service.dns_search),
        "ExtraHosts": [_host_entry(h) for h in service.extra_hosts] or None,
        "GroupAdd": list(service.group_add) or None,
        "IpcMode": service.ipc or "",
        "Links": [_link(v, peers) for v in service.links] + list(service.external_links) or None,
        "OomScoreAdj": int(raw.get("oom_score_adj") or 0),
        "PidMode": service.pid or "",
        "Privileged": service.privileged,
        "PublishAllPorts": False,
        "ReadonlyRootfs": service.read_only,
        "SecurityOpt": list(service.security_opt) or None,
        "Tmpfs": _tmpfs(service.tmpfs) or None,
        "UTSMode": str(raw.get("uts") or ""),
        "UsernsMode": str(raw.get("userns_mode") or ""),
        "ShmSize": service.shm_size or 0,
        "Sysctls": {k: str(v) for k, v in service.sysctls.items()} or None,
        "Runtime": str(raw.get("runtime") or ""),
        "Init": True if service.init else None,
        "Mounts": mounts or None,
        "Memory": int(memory),
        "MemorySwap": int(raw.get("memswap_limit") or 0),
        "MemoryReservation": int(
            raw.get("mem_reservation") or (reservations.memory if reservations else 0) or 0
        ),
        "MemorySwappiness": raw.get("mem_swappiness"),
        "OomKillDisable": bool(raw.get("oom_kill_disable", False)),
        "NanoCpus": round(float(cpus) * 1e9),
        "CpuShares": int(raw.get("cpu_shares") or 0),
        "CpuPeriod": int(raw.get("cpu_period") or 0),
        "CpuQuota": int(raw.get("cpu_quota") or 0),
        "CpusetCpus": str(raw.get("cpuset") or ""),
        "CpusetMems": "",
        "PidsLimit": pids,
        "Ulimits": _ulimits(service.ulimits) or None,
        "Devices": _devices(service.devices),
        "CgroupParent": str(raw.get("cgroup_parent") or ""),
    }
    return ContainerRequest(name, image, config, host, networking_config)


def _host_entry(text: str) -> str:
    """compose-go writes extra hosts as ``host=ip``; the Engine API takes ``host:ip``."""
    host, sep, address = text.partition("=")
    return f"{host}:{address}" if sep else text


def _volumes_from(text: str, peers: Peers) -> str:
    kind, _, rest = text.partition(":")
    if kind == "container":
        return rest
    if kind == "service":
        name, _, mode = rest.partition(":")
    else:
        name, mode = kind, rest
    target = peers(name)
    return f"{target}:{mode}" if mode else target


def _link(text: str, peers: Peers) -> str:
    name, _, alias = text.partition(":")
    return f"{peers(name)}:{alias or name}"


def file_objects(
    service: Service,
    kind: str,
    objects: dict[str, Any],
    environ: dict[str, str],
) -> tuple[list[str], list[tuple[str, bytes, int]]]:
    """Secrets (``kind="secrets"``) or configs as read-only binds of their files, or as
    files copied into the container (content and environment sources), at the paths
    the spec gives: ``/run/secrets/<name>`` and ``/<name>`` unless a target says."""
    binds: list[str] = []
    files: list[tuple[str, bytes, int]] = []
    references = service.secrets if kind == "secrets" else service.configs
    for ref in references:
        obj = objects.get(ref.source)
        if obj is None:
            raise InvalidArgument(
                f"service {service.name} refers to undefined {kind[:-1]} {ref.source}"
            )
        target = ref.target or ref.source
        if not target.startswith("/"):
            target = ("/run/secrets/" if kind == "secrets" else "/") + target
        mode = ref.mode if ref.mode is not None else 0o444
        if obj.external:
            raise InvalidArgument(f"unsupported external {kind[:-1]} {obj.name}")
        if obj.file is not None:
            if ref.mode is None and ref.uid is None and ref.gid is None:
                if not os.path.exists(obj.file):
                    raise InvalidArgument(f"{kind[:-1]} file {obj.file} does not exist")
                binds.append(f"{obj.file}:{target}:ro")
                continue
            with open(obj.file, "rb") as handle:
                files.append((target, handle.read(), mode))
        elif obj.environment is not None:
            files.append((target, environ.get(obj.environment, "").encode(), mode))
        elif obj.content is not None:
            files.append((target, obj.content.encode(), mode))
    return binds, files
