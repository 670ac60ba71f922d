"""``dockyard compose`` one-off and management commands on busybox projects: run,
secrets and configs, attached up (prefixed logs, exit codes, Ctrl-C), kill, pause,
restart, rm, top, images, port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import DOCKYARD, Dockyard, needs_root
from tests.integration.test_compose_up import (
    LOOP,
    _cleanup,
    all_clean,
    compose,
    project,
    remember_bridges,
)

__all__ = ["_cleanup"]

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]

APP = f"""
services:
  app:
    image: busybox
    command: ["sh", "-c", "{LOOP}"]
    environment: [FROM_FILE=yes]
    depends_on: [helper]
  helper:
    image: busybox
    command: ["sh", "-c", "{LOOP}"]
"""


def test_run_makes_one_off_containers(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    file = project(tmp_path, APP)
    ran = compose(
        dy,
        file,
        "run",
        "--rm",
        "-T",
        "-e",
        "EXTRA=1",
        "app",
        "sh",
        "-c",
        "echo $FROM_FILE $EXTRA; exit 7",
        check=False,
    )
    assert ran.code == 7 and ran.out == "yes 1\n"
    # the dependency was started, the one-off container is gone
    names = dy("ps", "-a", "--format", "{{.Names}}").lines
    assert names == ["proj-helper-1"]
    name = compose(dy, file, "run", "-d", "--no-deps", "app", "sleep", "30").out.strip()
    assert name.startswith("proj-app-run-") and len(name) == len("proj-app-run-") + 12
    labels = json.loads(dy("inspect", name).out)[0]["Config"]["Labels"]
    assert labels["com.docker.compose.oneoff"] == "True"
    assert labels["com.docker.compose.service"] == "app"
    assert compose(dy, file, "ps", "-q").lines != []
    assert name in compose(dy, file, "ps").out  # one-off containers are listed too
    named = compose(
        dy,
        file,
        "run",
        "--rm",
        "-T",
        "--name",
        "custom",
        "--entrypoint",
        "echo",
        "--no-deps",
        "app",
        "hi",
    )
    assert named.out == "hi\n"
    compose(dy, file, "down", "-t", "0")
    all_clean(dy)


FILES = f"""
services:
  app:
    image: busybox
    command: ["sh", "-c", "{LOOP}"]
    secrets:
      - token
      - source: env_secret
        target: renamed
    configs:
      - settings
      - source: inline
        target: /etc/app/inline.conf
        mode: 0440
secrets:
  token:
    file: ./token.txt
  env_secret:
    environment: SECRET_FROM_ENV
configs:
  settings:
    file: ./settings.ini
  inline:
    content: |
      key=$${{NOT_INTERPOLATED}}
"""


def test_secrets_and_configs_are_visible(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    file = project(tmp_path, FILES)
    (file.parent / "token.txt").write_text("s3cr3t\n")
    (file.parent / "settings.ini").write_text("[a]\nb=c\n")
    dy.env["SECRET_FROM_ENV"] = "from-environment"
    compose(dy, file, "up", "-d")

    def cat(path: str) -> str:
        return str(compose(dy, file, "exec", "-T", "app", "cat", path).out)

    assert cat("/run/secrets/token") == "s3cr3t\n"
    assert cat("/run/secrets/renamed") == "from-environment"
    assert cat("/settings") == "[a]\nb=c\n"
    assert cat("/etc/app/inline.conf") == "key=${NOT_INTERPOLATED}\n"
    mode = compose(dy, file, "exec", "-T", "app", "stat", "-c", "%a", "/etc/app/inline.conf")
    assert mode.out == "440\n"
    written = compose(
        dy, file, "exec", "-T", "app", "sh", "-c", "echo x > /run/secrets/token", check=False
    )
    assert written.code != 0  # a file secret is mounted read-only
    compose(dy, file, "down", "-t", "0")
    all_clean(dy)


ATTACHED = """
services:
  talker:
    image: busybox
    command: ["sh", "-c", "echo one; sleep 0.3; echo two; exit 3"]
  quiet:
    image: busybox
    command: ["sh", "-c", "echo hello from quiet; sleep 1"]
