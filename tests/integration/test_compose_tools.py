"""``compose push``, ``cp``, ``attach`` and ``watch`` on real containers: a push to a
loopback registry, copies in and out of scaled services, attaching in a pty, and a
watch that syncs edited files into the container and rebuilds the service when its
build input changes.

Each test has its own root; everything a project makes is gone at the end (checked).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import registryd
from tests.conftest import DOCKYARD, Dockyard, needs_root
from tests.integration.test_compose_up import (
    LOOP,
    _cleanup,  # noqa: F401 - the autouse clean-up fixture
    all_clean,
    compose,
    project,
    remember_bridges,
)

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]


def eventually(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _has_builder(dy: Dockyard) -> bool:
    engine = dy.engine()
    try:
        return hasattr(engine, "builds")
    finally:
        engine.close()


# ------------------------------------------------------------------ push


@pytest.fixture
def reg(tmp_path: Path) -> Iterator[registryd.Registry]:
    if not registryd.available():
        pytest.skip("docker-registry is not installed")
    with registryd.registry(tmp_path / "registry") as r:
        yield r


def _tags(reg: registryd.Registry, repo: str) -> list[str]:
    with urllib.request.urlopen(f"{reg.url}/v2/{repo}/tags/list", timeout=10) as response:
        return sorted(json.load(response).get("tags") or [])


def test_push_built_services(
    dy: Dockyard, busybox: str, reg: registryd.Registry, tmp_path: Path
) -> None:
    if not _has_builder(dy):
        pytest.skip("the builder is not available")
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    host = reg.host
    file = project(
        tmp_path,
        f"""
services:
  app:
    build:
      context: ./ctx
      tags: ["{host}/app:extra"]
    image: {host}/app:1
  base:
    image: busybox
  missing:
    build: ./ctx
    image: {host}/never-built:1
    profiles: [later]
""",
    )
    (file.parent / "ctx").mkdir()
    (file.parent / "ctx" / "Dockerfile").write_text("FROM busybox\nCOPY hello /hello\n")
    (file.parent / "ctx" / "hello").write_text("hello\n")
    compose(dy, file, "build", "app")

    pushed = compose(dy, file, "push")
    lines = pushed.err.splitlines()
    # services without build (or without image) are skipped; the image and the
    # build's extra tags are pushed, each as Pushing ... Pushed
    assert " base Skipped " in lines  # Fprintln: a space before the newline
    for tag in (f"{host}/app:1", f"{host}/app:extra"):
        assert f" {tag} Pushing " in lines
        assert f" {tag} Pushed " in lines
        assert lines.index(f" {tag} Pushing ") < lines.index(f" {tag} Pushed ")
    assert any(re.fullmatch(r" [0-9a-f]{12} Pushed ", line) for line in lines)  # layers
    assert _tags(reg, "app") == ["1", "extra"]

    # again: the registry has the layers
    again = compose(dy, file, "push", "app")
    assert "Layer already exists" in again.err

    quiet = compose(dy, file, "push", "-q", "app")
    assert quiet.out == "" and quiet.err == ""

    # a service whose image was never built: an error, unless ignored
    failed = compose(dy, file, "--profile", "later", "push", "missing", check=False)
    assert failed.code == 1
    message = f"An image does not exist locally with the tag: {host}/never-built"
    assert f" {host}/never-built:1 Error" in failed.err
    assert message in failed.err
    ignored = compose(
        dy, file, "--profile", "later", "push", "--ignore-push-failures", "missing", "app"
    )
    assert f" {host}/never-built:1 Warning" in ignored.err
    assert message in ignored.err
    assert f" {host}/app:1 Pushed" in ignored.err
    unknown = compose(dy, file, "push", "nope", check=False)
    assert unknown.code != 0 and "no such service: nope" in unknown.err
    all_clean(dy)


# ------------------------------------------------------------------ cp

SCALED = f"""
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo $$HOSTNAME > /who; {LOOP}"]
    deploy:
      replicas: 2
  other:
    image: busybox
    command: ["sh", "-c", "{LOOP}"]
