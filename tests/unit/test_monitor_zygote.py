"""The monitor zygote's pure parts: request encoding, run-root lookup, the switch, staleness."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dockyard.runtime.monitor import jsonlite, zygote
from dockyard.runtime.monitor.options import parse


def test_request_round_trip_carries_argv_env_cwd_and_rlimits() -> None:
    argv = ["--id", "abc", "--bundle", "/b", "--state-dir", "/s", "--runtime-root", "/r"]
    env = {"PATH": "/bin", "ODD": "a=b\nc \u00e9"}
    request = zygote.decode_request(zygote.encode_request(argv, env))
    assert request["argv"] == argv
    assert request["env"] == env
    assert request["cwd"] == os.getcwd()
    assert request["python"] == sys.executable
    assert request["root"] == zygote.PKG_ROOT
    assert request["rlimits"]["RLIMIT_NOFILE"][0] >= 0
    assert parse(request["argv"]).container_id == "abc"


def test_request_defaults_to_the_callers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_ZYGOTE_TEST", "yes")
    request = zygote.decode_request(zygote.encode_request(["--id", "x"]))
    assert request["env"]["DOCKYARD_ZYGOTE_TEST"] == "yes"


GOOD = {"python": "p", "root": "r", "cwd": "/", "argv": [], "env": {}, "rlimits": {}}


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {**GOOD, "argv": "--id x"},
        {**GOOD, "argv": ["--id", 1]},
        {**GOOD, "env": {"A": 1}},
        {**GOOD, "env": []},
        {**GOOD, "python": None},
        {k: v for k, v in GOOD.items() if k != "cwd"},
        {**GOOD, "rlimits": {"RLIMIT_NOFILE": [1]}},
        {**GOOD, "rlimits": {"RLIMIT_NOFILE": ["1", "2"]}},
    ],
)
def test_malformed_requests_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        zygote.decode_request(jsonlite.dumps(bad).encode())


def test_not_json_is_refused() -> None:
    with pytest.raises(ValueError):
        zygote.decode_request(b"{nope")


def test_run_root_of_an_engine_state_dir() -> None:
    assert zygote.run_root_of("/var/run/dockyard/containers/abc") == "/var/run/dockyard"
    assert zygote.run_root_of("/tmp/x/run/abc") is None  # a monitor started elsewhere
    assert zygote.paths("/r") == ("/r/monitor/zygote.sock", "/r/monitor/zygote.pid")


@pytest.mark.parametrize(
    ("value", "on"), [(None, True), ("1", True), ("0", False), ("off", False), ("no", False)]
)
def test_the_switch(monkeypatch: pytest.MonkeyPatch, value: str | None, on: bool) -> None:
    if value is None:
        monkeypatch.delenv(zygote.ENV_SWITCH, raising=False)
    else:
        monkeypatch.setenv(zygote.ENV_SWITCH, value)
    assert zygote.enabled() is on


def test_zygote_argv_is_a_lean_interpreter() -> None:
    argv = zygote.zygote_argv("/run/x")
    assert argv[:3] == [sys.executable, "-I", "-S"]
    assert argv[-1] == "/run/x"


def test_sources_change_makes_it_stale(tmp_path: Path) -> None:
    sources = zygote._source_files()
    assert any(name.endswith("supervisor.py") for name in sources)
    assert zygote._still_fresh(sources)
    extra = tmp_path / "x.py"
    extra.write_text("a = 1\n")
    st = extra.stat()
    recorded = {**sources, str(extra): (st.st_mtime_ns, st.st_size)}
    assert zygote._still_fresh(recorded)
    extra.write_text("a = 12\n")
    assert not zygote._still_fresh(recorded)
    extra.unlink()
    assert not zygote._still_fresh(recorded)
    # a module file the zygote did not load
    missing_one = dict(sources)
    del missing_one[os.path.join(zygote._MONITOR_DIR, "policy.py")]
    assert not zygote._still_fresh(missing_one)
