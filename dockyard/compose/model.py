"""Typed view of a normalised compose model (what the engine side of compose reads).

Built from the canonical mapping :func:`dockyard.compose.normalize.normalize` returns,
so every value is already in its long form; keys without a typed field stay reachable
through ``Service.raw``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockyard.golang.units import parse_go_duration_ns


def _seconds(duration: str | None) -> float | None:
    return None if duration is None else parse_go_duration_ns(duration) / 1e9


@dataclass(frozen=True)
class Build:
    context: str
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: dict[str, str | None] = field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    cache_from: list[str] = field(default_factory=list)
    no_cache: bool = False
    pull: bool = False
    network: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Port:
    target: int
    published: str | None = None
    host_ip: str | None = None
    protocol: str = "tcp"
    mode: str = "ingress"
    name: str | None = None
    app_protocol: str | None = None


@dataclass(frozen=True)
class Mount:
    type: str
    target: str
    source: str | None = None
    read_only: bool = False
    bind: dict[str, Any] = field(default_factory=dict)
    volume: dict[str, Any] = field(default_factory=dict)
    tmpfs: dict[str, Any] = field(default_factory=dict)
    consistency: str | None = None


@dataclass(frozen=True)
class Dependency:
    condition: str = "service_started"
    restart: bool = False
    required: bool = True


@dataclass(frozen=True)
class Healthcheck:
    test: list[str] | None = None
    interval: float | None = None  # seconds
    timeout: float | None = None
    start_period: float | None = None
    start_interval: float | None = None
    retries: int | None = None
    disable: bool = False


@dataclass(frozen=True)
class ServiceNetwork:
    aliases: list[str] = field(default_factory=list)
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    mac_address: str | None = None
    link_local_ips: list[str] = field(default_factory=list)
    driver_opts: dict[str, str] = field(default_factory=dict)
    priority: int = 0
    interface_name: str | None = None


@dataclass(frozen=True)
class FileReference:
    """A service's use of a secret or config."""

    source: str
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None


@dataclass(frozen=True)
class Resources:
    cpus: float | None = None
    memory: int | None = None
    pids: int | None = None


@dataclass(frozen=True)
class Deploy:
    replicas: int | None = None
    limits: Resources = field(default_factory=Resources)
    reservations: Resources = field(default_factory=Resources)
    restart_policy: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    mode: str | None = None


@dataclass(frozen=True)
class Logging:
    driver: str | None = None
    options: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Service:
    name: str
    raw: dict[str, Any]
    image: str | None = None
    build: Build | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    ports: list[Port] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)
    volumes: list[Mount] = field(default_factory=list)
    volumes_from: list[str] = field(default_factory=list)
    depends_on: dict[str, Dependency] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    networks: dict[str, ServiceNetwork] = field(default_factory=dict)
    network_mode: str | None = None
    secrets: list[FileReference] = field(default_factory=list)
    configs: list[FileReference] = field(default_factory=list)
    deploy: Deploy | None = None
    scale: int | None = None
    restart: str | None = None
    init: bool | None = None
    user: str | None = None
    working_dir: str | None = None
    hostname: str | None = None
    domainname: str | None = None
    container_name: str | None = None
    stop_grace_period: float | None = None  # seconds
    stop_signal: str | None = None
    logging: Logging | None = None
    profiles: list[str] = field(default_factory=list)
    privileged: bool = False
    read_only: bool = False
    tty: bool = False
    stdin_open: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    devices: list[Any] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_opt: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    ulimits: dict[str, Any] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    external_links: list[str] = field(default_factory=list)
    pid: str | None = None
    ipc: str | None = None
    shm_size: int | None = None
    mem_limit: int | None = None
    cpus: float | None = None
    pull_policy: str | None = None
    platform: str | None = None
    mac_address: str | None = None
    group_add: list[str] = field(default_factory=list)

    @property
    def replicas(self) -> int:
        """How many containers ``up`` runs: deploy.replicas, else scale, else 1."""
        if self.deploy is not None and self.deploy.replicas is not None:
            return self.deploy.replicas
        return self.scale if self.scale is not None else 1


