"""Runtimes configured in daemon.json with ``runtimeArgs``: crun with its cgroup manager
disabled, and a runc wrapper that records every invocation, so that the extra global
flags are seen before the verb of each call the engine and the monitor make."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import Dockyard, needs_root
from tests.integration.test_container_run import nothing_left

CRUN = "/usr/bin/crun"
RUNC = shutil.which("runc")
HYBRID = "cgroups in hybrid mode not supported"

pytestmark = [needs_root]
needs_crun = pytest.mark.skipif(not Path(CRUN).exists(), reason="crun is not installed")
needs_runc = pytest.mark.skipif(RUNC is None, reason="runc is not installed")


def configure(dy: Dockyard, runtimes: dict[str, dict[str, object]]) -> None:
    (dy.root.parent / "daemon.json").write_text(json.dumps({"runtimes": runtimes}))


def no_runtime_state(dy: Dockyard) -> None:
    """Nothing left in any runtime's state root either (crun/runc keep one dir each)."""
    runtime_roots = dy.run_root / "runtime"
    if runtime_roots.exists():
        for root in runtime_roots.iterdir():
            assert [p.name for p in root.iterdir()] == [], root


@needs_crun
def test_plain_crun_fails_with_one_line_and_leaves_nothing(dy: Dockyard, busybox: str) -> None:
    """Plain crun on a host whose unified hierarchy holds a controller (hybrid mode)."""
    if not Path("/sys/fs/cgroup/unified/cgroup.controllers").exists() or not (
        Path("/sys/fs/cgroup/unified/cgroup.controllers").read_text().strip()
    ):
        pytest.skip("the host is not in cgroup hybrid mode with a v2 controller: crun may work")
    result = dy.fails("run", "--rm", "--runtime", "crun", "busybox", "true")
    assert result.code == 125
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("Error response from daemon: ")
    assert "crun create: " + HYBRID in lines[0]
    nothing_left(dy)
    no_runtime_state(dy)


@needs_crun
def test_crun_with_cgroup_manager_disabled(dy: Dockyard, busybox: str) -> None:
    configure(dy, {"crun-nocg": {"path": CRUN, "runtimeArgs": ["--cgroup-manager=disabled"]}})
    first = dy(
        "run",
        "--rm",
        "--runtime",
        "crun-nocg",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
        check=False,
    )
    if first.code == 125 and HYBRID in first.err:
        # crun (1.8.1 at least) reads the cgroup mode even with its manager disabled.
        nothing_left(dy)
        no_runtime_state(dy)
        pytest.skip(f"crun refuses this host even with --cgroup-manager=disabled: {HYBRID}")
    assert (first.code, first.out, first.err) == (3, "out\n", "err\n")
    cid = dy("run", "-d", "--runtime", "crun-nocg", "busybox", "sleep", "60").out.strip()
    assert dy("exec", cid, "sh", "-c", "echo $((6 * 7))").out == "42\n"
    paused = dy("pause", cid, check=False)
    if paused.code == 0:
        assert dy("inspect", "-f", "{{.State.Status}}", cid).out.strip() == "paused"
        dy("unpause", cid)
        assert dy("exec", cid, "true").code == 0
    dy("stop", "-t", "1", cid)
    dy("rm", cid)
    nothing_left(dy)
    no_runtime_state(dy)
    if paused.code != 0:
        pytest.skip(f"crun cannot pause without cgroups: {paused.err.strip()}")


@needs_runc
def test_runtime_args_reach_every_runtime_call(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    """A runc wrapper logs its argv: the runtimeArgs come before the verb in every call."""
    calls = tmp_path / "calls.log"
    wrapper = tmp_path / "runc-wrapper"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\nexec {RUNC} "$@"\n')
    wrapper.chmod(0o755)
    marker = "--rootless=false"  # a real runc global flag, harmless for root
    configure(dy, {"runc-args": {"path": str(wrapper), "runtimeArgs": [marker]}})

    run = dy("run", "--rm", "--runtime", "runc-args", "busybox", "sh", "-c", "exit 3", check=False)
    assert run.code == 3, run.err
    # a tty container is created, then started; one without, run (created and started)
    cid = dy("run", "-d", "-t", "--runtime", "runc-args", "busybox", "sleep", "60").out.strip()
    assert dy("exec", cid, "echo", "hi").out == "hi\n"
    dy("pause", cid)
    dy("unpause", cid)
    assert "sleep 60" in dy("top", cid).out
    dy("stop", "-t", "1", cid)
    dy("rm", cid)
    nothing_left(dy)
    no_runtime_state(dy)

    verbs = {"create", "start", "run", "state", "kill", "delete", "exec", "pause", "resume", "ps"}
    seen = set()
    for line in calls.read_text().splitlines():
        words = line.split()
        verb_at = next(i for i, w in enumerate(words) if w in verbs)
        assert marker in words[:verb_at], line
        assert words[verb_at - 1] == marker, line  # right before the verb
        seen.add(words[verb_at])
    assert {"run", "create", "start", "exec", "pause", "resume", "ps", "delete"} <= seen, seen
