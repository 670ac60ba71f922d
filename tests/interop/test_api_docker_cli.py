"""The real docker CLI against ``dockyard serve``: the same output and exit codes as
``dockyard`` itself gives for the same commands on the same root."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Dockyard, Result, needs_root
from tests.integration._api_support import Server, running_server

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
pytestmark = [
    needs_root,
    pytest.mark.interop,
    pytest.mark.skipif(not os.path.exists(DOCKER), reason="the docker CLI is not installed"),
]


class DockerCLI:
    def __init__(self, server: Server, config_dir: Path) -> None:
        self.env = dict(os.environ)
        self.env.update(DOCKER_HOST=server.host, DOCKER_CONFIG=str(config_dir))
        for name in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            self.env.pop(name, None)

    def __call__(self, *args: str, input: bytes | None = None, timeout: float = 60) -> Result:
        proc = subprocess.run(
            [DOCKER, *args], input=input, capture_output=True, env=self.env, timeout=timeout
        )
        return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.fixture
def docker(dy: Dockyard, busybox: str, tmp_path: Path) -> Iterator[DockerCLI]:
    config = tmp_path / "docker-config"
    config.mkdir()
    with running_server(dy) as server:
        yield DockerCLI(server, config)


def same(a: Result, b: Result) -> None:
    assert (a.code, a.out, a.err) == (b.code, b.out, b.err)


def test_version_and_info(docker: DockerCLI) -> None:
    r = docker("version", "--format", "{{.Server.APIVersion}} {{.Client.APIVersion}}")
    assert r.code == 0 and r.out.strip() == "1.43 1.43"
    r = docker("info", "--format", "{{.Images}} {{.OSType}}")
    assert r.out.strip() == "1 linux"


def test_run_rm_output_and_exit_codes(docker: DockerCLI, dy: Dockyard) -> None:
    script = "echo out; echo err >&2; exit 3"
    same(
        docker("run", "--rm", "busybox", "sh", "-c", script),
        dy("run", "--rm", "busybox", "sh", "-c", script, check=False),
    )
    same(docker("run", "--rm", "busybox", "true"), dy("run", "--rm", "busybox", "true"))
    same(
        docker("run", "--rm", "-i", "busybox", "cat", input=b"piped\n"),
        dy("run", "--rm", "-i", "busybox", "cat", input=b"piped\n"),
    )
    assert docker("ps", "-aq").out == ""  # --rm removed them
    missing = docker("run", "--rm", "busybox", "no-such-command")
    assert missing.code == 127
    assert "executable file not found" in missing.err
    assert docker("ps", "-aq").out == ""


def test_run_detached_logs_follow_ps_inspect_rm(docker: DockerCLI, dy: Dockyard) -> None:
    r = docker(
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo tick $i; sleep 0.2; done; echo done >&2",
    )
    assert r.code == 0 and re.fullmatch(r"[0-9a-f]{64}\n", r.out)
    cid = r.out.strip()
    follow = docker("logs", "-f", "ticker")
    assert follow.code == 0 and follow.out == "tick 1\ntick 2\ntick 3\n" and follow.err == "done\n"
    same(docker("logs", "--tail", "2", "ticker"), dy("logs", "--tail", "2", "ticker"))
    fmt = "{{.ID}} {{.Image}} {{.Command}} {{.Names}} {{.State}}"
    same(docker("ps", "-a", "--format", fmt), dy("ps", "-a", "--format", fmt))
    same(docker("ps", "-aq", "--no-trunc"), dy("ps", "-aq", "--no-trunc"))
    ours = json.loads(docker("inspect", "ticker").out)[0]
    theirs = json.loads(dy("inspect", "ticker").out)[0]
    ours.pop("ExecIDs")
    theirs.pop("ExecIDs")
    assert ours == theirs and ours["Id"] == cid
    same(
        docker("inspect", "-f", "{{.State.ExitCode}} {{.Name}}", "ticker"),
        dy("inspect", "-f", "{{.State.ExitCode}} {{.Name}}", "ticker"),
    )
    r = docker("rm", "ticker")
    assert (r.code, r.out) == (0, "ticker\n")
    same(docker("rm", "ticker"), dy("rm", "ticker", check=False))


def test_exec_and_errors(docker: DockerCLI, dy: Dockyard) -> None:
    docker("run", "-d", "--name", "box", "busybox", "sleep", "60")
    same(
        docker("exec", "box", "sh", "-c", "echo in; echo err >&2; exit 5"),
        dy("exec", "box", "sh", "-c", "echo in; echo err >&2; exit 5", check=False),
    )
    same(
        docker("exec", "-i", "box", "cat", input=b"through exec\n"),
        dy("exec", "-i", "box", "cat", input=b"through exec\n"),
    )
    same(
        docker("exec", "-e", "V=7", "box", "sh", "-c", "echo $V"),
        dy("exec", "-e", "V=7", "box", "sh", "-c", "echo $V"),
    )
    r = docker("exec", "-d", "box", "sh", "-c", "echo bg > /tmp/bg")
    assert r.code == 0
    deadline = time.monotonic() + 10
    while docker("exec", "box", "cat", "/tmp/bg").out != "bg\n":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    same(docker("top", "box", "-o", "pid,comm"), dy("top", "box", "-o", "pid,comm"))
    docker("stop", "-t", "0", "box")
    same(docker("exec", "box", "true"), dy("exec", "box", "true", check=False))
    same(docker("start", "nope"), dy("start", "nope", check=False))
    same(docker("rm", "nope"), dy("rm", "nope", check=False))
    same(docker("stop", "nope"), dy("stop", "nope", check=False))
    docker("rm", "box")


def test_attach_to_a_running_container(docker: DockerCLI, dy: Dockyard) -> None:
    docker(
        "run", "-d", "-i", "--name", "reader", "busybox", "sh", "-c", "read line; echo got $line"
    )
    r = docker("attach", "reader", input=b"hello\n")
    assert (r.code, r.out) == (0, "got hello\n")
    docker("run", "-d", "-i", "--name", "reader2", "busybox", "sh", "-c", "read l; exit 6")
    same(docker("attach", "reader2", input=b"x\n"), Result(6, "", ""))
    docker("rm", "reader", "reader2")


def test_cp_both_ways(docker: DockerCLI, dy: Dockyard, tmp_path: Path) -> None:
    docker("run", "-d", "--name", "files", "busybox", "sleep", "60")
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_text("alpha\n")
    (src / "b.txt").write_text("beta\n")
    r = docker("cp", str(src), "files:/tmp/")
    assert r.code == 0, r.err
    assert docker("exec", "files", "cat", "/tmp/in/sub/a.txt").out == "alpha\n"
    out_docker = tmp_path / "out-docker"
    out_dy = tmp_path / "out-dy"
    out_docker.mkdir()
    out_dy.mkdir()
    assert docker("cp", "files:/tmp/in", str(out_docker)).code == 0
    dy("cp", "files:/tmp/in", str(out_dy))
    listing = sorted(str(p.relative_to(out_docker)) for p in out_docker.rglob("*"))
    assert listing == sorted(str(p.relative_to(out_dy)) for p in out_dy.rglob("*"))
    assert (out_docker / "in" / "b.txt").read_text() == "beta\n"
    r = docker("cp", "files:/tmp/in/b.txt", "-")
    assert r.code == 0 and "beta" in r.out
    same(
        docker("cp", "files:/nope", str(out_docker)),
        dy("cp", "files:/nope", str(out_dy), check=False),
    )
    docker("rm", "-f", "files")


def test_images_volumes_system_df(docker: DockerCLI, dy: Dockyard) -> None:
    fmt = "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}"
    same(docker("images", "--format", fmt), dy("images", "--format", fmt))
    same(
        docker("image", "inspect", "-f", "{{.Id}} {{.Os}}", "busybox"),
        dy("image", "inspect", "-f", "{{.Id}} {{.Os}}", "busybox"),
    )
    hist = "{{.ID}} {{.CreatedBy}} {{.Size}} {{.Comment}}"  # CREATED ticks between the two
    same(docker("history", "--format", hist, "busybox"), dy("history", "--format", hist, "busybox"))
    assert docker("tag", "busybox", "mine:1").code == 0
    # docker's CLI orders the repositories of one image as a Go map iterates: at random
    ours, theirs = docker("images", "--format", fmt), dy("images", "--format", fmt)
    assert sorted(ours.out.splitlines()) == sorted(theirs.out.splitlines())
    assert len(ours.out.splitlines()) == 2
    same(docker("rmi", "mine:1"), Result(0, "Untagged: mine:1\n", ""))
    same(docker("volume", "create", "vol1"), Result(0, "vol1\n", ""))
    same(docker("volume", "ls"), dy("volume", "ls"))
    same(docker("volume", "inspect", "vol1"), dy("volume", "inspect", "vol1"))
    docker("run", "--name", "user", "-v", "vol1:/data", "busybox", "sh", "-c", "echo x > /data/f")
    same(docker("system", "df"), dy("system", "df"))
    same(docker("volume", "rm", "vol1"), dy("volume", "rm", "vol1", check=False))
    docker("rm", "user")
    same(docker("volume", "rm", "vol1"), Result(0, "vol1\n", ""))
    same(docker("volume", "inspect", "vol1"), dy("volume", "inspect", "vol1", check=False))


def test_events(docker: DockerCLI) -> None:
    start = time.time()
    follower = subprocess.Popen(
        [
            DOCKER,
            "events",
            "--filter",
            "type=container",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ],
        env=docker.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1)
        docker("run", "--rm", "--name", "evented", "busybox", "true")
        lines: list[str] = []
        assert follower.stdout is not None
        while len(lines) < 5:
            lines.append(follower.stdout.readline().strip())
    finally:
        follower.terminate()
        follower.wait(10)
    # dockerd's order: the CLI attaches before it starts the container
    assert lines == [
        "create evented", "attach evented", "start evented", "die evented", "destroy evented"
    ]
    r = docker(
        "events",
        "--since",
        f"{start:.3f}",
        "--until",
        f"{time.time():.3f}",
        "--filter",
        "event=die",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.exitCode}}",
    )
    assert (r.code, r.out) == (0, "container die 0\n")


def _pty(args: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(args[0], args[1:], env=env, timeout=20, dimensions=(24, 80))
    return pexpect, child


def _until(child, command: bytes, wanted: bytes) -> None:  # type: ignore[no-untyped-def]
    """Send ``command`` until its answer contains ``wanted`` (a resize lands asynchronously)."""
    deadline = time.monotonic() + 15
    while True:
        child.sendline(command)
        try:
            child.expect(re.escape(wanted), timeout=1)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise


def test_run_it_and_exec_it_in_a_pty(docker: DockerCLI) -> None:
    pexpect, child = _pty(
        [DOCKER, "run", "-it", "--rm", "--name", "tty1", "busybox", "sh"], docker.env
    )
    child.expect(r"# ")
    _until(child, b"echo $((6*7))", b"42")
    child.setwinsize(40, 100)
    _until(child, b"stty size", b"40 100")
    child.sendline("exit 7")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 7
    docker("run", "-d", "--name", "tty2", "busybox", "sleep", "60")
    pexpect, child = _pty([DOCKER, "exec", "-it", "tty2", "sh"], docker.env)
    child.expect(r"# ")
    _until(child, b"tty", b"/dev/pts/")
    child.setwinsize(30, 90)
    _until(child, b"stty size", b"30 90")
    child.sendline("exit 4")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 4
    # detach from `run -it` with ctrl-p ctrl-q: the container goes on
    pexpect, child = _pty([DOCKER, "run", "-it", "--name", "tty3", "busybox", "sh"], docker.env)
    child.expect(r"# ")
    child.sendcontrol("p")
    child.sendcontrol("q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert docker("inspect", "-f", "{{.State.Status}}", "tty3").out == "running\n"
    docker("rm", "-f", "tty2", "tty3")
