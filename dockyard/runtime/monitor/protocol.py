"""The attach socket's framing.

Every message, both ways, starts with Docker's 8-byte stdcopy header
``[stream:u8, 0, 0, 0, size:u32be]`` followed by ``size`` payload bytes, so the
API server can pass output frames straight through.

Monitor → client:
  ``1`` stdout, ``2`` stderr (with a tty everything is ``1``);
  ``EXIT`` (0x20): payload JSON ``{"ExitCode": n, "Restarting": bool}``; sent when the
  container process exits (the monitor closes the connection after the final one).

Client → monitor:
  ``0`` stdin bytes (only if the monitor was started with stdin open); a
  zero-length stdin frame closes the container's stdin;
  ``RESIZE`` (0x10): ``rows:u16be cols:u16be`` (TIOCSWINSZ on the pty master);
  ``DETACH`` (0x11): the monitor closes this connection;
  ``NO_RESTART`` (0x12): do not restart after the next exit (``docker stop``);
  ``START`` (0x13): start a container the monitor was told to hold (``--start-on-attach``);
  ``RECORDS_EXIT`` (0x14): this client records the exit itself (``run``, ``attach``): after
  the ``EXIT`` frame the monitor waits for it to close the connection, and runs its exit
  callback only if the exit was not recorded by then (its state directory still exists).
"""

from __future__ import annotations

import struct

STDIN = 0
STDOUT = 1
STDERR = 2
RESIZE = 0x10
DETACH = 0x11
NO_RESTART = 0x12
START = 0x13
RECORDS_EXIT = 0x14
EXIT = 0x20

HEADER = struct.Struct(">BxxxI")
MAX_FRAME = 1 << 20


def frame(stream: int, payload: bytes) -> bytes:
    return HEADER.pack(stream, len(payload)) + payload


class FrameReader:
    """Splits a byte stream into ``(stream, payload)`` frames."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out = []
        while len(self._buf) >= HEADER.size:
            stream, size = HEADER.unpack_from(self._buf)
            if size > MAX_FRAME:
                raise ValueError(f"attach frame too large: {size}")
            if len(self._buf) < HEADER.size + size:
                break
            out.append((stream, self._buf[HEADER.size : HEADER.size + size]))
            self._buf = self._buf[HEADER.size + size :]
        return out
