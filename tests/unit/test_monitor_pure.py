"""The monitor's pure parts: JSON, times, log writers, framing, policies, health, options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.monitor import jsonlite, protocol
from dockyard.runtime.monitor.health import (
    HEALTHY,
    STARTING,
    UNHEALTHY,
    HealthConfig,
    HealthState,
    go_duration,
)
from dockyard.runtime.monitor.launch import make_options, monitor_argv, validate
from dockyard.runtime.monitor.logs import (
    JsonFileWriter,
    LocalWriter,
    open_writer,
    parse_size,
    read_local,
)
from dockyard.runtime.monitor.oci import OciError, OciRuntime, run, wait_status_code
from dockyard.runtime.monitor.options import parse
from dockyard.runtime.monitor.policy import Backoff, RestartPolicy
from dockyard.runtime.monitor.timefmt import rfc3339nano

REPO = Path(__file__).resolve().parents[2]


# -- jsonlite ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [{"a": [1, 2.5, None, True, False, "x\ny"]}, [], "é€😀", {"nested": {"k": [{"z": 1}]}}],
)
def test_jsonlite_round_trips_like_json(value: object) -> None:
    assert jsonlite.loads(jsonlite.dumps(value)) == value
    assert jsonlite.loads(json.dumps(value)) == value


def test_jsonlite_escapes_like_go() -> None:
    assert jsonlite.dumps({"log": "<a&b>\u2028"}) == '{"log":"\\u003ca\\u0026b\\u003e\\u2028"}'
    assert jsonlite.dumps("é") == '"é"'  # UTF-8 kept, as Go does


@pytest.mark.parametrize("bad", ["", "{", "[1,]", "1 2", "nul"])
def test_jsonlite_rejects_bad_json(bad: str) -> None:
    with pytest.raises(ValueError):
        jsonlite.loads(bad)


# -- time ------------------------------------------------------------------------------
def test_rfc3339nano_trims_trailing_zeros() -> None:
    assert rfc3339nano(0) == "1970-01-01T00:00:00Z"
    assert rfc3339nano(1_500_000_000) == "1970-01-01T00:00:01.5Z"
    assert rfc3339nano(1_000_000_001) == "1970-01-01T00:00:01.000000001Z"
    assert rfc3339nano(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"


# -- logs ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "size"),
    [("1k", 1024), ("10m", 10 << 20), ("20M", 20 << 20), ("1g", 1 << 30), ("512", 512)],
)
def test_parse_size_is_docker_ram_in_bytes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_size_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_size("lots")


def _records(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_json_writer_splits_lines_and_keeps_partial(tmp_path: Path) -> None:
    w = JsonFileWriter(str(tmp_path / "c-json.log"))
    w.write(1, b"hel")
    w.write(2, b"err\n")
    w.write(1, b"lo\nwor")
    w.close()
    recs = _records(tmp_path / "c-json.log")
    assert [(r["log"], r["stream"]) for r in recs] == [
        ("err\n", "stderr"),
        ("hello\n", "stdout"),
        ("wor", "stdout"),
    ]


def test_json_writer_cuts_long_lines_at_16k(tmp_path: Path) -> None:
    w = JsonFileWriter(str(tmp_path / "c-json.log"))
    w.write(1, b"x" * (16 * 1024 + 10) + b"\n")
    w.close()
    recs = _records(tmp_path / "c-json.log")
    assert [len(r["log"]) for r in recs] == [16 * 1024, 11]


def test_json_writer_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    w = JsonFileWriter(str(tmp_path / "c-json.log"))
    w.write(1, b"\xff\n")
    w.close()
    assert _records(tmp_path / "c-json.log")[0]["log"] == "\ufffd\n"


def test_rotation_keeps_max_file(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(str(path), max_size=300, max_file=3)
    for i in range(40):
        w.write(1, f"line {i:03d}\n".encode())
    w.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["c-json.log", "c-json.log.1", "c-json.log.2"]
    assert all((tmp_path / n).stat().st_size <= 300 for n in names)
    newest, older = _records(path), _records(tmp_path / "c-json.log.1")
    assert newest[-1]["log"] == "line 039\n"
    assert older[-1]["log"] == f"line {int(newest[0]['log'][5:8]) - 1:03d}\n"


def test_rotation_with_one_file_truncates(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(str(path), max_size=200, max_file=1)
    for i in range(20):
        w.write(1, f"line {i}\n".encode())
    w.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c-json.log"]
    assert _records(path)[-1]["log"] == "line 19\n"


def test_local_writer_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "container.log"
    w = LocalWriter(str(path), 0, 1)
    w.write(1, b"a\nb")
    w.write(2, b"c\n")
    w.close()
    recs = read_local(str(path))
    assert [(s, p, b) for s, _, p, b in recs] == [
        (1, False, b"a\n"),
        (2, False, b"c\n"),
        (1, True, b"b"),
    ]
    assert all(ns > 1_600_000_000 * 10**9 for _, ns, _, _ in recs)


def test_open_writer_checks_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        open_writer("syslog", {}, str(tmp_path), "c")
    with pytest.raises(ValueError):
        open_writer("json-file", {"max-file": "3"}, str(tmp_path), "c")
    w = open_writer("local", {}, str(tmp_path), "c")
    assert isinstance(w, LocalWriter) and w.file.max_size == 20 << 20 and w.file.max_file == 5
    w.close()


# -- framing ----------------------------------------------------------------------------
def test_frames_use_dockers_stdcopy_header() -> None:
    assert protocol.frame(1, b"hi") == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"


def test_frame_reader_reassembles_split_input() -> None:
    data = protocol.frame(1, b"abc") + protocol.frame(2, b"") + protocol.frame(0x10, b"\x00\x18")
    reader = protocol.FrameReader()
    got = []
    for i in range(len(data)):
        got += reader.feed(data[i : i + 1])
    assert got == [(1, b"abc"), (2, b""), (0x10, b"\x00\x18")]


def test_frame_reader_rejects_huge_frames() -> None:
    with pytest.raises(ValueError):
        protocol.FrameReader().feed(b"\x00\x00\x00\x00\xff\xff\xff\xff")


# -- restart policy -------------------------------------------------------------------
def test_restart_policies() -> None:
    assert not RestartPolicy.parse("no").should_restart(1, 0, False)
    on_failure = RestartPolicy.parse("on-failure:2")
    assert on_failure.should_restart(1, 0, False) and on_failure.should_restart(1, 1, False)
    assert not on_failure.should_restart(1, 2, False)
    assert not on_failure.should_restart(0, 0, False)
    assert RestartPolicy.parse("on-failure").should_restart(1, 100, False)
    assert RestartPolicy.parse("always").should_restart(0, 50, False)
    assert not RestartPolicy.parse("unless-stopped").should_restart(0, 0, True)


@pytest.mark.parametrize("bad", ["sometimes", "always:3", "on-failure:x", "on-failure:-1"])
def test_bad_restart_policies(bad: str) -> None:
    with pytest.raises(ValueError):
        RestartPolicy.parse(bad)


def test_backoff_doubles_and_resets() -> None:
    b = Backoff()
    assert [b.next(0.1) for _ in range(4)] == [0.1, 0.2, 0.4, 0.8]
    assert b.next(10.0) == 0.1
    for _ in range(20):
        b.next(0)
    assert b.delay == 60.0


# -- health -------------------------------------------------------------------------------
def test_health_config_defaults_and_argv() -> None:
    hc = HealthConfig({"Test": ["CMD-SHELL", "curl -f localhost"]})
    assert (hc.interval, hc.timeout, hc.retries, hc.start_period) == (30.0, 30.0, 3, 0.0)
    assert hc.argv() == ["/bin/sh", "-c", "curl -f localhost"]
    assert HealthConfig({"Test": ["CMD", "true", "x"]}).argv() == ["true", "x"]
    assert HealthConfig({"Test": ["NONE"]}).disabled
    assert HealthConfig({"Test": ["CMD", "x"], "Timeout": 1_500_000_000}).timeout_message() == (
        "Health check exceeded timeout (1.5s)"
    )


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (999, "999ns"),
        (1_500, "1.5µs"),
        (300_000_000, "300ms"),
        (30_000_000_000, "30s"),
        (90_000_000_000, "1m30s"),
        (7_200_000_000_000, "2h0m0s"),
        (1_250_000_000, "1.25s"),
    ],
)
def test_go_duration(ns: int, text: str) -> None:
    assert go_duration(ns) == text


def test_health_state_machine() -> None:
    hc = HealthConfig({"Test": ["CMD", "x"], "Retries": 2, "StartPeriod": 2_000_000_000})
    t0 = 1_000 * 10**9
    st = HealthState(hc, t0)
    assert st.status == STARTING
    st.record(t0 + 10**9, t0 + 10**9, 1, "no")  # inside the start period: not counted
    assert (st.status, st.failing_streak) == (STARTING, 0)
    st.record(t0 + 3 * 10**9, t0 + 3 * 10**9, 1, "no")
    assert (st.status, st.failing_streak) == (STARTING, 1)
    st.record(t0 + 4 * 10**9, t0 + 4 * 10**9, 0, "yes")
    assert (st.status, st.failing_streak) == (HEALTHY, 0)
    for i in range(5):
        st.record(t0 + (5 + i) * 10**9, t0 + (5 + i) * 10**9, 1, "x" * 5000)
    assert (st.status, st.failing_streak) == (UNHEALTHY, 5)
    doc = st.to_json()
    assert len(doc["Log"]) == 5 and len(doc["Log"][0]["Output"]) == 4096
    assert set(doc) == {"Status", "FailingStreak", "Log"}
    assert set(doc["Log"][0]) == {"Start", "End", "ExitCode", "Output"}


# -- options ----------------------------------------------------------------------------
def test_options_round_trip() -> None:
    o = make_options(
        "c1",
        "/b",
        "/s",
        runtime="/usr/sbin/runc",
        runtime_root="/r",
        tty=True,
        stdin=True,
        log_driver="local",
        log_opts={"max-size": "1k", "max-file": "2"},
        restart="on-failure:3",
        healthcheck={"Test": ["CMD", "true"], "Interval": 5},
        remove=True,
        cleanup_cmd=["rm", "-rf", "x y"],
        start_on_attach=True,
    )
    back = parse(o.to_argv())
    assert vars(back) == vars(o)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--id", "x"],
        ["--bogus"],
        ["--id", "x", "--bundle", "b", "--state-dir", "s", "--runtime-root"],
    ],
)
def test_options_errors(argv: list[str]) -> None:
    with pytest.raises(ValueError):
        parse(argv)


def test_validate_rejects_bad_options() -> None:
    base = {"runtime_root": "/r"}
    for kw in (
        {"restart": "sometimes"},
        {"log_driver": "gelf"},
        {"log_opts": {"max-size": "big"}},
        {"healthcheck": {"Test": ["WHAT", "x"]}},
    ):
        with pytest.raises(InvalidArgument):
            validate(make_options("c", "/b", "/s", **base, **kw))  # type: ignore[arg-type]


def test_monitor_argv_is_isolated_python() -> None:
    argv = monitor_argv(make_options("c", "/b", "/s", runtime_root="/r"))
    assert argv[1:3] == ["-I", "-S"] and "--id" in argv


# -- process plumbing (real processes) ----------------------------------------------------
def test_run_captures_output_and_codes() -> None:
    assert run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]) == (3, b"out\n", b"err\n")
    code, _, _ = run(["/bin/sh", "-c", "kill -9 $$"])
    assert code == 137
    with pytest.raises(OciError):
        run(["/no/such/program"])


def test_wait_status_code() -> None:
    assert wait_status_code(3 << 8) == 3
    assert wait_status_code(15) == 143


def test_oci_runtime_reports_missing_container(tmp_path: Path) -> None:
    if not os.path.exists("/usr/sbin/runc"):
        pytest.skip("runc is not installed")
    rt = OciRuntime("/usr/sbin/runc", str(tmp_path / "root"))
    with pytest.raises(OciError) as info:
        rt.state("nope")
    assert info.value.not_found


def test_monitor_imports_stay_lean() -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
        "from dockyard.runtime.monitor import main, supervisor\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    mods = set(
        subprocess.run(
            [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    heavy = {"typing", "re", "json", "enum", "asyncio", "logging", "subprocess", "threading"}
    assert not mods & heavy, mods & heavy
    assert not [m for m in mods if m.startswith("dockyard.engine")]
