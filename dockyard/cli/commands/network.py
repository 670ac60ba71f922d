"""Network commands: network create, ls, inspect, rm, prune, connect, disconnect; port."""

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
    from dockyard.engine.networks import Network

EngineFactory = Callable[[], "Engine"]

NETWORK_HEADERS = {
    "ID": "NETWORK ID",
    "Name": "NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "IPv6": "IPV6",
    "Internal": "INTERNAL",
    "Labels": "LABELS",
    "CreatedAt": "CREATED AT",
}
DEFAULT_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
PRUNE_WARNING = "WARNING! This will remove all custom networks not used by at least one container."


def _key_values(values: list[str], flag: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if flag == "--aux-address" and not sep:
            raise ClientError(
                f'invalid argument "{value}" for "{flag}" flag: {value} must be'
                " of the form key=value"
            )
        result[key] = val
    return result


def cmd_create(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS] NETWORK", "Create a network")
    p.option(
        "-d", "--driver", default="bridge", help='Driver to manage the Network (default "bridge")'
    )
    p.multi("--subnet", help="Subnet in CIDR format that represents a network segment")
    p.multi("--gateway", help="IPv4 or IPv6 Gateway for the master subnet")
    p.multi("--ip-range", help="Allocate container ip from a sub-range")
    p.multi(
        "--aux-address",
        metavar="map",
        help="Auxiliary IPv4 or IPv6 addresses used by Network driver",
    )
    p.flag("--internal", help="Restrict external access to the network")
    p.flag("--attachable", help="Enable manual container attachment")
    p.flag("--ipv6", help="Enable or disable IPv6 networking")
    p.multi("--label", help="Set metadata on a network")
    p.multi("-o", "--opt", metavar="map", help="Set driver specific options (default map[])")
    p.option(
        "--ipam-driver", default="default", help='IP Address Management Driver (default "default")'
    )
    p.multi("--ipam-opt", metavar="map", help="Set IPAM driver specific options (default map[])")
    p.option("--scope", help="Control the network's scope")
    p.flag("--ingress", hidden=True)
    p.option("--config-from", hidden=True)
    p.flag("--config-only", hidden=True)
    ns = p.parse(argv, min_args=1, max_args=1)
    if len(ns.gateway) > len(ns.subnet) or len(ns.ip_range) > len(ns.subnet):
        raise ClientError("every ip-range or gateway must have a corresponding subnet")
    network = engine().networks.create(
        ns.args[0],
        driver=ns.driver,
        subnets=list(ns.subnet),
        gateways=list(ns.gateway),
        ip_ranges=list(ns.ip_range),
        aux_addresses=_key_values(ns.aux_address, "--aux-address"),
        internal=ns.internal,
        attachable=ns.attachable,
        ipv6=ns.ipv6,
        labels=_key_values(ns.label, "--label"),
        options=_key_values(ns.opt, "--opt"),
        ipam_driver=ns.ipam_driver,
        ipam_options=_key_values(ns.ipam_opt, "--ipam-opt"),
    )
    write(network.id + "\n")
    return 0


def network_row(network: Network, no_trunc: bool = False) -> Row:
    from dockyard.timeutil import rfc3339_nano

    return Row(
        ID=network.id if no_trunc else network.id[:12],
        Name=network.name,
        Driver=network.driver,
        Scope="local",
        IPv6=str(bool(network.config.get("EnableIPv6"))).lower(),
        Internal=str(network.internal).lower(),
        Labels=",".join(f"{k}={v}" for k, v in sorted(network.labels.items())),
        CreatedAt=rfc3339_nano(network.created),
    )


def cmd_ls(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine.filters import Filters

    p = CommandParser(name, "[OPTIONS]", "List networks")
    p.multi("-f", "--filter", metavar="filter", help='Provide filter values (e.g. "driver=bridge")')
    p.option("--format", help="Format output using a custom template")
    p.flag("--no-trunc", help="Do not truncate the output")
    p.flag("-q", "--quiet", help="Only display network IDs")
    ns = p.parse(argv, max_args=0)
    networks = engine().networks.list(Filters.from_cli(ns.filter))
    networks.sort(key=lambda n: n.name)
    fmt = ns.format
    if not fmt or fmt == "table":
        fmt = "{{.ID}}" if ns.quiet else DEFAULT_TABLE
    rows = [network_row(n, ns.no_trunc) for n in networks]
    write(render_rows(rows, fmt, DEFAULT_TABLE, NETWORK_HEADERS))
    return 0


def cmd_inspect(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.errors import NotFound

    p = CommandParser(
        name,
        "[OPTIONS] NETWORK [NETWORK...]",
        "Display detailed information on one or more networks",
    )
    p.option("-f", "--format", help="Format output using a custom template")
    p.flag("-v", "--verbose", help="Verbose output for diagnostics")
    ns = p.parse(argv, min_args=1)
    service = engine().networks
    found: list[dict[str, Any]] = []
    errors: list[str] = []
    for ref in ns.args:
        try:
            found.append(service.inspect(service.get(ref)))
        except NotFound as exc:
            errors.append(f"Error response from daemon: {exc.message}")
    if ns.format and ns.format != "json":
        write("".join(render_object(item, ns.format) for item in found))
    else:
        write(dump_json(found))
    for message in errors:
        sys.stderr.write(message + "\n")
    return 1 if errors else 0


def cmd_rm(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "NETWORK [NETWORK...]", "Remove one or more networks")
    p.flag("-f", "--force", help="Do not error if the network does not exist")
    ns = p.parse(argv, min_args=1)
    service = engine().networks
    errors: list[str] = []
    for ref in ns.args:
        try:
            service.remove(ref)
        except DockyardError as exc:
            from dockyard.errors import NotFound

            if ns.force and isinstance(exc, NotFound):
                continue
            errors.append(f"Error response from daemon: {exc.message}")
            continue
        write(ref + "\n")
    for message in errors:
        sys.stderr.write(message + "\n")
    return 1 if errors else 0


def cmd_prune(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine.filters import Filters

    p = CommandParser(name, "[OPTIONS]", "Remove all unused networks")
    p.multi("--filter", metavar="filter", help='Provide filter values (e.g. "until=<timestamp>")')
    p.flag("-f", "--force", help="Do not prompt for confirmation")
    ns = p.parse(argv, max_args=0)
    if not ns.force and not confirm(f"{PRUNE_WARNING}\nAre you sure you want to continue? [y/N] "):
        return 0
    removed = engine().networks.prune(Filters.from_cli(ns.filter))
    if removed:
        write("Deleted Networks:\n" + "".join(n + "\n" for n in removed))
    return 0


def cmd_connect(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS] NETWORK CONTAINER", "Connect a container to a network")
    p.multi("--alias", metavar="strings", help="Add network-scoped alias for the container")
    p.option("--ip", help="IPv4 address (e.g., 172.30.100.104)")
    p.option("--ip6", help="IPv6 address (e.g., 2001:db8::33)")
    p.multi("--link", hidden=True)
    p.multi("--link-local-ip", hidden=True)
    p.multi("--driver-opt", hidden=True)
    ns = p.parse(argv, min_args=2, max_args=2)
    engine().networks.connect(
        ns.args[0], ns.args[1], ip=ns.ip or "", ip6=ns.ip6 or "", aliases=list(ns.alias)
    )
    return 0


def cmd_disconnect(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network")
    p.flag("-f", "--force", help="Force the container to disconnect from a network")
    ns = p.parse(argv, min_args=2, max_args=2)
    engine().networks.disconnect(ns.args[0], ns.args[1], force=ns.force)
    return 0


def port_lines(ports: dict[str, Any] | None, wanted: str = "") -> list[str]:
    """``docker port`` lines: ``80/tcp -> 0.0.0.0:8080``, sorted by port."""
    if wanted:
        port, _, proto = wanted.partition("/")
        wanted = f"{port}/{proto or 'tcp'}"
    lines: list[tuple[int, str, str]] = []
    for key, bindings in (ports or {}).items():
        if wanted and key != wanted:
            continue
        number, _, proto = key.partition("/")
        for b in bindings or []:
            host = b.get("HostIp") or "0.0.0.0"
            host = f"[{host}]" if ":" in host else host
            text = f"{host}:{b['HostPort']}"
            lines.append((int(number), proto, text if wanted else f"{key} -> {text}"))
    lines.sort(key=lambda t: (t[0], t[1]))
    return [text for _, _, text in lines]


def cmd_port(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(
        name,
        "CONTAINER [PRIVATE_PORT[/PROTO]]",
        "List port mappings or a specific mapping for the container",
    )
    ns = p.parse(argv, min_args=1, max_args=2)
    container = engine().containers.get(ns.args[0])
    ports = (container.spec.get("NetworkSettings") or {}).get("Ports") or {}
    wanted = ns.args[1] if len(ns.args) > 1 else ""
    lines = port_lines(ports, wanted)
    if wanted and not lines:
        from dockyard.errors import NotFound

        port, _, proto = wanted.partition("/")
        raise NotFound(f"No public port '{port}/{proto or 'tcp'}' published for {ns.args[0]}")
    write("".join(line + "\n" for line in lines))
    return 0


def ports_column(ports: dict[str, Any] | None) -> str:
    """The PORTS column of ``ps``."""
    from dockyard.network.ports import format_ports

    return format_ports(ports)