"""


def test_cp_to_all_replicas_and_from_the_first(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    file = project(tmp_path, SCALED)
    compose(dy, file, "up", "-d")
    remember_bridges(dy)
    local = tmp_path / "note.txt"
    local.write_text("copied in\n")

    into = compose(dy, file, "cp", str(local), "web:/tmp/note.txt")
    for n in (1, 2):
        assert dy("exec", f"proj-web-{n}", "cat", "/tmp/note.txt").out == "copied in\n"
        assert f" proj-web-{n} Copying {local} to proj-web-{n}:/tmp/note.txt" in into.err
        assert f" proj-web-{n} Copied {local} to proj-web-{n}:/tmp/note.txt" in into.err
    assert "proj-other-1" not in dy("exec", "proj-other-1", "ls", "/tmp").out

    # out of a service: its first container; --index picks another
    first = dy("exec", "proj-web-1", "cat", "/who").out
    second = dy("exec", "proj-web-2", "cat", "/who").out
    assert first != second
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    compose(dy, file, "cp", "web:/who", str(out_dir / "one"))
    assert (out_dir / "one").read_text() == first
    compose(dy, file, "cp", "--index", "2", "web:/who", str(out_dir / "two"))
    assert (out_dir / "two").read_text() == second
    # a relative destination is the caller's directory; a trailing / copies into it
    subprocess.run(
        [DOCKYARD, "compose", "-f", str(file), "-p", "proj", "cp", "web:/who", "rel/"],
        cwd=out_dir,
        env=dy.env,
        check=False,
        capture_output=True,
    )
    assert not (out_dir / "rel").exists()  # docker: the destination directory must exist
    (out_dir / "rel").mkdir()
    subprocess.run(
        [DOCKYARD, "compose", "-f", str(file), "-p", "proj", "cp", "web:/who", "rel/"],
        cwd=out_dir,
        env=dy.env,
        check=True,
        capture_output=True,
    )
    assert (out_dir / "rel" / "who").read_text() == first

    # a directory, and a tar on stdout
    compose(dy, file, "cp", str(out_dir), "other:/tmp/")
    assert dy("exec", "proj-other-1", "cat", "/tmp/out/one").out == first
    streamed = compose(dy, file, "cp", "web:/who", "-")
    assert first in streamed.out  # a tar holding the file

    # a stopped container is a target too (as Compose lists stopped ones)
    dy("stop", "-t", "0", "proj-other-1")
    compose(dy, file, "cp", str(local), "other:/stopped.txt")
    compose(dy, file, "cp", "other:/stopped.txt", str(out_dir / "back.txt"))
    assert (out_dir / "back.txt").read_text() == "copied in\n"

    errors = {
        ("web:/who", "other:/x"): "copying between services is not supported",
        (str(local), str(out_dir)): "unknown copy direction",
        (str(local), "nope:/x"): "no such service: nope",
        ("--index", "3", "web:/who", str(out_dir)): 'service "web" is not running container #3',
    }
    for args, message in errors.items():
        failed = compose(dy, file, "cp", *args, check=False)
        assert failed.code == 1 and message in failed.err, (args, failed)
    compose(dy, file, "down", "-t", "0")
    all_clean(dy)


# ------------------------------------------------------------------ attach

pexpect = pytest.importorskip("pexpect")

INTERACTIVE = """
services:
  shell:
    image: busybox
    command: ["sh"]
    tty: true
    stdin_open: true
  ticker:
    image: busybox
    command:
      - sh
      - -c
      - trap 'echo got-term; exit 3' TERM; i=0;
        while :; do i=$$((i+1)); echo tick-$$i; sleep 0.2; done
