"""Normalisation to compose's long syntax, consistency checks, the typed model and
the planner."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from dockyard.compose.errors import ComposeError
from dockyard.compose.loader import ProjectOptions, load_project
from dockyard.compose.model import build_model
from dockyard.compose.normalize import go_duration, parse_port, parse_volume
from dockyard.compose.planner import (
    check_cycles,
    config_hash,
    container_name,
    dependents,
    start_order,
    with_dependencies,
)


def load_text(tmp_path: pathlib.Path, text: str, env: dict[str, str] | None = None) -> Any:
    proj = tmp_path / "proj"
    proj.mkdir(exist_ok=True)
    (proj / "compose.yaml").write_text(text)
    return load_project(ProjectOptions(cwd=str(proj), environ=dict(env or {})))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", [{"mode": "ingress", "target": 80, "protocol": "tcp"}]),
        (80, [{"mode": "ingress", "target": 80, "protocol": "tcp"}]),
        ("8080:80", [{"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"}]),
        (
            "127.0.0.1:8001:8001/udp",
            [
                {
                    "mode": "ingress",
                    "host_ip": "127.0.0.1",
                    "target": 8001,
                    "published": "8001",
                    "protocol": "udp",
                },
            ],
        ),
        (
            "127.0.0.1::80",
            [
                {"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "protocol": "tcp"},
            ],
        ),
        (
            "[::1]:6000:6000",
            [
                {
                    "mode": "ingress",
                    "host_ip": "::1",
                    "target": 6000,
                    "published": "6000",
                    "protocol": "tcp",
                },
            ],
        ),
        (
            "3000-3001:4000-4001",
            [
                {"mode": "ingress", "target": 4000, "published": "3000", "protocol": "tcp"},
                {"mode": "ingress", "target": 4001, "published": "3001", "protocol": "tcp"},
            ],
        ),
        (
            "9090-9091:8080",
            [
                {"mode": "ingress", "target": 8080, "published": "9090-9091", "protocol": "tcp"},
            ],
        ),
    ],
)
def test_port_short_syntax(spec: Any, expected: list[dict[str, Any]]) -> None:
    assert parse_port(spec, "services.web.ports") == expected


def test_bad_port() -> None:
    with pytest.raises(ComposeError, match="Invalid containerPort"):
        parse_port("80:http", "services.web.ports")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("/data", {"type": "volume", "target": "/data", "volume": {}}),
        ("named:/data", {"type": "volume", "source": "named", "target": "/data", "volume": {}}),
        (
            "named:/data:ro,nocopy",
            {
                "type": "volume",
                "source": "named",
                "target": "/data",
                "read_only": True,
                "volume": {"nocopy": True},
            },
        ),
        (
            "/host:/c:rw,z",
            {
                "type": "bind",
                "source": "/host",
                "target": "/c",
                "bind": {"selinux": "z", "create_host_path": True},
            },
        ),
        (
            "/host:/c:rshared",
            {
                "type": "bind",
                "source": "/host",
                "target": "/c",
                "bind": {"propagation": "rshared", "create_host_path": True},
            },
        ),
    ],
)
def test_volume_short_syntax(spec: str, expected: dict[str, Any]) -> None:
    assert parse_volume(spec, "services.web.volumes") == expected


def test_unknown_volume_modes_are_ignored_as_compose_go_does() -> None:
    """format.ParseVolume skips options it does not know, consistency ones included."""
    assert parse_volume("data:/b:bogus,cached", "services.web.volumes") == {
        "type": "volume",
        "source": "data",
        "target": "/b",
        "volume": {},
    }


def test_bad_volume_specs() -> None:
    with pytest.raises(ComposeError, match="too many colons"):
        parse_volume("data:/b:ro:x", "services.web.volumes")
    with pytest.raises(ComposeError, match="empty section between colons"):
        parse_volume("data::/b", "services.web.volumes")


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (90 * 10**9, "1m30s"),
        (1500 * 10**6, "1.5s"),
        (3600 * 10**9, "1h0m0s"),
        (10**6, "1ms"),
        (2500, "2.5µs"),
    ],
)
def test_go_duration(ns: int, text: str) -> None:
    assert go_duration(ns) == text


def test_service_normalisation(tmp_path: pathlib.Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "web.env").write_text("FROM_FILE=1\nOVERRIDDEN=file\n")
    project = load_text(
        tmp_path,
        "services:\n"
        "  web:\n"
        "    build: ./app\n"
        "    command: sh -c 'echo \"hi there\"'\n"
        "    env_file: web.env\n"
        "    environment: [OVERRIDDEN=env, PASSED, ABSENT]\n"
        "    labels: [a=b]\n"
        "    depends_on: [db]\n"
        "    links: ['cache:c']\n"
        "    expose: [80, '81']\n"
        "    dns: 8.8.8.8\n"
        "    extra_hosts: ['host1:1.2.3.4', 'host2=::1']\n"
        "    healthcheck:\n      test: curl -f localhost\n      interval: 30s\n      retries: '3'\n"
        "    stop_grace_period: 1m\n"
        "    mem_limit: 1g\n"
        "    tty: 'true'\n"
        "    ulimits: {nofile: {soft: 10, hard: 20}, nproc: 5}\n"
        "    secrets: [token]\n"
        "    pull_policy: if_not_present\n"
        "  db:\n    image: postgres\n    network_mode: none\n"
        "  cache:\n    image: redis\n    networks: [back]\n"
        "networks:\n  back: {}\n  outside:\n    external: true\n"
        "secrets:\n  token:\n    environment: TOKEN\n",
        env={"PASSED": "p"},
    )
    web = project.services["web"]
    assert web["build"] == {"context": str(tmp_path / "proj" / "app"), "dockerfile": "Dockerfile"}
    assert web["command"] == ["sh", "-c", 'echo "hi there"']
    assert web["environment"] == {
        "ABSENT": None,
        "FROM_FILE": "1",
        "OVERRIDDEN": "env",
        "PASSED": "p",
    }
    assert web["env_file"] == [{"path": str(tmp_path / "proj" / "web.env"), "required": True}]
    assert web["labels"] == {"a": "b"}
    assert web["depends_on"] == {
        "cache": {"condition": "service_started", "restart": True, "required": True},
        "db": {"condition": "service_started", "required": True},
    }
    assert web["expose"] == ["80", "81"]
    assert web["dns"] == ["8.8.8.8"]
    assert web["extra_hosts"] == ["host1=1.2.3.4", "host2=::1"]
    assert web["healthcheck"] == {
        "test": ["CMD-SHELL", "curl -f localhost"],
        "interval": "30s",
        "retries": 3,
    }
    assert web["stop_grace_period"] == "1m0s"
    assert web["mem_limit"] == str(1024**3)
    assert web["tty"] is True
    assert web["ulimits"] == {"nofile": {"soft": 10, "hard": 20}, "nproc": 5}
    assert web["secrets"] == [{"source": "token", "target": "/run/secrets/token"}]
    assert web["pull_policy"] == "missing"
    assert web["networks"] == {"default": None}
    assert "networks" not in project.services["db"]
    assert project.services["cache"]["networks"] == {"back": None}
    assert project.model["networks"] == {
        "back": {"name": "proj_back"},
        "default": {"name": "proj_default"},
        "outside": {"name": "outside", "external": True},
    }
    assert project.model["secrets"] == {"token": {"name": "proj_token", "environment": "TOKEN"}}
    assert list(web) == [
        "build",
        "command",
        "depends_on",
        "dns",
        "environment",
        "env_file",
        "expose",
        "extra_hosts",
        "healthcheck",
        "labels",
        "links",
        "mem_limit",
        "networks",
        "pull_policy",
        "secrets",
        "stop_grace_period",
        "tty",
        "ulimits",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "services:\n  web: {}\n",
            'service "web" has neither an image nor a build context specified: '
            "invalid compose project",
        ),
        (
            "services:\n  web:\n    image: x\n    depends_on: [db]\n",
            'service "web" depends on undefined service "db": invalid compose project',
        ),
        (
            "services:\n  web:\n    image: x\n    networks: [front]\n",
            'service "web" refers to undefined network front: invalid compose project',
        ),
        (
            "services:\n  web:\n    image: x\n    volumes: ['data:/data']\n",
            'service "web" refers to undefined volume data: invalid compose project',
        ),
        (
            "services:\n  web:\n    image: x\n    secrets: [s]\n",
            'service "web" refers to undefined secret s: invalid compose project',
        ),
        (
            "services:\n  web:\n    image: x\n    configs: [c]\n",
            'service "web" refers to undefined config c: invalid compose project',
        ),
        (
            "services:\n  web:\n    image: x\n    container_name: cc\n    scale: 2\n",
            "services.web: can't set container_name and web as container name must be unique: "
            "invalid compose project",
        ),
        (
            "services:\n  a:\n    image: x\n    depends_on: [b]\n"
            "  b:\n    image: x\n    depends_on: [a]\n",
            "dependency cycle detected: a -> b -> a",
        ),
        (
            "services:\n  web:\n    image: x\n    env_file: missing.env\n",
            "env file {proj}/missing.env not found: "
            "stat {proj}/missing.env: no such file or directory",
        ),
    ],
)
def test_consistency_errors(tmp_path: pathlib.Path, text: str, message: str) -> None:
    with pytest.raises(ComposeError) as info:
        load_text(tmp_path, text)
    assert info.value.message == message.format(proj=tmp_path / "proj")


def test_optional_env_file_and_optional_dependency(tmp_path: pathlib.Path) -> None:
    project = load_text(
        tmp_path,
        "services:\n  web:\n    image: x\n"
        "    env_file: [{path: missing.env, required: false}]\n"
        "    depends_on:\n      db:\n        condition: service_started\n        required: false\n",
    )
    assert project.services["web"]["env_file"][0]["required"] is False


def test_typed_model(tmp_path: pathlib.Path) -> None:
    project = load_text(
        tmp_path,
        "services:\n"
        "  web:\n    image: busybox\n    ports: ['8080:80']\n"
        "    deploy:\n      replicas: 3\n      resources:\n"
        "        limits: {cpus: '0.5', memory: 64M}\n"
        "    depends_on:\n      db: {condition: service_healthy}\n"
        "    healthcheck: {test: [CMD, 'true'], interval: 2s}\n"
        "    volumes: ['data:/data']\n"
        "  db:\n    image: busybox\n    networks:\n      default:\n        aliases: [database]\n"
        "volumes:\n  data:\n    driver_opts: {type: tmpfs, device: tmpfs}\n",
    )
    model = build_model(project.model, project.working_dir)
    web = model.services["web"]
    assert web.replicas == 3
    assert web.deploy is not None and web.deploy.limits.memory == 64 * 1024 * 1024
    assert web.deploy.limits.cpus == 0.5
    assert web.ports[0].target == 80 and web.ports[0].published == "8080"
    assert web.depends_on["db"].condition == "service_healthy"
    assert web.healthcheck is not None and web.healthcheck.interval == 2.0
    assert web.volumes[0].source == "data" and web.volumes[0].type == "volume"
    assert model.services["db"].networks["default"].aliases == ["database"]
    assert model.volumes["data"].name == "proj_data"
    assert model.volumes["data"].driver_opts == {"device": "tmpfs", "type": "tmpfs"}
    assert model.networks["default"].name == "proj_default"


# ------------------------------------------------------------------ planner


def _svc(*deps: str) -> dict[str, Any]:
    return {"image": "x", "depends_on": {d: {"condition": "service_started"} for d in deps}}


def test_start_order_waves() -> None:
    services = {"web": _svc("api", "cache"), "api": _svc("db"), "db": _svc(), "cache": _svc()}
    assert start_order(services) == [["cache", "db"], ["api"], ["web"]]


def test_cycle_detection_names_the_cycle() -> None:
    with pytest.raises(ComposeError, match="dependency cycle detected: a -> b -> c -> a"):
        check_cycles({"a": _svc("b"), "b": _svc("c"), "c": _svc("a")})
    with pytest.raises(ComposeError, match="dependency cycle detected: a -> a"):
        check_cycles({"a": _svc("a")})


def test_dependents_are_recreated_too() -> None:
    services = {"web": _svc("api"), "api": _svc("db"), "db": _svc(), "other": _svc()}
    assert dependents(services, {"db"}) == {"db", "api", "web"}


def test_config_hash_changes_only_with_the_container_config() -> None:
    base = {"image": "busybox", "command": ["sleep", "1"], "networks": {"default": None}}
    same = dict(reversed(list(base.items())))
    assert config_hash(base) == config_hash(same)
    assert config_hash(base) != config_hash({**base, "command": ["sleep", "2"]})
    assert config_hash(base) == config_hash({**base, "scale": 3})
    # deploy.replicas is cleared, but a present deploy section still marshals its
    # struct fields (resources, placement), as compose's ServiceHash does
    with_replicas = {**base, "deploy": {"replicas": 4}}
    assert config_hash(with_replicas) == config_hash({**base, "deploy": {"replicas": 2}})
    assert config_hash(with_replicas) == config_hash({**base, "deploy": {}})
    assert config_hash(base) != config_hash(with_replicas)
    assert config_hash(base) != config_hash({**base, "deploy": {"resources": {"limits": {}}}})
    assert config_hash(base) == config_hash({**base, "depends_on": {"db": {}}})
    assert config_hash(base) == config_hash({**base, "build": {"context": "."}})
    assert config_hash(base) == config_hash({**base, "profiles": ["x"]})
    assert len(config_hash(base)) == 64


def test_with_dependencies() -> None:
    services = {"web": _svc("api"), "api": _svc("db"), "db": _svc(), "other": _svc()}
    assert with_dependencies(services, ["web"]) == ["api", "db", "web"]
    assert with_dependencies(services, ["other"]) == ["other"]


def test_container_names() -> None:
    assert container_name("proj", "web", 2, {}) == "proj-web-2"
    assert container_name("proj", "web", 1, {"container_name": "fixed"}) == "fixed"