"""


def test_attached_up_prefixes_logs_and_returns_exit_codes(
    dy: Dockyard, busybox: str, tmp_path: Path
) -> None:
    file = project(tmp_path, ATTACHED)
    up = compose(dy, file, "up")
    assert up.code == 0
    lines = up.lines
    assert lines[0] == "Attaching to quiet-1, talker-1"
    assert "talker-1  | one" in lines and "talker-1  | two" in lines
    assert "quiet-1   | hello from quiet" in lines
    assert "talker-1 exited with code 3" in lines
    assert lines.index("talker-1  | two") < lines.index("talker-1 exited with code 3")
    again = compose(dy, file, "up", "-t", "1", "--exit-code-from", "talker", check=False)
    assert again.code == 3
    assert "Aborting on container exit..." in again.out
    # a second up shows only the new run's output
    assert again.out.count("talker-1  | one") == 1
    plain = compose(dy, file, "up", "--no-log-prefix", "quiet")
    assert "hello from quiet" in plain.lines
    compose(dy, file, "down")
    all_clean(dy)


def test_ctrl_c_stops_an_attached_up(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    file = project(
        tmp_path,
        f"""
services:
  svc:
    image: busybox
    command: ["sh", "-c", "echo started; {LOOP}"]
""",
    )
    proc = subprocess.Popen(
        [DOCKYARD, "compose", "-f", str(file), "-p", "proj", "--progress", "plain", "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dy.env,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        seen = b""
        while b"svc-1  | started" not in seen:
            assert time.monotonic() < deadline, seen
            seen += proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert b"Gracefully stopping..." in out
    assert b" Container proj-svc-1 Stopped" in err
    state = json.loads(dy("inspect", "proj-svc-1").out)[0]["State"]
    assert state["Status"] == "exited"
    compose(dy, file, "down")
    all_clean(dy)


MANAGED = f"""
services:
  web:
    image: busybox
    command: ["nc", "-ll", "-p", "7000", "-e", "echo", "pong"]
    ports: ["127.0.0.1::7000"]
    stop_grace_period: 1s
  side:
    image: busybox
    command: ["sh", "-c", "{LOOP}"]
"""


def test_management_commands(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    file = project(tmp_path, MANAGED)
    compose(dy, file, "up", "-d")
    remember_bridges(dy)
    address = compose(dy, file, "port", "web", "7000").out.strip()
    host, _, port = address.rpartition(":")
    assert host == "127.0.0.1"
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=2) as conn:
                got = conn.recv(100)
            if got:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert got == b"pong\n"
    ps = compose(dy, file, "ps", "web").lines[1]
    assert f"127.0.0.1:{port}->7000/tcp" in ps

    top = compose(dy, file, "top", "side").out
    assert top.startswith("proj-side-1\n") and "UID" in top and "sleep" in top
    images = compose(dy, file, "images").lines
    assert images[0].split() == ["CONTAINER", "REPOSITORY", "TAG", "IMAGE", "ID", "SIZE"]
    assert images[1].split()[:3] == ["proj-side-1", "busybox", "latest"]

    compose(dy, file, "pause", "side")
    assert "(Paused)" in compose(dy, file, "ps", "side").out
    compose(dy, file, "unpause", "side")
    assert "(Paused)" not in compose(dy, file, "ps", "side").out
    before = json.loads(dy("inspect", "proj-side-1").out)[0]["State"]["StartedAt"]
    events = subprocess.Popen(
        [DOCKYARD, "compose", "-f", str(file), "-p", "proj", "events", "--json"],
        stdout=subprocess.PIPE,
        env=dy.env,
        text=True,
    )
    try:
        time.sleep(0.5)  # let it take its starting point in the event log
        compose(dy, file, "restart", "-t", "1", "side")
        assert events.stdout is not None
        actions = []
        while "start" not in actions:
            item = json.loads(events.stdout.readline())
            assert item["service"] == "side" and item["type"] == "container"
            actions.append(item["action"])
        assert "restart" not in actions[: actions.index("start")]
    finally:
        events.terminate()
        events.wait()
    after = json.loads(dy("inspect", "proj-side-1").out)[0]["State"]
    assert after["Status"] == "running" and after["StartedAt"] != before

    compose(dy, file, "kill", "-s", "SIGKILL", "side")
    assert dy("wait", "proj-side-1").out == "137\n"
    refused = compose(dy, file, "rm", "-f", "web")
    assert "No stopped containers" in refused.err
    assert "proj-web-1" in dy("ps", "--format", "{{.Names}}").out
    compose(dy, file, "rm", "-f", "side")
    assert "proj-side-1" not in dy("ps", "-a", "--format", "{{.Names}}").out
    compose(dy, file, "rm", "-f", "-s", "web")
    assert dy("ps", "-aq").out == ""
    compose(dy, file, "down")
    all_clean(dy)


def test_bad_input_creates_nothing(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    file = project(tmp_path, "services:\n  a:\n    image: busybox\n    bogus: 1\n")
    bad = compose(dy, file, "up", "-d", check=False)
    assert bad.code == 15 and "bogus" in bad.err
    cycle = project(
        tmp_path,
        """
