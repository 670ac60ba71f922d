"""A compose service becomes the same Engine API bodies as the equivalent ``run`` flags
(dockyard.cli.runflags), plus Docker Compose's labels."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from dockyard.cli.parser import CommandParser
from dockyard.cli.runflags import add_run_flags, build_container_request
from dockyard.compose import convert
from dockyard.compose.loader import ProjectOptions, load_project
from dockyard.compose.model import build_model
from dockyard.compose.planner import config_hash

SERVICE = """
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo hi"]
    entrypoint: ["/bin/env"]
    environment: {A: "1", B: two}
    user: "1000:1000"
    working_dir: /srv
    hostname: webhost
    domainname: example.test
    ports: ["127.0.0.1:8080:80", "9000/udp"]
    expose: ["7000"]
    volumes: ["/host/data:/data:ro", "cache:/cache", "/anon"]
    tmpfs: ["/run:size=1m"]
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    privileged: true
    read_only: true
    security_opt: ["no-new-privileges"]
    devices: ["/dev/null:/dev/mynull:r"]
    pid: host
    ipc: private
    shm_size: 64m
    sysctls: {net.core.somaxconn: "1024"}
    ulimits: {nofile: {soft: 100, hard: 200}, nproc: 50}
    cgroup_parent: /custom
    stop_signal: SIGUSR1
    stop_grace_period: 7s
    stdin_open: true
    tty: true
    labels: {tier: front}
    logging: {driver: json-file, options: {max-size: 1m}}
    dns: [10.0.0.1]
    dns_search: [example.test]
    dns_opt: [ndots:2]
    extra_hosts: ["db.local:10.0.0.2"]
    mem_limit: 64m
    memswap_limit: 128m
    mem_reservation: 32m
    cpus: 0.5
    cpu_shares: 512
    cpuset: "0"
    pids_limit: 100
    oom_score_adj: 100
    init: true
    restart: on-failure:3
    group_add: ["audio"]
    healthcheck:
      test: ["CMD-SHELL", "true"]
      interval: 2s
      timeout: 1s
      retries: 4
      start_period: 3s
volumes:
  cache: {}
"""

RUN_FLAGS = [
    "--entrypoint", "/bin/env",
    "-e", "A=1", "-e", "B=two",
    "-u", "1000:1000", "-w", "/srv", "-h", "webhost", "--domainname", "example.test",
    "-p", "127.0.0.1:8080:80", "-p", "9000/udp", "--expose", "7000",
    "--tmpfs", "/run:size=1m",
    "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD", "--privileged", "--read-only",
    "--security-opt", "no-new-privileges", "--device", "/dev/null:/dev/mynull:r",
    "--pid", "host", "--ipc", "private", "--shm-size", "64m",
    "--sysctl", "net.core.somaxconn=1024",
    "--ulimit", "nofile=100:200", "--ulimit", "nproc=50",
    "--cgroup-parent", "/custom", "--stop-signal", "SIGUSR1", "--stop-timeout", "7",
    "-i", "-t", "--log-driver", "json-file", "--log-opt", "max-size=1m",
    "--dns", "10.0.0.1", "--dns-search", "example.test", "--dns-option", "ndots:2",
    "--add-host", "db.local:10.0.0.2",
    "-m", "64m", "--memory-swap", "128m", "--memory-reservation", "32m", "--cpus", "0.5",
    "-c", "512", "--cpuset-cpus", "0", "--pids-limit", "100", "--oom-score-adj", "100",
    "--init", "--restart", "on-failure:3", "--group-add", "audio",
    "--health-cmd", "true", "--health-interval", "2s", "--health-timeout", "1s",
    "--health-retries", "4", "--health-start-period", "3s",
    "busybox", "sh", "-c", "echo hi",
]  # fmt: skip


def load(tmp_path: pathlib.Path, text: str) -> tuple[Any, Any]:
    (tmp_path / "compose.yaml").write_text(text)
    project = load_project(
        ProjectOptions(
            config_files=[str(tmp_path / "compose.yaml")],
            project_name="demo",
            environ={},
            cwd=str(tmp_path),
        )
    )
    return project, build_model(project.model, project.working_dir)


def request_for(project: Any, model: Any, service: str, **kwargs: Any) -> convert.ContainerRequest:
    info = convert.ProjectInfo(
        name=project.name,
        working_dir=project.working_dir,
        config_files=project.config_files,
        networks={k: n.name for k, n in model.networks.items()},
        volumes={k: v.name for k, v in model.volumes.items()},
    )
    return convert.container_request(
        info,
        model.services[service],
        1,
        f"demo-{service}-1",
        "busybox",
        lambda name: f"demo-{name}-1",
        **kwargs,
    )


def run_request(flags: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    p = CommandParser("run", "", "")
    add_run_flags(p)
    ns = p.parse(flags, min_args=1, interspersed=False)
    _, config, host, _ = build_container_request(ns, p)
    return config, host


def test_a_service_maps_to_the_bodies_run_flags_give(tmp_path: pathlib.Path) -> None:
    project, model = load(tmp_path, SERVICE)
    request = request_for(project, model, "web")
    config, host = run_request(RUN_FLAGS)
    compose_config = dict(request.config)
    labels = compose_config.pop("Labels")
    for key in ("AttachStdin", "StdinOnce", "Labels", "AttachStdout", "AttachStderr"):
        compose_config.pop(key, None)
        config.pop(key, None)
    assert compose_config == config
    assert labels["tier"] == "front"
    assert labels["com.docker.compose.project"] == "demo"
    assert labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.container-number"] == "1"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert labels["com.docker.compose.config-hash"] == config_hash(project.services["web"])
    # Volumes go as Binds/Mounts (compose's way); networks as the project network.
    compose_host = dict(request.host)
    assert compose_host.pop("Binds") == ["/host/data:/data:ro"]
    assert compose_host.pop("Mounts") == [
        {"Type": "volume", "Target": "/cache", "Source": "demo_cache"},
        {"Type": "volume", "Target": "/anon"},
    ]
    assert compose_host.pop("NetworkMode") == "demo_default"
    for key in ("Binds", "Mounts", "NetworkMode"):
        host.pop(key)
    assert compose_host == host
    endpoints = request.networking["EndpointsConfig"]
    assert endpoints == {"demo_default": {"Aliases": ["demo-web-1", "web"]}}


def test_run_without_service_ports_publishes_nothing(tmp_path: pathlib.Path) -> None:
    project, model = load(tmp_path, SERVICE)
    request = request_for(project, model, "web", publish=False, oneoff=True)
    assert request.host["PortBindings"] is None
    assert "80/tcp" in request.config["ExposedPorts"]
    assert request.config["Labels"]["com.docker.compose.oneoff"] == "True"


def test_network_modes_and_service_references(tmp_path: pathlib.Path) -> None:
    project, model = load(
        tmp_path,
        """