"""


def _spawn(dy: Dockyard, file: Path, *args: str) -> Any:
    return pexpect.spawn(
        DOCKYARD,
        ["compose", "-f", str(file), "-p", "proj", *args],
        env=dy.env,
        dimensions=(30, 100),
        timeout=20,
    )


def test_attach_to_a_service(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    file = project(tmp_path, INTERACTIVE)
    compose(dy, file, "up", "-d")
    remember_bridges(dy)

    child = _spawn(dy, file, "attach", "shell")
    child.waitnoecho()  # raw mode: the attach loop owns the terminal
    child.send("echo attached-$((20+22))\r")
    child.expect("attached-42")
    child.send("\x10\x11")  # ctrl-p ctrl-q: detach, the container keeps running
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1 and b"read escape sequence" in (child.before or b"")
    assert dy("inspect", "-f", "{{.State.Running}}", "proj-shell-1").out == "true\n"

    # custom detach keys
    child = _spawn(dy, file, "attach", "--detach-keys", "ctrl-x", "shell")
    child.waitnoecho()
    child.send("echo again-$((1+1))\r")
    child.expect("again-2")
    child.send("\x18")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1

    # no tty, no stdin: output streams; the signal is proxied (the container exits 3)
    child = _spawn(dy, file, "attach", "--no-stdin", "ticker")
    child.expect(r"tick-\d+")
    child.kill(signal.SIGTERM)
    child.expect("got-term")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3

    missing = compose(dy, file, "attach", "--index", "2", "shell", check=False)
    assert missing.code == 1
    assert 'service "shell" is not running container #2' in missing.err
    stopped = compose(dy, file, "attach", "ticker", check=False)
    assert stopped.code == 1 and 'service "ticker" is not running' in stopped.err
    compose(dy, file, "down", "-t", "0")
    all_clean(dy)


# ------------------------------------------------------------------ watch

WATCHED = f"""
services:
  web:
    build: ./ctx
    command: ["sh", "-c", "{LOOP}"]
    develop:
      watch:
        - action: sync
          path: ./ctx/src
          target: /app/src
          ignore: ["*.tmp"]
        - action: rebuild
          path: ./ctx/version
