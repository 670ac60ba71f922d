"""``exec``: run a command in a running container (dockyard.engine.execs does the work)."""

from __future__ import annotations

import os
import sys

from dockyard.cli.parser import CommandParser

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.engine import Engine

    EngineFactory = Callable[[], Engine]


def cmd_exec(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.cli.errors import ClientError
    from dockyard.cli.runflags import _env, read_env_file
    from dockyard.engine.execs import DetachedFromExec, ExecRequest, ExecStartFailed, run_exec

    p = CommandParser(
        name,
        "[OPTIONS] CONTAINER COMMAND [ARG...]",
        "Execute a command in a running container",
    )
    p.flag("-d", "--detach", help="Detached mode: run command in the background")
    p.option("--detach-keys", help="Override the key sequence for detaching a container")
    p.multi("-e", "--env", help="Set environment variables")
    p.multi("--env-file", help="Read in a file of environment variables")
    p.flag("-i", "--interactive", help="Keep STDIN open even if not attached")
    p.flag("--privileged", help="Give extended privileges to the command")
    p.flag("-t", "--tty", help="Allocate a pseudo-TTY")
    p.option("-u", "--user", help='Username or UID (format: "<name|uid>[:<group|gid>]")')
    p.option("-w", "--workdir", help="Working directory inside the container")
    ns = p.parse(argv, min_args=2, interspersed=False)
    env: list[str] = []
    for path in ns.env_file:
        env.extend(read_env_file(path))
    for value in ns.env:
        if not value.partition("=")[0]:
            p.fail(
                f'invalid argument "{value}" for "-e, --env" flag: '
                f"invalid environment variable: {value}"
            )
    env.extend(_env(ns.env))
    interactive = ns.interactive and not ns.detach
    if ns.tty and interactive and not os.isatty(0):
        raise ClientError("the input device is not a TTY")
    size = None
    if ns.tty and not ns.detach:
        for fd in (0, 1):
            if os.isatty(fd):
                term = os.get_terminal_size(fd)
                size = (term.lines, term.columns)
                break
    request = ExecRequest(
        cmd=ns.args[1:],
        env=env,
        user=ns.user or "",
        workdir=ns.workdir or "",
        privileged=ns.privileged,
        tty=ns.tty and not ns.detach,
        interactive=interactive,
        detach=ns.detach,
        console_size=size,
        detach_keys=ns.detach_keys or "",
    )
    sys.stdout.flush()
    try:
        return run_exec(engine(), ns.args[0], request)
    except (ExecStartFailed, DetachedFromExec) as exc:
        raise ClientError(exc.message).with_code(exc.exit_code) from None
