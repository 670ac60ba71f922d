"""The monitor's exit callback works without any daemon.json (the default, missing)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time

import pytest

from dockyard.config import DEFAULT_CONFIG_FILE
from tests.conftest import DOCKYARD, Dockyard, needs_root
from tests.integration.test_container_run import nothing_left

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
    pytest.mark.skipif(os.path.exists(DEFAULT_CONFIG_FILE), reason="this host has a daemon.json"),
]


def test_exit_is_recorded_without_a_config_file(dy: Dockyard, busybox: str) -> None:
    env = {k: v for k, v in dy.env.items() if k != "DOCKYARD_CONFIG_FILE"}
    run = subprocess.run([DOCKYARD, "run", "-d", "busybox", "sh", "-c", "exit 4"], env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    cid = run.stdout.strip()
    deadline = time.monotonic() + 20
    state: dict[str, object] = {}
    while time.monotonic() < deadline:
        # read the row itself: any dockyard command would heal a missed exit on its own
        with sqlite3.connect(dy.root / "dockyard.db") as db:
            (text,) = db.execute("SELECT state FROM containers WHERE id = ?", (cid,)).fetchone()
        state = json.loads(text)
        if state.get("Status") == "exited":
            break
        time.sleep(0.05)
    assert state.get("Status") == "exited" and state.get("ExitCode") == 4, state
    subprocess.run([DOCKYARD, "rm", cid], env=env, check=True, capture_output=True)
    nothing_left(dy)