@dataclass(frozen=True)
class Network:
    key: str
    name: str
    driver: str | None = None
    driver_opts: dict[str, str] = field(default_factory=dict)
    ipam: dict[str, Any] = field(default_factory=dict)
    external: bool = False
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Volume:
    key: str
    name: str
    driver: str | None = None
    driver_opts: dict[str, str] = field(default_factory=dict)
    external: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FileObject:
    """A top-level secret or config: from a file, an environment variable or content."""

    key: str
    name: str
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectModel:
    name: str
    working_dir: str
    services: dict[str, Service]
    networks: dict[str, Network]
    volumes: dict[str, Volume]
    secrets: dict[str, FileObject]
    configs: dict[str, FileObject]


def _resources(spec: dict[str, Any] | None) -> Resources:
    spec = spec or {}
    memory = spec.get("memory")
    return Resources(
        cpus=float(spec["cpus"]) if "cpus" in spec else None,
        memory=int(memory) if memory is not None else None,
        pids=spec.get("pids"),
    )


def _service(name: str, s: dict[str, Any]) -> Service:
    build = s.get("build")
    health = s.get("healthcheck")
    deploy = s.get("deploy")
    resources = (deploy or {}).get("resources") or {}
    logging = s.get("logging")
    return Service(
        name=name,
        raw=s,
        image=s.get("image"),
        build=Build(
            context=build["context"],
            dockerfile=build.get("dockerfile"),
            dockerfile_inline=build.get("dockerfile_inline"),
            args=dict(build.get("args") or {}),
            target=build.get("target"),
            labels=dict(build.get("labels") or {}),
            cache_from=list(build.get("cache_from") or []),
            no_cache=build.get("no_cache") in (True, "true"),
            pull=build.get("pull") in (True, "true"),
            network=build.get("network"),
            tags=list(build.get("tags") or []),
        )
        if build
        else None,
        command=s.get("command"),
        entrypoint=s.get("entrypoint"),
        environment=dict(s.get("environment") or {}),
        labels=dict(s.get("labels") or {}),
        ports=[Port(**p) for p in s.get("ports") or []],
        expose=list(s.get("expose") or []),
        volumes=[
            Mount(
                type=v["type"],
                target=v.get("target", ""),
                source=v.get("source"),
                read_only=bool(v.get("read_only", False)),
                bind=dict(v.get("bind") or {}),
                volume=dict(v.get("volume") or {}),
                tmpfs=dict(v.get("tmpfs") or {}),
                consistency=v.get("consistency"),
            )
            for v in s.get("volumes") or []
        ],
        volumes_from=list(s.get("volumes_from") or []),
        depends_on={k: Dependency(**v) for k, v in (s.get("depends_on") or {}).items()},
        healthcheck=Healthcheck(
            test=health.get("test"),
            interval=_seconds(health.get("interval")),
            timeout=_seconds(health.get("timeout")),
            start_period=_seconds(health.get("start_period")),
            start_interval=_seconds(health.get("start_interval")),
            retries=health.get("retries"),
            disable=bool(health.get("disable", False)),
        )
        if health is not None
        else None,
        networks={
            k: ServiceNetwork(
                **{
                    f: x
                    for f, x in (v or {}).items()
                    if not f.startswith("x-") and f != "gw_priority"
                }
            )
            for k, v in (s.get("networks") or {}).items()
        },
        network_mode=s.get("network_mode"),
        secrets=[
            FileReference(**{k: v for k, v in m.items() if not k.startswith("x-")})
            for m in s.get("secrets") or []
        ],
        configs=[
            FileReference(**{k: v for k, v in m.items() if not k.startswith("x-")})
            for m in s.get("configs") or []
        ],
        deploy=Deploy(
            replicas=deploy.get("replicas"),
            limits=_resources(resources.get("limits")),
            reservations=_resources(resources.get("reservations")),
            restart_policy=dict(deploy.get("restart_policy") or {}),
            labels=dict(deploy.get("labels") or {}),
            mode=deploy.get("mode"),
        )
        if deploy is not None
        else None,
        scale=s.get("scale"),
        restart=s.get("restart"),
        init=s.get("init"),
        user=s.get("user"),
        working_dir=s.get("working_dir"),
        hostname=s.get("hostname"),
        domainname=s.get("domainname"),
        container_name=s.get("container_name"),
        stop_grace_period=_seconds(s.get("stop_grace_period")),
        stop_signal=s.get("stop_signal"),
        logging=Logging(driver=logging.get("driver"), options=dict(logging.get("options") or {}))
        if logging
        else None,
        profiles=list(s.get("profiles") or []),
        privileged=bool(s.get("privileged", False)),
        read_only=bool(s.get("read_only", False)),
        tty=bool(s.get("tty", False)),
        stdin_open=bool(s.get("stdin_open", False)),
        cap_add=list(s.get("cap_add") or []),
        cap_drop=list(s.get("cap_drop") or []),
        security_opt=list(s.get("security_opt") or []),
        devices=list(s.get("devices") or []),
        dns=list(s.get("dns") or []),
        dns_search=list(s.get("dns_search") or []),
        dns_opt=list(s.get("dns_opt") or []),
        extra_hosts=list(s.get("extra_hosts") or []),
        tmpfs=list(s.get("tmpfs") or []),
        sysctls=dict(s.get("sysctls") or {}),
        ulimits=dict(s.get("ulimits") or {}),
        links=list(s.get("links") or []),
        external_links=list(s.get("external_links") or []),
        pid=s.get("pid"),
        ipc=s.get("ipc"),
        shm_size=int(s["shm_size"]) if "shm_size" in s else None,
        mem_limit=int(s["mem_limit"]) if "mem_limit" in s else None,
        cpus=float(s["cpus"]) if "cpus" in s else None,
        pull_policy=s.get("pull_policy"),
        platform=s.get("platform"),
        mac_address=s.get("mac_address"),
        group_add=[str(g) for g in s.get("group_add") or []],
    )


