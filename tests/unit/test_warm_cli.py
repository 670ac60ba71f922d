"""The warm CLI's pure parts: where it lives, what a request must carry, when the
warm process must not stand in for a client, and when its code is stale."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dockyard.cli import warm
from dockyard.runtime.monitor import jsonlite
from dockyard.runtime.monitor.zygote import stamps_unchanged


def request(**changes: object) -> dict[str, object]:
    value = jsonlite.loads(warm.encode_request(["dockyard", "ps"], [True, True, True]))
    assert isinstance(value, dict)
    value.update(changes)
    return value


def test_paths_and_the_run_root_a_command_line_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    assert warm.paths("/r") == ("/r/cli/warm.sock", "/r/cli/warm.pid")
    monkeypatch.setenv("DOCKYARD_RUN", "/tmp/x")
    assert warm.client_run_root(["ps"]) == "/tmp/x"
    assert warm.client_run_root(["--run-root", "/y", "ps"]) is None
    assert warm.client_run_root(["--run-root=/y", "ps"]) is None
    monkeypatch.delenv("DOCKYARD_RUN")
    assert warm.client_run_root(["ps"]) == "/run/dockyard"
    from dockyard import config

    assert warm.DEFAULT_RUN_ROOT == config.DEFAULT_RUN_ROOT  # a copy, to keep the client lean


def test_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(warm.ENV_SWITCH, raising=False)
    assert warm.enabled()
    for off in ("0", "false", "no", "off", " OFF "):
        monkeypatch.setenv(warm.ENV_SWITCH, off)
        assert not warm.enabled()


def test_a_request_carries_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARK", "x")
    value = warm.validate(request())
    assert value["argv"] == ["dockyard", "ps"]
    assert value["cwd"] == str(tmp_path)
    assert value["env"]["MARK"] == "x"
    assert value["stdio"] == [True, True, True]
    assert value["python"] == sys.executable
    umask = os.umask(0)
    os.umask(umask)
    assert value["umask"] == umask
    assert "RLIMIT_NOFILE" in value["rlimits"]


@pytest.mark.parametrize(
    "bad",
    [
        {"argv": []},
        {"argv": "dockyard ps"},
        {"env": {"A": 1}},
        {"cwd": None},
        {"umask": "022"},
        {"stdio": [True]},
        {"streams": None},
    ],
)
def test_malformed_requests_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        warm.validate(request(**bad))
    with pytest.raises(ValueError):
        warm.validate(["not", "an", "object"])


def test_it_stands_in_only_for_a_client_like_itself() -> None:
    own = warm.process_context("self")
    assert warm.mismatch(request(), own, own) == ""
    assert "interpreter" in warm.mismatch(request(python="/usr/bin/python3.9"), own, own)
    assert "interpreter" in warm.mismatch(request(root="/elsewhere"), own, own)
    assert "sys.path" in warm.mismatch(request(path=["/x"]), own, own)
    assert "flags" in warm.mismatch(request(flags=[]), own, own)
    assert "encoding" in warm.mismatch(request(fsencoding=["latin-1", "strict"]), own, own)
    for key in ("net", "mnt", "pid", "root", "CapEff", "CapBnd", "NoNewPrivs", "Seccomp"):
        peer = dict(own, **{key: "something else"})
        assert warm.mismatch(request(), peer, own) == f"another {key}"


def test_the_context_is_read_from_proc() -> None:
    own = warm.process_context(os.getpid())
    assert own == warm.process_context("self")
    assert own["net"] == (os.stat("/proc/self/ns/net").st_dev, os.stat("/proc/self/ns/net").st_ino)
    assert str(own["CapBnd"]).strip()


def test_changed_sources_are_stale(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("x = 1\n")
    st = source.stat()
    sources = {str(source): (st.st_mtime_ns, st.st_size)}
    assert stamps_unchanged(sources)
    source.write_text("x = 22\n")
    assert not stamps_unchanged(sources)
    source.unlink()
    assert not stamps_unchanged(sources)


def test_loaded_sources_are_this_packages_modules() -> None:
    found = warm.loaded_sources()
    assert warm.__file__ in found
    assert all(name.startswith(warm.PKG_ROOT + os.sep) for name in found)
    assert not any(name == os.__file__ for name in found)


def test_servers_and_service_managed_commands_run_in_their_client() -> None:
    assert warm.not_for_warm(request(argv=["dockyard", "ps"])) == ""
    assert warm.not_for_warm(request(argv=["dockyard", "serve"])) == "a server"
    assert warm.not_for_warm(request(argv=["dockyard", "-D", "registry", "serve"])) == "a server"
    assert warm.not_for_warm(request(argv=["dockyard", "nosuch"])) == ""  # it says so itself
    managed = request(env={"LISTEN_FDS": "1", "LISTEN_PID": "7"})
    assert warm.not_for_warm(managed) == "run by a service manager"


def test_joining_ones_own_cgroups_moves_nothing() -> None:
    assert warm.join_cgroups("self") == ""
    mounts = warm._cgroup_mounts()
    assert all(path.startswith("/") for _, path in mounts)
