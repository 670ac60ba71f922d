"""``dockyard build`` with what comes from outside the context: ``ADD`` of git
repositories (served on loopback by ``git daemon``, ``git http-backend`` and a
private ``sshd``), ``ADD --checksum`` of git and http sources,
``--secret`` from files and the environment, ``--ssh`` agents and keys; and the
RUN container's settings: ``--shm-size``, ``--ulimit``, ``--add-host``,
``--network`` / ``RUN --network``, ``--platform``."""

from __future__ import annotations

import hashlib
import http.server
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.store.procs import pid_alive, pid_start_time
from tests.conftest import Result, needs_root
from tests.integration._git_server import (
    SSHD,
    Hold,
    commit,
    git,
    git_daemon,
    git_http,
    make_repo,
    ssh_keygen,
    sshd,
)
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


def test_add_checksum(dy: NetDockyard, busybox: str, tmp_path: Path) -> None:
    """``ADD --checksum``: for git the commit (a prefix of it, or of an annotated
    tag's object) the ref must name; for http the sha256 of the download, which
    then keys the step, so a cached step asks the server nothing."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    work, bare = make_repo(tmp_path / "git")
    first = git(work, "rev-parse", "HEAD")
    tag_object = git(work, "rev-parse", "v1")
    second = commit(work, "a.txt", "second\n", "second")
    served = tmp_path / "www"
    served.mkdir()
    (served / "file.txt").write_text("downloaded\n")
    digest = "sha256:" + hashlib.sha256(b"downloaded\n").hexdigest()
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(served))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/file.txt"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    try:
        with git_daemon(bare.parent) as port:
            gd = f"git://127.0.0.1:{port}/repo.git"
            (ctx / "Dockerfile").write_text(
                "FROM busybox\n"
                f"ADD --checksum={second[:7]} {gd}#main /main\n"
                f"ADD --checksum={tag_object} {gd}#v1 /tag\n"
                f"ADD --checksum={first[:10]} {gd}#v1 /tag-commit\n"
                f"ADD --checksum={first} {gd}#{first} /pinned\n"
                f"ADD --checksum={digest} {url} /dl/\n"
            )
            build_env(dy, ctx, "-t", "sums")
            assert cat(dy, "sums", "/main/a.txt", "/tag/a.txt", "/pinned/a.txt",
                       "/dl/file.txt") == "second\nfirst\nfirst\ndownloaded\n"  # fmt: skip
            server.shutdown()  # the pinned digest is the key: no request when cached
            server.server_close()
            again = build_env(dy, ctx, "-t", "sums")
            assert again.err.count("CACHED") == 5

            failures = [
                (f"ADD --checksum={first[:8]} {gd}#main /x",
                 f"expected checksum to match {first[:8]}, got {second}"),
                (f"ADD --checksum={second[:8]} {gd}#v1 /x",
                 f"expected checksum to match {second[:8]}, got {tag_object} or {first}"),
                (f"ADD --checksum={second} {gd}#{first} /x",
                 f"expected checksum to match {second}, got {first}"),
                (f"ADD --checksum=foobar {gd}#main /x",
                 "invalid checksum foobar for Git URL, expected hex commit hash"),
                (f"ADD --checksum={digest} {url} {gd} /x/",
                 "checksum can't be specified for multiple sources"),
                (f"ADD --checksum={digest} Dockerfile /x",
                 "checksum requires HTTP(S) or Git sources"),
                (f"ADD --checksum={digest[7:]} {url} /x", "invalid checksum digest format"),
                (f"ADD --checksum=md5:{'0' * 32} {url} /x", "unsupported digest algorithm"),
            ]  # fmt: skip
            for line, message in failures:
                (ctx / "Dockerfile").write_text(f"FROM busybox\n{line}\n")
                bad = build_env(dy, ctx, check=False)
                assert bad.code == 1 and message in bad.err, (line, bad.err)
                assert "Dockerfile:2" in bad.err
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)

    # a download that does not match: BuildKit's words (sha256 is all it computes)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/file.txt"
        wrong = "sha256:" + "0" * 64
        (ctx / "Dockerfile").write_text(f"FROM busybox\nADD --checksum={wrong} {url} /x\n")
        bad = build_env(dy, ctx, check=False)
        assert bad.code == 1
        assert f"digest mismatch for {url}: {digest} (expected: {wrong})" in bad.err
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert_nothing_left(dy)


# ----------------------------------------------------------------- ADD over ssh

needs_sshd = pytest.mark.skipif(
    not os.path.exists(SSHD) or shutil.which("git") is None or shutil.which("ssh") is None,
    reason="openssh-server (sshd), openssh-client and git are needed (scripts/setup.sh)",
)


def _quiet_loopback() -> str:
    """A loopback address other than 127.0.0.1 with nothing on its port 22, for
    ``git@host:path`` (which cannot name a port); "" when there is none (a
    system sshd on every address)."""
    for _ in range(20):
        address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        with socket.socket() as s:
            if s.connect_ex((address, 22)) != 0:
                return address
    return ""


@needs_sshd
def test_add_git_over_ssh(
    dy: NetDockyard, busybox: str, tmp_path: Path, agent: tuple[str, Path]
) -> None:
    """``ADD git@host:repo.git#ref`` and ``ADD ssh://git@host:port/…`` against a real
    sshd: the key reaches ssh through ``--ssh default=<key>`` (an agent the build
    starts) or ``--ssh default`` (the caller's agent); the server's host key is the
    one scanned when the build began; without a forwarded agent BuildKit's error."""
    sock, key_file = agent
    in_agent = key_file.parent / "in-agent"
    work, bare = make_repo(tmp_path / "git")
    first = git(work, "rev-parse", "HEAD")
    second = commit(work, "a.txt", "second\n", "second")
    scp_host = _quiet_loopback()
    authorized = [key_file, in_agent]
    also = (scp_host, 22) if scp_host else None
    with sshd(bare.parent, tmp_path / "sshd", authorized, also=also) as srv:
        url = srv.url()
        assert f"127.0.0.1:{srv.port}/" in url and srv.port != 22
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(
            "FROM busybox\n"
            f"ADD {url}#v1:sub /sub\n"
            f"ADD --keep-git-dir=true --checksum={first[:7]} {url}#v1 /kept\n"
            # git@host:path when port 22 of some loopback address is ours to use
            + (f"ADD git@{scp_host}:repo.git#main /scp\n" if scp_host else f"ADD {url} /scp\n")
        )
        build_env(dy, ctx, "-t", "viassh", "--ssh", f"default={key_file}")
        out = sh(
            dy,
            "viassh",
            "cat /scp/a.txt /sub/b.txt /kept/a.txt; ls -A /scp;"
            " cat /kept/.git/HEAD; grep url /kept/.git/config",
        )
        assert out == f"second\nin sub\nfirst\na.txt\nsub\n{first}\n\turl = {url}\n"
        fingerprint = _fingerprint(key_file)
        assert "Accepted publickey for git from 127.0.0.1 port" in srv.log_text()
        assert fingerprint in srv.log_text()

        # the caller's agent (SSH_AUTH_SOCK): the refs did not move, all cached
        again = build_env(dy, ctx, "-t", "viassh", "--ssh", "default", env={"SSH_AUTH_SOCK": sock})
        assert again.err.count("CACHED") == 3
        assert _fingerprint(in_agent) in srv.log_text()
        third = commit(work, "a.txt", "third\n", "third")
        moved = build_env(dy, ctx, "-t", "viassh", "--ssh", "default", env={"SSH_AUTH_SOCK": sock})
        assert moved.err.count("CACHED") == 2
        assert f"moved from commit {second[:12]} to {third[:12]}" in moved.err
        assert sh(dy, "viassh", "cat /scp/a.txt") == "third\n"

        no_agent = build_env(dy, ctx, check=False)
        assert no_agent.code == 1
        assert 'no SSH key "default" forwarded from the client' in no_agent.err
        assert "Dockerfile:2" in no_agent.err and f"ADD {url}#v1:sub /sub" in no_agent.err
        stranger = ssh_keygen(tmp_path / "stranger")
        refused = build_env(dy, ctx, "--ssh", f"default={stranger}", check=False)
        assert refused.code == 1 and "Permission denied (publickey)" in refused.err
    assert_nothing_left(dy)


def _fingerprint(key: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{key}.pub"], check=True, capture_output=True, text=True
    ).stdout
    return out.split()[1]


@needs_sshd
def test_ssh_host_key_is_the_scanned_one(tmp_path: Path) -> None:
    """As BuildKit: the host keys scanned when the build began are the only ones
    git's ssh accepts (a server whose key changed since is refused); a scan that
    gets nothing leaves ssh without host key checking. The host's known_hosts
    files are not read or written."""
    from dockyard.build import gitsource

    _, bare = make_repo(tmp_path / "git")
    key = ssh_keygen(tmp_path / "id")
    agent_sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(agent_sock)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not agent_sock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        subprocess.run(
            ["ssh-add", "-q", str(key)], env=dict(os.environ, SSH_AUTH_SOCK=str(agent_sock)),
            check=True, capture_output=True,
        )  # fmt: skip
        home = tmp_path / "home"
        home.mkdir()
        with sshd(bare.parent, tmp_path / "a", [key]) as srv:
            ref = gitsource.parse_git_ref(srv.url() + "#main")
            assert ref is not None and ref.ssh_server == ("127.0.0.1", srv.port)
            scanned = gitsource.scan_host_keys(ref)
            host_pub = Path(f"{srv.host_key}.pub").read_text().split()[:2]
            assert scanned == f"[127.0.0.1]:{srv.port} {' '.join(host_pub)}\n"
            known = home / "known_hosts"
            known.write_text(scanned)
            env = gitsource.git_env(str(home), str(agent_sock), str(known))
            commit_id, name = gitsource.resolve_commit(ref, env)
            assert name == "refs/heads/main"
            port = srv.port
        # the same address and port, another host key: refused
        with sshd(bare.parent, tmp_path / "b", [key], port=port):
            with pytest.raises(gitsource.GitError, match="Host key verification failed"):
                gitsource.resolve_commit(ref, env)
            # no scan: no checking (BuildKit's StrictHostKeyChecking=no)
            unchecked = gitsource.git_env(str(home), str(agent_sock))
            assert gitsource.resolve_commit(ref, unchecked) == (commit_id, name)
        assert sorted(p.name for p in home.iterdir()) == ["known_hosts"]
        # nothing listens any more: the scan gets nothing, and says so by ""
        assert gitsource.scan_host_keys(ref, timeout=3) == ""
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


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


# ----------------------------------------------------------------- interrupted


def _family(pid: int) -> list[tuple[int, str, str]]:
    """``pid``'s descendants now: (pid, start time, command line)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        parents[int(entry)] = int(stat[stat.rfind(b")") + 2 :].split()[1])
    found: list[tuple[int, str, str]] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid != parent:
                continue
            todo.append(child)
            start = pid_start_time(child)
            try:
                cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if start is not None:
                found.append((child, start, cmd))
    return found


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"]
)
def test_interrupted_git_fetch_leaves_nothing(
    dy: NetDockyard, busybox: str, tmp_path: Path, agent: tuple[str, Path], signum: int
) -> None:
    """Ctrl-C (SIGINT) or ``kill`` while ``ADD <git>`` is fetching, with an agent
    the build started for ``--ssh``: git and its helpers, the agent, the checkout
    directory are all gone when the build has exited; after ``kill -9`` git and the
    agent die with it (the kernel's parent-death signal) and the next build
    reaps the directory."""
    _, key_file = agent
    _, bare = make_repo(tmp_path / "git")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    hold = Hold()
    errors = tmp_path / "build.err"
    with git_http(bare.parent, hold=hold) as port, open(errors, "wb") as err:
        (ctx / "Dockerfile").write_text(
            f"FROM busybox\nADD http://127.0.0.1:{port}/repo.git#main /src\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", _RUNNER, "build", "--progress", "plain", "-t", "cut",
             "--ssh", f"default={key_file}", str(ctx)],
            env=dy.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        try:
            assert hold.reached.wait(60), errors.read_text()
            family = _family(proc.pid)
            commands = [cmd for _, _, cmd in family]
            assert any(cmd.startswith("ssh-agent ") for cmd in commands), commands
            assert any(" fetch " in cmd for cmd in commands), commands
            assert any("remote-http" in cmd for cmd in commands), commands
            proc.send_signal(signum)
            assert proc.wait(60) != 0

            def left(everything: bool) -> list[tuple[int, str, str]]:
                deadline = time.monotonic() + 10
                alive = [p for p in family if everything or "remote-http" not in p[2]]
                while alive and time.monotonic() < deadline:
                    time.sleep(0.05)
                    alive = [p for p in alive if pid_alive(p[0], p[1])]
                return alive

            if signum == signal.SIGKILL:
                # git and the agent die with the build; git's http helper, blocked
                # on the server, when the server answers
                assert left(everything=False) == []
                hold.release.set()
            assert left(everything=True) == []
        finally:
            hold.release.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if signum == signal.SIGKILL:
        (ctx / "Dockerfile").write_text("FROM busybox\nRUN true\n")
        build_env(dy, ctx, "-t", "after")  # reaps what the killed build left
        dy("system", "prune", "-f")  # and the killed build's lease
    else:
        assert "ERROR: cancelled" in errors.read_text()
    assert dy("images", "-q", "cut").out.strip() == ""
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
