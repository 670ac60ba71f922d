"""``dockyard compose`` end to end on busybox projects: up/ps/logs/exec/down, the
dependency conditions, recreating only what changed, scale, named volumes and
service names on the project network.

Each test has its own root; everything a project makes is gone at the end (checked).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DOCKYARD, Dockyard, needs_root
from tests.integration.test_container_run import nothing_left

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]

# sh as PID 1 ignores SIGTERM: trap it so that stop is quick
LOOP = "trap 'exit 0' TERM; while :; do sleep 0.1; done"


def project(tmp_path: Path, text: str, name: str = "proj") -> Path:
    directory = tmp_path / name
    directory.mkdir(exist_ok=True)
    (directory / "compose.yaml").write_text(text)
    return directory / "compose.yaml"


def compose(dy: Dockyard, file: Path, *args: str, check: bool = True):  # type: ignore[no-untyped-def]
    return dy("compose", "-f", str(file), "-p", "proj", "--progress", "plain", *args, check=check)


def labels(dy: Dockyard, name: str) -> dict[str, str]:
    result: dict[str, str] = json.loads(dy("inspect", name).out)[0]["Config"]["Labels"]
    return result


def container_ids(dy: Dockyard) -> dict[str, str]:
    out = dy("ps", "-a", "--format", "{{.Names}} {{.ID}}").out
    return dict(line.split() for line in out.splitlines())  # type: ignore[misc]


def _stop_dns_daemon(dy: Dockyard) -> None:
    """The per-root daemons a project starts (the embedded DNS, the port proxy) linger
    for a minute by design; the test ends them (by the pids they wrote) so nothing is
    left running."""
    for name in ("dnsd.pid", "portd.pid"):
        pid_file = dy.run_root / "network" / name
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().strip() or 0)
            if pid > 1:
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 5
                while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                    time.sleep(0.02)


def all_clean(dy: Dockyard) -> None:
    """No container, project network (nor its bridge and rules), volume or process."""
    _stop_dns_daemon(dy)
    nothing_left(dy)
    networks = dy("network", "ls", "--format", "{{.Name}}").out.split()
    assert sorted(networks) == ["bridge", "host", "none"]
    assert dy("volume", "ls", "-q").out == ""
    netns = dy.run_root / "netns"
    assert not netns.is_dir() or list(netns.iterdir()) == []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    for device in _made_bridges:
        assert f" {device}:" not in links, device
        rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
        assert f"dy-net:{device}" not in rules


_made_bridges: list[str] = []


@pytest.fixture(autouse=True)
def _cleanup(dy: Dockyard) -> Iterator[None]:
    """Whatever a failing test left: containers, networks, volumes, the DNS daemon."""
    _made_bridges.clear()
    yield
    ids = dy("ps", "-aq", check=False).out.split()
    if ids:
        dy("rm", "-f", *ids, check=False)
    for name in dy("network", "ls", "-q", "-f", "type=custom", check=False).out.split():
        dy("network", "rm", name, check=False)
    volumes = dy("volume", "ls", "-q", check=False).out.split()
    if volumes:
        dy("volume", "rm", "-f", *volumes, check=False)
    _stop_dns_daemon(dy)


def remember_bridges(dy: Dockyard) -> None:
    engine = dy.engine()
    try:
        _made_bridges.extend(
            n.bridge_device for n in engine.networks.all() if n.name.startswith("proj_")
        )
    finally:
        engine.close()


TWO = f"""
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo web started; {LOOP}"]
    environment:
      GREETING: hello
    depends_on: [db]
  db:
    image: busybox
    command: ["sh", "-c", "echo db started; {LOOP}"]
