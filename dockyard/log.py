"""Debug and info messages on stderr, as ``-D`` / ``--log-level`` ask.

``logging`` costs a few milliseconds to import, so nothing is imported until a
message is actually shown.
"""

from __future__ import annotations

import sys
import time

LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40, "fatal": 50}
_threshold = LEVELS["warn"]  # before configure(): only warnings and errors


def configure(level: str) -> None:
    global _threshold
    _threshold = LEVELS.get(level, LEVELS["info"])


def enabled(level: str) -> bool:
    return LEVELS[level] >= _threshold


def _emit(level: str, message: str) -> None:
    if LEVELS[level] < _threshold:
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    sys.stderr.write(f'time="{stamp}Z" level={level} msg="{message}"\n')


def debug(message: str) -> None:
    _emit("debug", message)


def info(message: str) -> None:
    _emit("info", message)


def warn(message: str) -> None:
    _emit("warn", message)
