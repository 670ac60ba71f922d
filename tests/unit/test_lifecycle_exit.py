"""Lifecycle pieces that need no container: signal names, and waiting for the monitor
to delete the runtime's state after it reported an exit (``RuntimeDeleting``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dockyard.engine.lifecycle import Lifecycle, _signal_number
from dockyard.errors import InvalidArgument


@pytest.mark.parametrize(
    "name", ["KILL", "kill", "SIGTERM", "sigusr1", "HUP", "SIGRTMIN", "SIGRTMAX", "CLD", "IOT"]
)
def test_signal_names_as_the_signal_module_has_them(name: str) -> None:
    text = name.upper()
    text = text if text.startswith("SIG") else "SIG" + text
    assert _signal_number(name) == int(signal.Signals[text])


def test_signal_numbers_pass_through() -> None:
    assert _signal_number("9") == 9


@pytest.mark.parametrize("name", ["", "FOO", "SIG_DFL", "_IGN", "SIG_BLOCK", "SIGRTMIN+1"])
def test_bad_signal_names(name: str) -> None:
    with pytest.raises(InvalidArgument, match="Invalid signal"):
        _signal_number(name)


class _Deletes(Lifecycle):
    """A Lifecycle over a bare run root that counts runtime deletes instead of running one."""

    def __init__(self, run_root: Path) -> None:
        super().__init__(SimpleNamespace(options=SimpleNamespace(run_root=str(run_root))))  # type: ignore[arg-type]
        self.deleted = 0

    def _delete_runtime_state(self, container: Any) -> None:
        self.deleted += 1


def _state_dir(tmp_path: Path, monitor_pid: int, report: dict[str, Any]) -> Path:
    sd = tmp_path / "containers" / "c1"
    sd.mkdir(parents=True)
    (sd / "monitor.pid").write_text(str(monitor_pid))
    (sd / "exit.json").write_text(json.dumps(report))
    return sd


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_waits_for_the_monitor_to_report_the_delete(tmp_path: Path) -> None:
    sd = _state_dir(tmp_path, os.getpid(), {"ExitCode": 0, "RuntimeDeleting": True})
    lc = _Deletes(tmp_path)

    def monitor_done() -> None:
        time.sleep(0.05)
        tmp = sd / "exit.json.tmp"
        tmp.write_text(json.dumps({"ExitCode": 0, "RuntimeDeleted": True}))
        os.replace(tmp, sd / "exit.json")

    thread = threading.Thread(target=monitor_done)
    started = time.monotonic()
    thread.start()
    lc._await_runtime_deleted(SimpleNamespace(id="c1"))  # type: ignore[arg-type]
    thread.join()
    assert time.monotonic() - started >= 0.05
    assert lc.deleted == 0


def test_deletes_itself_when_the_monitor_could_not(tmp_path: Path) -> None:
    _state_dir(tmp_path, os.getpid(), {"ExitCode": 0, "RuntimeDeleted": False})
    lc = _Deletes(tmp_path)
    lc._await_runtime_deleted(SimpleNamespace(id="c1"))  # type: ignore[arg-type]
    assert lc.deleted == 1


def test_deletes_itself_when_the_monitor_died_before_deleting(tmp_path: Path) -> None:
    _state_dir(tmp_path, _dead_pid(), {"ExitCode": 137, "RuntimeDeleting": True})
    lc = _Deletes(tmp_path)
    started = time.monotonic()
    lc._await_runtime_deleted(SimpleNamespace(id="c1"))  # type: ignore[arg-type]
    assert lc.deleted == 1
    assert time.monotonic() - started < 1


def test_gives_up_waiting_after_the_timeout(tmp_path: Path) -> None:
    _state_dir(tmp_path, os.getpid(), {"ExitCode": 0, "RuntimeDeleting": True})
    lc = _Deletes(tmp_path)
    lc._await_runtime_deleted(SimpleNamespace(id="c1"), timeout=0.05)  # type: ignore[arg-type]
    assert lc.deleted == 1
