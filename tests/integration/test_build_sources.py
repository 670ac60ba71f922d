"""``dockyard build`` with what comes from outside the context: ``ADD`` of git
repositories (served on loopback by ``git daemon`` and ``git http-backend``),
``--secret`` from files and the environment, ``--ssh`` agents and keys; and the
RUN container's settings: ``--shm-size``, ``--ulimit``, ``--add-host``,
``--network`` / ``RUN --network``, ``--platform``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Result, needs_root
from tests.integration._git_server import commit, git, git_daemon, git_http, make_repo
from tests.integration._network_support import NetDockyard
from tests.integration.test_build import _RUNNER, assert_nothing_left, cat, dy

pytestmark = needs_root
__all__ = ["dy"]


def build_env(
    d: NetDockyard, ctx: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> Result:
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, "build", "--progress", "plain", *args, str(ctx)],
        capture_output=True, env=dict(d.env, **(env or {})), timeout=300,
    )  # fmt: skip
    result = Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    if check and result.code != 0:
        raise AssertionError(f"build exited {result.code}\n{result.err}")
    return result


def sh(d: NetDockyard, ref: str, script: str) -> str:
    return d("run", "--rm", "--network", "none", "--entrypoint", "sh", ref, "-c", script).out


# ----------------------------------------------------------------- ADD <git>


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_add_git_repositories(dy: NetDockyard, busybox: str, tmp_path: Path) -> None:
    work, bare = make_repo(tmp_path / "git")
    first = git(work, "rev-parse", "HEAD")
    second = commit(work, "a.txt", "second\n", "second")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with git_daemon(bare.parent) as port, git_http(bare.parent) as hport:
        gd, hp = f"git://127.0.0.1:{port}/repo.git", f"http://127.0.0.1:{hport}/repo.git"
        (ctx / "Dockerfile").write_text(
            "FROM busybox\n"
            f"ADD {gd}#v1:sub /sub\n"
            f"ADD --chmod=700 {hp}#{first} /pinned/\n"
            f"ADD {gd}#main /src\n"
            f"ADD --keep-git-dir=true {hp}#main /kept\n"
            f"ADD {hp} /head\n"
        )
        build_env(dy, ctx, "-t", "gits")
        out = sh(
            dy,
            "gits",
            "cat /sub/b.txt /pinned/a.txt /src/a.txt /head/a.txt; ls -A /sub; ls -A /src;"
            " stat -c %a /pinned/a.txt; cat /kept/.git/HEAD; grep url /kept/.git/config;"
            " cat /kept/a.txt",
        )
        assert out == (
            "in sub\nfirst\nsecond\nsecond\n"
            "b.txt\na.txt\nsub\n"  # no .git unless asked for
            f"700\n{second}\n\turl = {hp}\nsecond\n"
        )

        again = build_env(dy, ctx, "-t", "gits")  # the refs did not move: all cached
        assert again.err.count("CACHED") == 5
        third = commit(work, "a.txt", "third\n", "third")
        moved = build_env(dy, ctx, "-t", "gits")
        assert moved.err.count("CACHED") == 2  # the tag and the pinned commit
        assert (
            f"cache miss: git source {gd}#main moved from commit {second[:12]} to {third[:12]}"
            in moved.err
        )
        assert sh(dy, "gits", "cat /src/a.txt /kept/a.txt /sub/b.txt") == "third\nthird\nin sub\n"

        (ctx / "Dockerfile").write_text(f"FROM busybox\nCOPY {gd} /x\n")
        bad = build_env(dy, ctx, check=False)
        assert bad.code == 1 and "source can't be a git ref for COPY" in bad.err
        (ctx / "Dockerfile").write_text(f"FROM busybox\nADD {gd}#nobranch /x\n")
        bad = build_env(dy, ctx, check=False)
        assert bad.code == 1
        assert "repository does not contain ref nobranch" in bad.err
        assert "Dockerfile:2" in bad.err
    assert_nothing_left(dy)


# ----------------------------------------------------------------- secrets and ssh


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An ssh-agent of the test's own holding one key; yields its socket and a second
    key file (not in the agent)."""
    if shutil.which("ssh-agent") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("openssh-client is not installed")
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("in-agent", "from-file"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"dockyard-{name}",
             "-f", str(keys / name)],
            check=True, capture_output=True,
        )  # fmt: skip
    sock = keys / "agent.sock"
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        subprocess.run(
            ["ssh-add", "-q", str(keys / "in-agent")],
            env=dict(os.environ, SSH_AUTH_SOCK=str(sock)), check=True, capture_output=True,
        )  # fmt: skip
        yield str(sock), keys / "from-file"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def agent_client(ctx: Path) -> bool:
    """A static client asking an agent for its identities (busybox has no ssh-add),
    compiled into the context; False when there is no static C toolchain here."""
    source = Path(__file__).parent / "build_golden" / "agentls.c"
    if shutil.which("gcc") is None:
        return False
    made = subprocess.run(
        ["gcc", "-static", "-Os", "-o", str(ctx / "agentls"), str(source)], capture_output=True
    )
    return made.returncode == 0


