"""pause, unpause, top, stats, update, restart: managing running containers."""

from __future__ import annotations

import sys

from dockyard.cli.output import Row, render_rows, write
from dockyard.cli.parser import CommandParser
from dockyard.errors import DockyardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.engine import Engine
    from dockyard.engine.containers import Container

    EngineFactory = Callable[[], Engine]

STATS_HEADERS = {
    "Container": "CONTAINER",
    "ID": "CONTAINER ID",
    "Name": "NAME",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}
STATS_TABLE = (
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}"
    "\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
)
_SAMPLE_INTERVAL = 1.0  # dockerd's stats collector interval


def _each(
    engine: EngineFactory,
    targets: list[str],
    action: Callable[[Engine, Container], None],
    check: Callable[[], None] | None = None,
) -> int:
    """Docker's per-container loop: print each name done, an error line for each failure."""
    e = engine()
    failed = False
    for target in targets:
        try:
            if check is not None:
                check()
            action(e, e.containers.get(target))
        except DockyardError as exc:
            sys.stderr.write(f"Error response from daemon: {exc.message}\n")
            failed = True
            continue
        write(target + "\n")
    return 1 if failed else 0


def cmd_pause(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine import control

    p = CommandParser(
        name, "CONTAINER [CONTAINER...]", "Pause all processes within one or more containers"
    )
    ns = p.parse(argv, min_args=1)
    return _each(engine, ns.args, control.pause)


def cmd_unpause(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine import control

    p = CommandParser(
        name, "CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers"
    )
    ns = p.parse(argv, min_args=1)
    return _each(engine, ns.args, control.unpause)


def cmd_top(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.cli.format.tabwriter import format_table
    from dockyard.engine import control

    p = CommandParser(
        name, "CONTAINER [ps OPTIONS]", "Display the running processes of a container"
    )
    ns = p.parse(argv, min_args=1, interspersed=False)
    e = engine()
    container = e.containers.get(ns.args[0])
    titles, processes = control.top(e, container, " ".join(ns.args[1:]))
    write(format_table([titles, *processes], minwidth=20))
    return 0


def _int_flag(p: CommandParser, flag: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value, 10)
    except ValueError:
        p.fail(
            f'invalid argument "{value}" for "{flag}" flag: strconv.ParseInt:'
            f' parsing "{value}": invalid syntax'
        )


def _typed_flag(
    p: CommandParser, flag: str, value: str | None, parse: Callable[[str], int]
) -> int | None:
    if value is None:
        return None
    try:
        return parse(value)
    except (ValueError, DockyardError) as exc:
        p.fail(f'invalid argument "{value}" for "{flag}" flag: {exc}')


def cmd_restart(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine import control

    p = CommandParser(name, "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers")
    p.option("-s", "--signal", help="Signal to send to the container")
    p.option(
        "-t",
        "--time",
        "--timeout",
        metavar="int",
        help="Seconds to wait before killing the container",
    )
    ns = p.parse(argv, min_args=1)
    timeout = _int_flag(p, "-t, --time", ns.time)
    return _each(engine, ns.args, lambda e, c: control.restart(e, c, timeout, ns.signal))


def cmd_update(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.cli.runflags import _bytes, _nano_cpus, _restart, _swap
    from dockyard.engine import control
    from dockyard.errors import InvalidArgument, UsageError

    p = CommandParser(
        name, "[OPTIONS] CONTAINER [CONTAINER...]", "Update configuration of one or more containers"
    )
    p.option("--cpu-period", metavar="int", help="Limit CPU CFS (Completely Fair Scheduler) period")
    p.option("--cpu-quota", metavar="int", help="Limit CPU CFS (Completely Fair Scheduler) quota")
    p.option("-c", "--cpu-shares", metavar="int", help="CPU shares (relative weight)")
    p.option("--cpus", metavar="decimal", help="Number of CPUs")
    p.option("--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")
    p.option("--cpuset-mems", help="MEMs in which to allow execution (0-3, 0,1)")
    p.option("-m", "--memory", metavar="bytes", help="Memory limit")
    p.option("--memory-reservation", metavar="bytes", help="Memory soft limit")
    p.option(
        "--memory-swap",
        metavar="bytes",
        help="Swap limit equal to memory plus swap: -1 to enable unlimited swap",
    )
    p.option("--pids-limit", metavar="int", help="Tune container pids limit (set -1 for unlimited)")
    p.option("--restart", help="Restart policy to apply when a container exits")
    ns = p.parse(argv, min_args=1)
    if all(v is None for k, v in vars(ns).items() if k != "args"):
        from dockyard.cli.errors import ClientError

        raise ClientError("you must provide one or more flags when using this command")
    resources: dict[str, Any] = {
        "CpuPeriod": _int_flag(p, "--cpu-period", ns.cpu_period),
        "CpuQuota": _int_flag(p, "--cpu-quota", ns.cpu_quota),
        "CpuShares": _int_flag(p, "-c, --cpu-shares", ns.cpu_shares),
        "NanoCpus": _typed_flag(p, "--cpus", ns.cpus, _nano_cpus),
        "CpusetCpus": ns.cpuset_cpus or "",
        "CpusetMems": ns.cpuset_mems or "",
        "Memory": _typed_flag(p, "-m, --memory", ns.memory, _bytes),
        "MemoryReservation": _typed_flag(p, "--memory-reservation", ns.memory_reservation, _bytes),
        "MemorySwap": _typed_flag(p, "--memory-swap", ns.memory_swap, _swap),
        "PidsLimit": _int_flag(p, "--pids-limit", ns.pids_limit),
    }
    resources = {k: v for k, v in resources.items() if v is not None and v != ""}
    if "PidsLimit" not in resources:
        resources["PidsLimit"] = None
    policy: dict[str, Any] | None = None
    invalid = ""
    if ns.restart is not None:
        try:
            policy = _restart(ns.restart)
        except UsageError as exc:
            invalid = exc.message

    def action(e: Engine, c: Container) -> None:
        control.update(e, c, resources, policy)

    def check() -> None:
        # dockerd validates the request before it looks the container up
        if invalid:
            raise InvalidArgument(invalid)
        control.validate_update(resources)

    return _each(engine, ns.args, action, check)


def cmd_stats(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(
        name,
        "[OPTIONS] [CONTAINER...]",
        "Display a live stream of container(s) resource usage statistics",
    )
    p.flag("-a", "--all", help="Show all containers (default shows just running)")
    p.option("--format", help="Format output using a custom template")
    p.flag("--no-stream", help="Disable streaming stats and only pull the first result")
    p.flag("--no-trunc", help="Do not truncate output")
    ns = p.parse(argv)
    e = engine()
    named = bool(ns.args)
    containers: list[Container] = []
    errors = []
    for target in ns.args:
        try:
            containers.append(e.containers.get(target))
        except DockyardError as exc:
            errors.append(f"Error response from daemon: {exc.message}")
    if errors:
        sys.stderr.write("\n".join(errors) + "\n")
        return 1
    if ns.no_stream:
        if not named:
            containers = e.containers.list_containers(show_all=ns.all)
        write(_stats_table(e, containers, ns.args, ns))
        return 0
    try:
        while True:
            if not named:
                containers = e.containers.list_containers(show_all=ns.all)
            table = _stats_table(e, containers, ns.args, ns)
            write("\033[2J\033[H" + table)
    except KeyboardInterrupt:
        return 0


def _stats_table(e: Engine, containers: list[Container], names: list[str], ns: Any) -> str:
    """Two readings ``_SAMPLE_INTERVAL`` apart, rendered as docker prints them."""
    import time

    from dockyard.engine import control

    first = [control.sample(e, c) for c in containers]
    time.sleep(_SAMPLE_INTERVAL)
    rows = []
    for i, c in enumerate(containers):
        entry = control.stats_row(first[i], control.sample(e, c), trunc=not ns.no_trunc)
        entry["Container"] = names[i] if names else c.id[:12]
        rows.append(Row(entry))
    return render_rows(rows, ns.format, STATS_TABLE, STATS_HEADERS)
