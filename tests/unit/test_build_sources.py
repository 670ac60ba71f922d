"""ADD's git references (BuildKit's ParseGitRef rules), resolving and fetching them
from repositories on loopback; ``--secret``, ``--ssh`` and ``--platform`` as the
CLI reads them; the SSH agent relay."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from dockyard.build import gitsource
from dockyard.build.gitsource import GitRef, parse_git_ref
from tests.integration._git_server import commit, git, git_daemon, git_http, make_repo

needs_git = pytest.mark.skipif(
    subprocess.run(["which", "git"], capture_output=True).returncode != 0,
    reason="git is not installed",
)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "https://example.com/org/repo.git",
            GitRef("https://example.com/org/repo.git", scheme="https"),
        ),
        (
            "https://example.com/org/repo.git#v1.2:docs/dir",
            GitRef("https://example.com/org/repo.git", "v1.2", "docs/dir", "https"),
        ),
        (
            "http://127.0.0.1:8080/r.git#main",
            GitRef("http://127.0.0.1:8080/r.git", "main", "", "http"),
        ),
        ("git://host/path/repo#dev", GitRef("git://host/path/repo", "dev", "", "git")),
        ("ssh://git@host:2222/repo.git", GitRef("ssh://git@host:2222/repo.git", scheme="ssh")),
        (
            "git@github.com:moby/buildkit.git",
            GitRef("git@github.com:moby/buildkit.git", scheme="ssh"),
        ),
        (
            "git@github.com:moby/buildkit.git#master:frontend",
            GitRef("git@github.com:moby/buildkit.git", "master", "frontend", "ssh"),
        ),
        ("https://example.com/file.tar.gz", None),  # a download, not a repository
        ("http://example.com/repo", None),
        ("github.com/moby/buildkit", None),  # BuildKit: indistinguishable from a local path
        ("./repo.git", None),
        ("dir/file.txt", None),
        ("ftp://example.com/repo.git", None),
        ("file:///srv/repo.git", None),
    ],
)
def test_parse_git_ref(source: str, expected: GitRef | None) -> None:
    assert parse_git_ref(source) == expected


def test_git_env_has_no_host_configuration(tmp_path: Path) -> None:
    env = gitsource.git_env(str(tmp_path), "/run/agent.sock")
    assert env["GIT_CONFIG_NOSYSTEM"] == "1" and env["GIT_CONFIG_GLOBAL"] == os.devnull
    assert env["GIT_TERMINAL_PROMPT"] == "0" and env["HOME"] == str(tmp_path)
    assert env["SSH_AUTH_SOCK"] == "/run/agent.sock"
    assert "SSH_AUTH_SOCK" not in gitsource.git_env(str(tmp_path))


@pytest.mark.parametrize(
    ("source", "server"),
    [
        ("git@github.com:moby/buildkit.git#main", ("github.com", 22)),
        ("ssh://git@127.0.0.1:2222/srv/repo.git#v1:sub", ("127.0.0.1", 2222)),
        ("ssh://host/repo.git", ("host", 22)),
        ("ssh://git@[::1]:2200/repo.git", ("::1", 2200)),
        ("git://127.0.0.1:9418/repo.git", None),
        ("https://example.com/repo.git", None),
    ],
)
def test_ssh_server(source: str, server: tuple[str, int] | None) -> None:
    ref = parse_git_ref(source)
    assert ref is not None and ref.ssh_server == server


def test_git_ssh_host_key_options(tmp_path: Path) -> None:
    """BuildKit's git ssh: the scanned keys when there are some, else no host key
    checking; never the host's own known_hosts files, never a prompt."""
    scanned = gitsource.git_env(str(tmp_path), known_hosts="/run/x y/known_hosts")
    assert scanned["GIT_SSH_COMMAND"] == (
        "ssh -F /dev/null -o BatchMode=yes -o GlobalKnownHostsFile=/dev/null"
        " -o StrictHostKeyChecking=yes -o 'UserKnownHostsFile=\"/run/x y/known_hosts\"'"
    )
    unscanned = gitsource.git_env(str(tmp_path))
    assert unscanned["GIT_SSH_COMMAND"] == (
        "ssh -F /dev/null -o BatchMode=yes -o GlobalKnownHostsFile=/dev/null"
        " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    )


def test_checksum_must_be_hex() -> None:
    gitsource.check_checksum("")
    gitsource.check_checksum("Be1f38e")
    with pytest.raises(gitsource.GitError) as err:
        gitsource.check_checksum("sha256:abc")
    assert str(err.value) == "invalid checksum sha256:abc for Git URL, expected hex commit hash"


@needs_git
def test_resolve_with_checksum(tmp_path: Path) -> None:
    """``--checksum``: a prefix of the commit the ref names, or of an annotated
    tag's object; BuildKit's words when it is neither."""
    work, bare = make_repo(tmp_path)
    first = git(work, "rev-parse", "HEAD")
    tag_object = git(work, "rev-parse", "v1")
    second = commit(work, "a.txt", "second\n", "second")
    env = gitsource.git_env(str(tmp_path))
    with git_daemon(bare.parent) as port:
        url = f"git://127.0.0.1:{port}/repo.git"
        main, tag, by_id = (parse_git_ref(f"{url}#{r}") for r in ("main", "v1", first))
        full = parse_git_ref(f"{url}#refs/tags/v1")
        assert main and tag and by_id and full
        assert gitsource.resolve_commit(main, env, second[:1]) == (second, "refs/heads/main")
        assert gitsource.resolve_commit(tag, env, first[:12]) == (first, "refs/tags/v1")
        assert gitsource.resolve_commit(tag, env, tag_object) == (first, "refs/tags/v1")
        assert gitsource.resolve_commit(full, env) == (first, "refs/tags/v1")  # peeled too
        assert gitsource.resolve_commit(by_id, env, first[:6]) == (first, "")
        for ref, checksum, got in [
            (main, first[:9], second),
            (tag, second[:9], f"{tag_object} or {first}"),
            (by_id, second, first),
            (main, second.upper(), second),  # compared as given, as BuildKit does
        ]:
            with pytest.raises(gitsource.GitError) as err:
                gitsource.resolve_commit(ref, env, checksum)
            assert str(err.value) == f"expected checksum to match {checksum}, got {got}"


@needs_git
def test_resolve_and_fetch_over_git_and_http(tmp_path: Path) -> None:
    work, bare = make_repo(tmp_path)
    first = git(work, "rev-parse", "HEAD")
    second = commit(work, "a.txt", "second\n", "second")
    env = gitsource.git_env(str(tmp_path))
    with git_daemon(bare.parent) as port, git_http(bare.parent) as hport:
        for base in (f"git://127.0.0.1:{port}/repo.git", f"http://127.0.0.1:{hport}/repo.git"):
            main = parse_git_ref(base + "#main")
            assert main is not None
            assert gitsource.resolve_commit(main, env) == (second, "refs/heads/main")
            tag = parse_git_ref(base + "#v1:sub")
            assert tag is not None
            assert gitsource.resolve_commit(tag, env) == (first, "refs/tags/v1")  # peeled
            head = parse_git_ref(base)
            assert head is not None
            assert gitsource.resolve_commit(head, env) == (second, "HEAD")
            by_id = parse_git_ref(f"{base}#{first}")
            assert by_id is not None
            assert gitsource.resolve_commit(by_id, env) == (first, "")
            missing = parse_git_ref(base + "#nope")
            assert missing is not None
            with pytest.raises(gitsource.GitError, match="does not contain ref nope"):
                gitsource.resolve_commit(missing, env)

            where = tmp_path / f"fetch-{base[:4]}"
            where.mkdir()
            out = gitsource.fetch(main, second, "refs/heads/main", str(where / "a"), env,
                                  keep_git_dir=False)  # fmt: skip
            assert (Path(out) / "a.txt").read_text() == "second\n"
            assert not (Path(out) / ".git").exists()
            out = gitsource.fetch(tag, first, "refs/tags/v1", str(where / "b"), env,
                                  keep_git_dir=True)  # fmt: skip
            assert sorted(os.listdir(out)) == ["b.txt"]  # a subdirectory keeps no .git
            out = gitsource.fetch(by_id, first, "", str(where / "c"), env, keep_git_dir=True)
            assert (Path(out) / "a.txt").read_text() == "first\n"
            assert git(Path(out), "rev-parse", "HEAD") == first
            out = gitsource.fetch(main, second, "refs/heads/main", str(where / "d"), env,
                                  keep_git_dir=True)  # fmt: skip
            assert git(Path(out), "rev-parse", "HEAD") == second
            assert git(Path(out), "remote", "get-url", "origin") == base
            assert git(Path(out), "rev-parse", "refs/heads/main") == second
            with pytest.raises(gitsource.GitError, match="did the ref move"):
                gitsource.fetch(main, first, "refs/heads/main", str(where / "e"), env,
                                keep_git_dir=False)  # fmt: skip


# ----------------------------------------------------------------- CLI flags


def test_secret_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dockyard.cli.commands.build import _parse_secret, _prepared_request
    from dockyard.cli.errors import ClientError

    assert _parse_secret("id=a,src=/f") == ("a", "/f", "")
    assert _parse_secret("id=a,source=/f") == ("a", "/f", "")
    assert _parse_secret("id=a,env=TOKEN") == ("a", "", "TOKEN")
    assert _parse_secret("type=env,id=a,src=TOKEN") == ("a", "", "TOKEN")
    for bad, message in [
        ("src=/f", "secret missing ID"),
        ("id=a,bogus=1", "unexpected key 'bogus' in 'bogus=1'"),
        ("id=a,type=x", 'unsupported secret type "x"'),
        ("id=a,src", "invalid field 'src' must be a key=value pair"),
    ]:
        with pytest.raises(ClientError) as err:
            _parse_secret(bad)
        assert str(err.value) == message

    monkeypatch.chdir(tmp_path)
    (tmp_path / "fromfile").write_text("file value")
    monkeypatch.setenv("FROMENV", "env value")
    monkeypatch.setenv("OTHER", "other value")
    prepared = _prepared_request(None)
    try:
        got = prepared._secrets(
            ["id=FROMENV", "id=fromfile", "id=x,env=OTHER", "id=unset,env=NOPE"]
        )
        values = {k: Path(v).read_text() for k, v in got.items()}
        assert values == {
            "FROMENV": "env value",  # an id naming a set variable: its value
            "fromfile": "file value",  # else the file of that name
            "x": "other value",
            "unset": "",  # BuildKit reads an unset variable as empty
        }
        with pytest.raises(ClientError, match="failed to stat missing: stat missing: no such file"):
            prepared._secrets(["id=missing"])
    finally:
        prepared.__exit__()
    assert not Path(got["FROMENV"]).exists()  # the environment's values are removed after


def test_ssh_and_platform_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dockyard.cli.commands.build import _check_platform, _ssh
    from dockyard.cli.errors import ClientError

    monkeypatch.setenv("SSH_AUTH_SOCK", "/run/agent")
    assert _ssh(["default"]) == {"default": ["/run/agent"]}
    monkeypatch.chdir(tmp_path)
    assert _ssh(["k=id_a,id_b", "default=/s"]) == {
        "k": [str(tmp_path / "id_a"), str(tmp_path / "id_b")],
        "default": ["/s"],
    }
    monkeypatch.delenv("SSH_AUTH_SOCK")
    with pytest.raises(ClientError, match="invalid empty ssh agent socket"):
        _ssh(["default"])
    for ok in ("linux/amd64", "linux/x86_64", "linux", "amd64"):
        _check_platform(ok)
    with pytest.raises(ClientError, match="no emulator for platform linux/arm64: "):
        _check_platform("linux/arm64")
    with pytest.raises(ClientError, match="failed to parse platform"):
        _check_platform("linux/amd64/x/y")


# ----------------------------------------------------------------- the agent relay


def test_relay_forwards_to_the_agent(tmp_path: Path) -> None:
    """Each connection to the step's socket reaches the agent and back; the socket
    has the mount's owner and mode; nothing is left listening after."""
    from dockyard.build.sshagent import forwarded

    agent_path = tmp_path / "agent.sock"
    agent = socket.socket(socket.AF_UNIX)
    agent.bind(str(agent_path))
    agent.listen(4)

    def echo_upper() -> None:
        for _ in range(2):
            conn, _ = agent.accept()
            with conn:
                conn.sendall(conn.recv(100).upper())

    thread = threading.Thread(target=echo_upper, daemon=True)
    thread.start()
    relay_dir = tmp_path / "relay"
    relay_dir.mkdir()
    with forwarded(str(agent_path), str(relay_dir), 0, 0, 0o600) as path:
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
        for word in (b"one", b"two"):
            with socket.socket(socket.AF_UNIX) as c:
                c.connect(path)
                c.sendall(word)
                assert c.recv(100) == word.upper()
    thread.join(5)
    agent.close()
    with socket.socket(socket.AF_UNIX) as c, pytest.raises(OSError):
        c.connect(path)


@needs_git
def test_fetch_with_submodules(tmp_path: Path) -> None:
    """Submodules come along (BuildKit's ``submodule update --init --recursive``),
    without their ``.git`` pointers unless the git directory is kept."""
    _, lib = make_repo(tmp_path / "lib", "lib.git")
    work, bare = make_repo(tmp_path / "app")
    shutil.copytree(lib, bare.parent / "lib.git")  # both served from one base path
    env = gitsource.git_env(str(tmp_path))
    with git_daemon(bare.parent) as port:
        url = f"git://127.0.0.1:{port}"
        git(work, "-c", "protocol.file.allow=always", "submodule", "add", "-q",
            f"{url}/lib.git", "vendor/lib")  # fmt: skip
        head = commit(work, "a.txt", "with lib\n", "add lib")
        ref = parse_git_ref(f"{url}/repo.git#main")
        assert ref is not None
        plain = gitsource.fetch(ref, head, "refs/heads/main", str(tmp_path / "p"), env,
                                keep_git_dir=False)  # fmt: skip
        assert (Path(plain) / "vendor/lib/sub/b.txt").read_text() == "in sub\n"
        assert not (Path(plain) / "vendor/lib/.git").exists()
        assert not (Path(plain) / ".git").exists()
        kept = gitsource.fetch(ref, head, "refs/heads/main", str(tmp_path / "k"), env,
                               keep_git_dir=True)  # fmt: skip
        assert (Path(kept) / "vendor/lib/a.txt").read_text() == "first\n"
        assert (Path(kept) / "vendor/lib/.git").exists()


@needs_git
def test_scp_like_refs_go_over_ssh(tmp_path: Path) -> None:
    """``git@host:path`` is fetched with ssh (batch mode: no prompt, no host key
    question), through the forwarded agent; here nothing listens on loopback's port 22."""
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 22)) == 0:
            pytest.skip("something listens on 127.0.0.1:22")
    if shutil.which("ssh") is None:
        pytest.skip("openssh-client is not installed")
    ref = parse_git_ref("git@127.0.0.1:org/repo.git#main")
    assert ref is not None and ref.uses_ssh
    with pytest.raises(gitsource.GitError) as err:
        gitsource.resolve_commit(ref, gitsource.git_env(str(tmp_path), "/nonexistent.sock"))
    assert "git ls-remote -- git@127.0.0.1:org/repo.git main main^{} failed" in str(err.value)
    assert "Connection refused" in str(err.value)