def test_secrets_and_ssh(
    dy: NetDockyard, busybox: str, tmp_path: Path, agent: tuple[str, Path]
) -> None:
    sock, key_file = agent
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    have_client = agent_client(ctx)
    client = "/ctx/agentls" if have_client else "true"
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN --mount=type=secret,id=API_TOKEN --mount=type=secret,id=other,env=OTHER"
        " --mount=type=secret,id=API_TOKEN,target=/s2,uid=65534,mode=0440"
        ' echo "$(sed s/-from-env/+/ /run/secrets/API_TOKEN)" > /tok'
        ' && echo "${OTHER%-from-env}+" > /other'
        " && stat -c '%a %u %g' /run/secrets/API_TOKEN /s2 > /modes"
        " && ls /run/secrets > /listing\n"
        "RUN --mount=type=ssh --mount=type=bind,target=/ctx"
        f" test -S /run/buildkit/ssh_agent.0 && echo $SSH_AUTH_SOCK > /sock && {client} > /agent1\n"
        "RUN --mount=type=ssh,id=keys,target=/k.sock,uid=65534,mode=0600"
        " --mount=type=bind,target=/ctx"
        f" stat -c '%a %u' /k.sock > /kmode && SSH_AUTH_SOCK=/k.sock {client} > /agent2\n"
    )
    env = {"API_TOKEN": "token-from-env", "OTHER_VALUE": "other-from-env", "SSH_AUTH_SOCK": sock}
    build_env(
        dy, ctx, "-t", "sec", "--secret", "id=API_TOKEN", "--secret", "id=other,env=OTHER_VALUE",
        "--ssh", "default", "--ssh", f"keys={key_file}", env=env,
    )  # fmt: skip
    assert cat(dy, "sec", "/tok", "/other", "/modes", "/listing", "/sock", "/kmode") == (
        "token+\n" "other+\n" "400 0 0\n440 65534 0\n" "API_TOKEN\n"
        "/run/buildkit/ssh_agent.0\n" "600 65534\n"
    )  # fmt: skip
    if have_client:  # requests reach the agents: ours, and the one the build started
        assert cat(dy, "sec", "/agent1") == "keys=1\ndockyard-in-agent\n"
        assert cat(dy, "sec", "/agent2") == "keys=1\ndockyard-from-file\n"
    for blob in (Path(dy.root) / "blobs" / "sha256").iterdir():
        data = blob.read_bytes()
        assert b"token-from-env" not in data and b"other-from-env" not in data
    # the build's own agent (for the key file) is gone with the build
    assert not [p for p in (Path(dy.run_root) / "build").glob("ssh-*")]
    missing = build_env(dy, ctx, "-t", "sec", "--no-cache", env=env, check=False)
    # a secret mount is optional unless required=true: the step runs without it
    assert missing.code == 1 and "/run/secrets/API_TOKEN: No such file" in missing.err
    assert_nothing_left(dy)


# ----------------------------------------------------------------- the RUN container


def test_run_shm_ulimit_hosts_network_platform(
    dy: NetDockyard, busybox: str, tmp_path: Path
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN df -k /dev/shm | tail -1 | awk '{print $2}' > /shm"
        " && ulimit -n > /nofile && ulimit -Hn >> /nofile"
        " && grep myhost /etc/hosts > /hosts && ls /sys/class/net > /nets\n"
        "RUN --network=none ls /sys/class/net > /none\n"
        "RUN --network=host ls /sys/class/net > /host\n"
    )
    build_env(
        dy, ctx, "-t", "lim", "--shm-size", "100m", "--ulimit", "nofile=1024:2048",
        "--add-host", "myhost:10.1.2.3", "--add-host", "other=10.9.9.9",
        "--platform", "linux/amd64",
    )  # fmt: skip
    assert cat(dy, "lim", "/shm", "/nofile", "/hosts", "/nets", "/none") == (
        "102400\n1024\n2048\n10.1.2.3\tmyhost\neth0\nlo\nlo\n"
    )
    # the host's namespace: this test's own bridge (made for the first RUN) is there
    assert dy.bridge in cat(dy, "lim", "/host").split()
    # --network none for the whole build: RUN --network=default follows it
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN ls /sys/class/net > /nets\n")
    build_env(dy, ctx, "-t", "nonet", "--network", "none")
    assert cat(dy, "nonet", "/nets") == "lo\n"
    refused = build_env(dy, ctx, "--platform", "linux/arm64", check=False)
    assert refused.code != 0
    assert "no emulator for platform linux/arm64" in refused.err
    (ctx / "Dockerfile").write_text(
        "ARG ARCH=arm64\nFROM --platform=$BUILDPLATFORM busybox AS ok\n"
        "FROM --platform=linux/$ARCH busybox\nCOPY --from=ok /bin/true /t\n"
    )
    refused = build_env(dy, ctx, check=False)
    assert refused.code == 1
    assert "Dockerfile:3\n" in refused.err and ">>> FROM --platform=linux/$ARCH" in refused.err
    assert "ERROR: failed to solve: no emulator for platform linux/arm64: " in refused.err
    build_env(dy, ctx, "--build-arg", "ARCH=amd64", "-t", "fine")
    assert_nothing_left(dy)