"""


class WatchProcess:
    """``compose watch`` (or the sub-command given) in the background: its stdout lines
    collected by a thread,
    its stderr (progress, build output) in a file."""

    def __init__(self, dy: Dockyard, file: Path, *args: str) -> None:
        self.err_path = file.parent / "watch.err"
        self.err = open(self.err_path, "w")  # noqa: SIM115 - closed in stop()
        argv = ["compose", "-f", str(file), "-p", "proj", "--progress", "plain"]
        self.proc = subprocess.Popen(
            [DOCKYARD, *argv, *(args or ("watch",))],
            env=dy.env,
            stdout=subprocess.PIPE,
            stderr=self.err,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, line: str, timeout: float = 120) -> None:
        def seen() -> bool:
            if line in self.lines:
                return True
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"watch exited {self.proc.returncode}: {self.lines} {self.err_path.read_text()}"
                )
            return False

        eventually(seen, repr(line), timeout)

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(10)
        self.err.close()
        return self.proc.returncode, self.err_path.read_text()


def test_watch_syncs_files_and_rebuilds(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    if not _has_builder(dy):
        pytest.skip("the builder is not available")
    file = project(tmp_path, WATCHED)
    ctx = file.parent / "ctx"
    (ctx / "src").mkdir(parents=True)
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY version /version\nCOPY src /app/src\n")
    (ctx / "version").write_text("v1\n")
    (ctx / "src" / "start.txt").write_text("start\n")
    watcher = WatchProcess(dy, file)
    try:
        watcher.wait_line("Watch enabled")
        remember_bridges(dy)
        assert dy("exec", "proj-web-1", "cat", "/version").out == "v1\n"

        def inside(path: str) -> str | None:
            result = dy("exec", "proj-web-1", "cat", path, check=False)
            return result.out if result.code == 0 else None

        # a new file is synced into the running container
        (ctx / "src" / "hello.txt").write_text("hello 1\n")
        eventually(lambda: inside("/app/src/hello.txt") == "hello 1\n", "the synced file")
        watcher.wait_line('Syncing service "web" after 1 changes were detected')
        # ignored files are not; an edit is; so is a new directory
        (ctx / "src" / "scratch.tmp").write_text("no\n")
        (ctx / "src" / "hello.txt").write_text("hello 2\n")
        (ctx / "src" / "deeper").mkdir()
        (ctx / "src" / "deeper" / "x.txt").write_text("deep\n")
        eventually(lambda: inside("/app/src/hello.txt") == "hello 2\n", "the edited file")
        eventually(lambda: inside("/app/src/deeper/x.txt") == "deep\n", "the new directory")
        assert inside("/app/src/scratch.tmp") is None
        # a deleted file is removed from the container
        (ctx / "src" / "hello.txt").unlink()
        eventually(lambda: inside("/app/src/hello.txt") is None, "the deletion")
        before = dy("inspect", "-f", "{{.Id}}", "proj-web-1").out

        # the rebuild trigger: a new image, the container recreated from it
        (ctx / "version").write_text("v2\n")
        watcher.wait_line('Rebuilding service(s) ["web"] after changes were detected...')
        watcher.wait_line('service(s) ["web"] successfully built')
        eventually(lambda: inside("/version") == "v2\n", "the rebuilt container", 120)
        assert dy("inspect", "-f", "{{.Id}}", "proj-web-1").out != before
        assert dy("inspect", "-f", "{{.State.Running}}", "proj-web-1").out == "true\n"
    finally:
        code, err = watcher.stop()
    assert code == 130, err
    assert watcher.lines[-1] == "Watch disabled"
    compose(dy, file, "down", "-t", "0", "--rmi", "local")
    all_clean(dy)


def test_watch_needs_a_develop_section(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    file = project(tmp_path, SCALED)
    failed = compose(dy, file, "watch", "--no-up", check=False)
    assert failed.code == 1
    assert "none of the selected services is configured for watch" in failed.err
    all_clean(dy)
    # without --no-up Compose runs up first, then finds nothing to watch
    failed = compose(dy, file, "watch", check=False)
    assert failed.code == 1
    assert "none of the selected services is configured for watch" in failed.err
    running = compose(dy, file, "ps", "--format", "{{.Name}} {{.State}}").out.split("\n")
    assert sorted(filter(None, running)) == [
        "proj-other-1 running",
        "proj-web-1 running",
        "proj-web-2 running",
    ]
    compose(dy, file, "down", "-t", "0")
    all_clean(dy)


# ------------------------------------------------------------------ pull


def test_pull_from_a_registry(
    dy: Dockyard, busybox: str, reg: registryd.Registry, tmp_path: Path
) -> None:
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    name = f"{reg.host}/pulled:1"
    dy("tag", "busybox:latest", name)
    file = project(
        tmp_path,
        f"""
services:
  app:
    image: {name}
  gone:
    image: {reg.host}/absent:1
    profiles: [extra]
""",
    )
    compose(dy, file, "push", "app", check=False)  # no build: skipped, nothing pushed
    engine = dy.engine()
    try:
        engine.distribution.push(name)
    finally:
        engine.close()
    dy("rmi", name)
    pulled = compose(dy, file, "pull")
    assert " app Pulling" in pulled.err and " app Pulled" in pulled.err
    assert dy("images", "-q", name).out.strip() != ""
    failed = compose(dy, file, "--profile", "extra", "pull", "gone", check=False)
    assert failed.code != 0
    ignored = compose(dy, file, "--profile", "extra", "pull", "--ignore-pull-failures", "gone")
    assert ignored.code == 0 and "WARN" in ignored.err
    all_clean(dy)


# ------------------------------------------------------------------ wait, scale

WAITED = f"""
services:
  quick:
    image: busybox
    command: ["sh", "-c", "sleep 1; exit 3"]
  slow:
    image: busybox
    command: ["sh", "-c", "{LOOP}"]
