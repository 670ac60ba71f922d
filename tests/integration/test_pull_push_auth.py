"""login/logout with htpasswd and TLS, bearer tokens, mirrors and search, against
registries on loopback; config.json is written as docker writes it."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
from pathlib import Path

import pytest

from tests import registryd
from tests.conftest import DOCKYARD, Dockyard, needs_root
from tests.faultproxy import FaultProxy
from tests.integration._distribution_support import cli, second_root, set_daemon_json
from tests.integration._process_support import warm_pid

pytestmark = [
    needs_root,
    pytest.mark.skipif(not registryd.available(), reason="docker-registry is not installed"),
]


def _config(tmp_path: Path) -> Path:
    return tmp_path / "docker-config" / "config.json"


@pytest.mark.parametrize("tls", [False, True], ids=["http", "tls"])
def test_login_push_pull_logout_with_htpasswd(
    dy: Dockyard, busybox: str, tmp_path: Path, tls: bool
) -> None:
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    with registryd.registry(tmp_path / "registry", htpasswd=("alice", "s3cret"), tls=tls) as reg:
        name = f"{reg.host}/private:latest"
        dy("tag", "busybox:latest", name)
        denied = cli(dy, "pull", name, check=False)
        assert denied.err == (
            f"Error response from daemon: pull access denied for {reg.host}/private, repository"
            " does not exist or may require 'docker login': unauthorized: authentication"
            " required\n"
        )
        wrong = cli(dy, "login", "-u", "alice", "-p", "nope", reg.host, check=False)
        assert wrong.code == 1
        assert wrong.err.splitlines()[-1] == (
            f"Error response from daemon: login attempt to {reg.url}/v2/ failed with status:"
            " 401 Unauthorized"
        )
        assert not _config(tmp_path).exists()
        ok = cli(dy, "login", "-u", "alice", "-p", "s3cret", reg.host)
        assert ok.out == "Login Succeeded\n"
        assert ok.err == (
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"
            f"WARNING! Your credentials are stored unencrypted in '{_config(tmp_path)}'.\n"
            "Configure a credential helper to remove this warning. See\n"
            "https://docs.docker.com/go/credential-store/\n\n"
        )
        auth = base64.b64encode(b"alice:s3cret").decode()
        assert _config(tmp_path).read_text() == (
            '{\n\t"auths": {\n\t\t"'
            + reg.host
            + '": {\n\t\t\t"auth": "'
            + auth
            + '"\n\t\t}\n\t}\n}'
        )
        assert stat.S_IMODE(os.stat(_config(tmp_path)).st_mode) == 0o600
        cli(dy, "push", name)
        other = second_root(tmp_path)
        other.env["DOCKER_CONFIG"] = dy.env["DOCKER_CONFIG"]
        cli(other, "pull", name)
        assert other("images", "-q", "--no-trunc").out.strip() == busybox
        assert cli(dy, "logout", reg.host).out == f"Removing login credentials for {reg.host}\n"
        assert json.loads(_config(tmp_path).read_text()) == {"auths": {}}
        assert cli(dy, "logout", reg.host).out == f"Not logged in to {reg.host}\n"
        stdin = cli(dy, "login", "-u", "alice", "--password-stdin", reg.host, input=b"s3cret\n")
        assert stdin.out == "Login Succeeded\n"
        assert "Using --password via the CLI" not in stdin.err


def test_login_flag_errors(dy: Dockyard, tmp_path: Path) -> None:
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    both = cli(dy, "login", "-u", "a", "-p", "b", "--password-stdin", "127.0.0.1:1", check=False)
    assert both.err.splitlines()[-1] == (
        "conflicting options: cannot specify both --password and --password-stdin"
    )
    no_user = cli(dy, "login", "--password-stdin", "127.0.0.1:1", input=b"x", check=False)
    assert no_user.err == "Must provide --username with --password-stdin\n"
    no_tty = cli(dy, "login", "127.0.0.1:1", input=b"", check=False)
    assert no_tty.err == "Error: Cannot perform an interactive login from a non TTY device\n"


def test_interactive_login_reads_the_password_without_echo(
    dy: Dockyard, tmp_path: Path
) -> None:
    """In a real terminal, also from the warm CLI process (no controlling terminal
    there: the password is read from stdin's terminal with echo off)."""
    pexpect = pytest.importorskip("pexpect")
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    dy("images")
    warm_pid(dy.run_root)
    with registryd.registry(tmp_path / "registry", htpasswd=("alice", "s3cret")) as reg:
        child = pexpect.spawn(DOCKYARD, ["login", reg.host], env=dy.env, timeout=30)
        child.logfile_read = transcript = io.BytesIO()
        try:
            child.expect("Username: ")
            child.sendline("alice")
            child.expect("Password: ")
            child.sendline("s3cret")
            child.expect("Login Succeeded")
            child.expect(pexpect.EOF)
        finally:
            child.close()
        assert child.exitstatus == 0
        assert b"alice" in transcript.getvalue()  # the username is echoed
        assert b"s3cret" not in transcript.getvalue()
        assert json.loads(_config(tmp_path).read_text())["auths"][reg.host]["auth"]


def test_login_through_a_credential_helper(dy: Dockyard, tmp_path: Path) -> None:
    """credHelpers: the secret goes to docker-credential-<name>, config.json keeps only
    an empty entry (as docker writes it)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    store = tmp_path / "helper-store.json"
    helper = bindir / "docker-credential-fake"
    helper.write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys\n"
        f"path = {str(store)!r}\n"
        "try:\n    data = json.load(open(path))\nexcept FileNotFoundError:\n    data = {}\n"
        "action = sys.argv[1]\nbody = sys.stdin.read()\n"
        "if action == 'store':\n    doc = json.loads(body)\n    data[doc['ServerURL']] = doc\n"
        "elif action == 'get':\n"
        "    if body.strip() not in data:\n"
        "        print('credentials not found in native keychain'); sys.exit(1)\n"
        "    print(json.dumps(data[body.strip()])); sys.exit(0)\n"
        "elif action == 'erase':\n    data.pop(body.strip(), None)\n"
        "json.dump(data, open(path, 'w'))\n"
    )
    helper.chmod(0o755)
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    dy.env["PATH"] = f"{bindir}:{dy.env['PATH']}"
    with registryd.registry(tmp_path / "registry", htpasswd=("bob", "pw")) as reg:
        _config(tmp_path).parent.mkdir()
        _config(tmp_path).write_text(json.dumps({"credHelpers": {reg.host: "fake"}}))
        ok = cli(dy, "login", "-u", "bob", "--password-stdin", reg.host, input=b"pw")
        assert ok.out == "Login Succeeded\n" and "unencrypted" not in ok.err
        assert json.loads(store.read_text())[reg.host] == {
            "ServerURL": reg.host,
            "Username": "bob",
            "Secret": "pw",
        }
        assert json.loads(_config(tmp_path).read_text())["auths"] == {reg.host: {}}
        # Pulling uses the helper's secret (a 401 would say "pull access denied").
        missing = cli(dy, "pull", f"{reg.host}/nothing", check=False)
        assert "manifest unknown" in missing.err, missing.err
        cli(dy, "logout", reg.host)
        assert json.loads(store.read_text()) == {}


def test_bearer_tokens_are_fetched_per_scope_and_cached(
    dy: Dockyard, busybox: str, tmp_path: Path
) -> None:
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    with registryd.registry(tmp_path / "registry") as reg, FaultProxy(reg.host, bearer=True) as fp:
        name = f"{fp.host}/tokened:latest"
        dy("tag", "busybox:latest", name)
        cli(dy, "push", name)
        assert ["repository:tokened:pull,push"] in fp.state.tokens_issued
        pushes = len(fp.state.tokens_issued)
        assert pushes <= 2, fp.state.tokens_issued  # one token served the whole push
        other = second_root(tmp_path)
        other.env["DOCKER_CONFIG"] = dy.env["DOCKER_CONFIG"]
        cli(other, "pull", name)
        assert fp.state.tokens_issued[pushes:] == [["repository:tokened:pull"]]
        assert other("images", "-q", "--no-trunc").out.strip() == busybox


def test_registry_mirror_serves_docker_hub_names(
    dy: Dockyard, busybox: str, tmp_path: Path
) -> None:
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    with registryd.registry(tmp_path / "registry") as reg:
        dy("tag", "busybox:latest", f"{reg.host}/library/busybox:latest")
        cli(dy, "push", f"{reg.host}/library/busybox:latest")
        other = second_root(tmp_path)
        other.env["DOCKER_CONFIG"] = dy.env["DOCKER_CONFIG"]
        set_daemon_json(other, {"registry-mirrors": [reg.url]})
        out = cli(other, "pull", "busybox").lines
        assert out[1] == "latest: Pulling from library/busybox"
        assert out[-2:] == [
            "Status: Downloaded newer image for busybox:latest",
            "docker.io/library/busybox:latest",
        ]
        assert other("images", "-q", "--no-trunc", "busybox").out.strip() == busybox


def test_search_where_the_registry_offers_it(dy: Dockyard, tmp_path: Path) -> None:
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    with registryd.registry(tmp_path / "registry") as reg, FaultProxy(reg.host) as fp:
        fp.state.search_results = [
            {
                "name": "busybox",
                "description": "Busybox base image.",
                "star_count": 3000,
                "is_official": True,
                "is_automated": False,
            },
            {
                "name": "someone/busybox-extra",
                "description": "x" * 60,
                "star_count": 2,
                "is_official": False,
                "is_automated": True,
            },
        ]
        out = cli(dy, "search", f"{fp.host}/busybox").lines
        assert out[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]
        assert out[1].split() == ["busybox", "Busybox", "base", "image.", "3000", "[OK]"]
        assert out[2].split()[1] == "x" * 44 + "…"
        limited = cli(dy, "search", "--limit", "1", f"{fp.host}/busybox").lines[1:]
        assert [line.split() for line in limited] == [out[1].split()]
        official = cli(
            dy,
            "search",
            "--filter",
            "is-official=true",
            "--format",
            "{{.Name}}:{{.StarCount}}",
            f"{fp.host}/busybox",
        ).out
        assert official == "busybox:3000\n"
        assert cli(dy, "search", "--no-trunc", f"{fp.host}/busybox").lines[2].split()[1] == "x" * 60
        # docker-registry itself has no v1 search.
        none = cli(dy, "search", f"{reg.host}/busybox", check=False)
        assert none.err == "Error response from daemon: Unexpected status code 404\n"
