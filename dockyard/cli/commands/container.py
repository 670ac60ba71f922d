"""Container commands that work on records: create, ps, rm, rename, inspect, prune.

Starting, stopping and attaching arrive with the container runtime and monitor.
"""

from __future__ import annotations

import sys
import time

from dockyard.cli.errors import ClientError
from dockyard.cli.output import Row, confirm, dump_json, render_object, render_rows, write
from dockyard.cli.parser import CommandParser
from dockyard.engine.views import inspect_container, status_text
from dockyard.errors import DockyardError, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.engine import Engine
    from dockyard.engine.containers import Container

    EngineFactory = Callable[[], Engine]

PS_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "Networks": "NETWORKS",
    "LocalVolumes": "LOCAL VOLUMES",
}


def cmd_create(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.cli.runflags import RUN_USAGE, add_run_flags, build_container_request

    p = CommandParser(name, RUN_USAGE, "Create a new container")
    add_run_flags(p)
    ns = p.parse(argv, min_args=1, interspersed=False)
    e = engine()
    container = _create(e, ns, build_container_request(ns, p))
    write(container.id + "\n")
    return 0


def _create(
    e: Engine, ns: Any, request: tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]
) -> Container:
    """The create step of ``create`` and ``run``: pulls the image as ``--pull`` says
    (missing: only when there is no local image), then creates the container."""
    image, config, host, networking = request
    if ns.pull not in ("always", "missing", "never"):
        raise ClientError(
            f'invalid pull option: \'{ns.pull}\': must be one of "always", "missing" or "never"'
        )
    if ns.pull == "always" or (ns.pull == "missing" and e.images.try_resolve(image) is None):
        from dockyard.cli.commands.distribution import ensure_image

        ensure_image(e, image, ns.pull, ns.platform or None, sys.stderr)
    container = e.containers.create(image, config, host, networking, name=ns.name)
    if ns.cidfile:
        _write_cidfile(ns.cidfile, container.id)
    return container


def _write_cidfile(path: str, container_id: str) -> None:
    import os

    if os.path.exists(path):
        raise DockyardError(
            f"container ID file found, make sure the other container isn't running or delete {path}"
        )
    with open(path, "w") as f:
        f.write(container_id)


def _command(container: Container, trunc: bool) -> str:
    from dockyard.golang.fmt import go_quote

    # Docker's daemon quotes arguments with spaces in its summary.
    args = [f"'{a}'" if " " in a else a for a in container.spec.get("Args", [])]
    command = " ".join([container.spec.get("Path", ""), *args]).strip()
    if trunc and len(command) > 20:
        command = command[:19] + "…"
    return go_quote(command)


def container_rows(e: Engine, containers: list[Container], *, trunc: bool, size: bool) -> list[Row]:
    from dockyard.golang.timefmt import created_at
    from dockyard.golang.units import human_duration, human_size

    now = time.time()
    rows = []
    images: dict[tuple[str, str], str] = {}  # most containers share a few images
    for c in containers:
        labels = c.config.get("Labels") or {}
        key = (str(c.config.get("Image") or ""), c.image_id)
        image = images.get(key)
        if image is None:
            image = images[key] = e.containers.image_name(c)
        row = Row(
            ID=c.id[:12] if trunc else c.id,
            Image=image,
            Command=_command(c, trunc),
            CreatedAt=created_at(int(c.created)),
            RunningFor=human_duration(now - c.created) + " ago",
            Ports=_ports_column(c),
            State=c.status,
            Status=status_text(c, now),
            Names=c.name,
            Labels=",".join(f"{k}={v}" for k, v in sorted(labels.items())),
            Mounts="",
            Networks=",".join(
                sorted((c.spec.get("NetworkingConfig") or {}).get("EndpointsConfig") or {})
            ),
            LocalVolumes="0",
            Size="",
        )
        if size:
            rw = e.containers.size(c)
            virtual = e.images.get(c.image_id).size if c.image_id else 0
            row["Size"] = f"{human_size(rw)} (virtual {human_size(rw + virtual)})"
        rows.append(row)
    return rows