"""


def test_two_services_up_ps_logs_exec_down(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    file = project(tmp_path, TWO)
    up = compose(dy, file, "up", "-d")
    remember_bridges(dy)
    progress = up.err.splitlines()
    assert progress.index(" Network proj_default Created ") < progress.index(
        " Container proj-db-1 Created "
    )
    assert progress.index(" Container proj-db-1 Started ") < progress.index(
        " Container proj-web-1 Starting "
    )
    ps = compose(dy, file, "ps")
    assert ps.lines[0].split() == [
        "NAME",
        "IMAGE",
        "COMMAND",
        "SERVICE",
        "CREATED",
        "STATUS",
        "PORTS",
    ]
    assert [line.split()[0] for line in ps.lines[1:]] == ["proj-db-1", "proj-web-1"]
    assert compose(dy, file, "ps", "--services").lines == ["db", "web"]
    assert len(compose(dy, file, "ps", "-q").lines) == 2
    rows = [json.loads(line) for line in compose(dy, file, "ps", "--format", "json").lines]
    assert {r["Service"] for r in rows} == {"db", "web"} and rows[0]["State"] == "running"
    found = labels(dy, "proj-web-1")
    assert found["com.docker.compose.project"] == "proj"
    assert found["com.docker.compose.service"] == "web"
    assert found["com.docker.compose.container-number"] == "1"
    assert found["com.docker.compose.oneoff"] == "False"
    assert found["com.docker.compose.depends_on"] == "db:service_started:false"
    assert found["com.docker.compose.project.config_files"] == str(file)
    assert found["com.docker.compose.project.working_dir"] == str(file.parent)
    assert len(found["com.docker.compose.config-hash"]) == 64
    assert compose(dy, file, "ls").lines[1].split()[:2] == ["proj", "running(2)"]

    deadline = time.monotonic() + 10
    while "web started" not in compose(dy, file, "logs", "web").out:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    logs = compose(dy, file, "logs").lines
    assert "web-1  | web started" in logs and "db-1   | db started" in logs
    assert compose(dy, file, "logs", "--no-log-prefix", "db").lines == ["db started"]
    assert compose(dy, file, "exec", "-T", "web", "sh", "-c", "echo $GREETING").out == "hello\n"
    failed = compose(dy, file, "exec", "-T", "web", "sh", "-c", "exit 4", check=False)
    assert failed.code == 4
    missing = compose(dy, file, "exec", "-T", "nosuch", "true", check=False)
    assert missing.code != 0 and "no such service: nosuch" in missing.err

    compose(dy, file, "stop")
    assert compose(dy, file, "ps").lines[1:] == []
    assert len(compose(dy, file, "ps", "-a").lines) == 3
    compose(dy, file, "start")
    assert len(compose(dy, file, "ps").lines) == 3
    down = compose(dy, file, "down", "-t", "1")
    assert " Network proj_default Removed" in down.err
    all_clean(dy)


GATED = f"""
services:
  init:
    image: busybox
    command: ["sh", "-c", "echo ready > /shared/flag"]
    volumes: [shared:/shared]
  db:
    image: busybox
    command: ["sh", "-c", "sleep 0.5; touch /tmp/ok; {LOOP}"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 100ms
      retries: 50
  web:
    image: busybox
    command: ["sh", "-c", "cat /shared/flag; {LOOP}"]
    volumes: [shared:/shared]
    depends_on:
      init: {{condition: service_completed_successfully}}
      db: {{condition: service_healthy}}
volumes:
  shared: {{}}
"""


def test_depends_on_conditions_gate_the_start(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    file = project(tmp_path, GATED)
    up = compose(dy, file, "up", "-d")
    progress = up.err.splitlines()
    assert progress.index(" Container proj-db-1 Healthy ") < progress.index(
        " Container proj-web-1 Starting "
    )
    assert progress.index(" Container proj-init-1 Exited ") < progress.index(
        " Container proj-web-1 Starting "
    )
    state = json.loads(dy("inspect", "proj-db-1").out)[0]["State"]
    assert state["Health"]["Status"] == "healthy"
    deadline = time.monotonic() + 10
    while "ready" not in compose(dy, file, "logs", "web").out:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    compose(dy, file, "down", "-v", "-t", "1")
    all_clean(dy)


FAILING = """
services:
  init:
    image: busybox
    command: ["sh", "-c", "exit 3"]
  web:
    image: busybox
    command: ["true"]
    depends_on:
      init: {condition: service_completed_successfully}
"""


def test_a_failed_dependency_stops_up(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    file = project(tmp_path, FAILING)
    up = compose(dy, file, "up", "-d", check=False)
    assert up.code == 1
    assert 'service "init" didn\'t complete successfully: exit 3' in up.err
    states = dict(
        line.split() for line in dy("ps", "-a", "--format", "{{.Names}} {{.State}}").lines
    )
    assert states == {"proj-init-1": "exited", "proj-web-1": "created"}
    compose(dy, file, "down")
    all_clean(dy)


def test_second_up_recreates_only_the_changed_service_and_scales(
    dy: Dockyard, busybox: str, tmp_path: Path
) -> None:
    file = project(tmp_path, TWO)
    compose(dy, file, "up", "-d")
    before = container_ids(dy)
    again = compose(dy, file, "up", "-d")
    assert " Container proj-web-1 Running" in again.err
    assert container_ids(dy) == before
    file.write_text(TWO.replace("GREETING: hello", "GREETING: changed"))
    changed = compose(dy, file, "up", "-d")
    assert " Container proj-web-1 Recreated" in changed.err
    assert "proj-db-1  Recreate" not in changed.err
    after = container_ids(dy)
    assert after["proj-db-1"] == before["proj-db-1"]
    assert after["proj-web-1"] != before["proj-web-1"]
    assert compose(dy, file, "exec", "-T", "web", "sh", "-c", "echo $GREETING").out == ("changed\n")
    forced = compose(dy, file, "up", "-d", "--force-recreate", "db")
    assert " Container proj-db-1 Recreated" in forced.err

    compose(dy, file, "up", "-d", "--scale", "web=3")
    names = sorted(container_ids(dy))
    assert names == ["proj-db-1", "proj-web-1", "proj-web-2", "proj-web-3"]
    assert labels(dy, "proj-web-3")["com.docker.compose.container-number"] == "3"
    compose(dy, file, "up", "-d", "--scale", "web=1")
    assert sorted(container_ids(dy)) == ["proj-db-1", "proj-web-1"]
    compose(dy, file, "scale", "web=2")
    assert sorted(container_ids(dy)) == ["proj-db-1", "proj-web-1", "proj-web-2"]
    assert "proj-web-2" in compose(dy, file, "ps").out
    compose(dy, file, "down", "-t", "1")
    all_clean(dy)


VOLUMES = f"""
services:
  app:
    image: busybox
    command: ["sh", "-c", "echo $$(date +%N) >> /data/runs; echo x >> /anon/runs; {LOOP}"]
    volumes: [data:/data, /anon]
    environment: {{VERSION: "1"}}
volumes:
  data:
    labels: {{purpose: test}}
"""


def test_named_volumes_survive_down_but_not_down_v(
    dy: Dockyard, busybox: str, tmp_path: Path
) -> None:
    file = project(tmp_path, VOLUMES)
    up = compose(dy, file, "up", "-d")
    assert " Volume proj_data Created" in up.err
    volume = json.loads(dy("volume", "inspect", "proj_data").out)[0]
    assert volume["Labels"]["com.docker.compose.project"] == "proj"
    assert volume["Labels"]["com.docker.compose.volume"] == "data"
    assert volume["Labels"]["purpose"] == "test"
    compose(dy, file, "down", "-t", "1")
    volumes = dy("volume", "ls", "-q").lines
    assert "proj_data" in volumes and len(volumes) == 2  # the named one and the anonymous
    dy("volume", "rm", *[v for v in volumes if v != "proj_data"])
    compose(dy, file, "up", "-d")
    deadline = time.monotonic() + 10
    while True:
        runs = compose(dy, file, "exec", "-T", "app", "cat", "/data/runs").lines
        if len(runs) == 2:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # a recreated container keeps its predecessor's anonymous volume
    file.write_text(VOLUMES.replace('VERSION: "1"', 'VERSION: "2"'))
    assert " Container proj-app-1 Recreated" in compose(dy, file, "up", "-d", "-t", "1").err
    deadline = time.monotonic() + 10
    while len(compose(dy, file, "exec", "-T", "app", "cat", "/anon/runs").lines) != 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert len(dy("volume", "ls", "-q").lines) == 2
    down = compose(dy, file, "down", "-v", "-t", "1")
    assert " Volume proj_data Removed" in down.err
    all_clean(dy)


SERVED = f"""
services:
  web:
    image: busybox
    command: ["nc", "-ll", "-p", "7000", "-e", "hostname"]
    hostname: webhost
    scale: 2
  client:
    image: busybox
    command: ["sh", "-c", "{LOOP}"]
    depends_on: [web]
"""


def test_services_reach_each_other_by_name(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    engine = dy.engine()
    try:
        if not hasattr(engine, "networks"):
            pytest.skip("engine.networks is not available")
    finally:
        engine.close()
    file = project(tmp_path, SERVED)
    compose(dy, file, "up", "-d")
    remember_bridges(dy)
    try:
        deadline = time.monotonic() + 10
        while True:
            got = compose(
                dy, file, "exec", "-T", "client", "nc", "-w", "1", "web", "7000", check=False
            )
            if got.code == 0 and got.out:
                break
            assert time.monotonic() < deadline, got.err
            time.sleep(0.1)
        assert got.out == "webhost\n"
        lookup = compose(dy, file, "exec", "-T", "client", "nslookup", "web")
        assert lookup.out.count("Address:") == 3  # the resolver, then both replicas
        by_container = compose(
            dy, file, "exec", "-T", "client", "nc", "-w", "1", "proj-web-2", "7000"
        )
        assert by_container.out == "webhost\n"
    finally:
        compose(dy, file, "down", "-t", "0")
    all_clean(dy)


RESTARTING = f"""
services:
  dep:
    image: busybox
    command: ["sh", "-c", "{LOOP}"]
    environment: {{V: "1"}}
  follower:
    image: busybox
    command: ["sh", "-c", "{LOOP}"]
    depends_on:
      dep: {{condition: service_started, restart: true}}
  bystander:
    image: busybox
    command: ["sh", "-c", "{LOOP}"]
    depends_on: [dep]
"""


def test_restart_true_dependents_restart_when_the_dependency_is_recreated(
    dy: Dockyard, busybox: str, tmp_path: Path
) -> None:
    file = project(tmp_path, RESTARTING)
    compose(dy, file, "up", "-d")

    def started(name: str) -> str:
        return str(json.loads(dy("inspect", name).out)[0]["State"]["StartedAt"])

    before = container_ids(dy)
    follower, bystander = started("proj-follower-1"), started("proj-bystander-1")
    file.write_text(RESTARTING.replace('V: "1"', 'V: "2"'))
    compose(dy, file, "up", "-d", "-t", "1")
    after = container_ids(dy)
    assert after["proj-dep-1"] != before["proj-dep-1"]
    assert after["proj-follower-1"] == before["proj-follower-1"]
    assert started("proj-follower-1") != follower
    assert after["proj-bystander-1"] == before["proj-bystander-1"]
    assert started("proj-bystander-1") == bystander
    compose(dy, file, "down", "-t", "1")
    all_clean(dy)


UNHEALTHY = f"""
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo line-one; sleep 0.3; echo line-two; {LOOP}"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 100ms
      retries: 1
  web:
    image: busybox
    command: ["true"]
    depends_on:
      db: {{condition: service_healthy}}
"""


def test_an_unhealthy_dependency_stops_up_and_logs_follow(
    dy: Dockyard, busybox: str, tmp_path: Path
) -> None:
    file = project(tmp_path, UNHEALTHY)
    up = compose(dy, file, "up", "-d", check=False)
    assert up.code == 1
    assert "dependency failed to start: container proj-db-1 is unhealthy" in up.err
    assert "unhealthy" in compose(dy, file, "ps", "db").out
    # up can fail before db has printed its second line: wait for it, so --tail 1 is it
    deadline = time.monotonic() + 10
    while "line-two" not in compose(dy, file, "logs", "db").out:
        assert time.monotonic() < deadline, "db never printed line-two"
        time.sleep(0.05)
    # logs -f follows until the container ends
    follow = subprocess.Popen(
        [DOCKYARD, "compose", "-f", str(file), "-p", "proj", "logs", "-f", "--tail", "1", "db"],
        stdout=subprocess.PIPE,
        env=dy.env,
        text=True,
    )
    try:
        time.sleep(0.5)
        compose(dy, file, "stop", "-t", "1", "db")
        out, _ = follow.communicate(timeout=20)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert follow.returncode == 0
    assert out == "db-1  | line-two\n"
    compose(dy, file, "down")
    all_clean(dy)
