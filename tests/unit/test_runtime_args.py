"""daemon.json ``runtimeArgs``: read from the config, carried to the monitor, put before
every runtime verb (engine side and monitor side)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.config import resolve_options, runtime_args
from dockyard.engine.execs import _Job
from dockyard.errors import InvalidArgument
from dockyard.runtime.monitor.launch import make_options
from dockyard.runtime.monitor.oci import OciError, OciRuntime
from dockyard.runtime.monitor.options import parse

DAEMON = {
    "runtimes": {
        "crun-nocg": {"path": "/usr/bin/crun", "runtimeArgs": ["--cgroup-manager=disabled"]},
        "plain": {"path": "/usr/bin/runc"},
    }
}


def test_runtime_args_from_daemon_json() -> None:
    assert runtime_args(DAEMON, "crun-nocg") == ["--cgroup-manager=disabled"]
    assert runtime_args(DAEMON, "plain") == []
    assert runtime_args(DAEMON, "runc") == []
    assert runtime_args({}, "runc") == []


@pytest.mark.parametrize("bad", ["--x", [1], {"a": "b"}, ["ok", None]])
def test_runtime_args_must_be_a_list_of_strings(bad: object) -> None:
    with pytest.raises(
        InvalidArgument, match=r"runtimes\.r\.runtimeArgs must be a list of strings"
    ):
        runtime_args({"runtimes": {"r": {"path": "x", "runtimeArgs": bad}}}, "r")


def test_daemon_json_with_runtime_args_loads(tmp_path: Path) -> None:
    config = tmp_path / "daemon.json"
    config.write_text(
        '{"runtimes": {"crun-nocg": {"path": "/usr/bin/crun",'
        ' "runtimeArgs": ["--cgroup-manager=disabled"]}}}'
    )
    opts = resolve_options(root=str(tmp_path), run_root=str(tmp_path), config_file=str(config))
    assert runtime_args(opts.daemon, "crun-nocg") == ["--cgroup-manager=disabled"]


@pytest.mark.parametrize(
    "args",
    [[], ["--cgroup-manager=disabled"], ["--debug", "--systemd-cgroup", "plain", "a=b=c"]],
)
def test_monitor_option_round_trip(args: list[str]) -> None:
    opts = make_options(
        "c1", "/b", "/s", runtime="/usr/bin/crun", runtime_root="/r", runtime_args=args
    )
    argv = opts.to_argv()
    back = parse(argv)
    assert back.runtime_args == args
    assert back.runtime == "/usr/bin/crun" and back.runtime_root == "/r"
    assert back.to_argv() == argv


def test_monitor_option_separate_value_form() -> None:
    opts = parse(
        [
            "--id",
            "c",
            "--bundle",
            "b",
            "--state-dir",
            "s",
            "--runtime-root",
            "r",
            "--runtime-arg",
            "--debug",
            "--runtime-arg=--x=1",
        ]
    )
    assert opts.runtime_args == ["--debug", "--x=1"]


def test_monitor_option_needs_a_value() -> None:
    with pytest.raises(ValueError, match="--runtime-arg needs a value"):
        parse(
            [
                "--id",
                "c",
                "--bundle",
                "b",
                "--state-dir",
                "s",
                "--runtime-root",
                "r",
                "--runtime-arg",
            ]
        )


def test_oci_argv_puts_extra_args_before_the_verb() -> None:
    rt = OciRuntime(
        "/usr/bin/crun", "/r", log_path="/s/runtime.log", extra_args=["--cgroup-manager=disabled"]
    )
    assert rt.argv("start", "c1") == [
        "/usr/bin/crun",
        "--root",
        "/r",
        "--log",
        "/s/runtime.log",
        "--log-format",
        "json",
        "--cgroup-manager=disabled",
        "start",
        "c1",
    ]
    exec_argv = rt.exec_argv("c1", ["sh", "-c", "true"], tty=True)
    assert exec_argv.index("--cgroup-manager=disabled") < exec_argv.index("exec")
    assert OciRuntime("runc", "/r").argv("state", "c1") == ["runc", "--root", "/r", "state", "c1"]


def test_oci_error_names_the_verb_after_extra_args() -> None:
    """The verb in a failure message is found past the extra args (they are not the verb)."""
    rt = OciRuntime("/bin/false", "/r", extra_args=["--a", "--b"])
    with pytest.raises(OciError, match=r"^false start: ") as info:
        rt.start("c1")
    assert info.value.argv == ["/bin/false", "--root", "/r", "--a", "--b", "start", "c1"]


def test_exec_job_argv_puts_extra_args_before_exec(tmp_path: Path) -> None:
    job = _Job("/usr/bin/crun", "/r", "c1", str(tmp_path), ("--cgroup-manager=disabled",))
    argv = job.argv("--detach")
    assert argv[:3] == ["/usr/bin/crun", "--root", "/r"]
    assert argv.index("--cgroup-manager=disabled") == argv.index("exec") - 1
    assert argv[-2:] == ["--detach", "c1"]
    assert "--cgroup-manager=disabled" not in _Job("runc", "/r", "c1", str(tmp_path)).argv()


def test_lifecycle_runtime_argv(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from dockyard.engine.lifecycle import Lifecycle

    options = SimpleNamespace(daemon=DAEMON, run_root=str(tmp_path))
    lc = Lifecycle(SimpleNamespace(options=options))  # type: ignore[arg-type]
    root = str(tmp_path / "runtime" / "crun-nocg")
    assert lc.runtime_argv("crun-nocg") == [
        "/usr/bin/crun",
        "--root",
        root,
        "--cgroup-manager=disabled",
    ]
    assert lc.runtime_argv("plain") == [
        "/usr/bin/runc",
        "--root",
        str(tmp_path / "runtime" / "plain"),
    ]
