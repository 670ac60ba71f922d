"""Shared helpers for the pull/push tests: run the registry commands through the real
CLI entry point (registering them if the command table does not have them yet),
and check that a root holds nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import Dockyard, Result

COMMANDS = {
    "pull": "distribution:cmd_pull",
    "image pull": "distribution:cmd_pull",
    "push": "distribution:cmd_push",
    "image push": "distribution:cmd_push",
    "login": "distribution:cmd_login",
    "logout": "distribution:cmd_logout",
    "search": "distribution:cmd_search",
}
_SHIM = (
    "import sys\n"
    "from dockyard.cli import main as m\n"
    f"for k, v in {COMMANDS!r}.items():\n"
    "    m.COMMANDS.setdefault(k, v)\n"
    "sys.exit(m.main(sys.argv[1:]))\n"
)

FAST_RETRIES = {"DOCKYARD_REGISTRY_BACKOFF": "0.05", "DOCKYARD_REGISTRY_READ_TIMEOUT": "1"}


def cli(
    dy: Dockyard,
    *args: str,
    check: bool = True,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Result:
    proc = subprocess.run(
        [sys.executable, "-c", _SHIM, *args],
        input=input,
        capture_output=True,
        env={**dy.env, **(env or {})},
        timeout=timeout,
    )
    result = Result(
        proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    )
    if check and result.code != 0:
        raise AssertionError(
            f"dockyard {' '.join(args)} exited {result.code}\n"
            f"stdout: {result.out}\nstderr: {result.err}"
        )
    return result


def set_daemon_json(dy: Dockyard, config: dict[str, object]) -> None:
    (dy.root.parent / "daemon.json").write_text(json.dumps(config))


def nothing_stored(dy: Dockyard) -> None:
    """No images, layers, snapshots, leases, blobs or ingest leftovers in the root."""
    assert dy("images", "-aq").out == ""
    blobs = dy.root / "blobs" / "sha256"
    assert not blobs.exists() or os.listdir(blobs) == []
    ingest = dy.root / "blobs" / "ingest"
    assert not ingest.exists() or os.listdir(ingest) == []
    engine = dy.engine()
    try:
        assert list(engine.snapshots.walk()) == []
        assert engine.db.query("SELECT * FROM layers") == []
        assert engine.db.query("SELECT * FROM leases") == []
    finally:
        engine.close()


def second_root(tmp_path: Path, name: str = "other") -> Dockyard:
    (tmp_path / name).mkdir(parents=True, exist_ok=True)
    return Dockyard(tmp_path / name / "root", tmp_path / name / "run")