"""


def test_wait_and_scale(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    file = project(tmp_path, WAITED)
    compose(dy, file, "up", "-d")
    remember_bridges(dy)
    quick_id = dy("inspect", "-f", "{{.Id}}", "proj-quick-1").out.strip()
    waited = compose(dy, file, "wait", "quick", check=False)
    assert waited.code == 3, waited
    assert waited.out == f'container "{quick_id}" exited with status code 3\n'
    none = compose(dy, file, "wait", "quick", check=False)
    assert none.code == 1 and 'no containers for project "proj"' in none.err

    scaled = compose(dy, file, "scale", "slow=2")
    assert " Container proj-slow-2 Started" in scaled.err
    states = dy("ps", "--format", "{{.Names}}").out.split()
    assert sorted(states) == ["proj-slow-1", "proj-slow-2"]
    bad = compose(dy, file, "scale", "slow", check=False)
    assert bad.code == 1 and "invalid scale specifier: slow" in bad.err
    worse = compose(dy, file, "scale", "slow=x", check=False)
    assert "invalid scale specifier: can't parse replica value as int: slow=x" in worse.err

    # --down-project: once the waited containers stop, the project is taken down
    argv = ["compose", "-f", str(file), "-p", "proj", "--progress", "plain"]
    waiter = subprocess.Popen(
        [DOCKYARD, *argv, "wait", "--down-project", "slow"],
        env=dy.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1)
        dy("stop", "proj-slow-1", "proj-slow-2")
        out, err = waiter.communicate(timeout=60)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    assert waiter.returncode == 0, err
    assert out.count("exited with status code 0") == 2
    assert " Container proj-quick-1 Removed" in err  # orphans and all
    assert dy("ps", "-aq").out == ""
    all_clean(dy)


# ------------------------------------------------------------------ up: what to attach

CHATTY = """
services:
  a:
    image: busybox
    command: ["sh", "-c", "echo from-a; sleep 3"]
  b:
    image: busybox
    command: ["sh", "-c", "echo from-b; sleep 0.3; exit 4"]
  c:
    image: busybox
    attach: false
    command: ["sh", "-c", "echo from-c"]
"""


def test_up_chooses_what_to_attach(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    file = project(tmp_path, CHATTY)
    up = compose(dy, file, "up", "--no-attach", "a")
    remember_bridges(dy)
    assert up.lines[0] == "Attaching to b-1"  # c says attach: false, a is --no-attach
    assert "b-1  | from-b" in up.lines
    assert not any("from-a" in line or "from-c" in line for line in up.lines)

    chosen = compose(dy, file, "up", "--attach", "c", "--attach", "a")
    assert chosen.lines[0] == "Attaching to a-1, c-1"
    assert any(line.endswith("| from-c") for line in chosen.lines)
    assert not any("from-b" in line for line in chosen.lines)

    failing = compose(dy, file, "up", "--abort-on-container-failure", check=False)
    assert failing.code == 4, failing
    assert "Aborting on container exit..." in failing.out

    errors = {
        ("--attach", "nope"): "cannot attach to services not included in up: nope",
        ("-d", "--attach", "a"): "--detach cannot be combined with",
        ("--wait", "--attach", "a"): "--wait cannot be combined with",
        ("--attach", "a", "--attach-dependencies"): "cannot combine --attach and",
    }
    for args, message in errors.items():
        result = compose(dy, file, "up", *args, check=False)
        assert result.code != 0 and message in result.err, (args, result)
    compose(dy, file, "down", "-t", "0")
    all_clean(dy)


# ------------------------------------------------------------------ config hash

SHARED = f"""
services:
  db:
    image: busybox
    command: ["sh", "-c", "{LOOP}"]
  app:
    image: busybox
    command: ["sh", "-c", "{LOOP}"]
    network_mode: service:db
    volumes_from: [db]