def build_model(model: dict[str, Any], working_dir: str) -> ProjectModel:
    """The typed project from a normalised model mapping."""
    networks = {
        key: Network(
            key=key,
            name=spec["name"],
            driver=spec.get("driver"),
            driver_opts=dict(spec.get("driver_opts") or {}),
            ipam=dict(spec.get("ipam") or {}),
            external=bool(spec.get("external", False)),
            internal=bool(spec.get("internal", False)),
            attachable=bool(spec.get("attachable", False)),
            enable_ipv6=spec.get("enable_ipv6"),
            labels=dict(spec.get("labels") or {}),
        )
        for key, spec in (model.get("networks") or {}).items()
    }
    volumes = {
        key: Volume(
            key=key,
            name=spec["name"],
            driver=spec.get("driver"),
            driver_opts=dict(spec.get("driver_opts") or {}),
            external=bool(spec.get("external", False)),
            labels=dict(spec.get("labels") or {}),
        )
        for key, spec in (model.get("volumes") or {}).items()
    }

    def files(kind: str) -> dict[str, FileObject]:
        return {
            key: FileObject(
                key=key,
                name=spec["name"],
                file=spec.get("file"),
                environment=spec.get("environment"),
                content=spec.get("content"),
                external=bool(spec.get("external", False)),
                labels=dict(spec.get("labels") or {}),
            )
            for key, spec in (model.get(kind) or {}).items()
        }

    return ProjectModel(
        name=model["name"],
        working_dir=working_dir,
        services={name: _service(name, s) for name, s in (model.get("services") or {}).items()},
        networks=networks,
        volumes=volumes,
        secrets=files("secrets"),
        configs=files("configs"),
    )
