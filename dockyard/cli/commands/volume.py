"""Volume commands: volume create, ls, inspect, rm, prune."""

from __future__ import annotations

import sys
from collections.abc import Callable

from dockyard.cli.errors import ClientError
from dockyard.cli.output import Row, confirm, dump_json, render_object, render_rows, write
from dockyard.cli.parser import CommandParser
from dockyard.errors import DockyardError

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import Any

    from dockyard.engine import Engine
    from dockyard.engine.volumes import Volume

EngineFactory = Callable[[], "Engine"]

VOLUME_HEADERS = {
    "Name": "VOLUME NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS",
    "Links": "LINKS",
    "Size": "SIZE",
    "Group": "GROUP",
    "Availability": "AVAILABILITY",
    "Status": "STATUS",
}
DEFAULT_TABLE = "table {{.Driver}}\t{{.Name}}"

PRUNE_ANONYMOUS_WARNING = (
    "WARNING! This will remove anonymous local volumes not used by at least one container."
)
PRUNE_ALL_WARNING = (
    "WARNING! This will remove all local volumes not used by at least one container."
)


def _key_values(values: list[str]) -> dict[str, str]:
    """Docker's ``--label``/``--opt`` maps: ``k=v`` or a bare ``k`` (empty value)."""
    result: dict[str, str] = {}
    for value in values:
        key, _, val = value.partition("=")
        result[key] = val
    return result


def cmd_create(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS] [VOLUME]", "Create a volume")
    p.option("-d", "--driver", default="local", help='Specify volume driver name (default "local")')
    p.multi("--label", help="Set metadata for a volume")
    p.multi("-o", "--opt", metavar="map", help="Set driver specific options (default map[])")
    p.option("--name", hidden=True)
    ns = p.parse(argv, max_args=1)
    if ns.args and ns.name:
        raise ClientError(
            "conflicting options: cannot specify a volume-name through both --name and as a"
            " positional arg"
        )
    volume_name = ns.args[0] if ns.args else ns.name
    volume = engine().volumes.create(
        volume_name,
        driver=ns.driver,
        labels=_key_values(ns.label),
        options=_key_values(ns.opt),
    )
    write(volume.name + "\n")
    return 0


def natural_less(a: str, b: str) -> bool:
    """moby's ``sortorder.NaturalLess``: digits sort before other characters and
    digit runs compare as numbers (fewer leading zeros first)."""
    i = j = 0
    while i < len(a) and j < len(b):
        d1, d2 = a[i].isdigit(), b[j].isdigit()
        if d1 != d2:
            return d1
        if not d1:
            if a[i] != b[j]:
                return a[i] < b[j]
            i += 1
            j += 1
            continue
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        nz1, nz2 = i, j
        while i < len(a) and a[i].isdigit():
            i += 1
        while j < len(b) and b[j].isdigit():
            j += 1
        if i - nz1 != j - nz2:
            return i - nz1 < j - nz2
        if a[nz1:i] != b[nz2:j]:
            return a[nz1:i] < b[nz2:j]
        if nz1 != nz2:
            return nz1 < nz2
    return len(a) < len(b)


def _natural_sorted(names: list[Volume]) -> list[Volume]:
    from functools import cmp_to_key

    def compare(x: Volume, y: Volume) -> int:
        if natural_less(x.name, y.name):
            return -1
        return 1 if natural_less(y.name, x.name) else 0

    return sorted(names, key=cmp_to_key(compare))


def volume_row(volume: Volume) -> Row:
    """A ``volume ls`` formatter row (the fields Docker's volume context has)."""
    return Row(
        Availability="N/A",
        Driver=volume.driver,
        Group="N/A",
        Labels=",".join(f"{k}={v}" for k, v in sorted(volume.labels.items())),
        Links="N/A",
        Mountpoint=volume.mountpoint,
        Name=volume.name,
        Scope="local",
        Size="N/A",
        Status="N/A",
    )


def cmd_ls(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine.filters import Filters

    p = CommandParser(name, "[OPTIONS]", "List volumes")
    p.multi("-f", "--filter", metavar="filter", help='Provide filter values (e.g. "dangling=true")')
    p.option("--format", help="Format output using a custom template")
    p.flag("-q", "--quiet", help="Only display volume names")
    ns = p.parse(argv, max_args=0)
    filters = Filters.from_cli(ns.filter)
    volumes = _natural_sorted(engine().volumes.list(filters))
    fmt = ns.format
    if not fmt or fmt == "table":
        fmt = "{{.Name}}" if ns.quiet else DEFAULT_TABLE
    write(render_rows([volume_row(v) for v in volumes], fmt, DEFAULT_TABLE, VOLUME_HEADERS))
    return 0


def cmd_inspect(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.errors import NotFound

    p = CommandParser(
        name, "[OPTIONS] VOLUME [VOLUME...]", "Display detailed information on one or more volumes"
    )
    p.option("-f", "--format", help="Format output using a custom template")
    ns = p.parse(argv, min_args=1)
    service = engine().volumes
    found: list[dict[str, Any]] = []
    errors: list[str] = []
    for volume_name in ns.args:
        try:
            found.append(service.get(volume_name).inspect())
        except NotFound as exc:
            errors.append(f"Error response from daemon: {exc.message}")
    if ns.format and ns.format != "json":
        write("".join(render_object(item, ns.format) for item in found))
    elif ns.format == "json":
        write("".join(dump_json([item]) for item in found))
    else:
        write(dump_json(found))
    for message in errors:
        sys.stderr.write(message + "\n")
    return 1 if errors else 0


def cmd_rm(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes")
    p.flag("-f", "--force", help="Force the removal of one or more volumes")
    ns = p.parse(argv, min_args=1)
    service = engine().volumes
    errors: list[str] = []
    for volume_name in ns.args:
        try:
            service.remove(volume_name, force=ns.force)
        except DockyardError as exc:
            errors.append(f"Error response from daemon: {exc.message}")
            continue
        write(volume_name + "\n")
    for message in errors:
        sys.stderr.write(message + "\n")
    return 1 if errors else 0


def cmd_prune(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine.filters import Filters

    p = CommandParser(name, "[OPTIONS]", "Remove unused local volumes")
    p.flag("-a", "--all", help="Remove all unused volumes, not just anonymous ones")
    p.multi("--filter", metavar="filter", help='Provide filter values (e.g. "label=<label>")')
    p.flag("-f", "--force", help="Do not prompt for confirmation")
    ns = p.parse(argv, max_args=0)
    filters = Filters.from_cli(ns.filter)
    if ns.all:
        if filters.has("all"):
            raise ClientError("conflicting options: cannot specify both --all and --filter all=1")
        filters.values["all"] = ["true"]
    if not ns.force:
        warning = PRUNE_ALL_WARNING if ns.all else PRUNE_ANONYMOUS_WARNING
        if not confirm(f"{warning}\nAre you sure you want to continue? [y/N] "):
            return 0
    report = engine().volumes.prune(filters=filters)
    write(prune_report(report.deleted, report.reclaimed))
    return 0


def prune_report(deleted: list[str], reclaimed: int) -> str:
    """What ``volume prune`` prints (``system prune --volumes`` prints the same)."""
    from dockyard.golang.units import human_size

    out = ""
    if deleted:
        out = "Deleted Volumes:\n" + "".join(n + "\n" for n in deleted) + "\n"
    return out + f"Total reclaimed space: {human_size(reclaimed, 4)}\n"