"""


def test_config_hash_resolves_service_references(
    dy: Dockyard, busybox: str, tmp_path: Path
) -> None:
    """The label holds Compose's hash, with ``service:db`` hashed as the ID of db's
    container (reconcile.go's serviceHashWithResolvedRefs); an unchanged project is
    left alone, a changed db recreates db and the app sharing its namespaces."""
    from dockyard.compose import confighash
    from dockyard.compose.loader import ProjectOptions, load_project

    file = project(tmp_path, SHARED)
    compose(dy, file, "up", "-d")
    remember_bridges(dy)
    db_id = dy("inspect", "-f", "{{.Id}}", "proj-db-1").out.strip()
    loaded = load_project(ProjectOptions(config_files=[str(file)], project_name="proj"))
    expected = confighash.service_hash(loaded.services["app"], {"db": db_id}.get)
    label = dy(
        "inspect", "-f", '{{index .Config.Labels "com.docker.compose.config-hash"}}', "proj-app-1"
    ).out.strip()
    assert label == expected
    assert b'"network_mode":"container:' + db_id.encode() in confighash.marshal(
        loaded.services["app"], {"db": db_id}.get
    )
    app_id = dy("inspect", "-f", "{{.Id}}", "proj-app-1").out.strip()
    again = compose(dy, file, "up", "-d")
    assert " Container proj-app-1 Recreate \n" not in again.err
    assert dy("inspect", "-f", "{{.Id}}", "proj-app-1").out.strip() == app_id

    file.write_text(
        SHARED.replace(
            "image: busybox\n    command", "image: busybox\n    init: true\n    command", 1
        )
    )
    changed = compose(dy, file, "up", "-d")
    assert " Container proj-db-1 Recreate \n" in changed.err
    assert " Container proj-app-1 Recreate \n" in changed.err
    compose(dy, file, "down", "-t", "0")
    all_clean(dy)


# ------------------------------------------------------------------ flags people reach for

FLAGGED = f"""
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo line-$$HOSTNAME; {LOOP}"]
    ports: ["127.0.0.1::7000"]
    deploy:
      replicas: 2
  job:
    image: busybox
    command: ["sh", "-c", "echo done; exit 2"]
"""


def test_run_exec_logs_ps_flags(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    file = project(tmp_path, FLAGGED)
    compose(dy, file, "up", "-d")
    remember_bridges(dy)

    # run: --service-ports publishes the service's ports, -p and -v add more
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "f").write_text("from the host\n")
    name = compose(
        dy,
        file,
        "run",
        "-d",
        "--service-ports",
        "-p",
        "127.0.0.1::7001",
        "-v",
        f"{shared}:/mnt",
        "-u",
        "1000",
        "web",
        "sh",
        "-c",
        LOOP,
    ).out.strip()
    bindings = json.loads(dy("inspect", "-f", "{{json .HostConfig.PortBindings}}", name).out)
    assert sorted(bindings) == ["7000/tcp", "7001/tcp"]
    assert dy("exec", name, "cat", "/mnt/f").out == "from the host\n"
    assert dy("exec", name, "id", "-u").out == "1000\n"
    plain = compose(dy, file, "run", "-d", "web", "true").out.strip()
    assert json.loads(dy("inspect", "-f", "{{json .HostConfig.PortBindings}}", plain).out) in (
        None,
        {},
    )

    # exec: --index, -u, -w, -e
    first = compose(dy, file, "exec", "-T", "web", "hostname").out
    second = compose(dy, file, "exec", "-T", "--index", "2", "web", "hostname").out
    assert (
        first != second
        and second.strip() == dy("inspect", "-f", "{{.Config.Hostname}}", "proj-web-2").out.strip()
    )
    who = compose(
        dy,
        file,
        "exec",
        "-T",
        "-u",
        "nobody",
        "-w",
        "/tmp",
        "-e",
        "X=1",
        "web",
        "sh",
        "-c",
        "id -un; pwd; echo $X",
    ).out
    assert who == "nobody\n/tmp\n1\n"

    # logs: --timestamps, --since, --no-color, --tail
    stamped = compose(dy, file, "logs", "--timestamps", "--no-color", "web").lines
    assert stamped and all(" | " in line for line in stamped)
    assert all(line.split(" | ", 1)[1][:4].isdigit() for line in stamped)  # a timestamp
    assert compose(dy, file, "logs", "--since", "2100-01-01T00:00:00Z", "web").out == ""
    assert len(compose(dy, file, "logs", "--tail", "1", "web").lines) == 2  # one per container

    # ps --status
    exited = compose(dy, file, "ps", "--status", "exited", "--format", "{{.Name}}").out.split()
    assert exited[0] == "proj-job-1"  # and the exited one-off (run) container
    assert [n for n in exited[1:] if "-web-run-" not in n] == []
    running = compose(dy, file, "ps", "--status", "running", "--format", "{{.Name}}").out.split()
    assert running[:2] == ["proj-web-1", "proj-web-2"]
    assert [n for n in running[2:] if "-web-run-" not in n] == []

    # up --no-recreate keeps a changed service's containers
    before = dy("inspect", "-f", "{{.Id}}", "proj-web-1").out
    file.write_text(FLAGGED.replace("replicas: 2", "replicas: 2\n    init: true"))
    compose(dy, file, "up", "-d", "--no-recreate")
    assert dy("inspect", "-f", "{{.Id}}", "proj-web-1").out == before
    compose(dy, file, "down", "-t", "0")
    leftovers = dy("ps", "-aq").out.split()
    if leftovers:  # the one-off containers
        dy("rm", "-f", *leftovers)
    all_clean(dy)


def test_build_args_and_no_cache(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    if not _has_builder(dy):
        pytest.skip("the builder is not available")
    file = project(
        tmp_path,
        """
services:
  made:
    build:
      context: ./ctx
      args: {WORD: from-file}
    command: ["cat", "/word"]
""",
    )
    (file.parent / "ctx").mkdir()
    (file.parent / "ctx" / "Dockerfile").write_text(
        "FROM busybox\nARG WORD\nRUN echo $WORD > /word\n"
    )
    compose(dy, file, "build")
    assert compose(dy, file, "run", "--rm", "-T", "made").out == "from-file\n"
    compose(dy, file, "build", "--build-arg", "WORD=from-flag")
    assert compose(dy, file, "run", "--rm", "-T", "made").out == "from-flag\n"
    uncached = compose(dy, file, "build", "--no-cache", "--build-arg", "WORD=from-flag")
    assert "CACHED" not in uncached.err + uncached.out
    compose(dy, file, "down", "--rmi", "local")
    all_clean(dy)


def test_up_watch_syncs_while_attached(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    """``up --watch``: logs stream with the usual prefixes, watch messages with
    Compose's ⦿ one, and edits reach the container."""
    file = project(
        tmp_path,
        f"""
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo up-and-running; {LOOP}"]
    develop:
      watch:
        - action: sync
          path: ./src
          target: /app
""",
    )
    (file.parent / "src").mkdir()
    up = WatchProcess(dy, file, "up", "--watch")
    try:
        up.wait_line("web-1   | up-and-running")
        remember_bridges(dy)
        watch_prefix = " " * len("#watch ") + " ⦿ "  # the names' width ("#watch" + 1)
        up.wait_line(watch_prefix + "Watch enabled")
        (file.parent / "src" / "a.txt").write_text("synced\n")
        eventually(
            lambda: dy("exec", "proj-web-1", "cat", "/app/a.txt", check=False).out == "synced\n",
            "the synced file",
        )
        up.wait_line(watch_prefix + 'Syncing service "web" after 1 changes were detected')
    finally:
        code, err = up.stop()
    assert code == 130, err
    assert "Gracefully stopping... (press Ctrl+C again to force)" in up.lines
    failed = compose(dy, file, "up", "-d", "--watch", check=False)
    assert failed.code != 0 and "--detach cannot be combined with" in failed.err
    compose(dy, file, "down", "-t", "0")
    all_clean(dy)