def _ports_column(c: Container) -> str:
    ports = (c.spec.get("NetworkSettings") or {}).get("Ports")
    if not ports:
        return ""
    from dockyard.network.ports import format_ports

    return format_ports(ports)


def cmd_ps(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine.filters import Filters

    p = CommandParser(name, "[OPTIONS]", "List containers")
    p.flag("-a", "--all", help="Show all containers (default shows just running)")
    p.multi("-f", "--filter", metavar="filter", help="Filter output based on conditions provided")
    p.option("--format", help="Format output using a custom template")
    p.option(
        "-n", "--last", metavar="int", help="Show n last created containers (includes all states)"
    )
    p.flag("-l", "--latest", help="Show the latest created container (includes all states)")
    p.flag("--no-trunc", help="Don't truncate output")
    p.flag("-q", "--quiet", help="Only display container IDs")
    p.flag("-s", "--size", help="Display total file sizes")
    ns = p.parse(argv, max_args=0)
    limit = -1
    if ns.last is not None:
        try:
            limit = int(ns.last)
        except ValueError:
            p.fail(
                f'invalid argument "{ns.last}" for "-n, --last" flag: strconv.ParseInt:'
                f' parsing "{ns.last}": invalid syntax'
            )
    if ns.latest:
        limit = 1
    e = engine()
    containers = e.containers.list_containers(
        show_all=ns.all, filters=Filters.from_cli(ns.filter), limit=limit
    )
    if ns.quiet:
        write("".join((c.id if ns.no_trunc else c.id[:12]) + "\n" for c in containers))
        return 0
    rows = container_rows(e, containers, trunc=not ns.no_trunc, size=ns.size)
    default = (
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}"
        "\t{{.Ports}}\t{{.Names}}"
    )
    if ns.size:
        default += "\t{{.Size}}"
    write(render_rows(rows, ns.format, default, PS_HEADERS))
    return 0


