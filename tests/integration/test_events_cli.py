"""``dockyard events``: past events (--since/--until), live ones, filters, --format,
and Docker's line format and errors."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest

from tests.conftest import DOCKYARD, Dockyard, needs_root

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]

LINE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)"
    r" container create [0-9a-f]{64} \(image=busybox, name=ev1, team=blue\)"
)


def test_past_events_filters_and_format(dy: Dockyard, busybox: str) -> None:
    dy("run", "--rm", "--name", "ev1", "-l", "team=blue", "busybox", "true")
    time.sleep(1.1)  # --until counts whole seconds, as docker's does
    past = ["--since", "1m", "--until", "0s", "--filter", "container=ev1"]
    actions = dy("events", *past, "--format", "{{.Action}}").lines
    assert actions == ["create", "start", "die", "destroy"]
    assert LINE.fullmatch(dy("events", *past).lines[0])
    die = dy("events", *past, "--filter", "event=die", "--format", "{{json .Actor.Attributes}}")
    # dockerd's attributes: the labels, image and name, and the exit code
    assert die.lines == ['{"exitCode":"0","image":"busybox","name":"ev1","team":"blue"}']
    # the local time zone, as the docker CLI prints it
    dy.env["TZ"] = "Asia/Kolkata"
    assert "+05:30 container create" in dy("events", *past).lines[0]


def test_live_events_until_interrupted(dy: Dockyard, busybox: str) -> None:
    live = subprocess.Popen(
        [DOCKYARD, "events", "--filter", "event=start", "--format", "{{.Actor.Attributes.name}}"],
        env=dy.env,
        stdout=subprocess.PIPE,
    )
    try:
        time.sleep(1.0)  # it follows the log from when it started
        dy("run", "--rm", "--name", "ev2", "busybox", "true")
        assert live.stdout is not None
        assert live.stdout.readline() == b"ev2\n"
    finally:
        live.terminate()
        live.wait(10)


def test_until_ends_the_stream(dy: Dockyard, busybox: str) -> None:
    started = time.monotonic()
    assert dy("events", "--since", "10s", "--until", "9s").out == ""  # over: at once
    future = str(int(time.time()) + 2)
    dy("events", "--since", "0s", "--until", future)
    assert time.monotonic() - started < 10


def test_bad_input(dy: Dockyard) -> None:
    bad = dy.fails("events", "--filter", "bogus=1")
    assert bad.err == "Error response from daemon: Invalid filter 'bogus'\n"
    bad = dy.fails("events", "--since", "1m", "--until", "2m")
    assert bad.err == "Error response from daemon: `since` time cannot be after `until` time\n"
    bad = dy.fails("events", "extra")
    assert bad.err.startswith('"dockyard events" accepts no arguments.\n')
