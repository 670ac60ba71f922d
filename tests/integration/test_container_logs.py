"""Reading logs back from the ``local`` driver and from rotated json-file logs."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import DOCKYARD, Dockyard, needs_root
from tests.integration.test_container_run import nothing_left

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]


def test_local_driver_logs_read_back_and_follow(dy: Dockyard, busybox: str) -> None:
    dy("run", "-d", "--name", "loc", "--log-driver", "local", "busybox", "sh", "-c",
       "echo one; echo two >&2; sleep 0.5; echo three")
    follow = subprocess.run([DOCKYARD, "logs", "-f", "loc"], env=dy.env, capture_output=True,
                            text=True, timeout=30)
    assert follow.stdout == "one\nthree\n" and follow.stderr == "two\n"
    assert dy("logs", "--tail", "1", "loc").out == "three\n"
    assert dy("logs", "-t", "loc").out.splitlines()[0].endswith("Z one")
    dy("rm", "loc")
    nothing_left(dy)


def test_rotated_json_file_logs_are_read_oldest_first(dy: Dockyard, busybox: str) -> None:
    dy("run", "--name", "rot", "--log-opt", "max-size=1k", "--log-opt", "max-file=3",
       "busybox", "sh", "-c", "i=0; while [ $i -lt 40 ]; do echo line-$i; i=$((i+1)); done")
    lines = dy("logs", "rot").out.splitlines()
    assert lines, "no logs"
    numbers = [int(line.split("-")[1]) for line in lines]
    assert numbers == list(range(numbers[0], 40))  # in order, ending with the last line
    assert numbers[0] > 0  # the oldest file was rotated away (3 × 1k holds fewer than 40)
    dy("rm", "rot")
    nothing_left(dy)


def test_none_driver_cannot_be_read(dy: Dockyard, busybox: str) -> None:
    dy("run", "--name", "quiet", "--log-driver", "none", "busybox", "echo", "hi")
    result = dy("logs", "quiet", check=False)
    assert result.code == 1
    assert result.err == (
        'Error response from daemon: configured logging driver does not support reading: "none"\n'
    )
    dy("rm", "quiet")
    nothing_left(dy)