def cmd_rm(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers")
    p.flag("-f", "--force", help="Force the removal of a running container (uses SIGKILL)")
    p.flag("-l", "--link", help="Remove the specified link")
    p.flag("-v", "--volumes", help="Remove anonymous volumes associated with the container")
    ns = p.parse(argv, min_args=1)
    e = engine()
    failed = False
    for target in ns.args:
        try:
            e.containers.remove(target, force=ns.force, volumes=ns.volumes)
        except NotFound as exc:
            if ns.force:
                continue
            sys.stderr.write(f"Error response from daemon: {exc.message}\n")
            failed = True
            continue
        except DockyardError as exc:
            sys.stderr.write(f"Error response from daemon: {exc.message}\n")
            failed = True
            continue
        write(target + "\n")
    return 1 if failed else 0


def cmd_rename(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "CONTAINER NEW_NAME", "Rename a container")
    ns = p.parse(argv, min_args=2, max_args=2)
    engine().containers.rename(ns.args[0], ns.args[1])
    return 0


def cmd_prune(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine.filters import Filters
    from dockyard.golang.units import human_size

    p = CommandParser(name, "[OPTIONS]", "Remove all stopped containers")
    p.multi("--filter", metavar="filter", help='Provide filter values (e.g. "until=<timestamp>")')
    p.flag("-f", "--force", help="Do not prompt for confirmation")
    ns = p.parse(argv, max_args=0)
    filters = Filters.from_cli(ns.filter)
    if not ns.force and not confirm(
        "WARNING! This will remove all stopped containers.\n"
        "Are you sure you want to continue? [y/N] "
    ):
        return 0
    removed, reclaimed = engine().containers.prune(filters)
    out = ""
    if removed:
        out += "Deleted Containers:\n" + "".join(c + "\n" for c in removed) + "\n"
    write(out + f"Total reclaimed space: {human_size(reclaimed, 4)}\n")
    return 0


def cmd_inspect(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(
        name,
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Display detailed information on one or more containers",
    )
    p.option("-f", "--format", help="Format output using a custom template")
    p.flag("-s", "--size", help="Display total file sizes")
    ns = p.parse(argv, min_args=1)
    e = engine()
    found = []
    errors = []
    for target in ns.args:
        try:
            found.append(inspect_container(e, e.containers.get(target), ns.size))
        except NotFound as exc:
            errors.append(f"Error response from daemon: {exc.message}")
    _print_inspect(found, ns.format)
    for message in errors:
        sys.stderr.write(message + "\n")
    return 1 if errors else 0


def _print_inspect(found: list[dict[str, Any]], fmt: str | None) -> None:
    if fmt and fmt != "json":
        write("".join(render_object(item, fmt) for item in found))
    else:
        write(dump_json(found))


# ---------------------------------------------------------------- running


def cmd_run(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.cli.runflags import RUN_USAGE, add_run_flags, build_container_request

    p = CommandParser(name, RUN_USAGE, "Create and run a new container from an image")
    add_run_flags(p)
    p.flag("-d", "--detach", help="Run container in background and print container ID")
    ns = p.parse(argv, min_args=1, interspersed=False)
    if not ns.detach and ns.interactive and ns.tty and not sys.stdin.isatty():
        from dockyard.cli.errors import ClientError

        raise ClientError("the input device is not a TTY")  # before anything is created
    e = engine()
    container = _create(e, ns, build_container_request(ns, p, detach=ns.detach))
    if ns.detach_keys and not ns.detach:
        from dockyard.cli.attach import parse_detach_keys

        parse_detach_keys(ns.detach_keys)  # as Docker: the container stays created
    try:
        if ns.detach:
            e.lifecycle.start(container)
            write(container.id + "\n")
            return 0
        e.lifecycle.start(container, wait_for_attach=True)
    except DockyardError as exc:
        if container.host_config.get("AutoRemove"):
            e.containers.remove(container.id, volumes=True)
        raise exc.with_code(exc.exit_code if exc.exit_code in (126, 127) else 125) from None
    from dockyard.cli.attach import attach_and_wait

    code = attach_and_wait(
        e,
        container.id,
        stdin=ns.interactive,
        tty=ns.tty,
        detach_keys=ns.detach_keys,
        sig_proxy=ns.sig_proxy,
        start=True,
    )
    if container.host_config.get("AutoRemove"):
        fresh = e.containers.try_get(container.id)
        if fresh is None or fresh.status not in ("running", "paused", "restarting"):
            _wait_removed(e, container.id)  # not after a detach: it is still running
    return code


def _wait_removed(e: Engine, container_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if e.containers.try_get(container_id) is None:
            e.lifecycle.wait_run_dir_removed(container_id)  # the remover's last step
            return
        time.sleep(0.01)


def cmd_start(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(
        name, "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers"
    )
    p.flag("-a", "--attach", help="Attach STDOUT/STDERR and forward signals")
    p.flag("-i", "--interactive", help="Attach container's STDIN")
    p.option("--detach-keys", help="Override the key sequence for detaching a container")
    ns = p.parse(argv, min_args=1)
    e = engine()
    if ns.attach or ns.interactive:
        if len(ns.args) > 1:
            raise DockyardError("you cannot start and attach multiple containers at once")
        from dockyard.cli.attach import attach_and_wait, parse_detach_keys

        if ns.detach_keys:
            parse_detach_keys(ns.detach_keys)
        container = e.containers.get(ns.args[0])
        e.lifecycle.start(container, wait_for_attach=True)
        return attach_and_wait(
            e,
            container.id,
            stdin=ns.interactive,
            tty=bool(container.config.get("Tty")),
            detach_keys=ns.detach_keys,
            start=True,
        )
    failed = False
    for target in ns.args:
        try:
            e.lifecycle.start(e.containers.get(target))
        except DockyardError as exc:
            sys.stderr.write(f"Error response from daemon: {exc.message}\n")
            failed = True
            continue
        write(target + "\n")
    if failed:
        sys.stderr.write("Error: failed to start containers: " + ", ".join(ns.args) + "\n")
    return 1 if failed else 0


def cmd_stop(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(
        name, "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers"
    )
    p.option("-s", "--signal", help="Signal to send to the container")
    p.option(
        "-t",
        "--time",
        "--timeout",
        metavar="int",
        help="Seconds to wait before killing the container",
    )
    ns = p.parse(argv, min_args=1)
    timeout = None
    if ns.time is not None:
        try:
            timeout = int(ns.time)
        except ValueError:
            p.fail(
                f'invalid argument "{ns.time}" for "-t, --time" flag: strconv.ParseInt:'
                f' parsing "{ns.time}": invalid syntax'
            )
    return _each(engine, ns.args, lambda e, c: e.lifecycle.stop(c, timeout))


def cmd_kill(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine.lifecycle import _signal_number

    p = CommandParser(
        name, "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers"
    )
    p.option("-s", "--signal", help="Signal to send to the container")
    ns = p.parse(argv, min_args=1)
    sig = _signal_number(ns.signal or "KILL")
    return _each(engine, ns.args, lambda e, c: e.lifecycle.kill(c, sig))


def _each(
    engine: EngineFactory, targets: list[str], action: Callable[[Engine, Container], None]
) -> int:
    e = engine()
    failed = False
    for target in targets:
        try:
            action(e, e.containers.get(target))
        except DockyardError as exc:
            sys.stderr.write(f"Error response from daemon: {exc.message}\n")
            failed = True
            continue
        write(target + "\n")
    return 1 if failed else 0


def cmd_wait(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(
        name,
        "CONTAINER [CONTAINER...]",
        "Block until one or more containers stop, then print their exit codes",
    )
    ns = p.parse(argv, min_args=1)
    e = engine()
    failed = False
    for target in ns.args:
        try:
            container = e.containers.get(target)
        except NotFound as exc:
            sys.stderr.write(f"Error response from daemon: {exc.message}\n")
            failed = True
            continue
        e.lifecycle.wait_exited(container.id, float("inf"))
        fresh = e.containers.try_get(container.id)
        write(f"{(fresh or container).state.get('ExitCode', 0)}\n")
    return 1 if failed else 0


def cmd_logs(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS] CONTAINER", "Fetch the logs of a container")
    p.flag("-f", "--follow", help="Follow log output")
    p.flag("-t", "--timestamps", help="Show timestamps")
    p.option(
        "-n",
        "--tail",
        default="all",
        help='Number of lines to show from the end of the logs (default "all")',
    )
    p.option("--since", help="Show logs since timestamp or relative")
    p.option("--until", help="Show logs before a timestamp or relative")
    p.flag("--details", help="Show extra details provided to logs")
    ns = p.parse(argv, min_args=1, max_args=1)
    from dockyard.engine.logs import LogSelection, log_path, read_logs
    from dockyard.timeutil import parse_timestamp

    e = engine()
    container = e.containers.get(ns.args[0])
    path = log_path(
        e.containers.container_dir(container.id),
        container.id,
        container.host_config.get("LogConfig") or {},
    )
    try:
        tail = int(ns.tail) if ns.tail != "all" else -1
    except ValueError:
        tail = -1
    selection = LogSelection(
        tail=tail,
        since_ns=int(parse_timestamp(ns.since) * 1e9) if ns.since else 0,
        until_ns=int(parse_timestamp(ns.until) * 1e9) if ns.until else 0,
    )

    def running() -> bool:
        current = e.containers.try_get(container.id)
        if current is None:
            return False
        e.lifecycle.refresh(current)
        return current.status in ("running", "paused", "restarting")

    out, err = sys.stdout.buffer, sys.stderr.buffer
    for entry in read_logs(path, selection, follow=ns.follow, running=running):
        stream = err if entry.stream == "stderr" else out
        if ns.timestamps:
            stream.write(entry.timestamp.encode() + b" ")
        stream.write(entry.data)
        stream.flush()
    return 0


def cmd_container_exited(engine: EngineFactory, argv: list[str], name: str) -> int:
    """Hidden: the monitor reports that a container ended."""
    p = CommandParser(name, "CONTAINER", "Record that a container has exited (internal)")
    ns = p.parse(argv, min_args=1, max_args=1)
    engine().lifecycle.exited(ns.args[0])
    return 0
