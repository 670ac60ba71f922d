"""Commands on a container's files: cp, diff, export, commit (dockyard.engine.fsops)."""

from __future__ import annotations

import os
import sys

from dockyard.cli.errors import ClientError
from dockyard.cli.output import write
from dockyard.cli.parser import CommandParser

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.engine import Engine

    EngineFactory = Callable[[], Engine]

_CP_USAGE = (
    "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
    "\tdockyard cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH"
)
_CP_HELP = (
    "Copy files/folders between a container and the local filesystem\n\n"
    "Use '-' as the source to read a tar archive from stdin\n"
    "and extract it to a directory destination in a container.\n"
    "Use '-' as the destination to stream a tar archive of a\n"
    "container source to stdout."
)


def _split_cp_arg(arg: str) -> tuple[str, str]:
    """Docker's splitCpArg: ``CONTAINER:PATH``, unless absolute or ``.``-relative."""
    if arg.startswith("/"):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return "", arg
    return container, path


def _human(size: int) -> str:
    """go-units HumanSize: decimal units, three significant digits."""
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    value = float(size)
    i = 0
    while value >= 1000 and i < len(units) - 1:
        value /= 1000
        i += 1
    return f"{value:.3g}{units[i]}"


def cmd_cp(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine import fsops

    p = CommandParser(name, _CP_USAGE, _CP_HELP)
    p.flag("-a", "--archive", help="Archive mode (copy all uid/gid information)")
    p.flag("-L", "--follow-link", help="Always follow symbol link in SRC_PATH")
    p.flag(
        "-q",
        "--quiet",
        help="Suppress progress output during copy. Progress output is automatically"
        " suppressed if no terminal is attached",
    )
    ns = p.parse(argv, min_args=2, max_args=2)
    src_arg, dst_arg = ns.args
    src_container, src_path = _split_cp_arg(src_arg)
    dst_container, dst_path = _split_cp_arg(dst_arg)
    if src_container and dst_container:
        raise ClientError("copying between containers is not supported")
    if not src_container and not dst_container:
        raise ClientError("must specify at least one container source")
    if (src_container and not src_path) or (dst_container and not dst_path):
        raise ClientError("filepath can not be empty")
    e = engine()
    container = e.containers.get(src_container or dst_container)
    show = not ns.quiet and sys.stdout.isatty()
    try:
        if src_container:
            if dst_path == "-":
                fsops.copy_out_stream(
                    e, container, src_path, sys.stdout.buffer, follow=ns.follow_link
                )
                sys.stdout.buffer.flush()
                return 0
            size = fsops.copy_out(e, container, src_path, dst_path, follow=ns.follow_link)
            shown_dest = dst_path
        elif src_path == "-":
            if sys.stdin.isatty():
                raise ClientError("cannot read a tar archive from a terminal")
            fsops.copy_in_stream(
                e, container, sys.stdin.buffer, dst_path, dst_arg, archive=ns.archive
            )
            return 0
        else:
            size = fsops.copy_in(
                e, container, src_path, dst_path, follow=ns.follow_link, archive=ns.archive
            )
            shown_dest = dst_arg
    except fsops.LocalError as exc:
        raise ClientError(exc.message) from None
    if show:
        sys.stderr.write(f"Successfully copied {_human(size)} to {shown_dest}\n")
    return 0


def cmd_diff(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine import fsops

    p = CommandParser(
        name, "CONTAINER", "Inspect changes to files or directories on a container's filesystem"
    )
    ns = p.parse(argv, min_args=1, max_args=1)
    e = engine()
    container = e.containers.get(ns.args[0])
    write("".join(f"{c.kind} {c.path}\n" for c in fsops.changes(e, container)))
    return 0


def cmd_export(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine import fsops

    p = CommandParser(
        name, "[OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive"
    )
    p.option("-o", "--output", help="Write to a file, instead of STDOUT")
    ns = p.parse(argv, min_args=1, max_args=1)
    if ns.output is None and sys.stdout.isatty():
        raise ClientError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    e = engine()
    container = e.containers.get(ns.args[0])
    if ns.output is None:
        fsops.export(e, container, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return 0
    directory = os.path.dirname(os.path.abspath(ns.output))
    if not os.path.isdir(directory):
        raise ClientError(
            f'failed to export container: invalid output path: directory "{directory}"'
            " does not exist"
        )
    tmp = f"{ns.output}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as out:
            fsops.export(e, container, out)
        os.replace(tmp, ns.output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return 0


def cmd_commit(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine import fsops

    p = CommandParser(
        name,
        "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
        "Create a new image from a container's changes",
    )
    p.option("-a", "--author", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    p.multi("-c", "--change", help="Apply Dockerfile instruction to the created image")
    p.option("-m", "--message", help="Commit message")
    p.flag("-p", "--pause", default=True, help="Pause container during commit (default true)")
    ns = p.parse(argv, min_args=1, max_args=2)
    e = engine()
    container = e.containers.get(ns.args[0])
    image_id = fsops.commit(
        e,
        container,
        reference=ns.args[1] if len(ns.args) > 1 else None,
        author=ns.author or "",
        message=ns.message or "",
        changes=ns.change,
        pause=ns.pause,
    )
    write(image_id + "\n")
    return 0