services:
  a: {image: busybox, network_mode: "service:b", volumes_from: ["b:ro", "container:x"]}
  b: {image: busybox, network_mode: none, depends_on: {c: {condition: service_healthy}}}
  c:
    image: busybox
    networks:
      back: {aliases: [db], ipv4_address: 10.9.0.5}
      front: {priority: 10}
networks:
  back: {ipam: {config: [{subnet: 10.9.0.0/24}]}}
  front: {}
""",
    )
    a = request_for(project, model, "a")
    assert a.host["NetworkMode"] == "container:demo-b-1"
    assert a.host["VolumesFrom"] == ["demo-b-1:ro", "x"]
    b = request_for(project, model, "b")
    assert b.host["NetworkMode"] == "none"
    assert b.config["Labels"]["com.docker.compose.depends_on"] == "c:service_healthy:false"
    c = request_for(project, model, "c")
    assert c.host["NetworkMode"] == "demo_front"  # the highest priority first
    assert c.networking["EndpointsConfig"]["demo_back"] == {
        "Aliases": ["demo-c-1", "c", "db"],
        "IPAMConfig": {"IPv4Address": "10.9.0.5", "IPv6Address": ""},
    }


def test_secrets_and_configs(tmp_path: pathlib.Path) -> None:
    (tmp_path / "token").write_text("t")
    _, model = load(
        tmp_path,
        """
services:
  a:
    image: busybox
    secrets: [token, {source: env, target: other, mode: 0400}]
    configs: [{source: inline, target: /etc/x.conf}]
secrets:
  token: {file: ./token}
  env: {environment: TOKEN_VAR}
configs:
  inline: {content: hello}
""",
    )
    service = model.services["a"]
    binds, files = convert.file_objects(service, "secrets", model.secrets, {"TOKEN_VAR": "v"})
    assert binds == [f"{tmp_path}/token:/run/secrets/token:ro"]
    assert files == [("/run/secrets/other", b"v", 0o400)]
    binds, files = convert.file_objects(service, "configs", model.configs, {})
    assert binds == [] and files == [("/etc/x.conf", b"hello", 0o444)]


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("no", {"Name": "no", "MaximumRetryCount": 0}),
        ("always", {"Name": "always", "MaximumRetryCount": 0}),
        ("unless-stopped", {"Name": "unless-stopped", "MaximumRetryCount": 0}),
        ("on-failure:5", {"Name": "on-failure", "MaximumRetryCount": 5}),
    ],
)
def test_restart_policies(tmp_path: pathlib.Path, text: str, policy: dict[str, Any]) -> None:
    _, model = load(tmp_path, f"services:\n  a: {{image: busybox, restart: '{text}'}}\n")
    assert convert.restart_policy(model.services["a"]) == policy