services:
  a: {image: busybox, depends_on: [b]}
  b: {image: busybox, depends_on: [a]}
""",
        name="cycle",
    )
    looped = dy("compose", "-f", str(cycle), "up", "-d", check=False)
    assert looped.code != 0 and "dependency cycle detected" in looped.err
    missing = project(tmp_path, "services:\n  a:\n    image: nosuchimage\n", name="missing")
    dy.env["DOCKYARD_REGISTRY_MIRRORS"] = ""
    noimage = dy("compose", "-f", str(missing), "up", "-d", "--pull", "never", check=False)
    assert noimage.code != 0 and "nosuchimage" in noimage.err
    assert dy("ps", "-aq").out == ""
    assert sorted(dy("network", "ls", "--format", "{{.Name}}").out.split()) == [
        "bridge",
        "host",
        "none",
    ]
    assert os.path.exists(file)
    all_clean(dy)


BUILT = f"""
services:
  made:
    build:
      context: ./ctx
      args: {{GREETING: built-with-arg}}
    command: ["sh", "-c", "cat /built; {LOOP}"]
    healthcheck:
      test: ["CMD", "test", "-f", "/built"]
      interval: 100ms
"""


def test_build_create_wait_orphans_and_rmi(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    engine = dy.engine()
    try:
        if not hasattr(engine, "builds"):
            pytest.skip("engine.builds is not available")
    finally:
        engine.close()
    file = project(tmp_path, BUILT)
    context = file.parent / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nARG GREETING\nRUN echo $GREETING > /built\n")
    created = compose(dy, file, "create")
    assert " Service made Built" in created.err
    assert dy("images", "--format", "{{.Repository}}", "proj-made").out == "proj-made\n"
    assert dy("ps", "-a", "--format", "{{.Names}} {{.State}}").out == "proj-made-1 created\n"
    assert compose(dy, file, "ls").out.splitlines()[1:] == []
    assert compose(dy, file, "ls", "-a", "-q").out == "proj\n"
    waited = compose(dy, file, "up", "-d", "--wait")
    assert " Container proj-made-1 Healthy" in waited.err
    assert "(healthy)" in compose(dy, file, "ps").out
    assert compose(dy, file, "logs", "made").out == "made-1  | built-with-arg\n"

    # a service removed from the file leaves an orphan; --remove-orphans removes it
    file.write_text(BUILT.replace("made:", "renamed:"))
    warned = compose(dy, file, "up", "-d")
    assert "Found orphan containers ([proj-made-1])" in warned.err
    compose(dy, file, "down", "-t", "0", "--remove-orphans", "--rmi", "local")
    assert "proj-made" not in dy("images", "--format", "{{.Repository}}").out
    assert "proj-renamed" not in dy("images", "--format", "{{.Repository}}").out
    all_clean(dy)


def test_project_name_alone_reaches_what_exists(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    """Without a compose file, ``-p NAME`` works on the project's labelled containers
    and networks (as Compose does), e.g. ``down`` of a project whose file is gone."""
    file = project(tmp_path, APP)
    compose(dy, file, "up", "-d")
    remember_bridges(dy)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def by_name(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKYARD, "compose", "-p", "proj", "--progress", "plain", *args],
            cwd=elsewhere,
            env=dy.env,
            capture_output=True,
            text=True,
            check=False,
        )

    ps = by_name("ps", "--services")
    assert ps.returncode == 0 and ps.stdout == "app\nhelper\n"
    missing = subprocess.run(
        [DOCKYARD, "compose", "ps"],
        cwd=elsewhere,
        env=dy.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 14
    assert "no configuration file provided: not found" in missing.stderr
    down = by_name("down", "-t", "0")
    assert down.returncode == 0, down.stderr
    assert " Network proj_default Removed" in down.stderr
    all_clean(dy)
