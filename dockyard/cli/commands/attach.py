"""``attach``: connect our stdio to a running container's."""

from __future__ import annotations

import sys

from dockyard.cli.parser import CommandParser

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.engine import Engine

    EngineFactory = Callable[[], Engine]

# Docker's CLI checks these itself, so they carry no "Error response from daemon:".
_NOT_RUNNING = {
    "paused": "You cannot attach to a paused container, unpause it first",
    "restarting": "You cannot attach to a restarting container, wait until it is running",
}


def cmd_attach(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.cli.attach import attach, parse_detach_keys
    from dockyard.cli.errors import ClientError

    p = CommandParser(
        name,
        "[OPTIONS] CONTAINER",
        "Attach local standard input, output, and error streams to a running container",
    )
    p.option("--detach-keys", help="Override the key sequence for detaching a container")
    p.flag("--no-stdin", help="Do not attach STDIN")
    p.flag(
        "--sig-proxy", default=True, help="Proxy all received signals to the process (default true)"
    )
    ns = p.parse(argv, min_args=1, max_args=1)
    e = engine()
    container = e.containers.get(ns.args[0])
    e.lifecycle.refresh(container)
    status = container.status
    if status in _NOT_RUNNING:
        raise ClientError(_NOT_RUNNING[status])
    if status != "running":
        raise ClientError("You cannot attach to a stopped container, start it first")
    if ns.detach_keys is not None:
        parse_detach_keys(ns.detach_keys)  # a bad value fails before we touch the terminal
    tty = bool(container.config.get("Tty"))
    stdin = bool(container.config.get("OpenStdin")) and not ns.no_stdin
    if stdin and tty and not sys.stdin.isatty():
        raise ClientError("the input device is not a TTY")
    code = attach(
        e,
        container.id,
        stdin=stdin,
        tty=tty,
        detach_keys=ns.detach_keys,
        sig_proxy=ns.sig_proxy,
    )
    if code is None:  # Docker's CLI reports the detach as an error (unlike run / start -a)
        sys.stderr.write("read escape sequence\n")
        return 1
    return code
