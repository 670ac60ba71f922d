"""The log reader: json-file and local files, rotation, selection and follow."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from dockyard.engine.logs import LogSelection, log_path, read_logs
from dockyard.runtime.monitor.logs import JsonFileWriter, LocalWriter


def _json_line(text: str, stream: str = "stdout", stamp: str = "2024-01-02T03:04:05.5Z") -> str:
    return json.dumps({"log": text, "stream": stream, "time": stamp}) + "\n"


def test_json_file_entries_skip_torn_lines(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    path.write_text(_json_line("a\n") + '{"log": "bro\n' + _json_line("b\n", "stderr"))
    entries = list(read_logs(str(path)))
    assert [(e.stream, e.data) for e in entries] == [("stdout", b"a\n"), ("stderr", b"b\n")]
    assert entries[0].timestamp == "2024-01-02T03:04:05.500000000Z"  # fixed, as docker


def test_an_unfinished_last_line_waits(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    path.write_text(_json_line("a\n") + '{"log": "half')
    assert [e.data for e in read_logs(str(path))] == [b"a\n"]


def test_rotated_files_come_first_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    for name, text in (("c-json.log.2", "1\n"), ("c-json.log.1", "2\n"), ("c-json.log", "3\n")):
        (tmp_path / name).write_text(_json_line(text))
    (tmp_path / "c-json.log.x").write_text("not a log")
    assert [e.data for e in read_logs(str(path))] == [b"1\n", b"2\n", b"3\n"]


def test_selection_tail_since_until(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    stamps = ["2024-01-01T00:00:01Z", "2024-01-01T00:00:02Z", "2024-01-01T00:00:03Z"]
    path.write_text("".join(_json_line(f"{i}\n", stamp=s) for i, s in enumerate(stamps)))
    second = 1704067202 * 10**9
    assert [e.data for e in read_logs(str(path), LogSelection(tail=2))] == [b"1\n", b"2\n"]
    assert [e.data for e in read_logs(str(path), LogSelection(tail=0))] == []
    assert [e.data for e in read_logs(str(path), LogSelection(since_ns=second))] == [b"1\n", b"2\n"]
    assert [e.data for e in read_logs(str(path), LogSelection(until_ns=second))] == [b"0\n", b"1\n"]


def test_local_driver_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "local-logs" / "container.log"
    writer = LocalWriter(str(path), 0, 1)
    writer.write(1, b"out\n")
    writer.write(2, b"err\n")
    writer.close()
    entries = list(read_logs(str(path)))
    assert [(e.stream, e.data) for e in entries] == [("stdout", b"out\n"), ("stderr", b"err\n")]
    assert abs(entries[0].time_ns - time.time_ns()) < 60 * 10**9


def test_follow_reads_across_a_rotation_until_the_end(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    writer = JsonFileWriter(str(path), max_size=200, max_file=3)
    writer.write(1, b"first\n")
    done = threading.Event()

    def produce() -> None:
        for i in range(6):
            writer.write(1, f"line {i}\n".encode())
            time.sleep(0.02)
        writer.close()
        done.set()

    thread = threading.Thread(target=produce)
    thread.start()
    got = [e.data for e in read_logs(str(path), follow=True, running=lambda: not done.is_set(),
                                      poll_interval=0.005)]
    thread.join()
    assert got[0] == b"first\n"
    assert got[1:] == [f"line {i}\n".encode() for i in range(6)]
    assert len(os.listdir(tmp_path)) > 1  # it did rotate


def test_paths_by_driver(tmp_path: Path) -> None:
    assert log_path("/d", "abc", {}) == "/d/abc-json.log"
    assert log_path("/d", "abc", {"Type": "local"}) == "/d/local-logs/container.log"
    assert log_path("/d", "abc", {"Type": "json-file", "Config": {"path": "/x"}}) == "/x"
