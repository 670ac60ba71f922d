"""System commands: system df, system prune, info, version."""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dockyard.cli.output import confirm, render_object, render_rows, write
from dockyard.cli.parser import CommandParser

if TYPE_CHECKING:
    from dockyard.engine import Engine

EngineFactory = Callable[[], "Engine"]


def cmd_df(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.golang.units import human_size

    p = CommandParser(name, "[OPTIONS]", "Show dockyard disk usage")
    p.option("--format", help="Format output using a custom template")
    p.flag("-v", "--verbose", help="Show detailed information on space usage")
    ns = p.parse(argv, max_args=0)
    e = engine()
    usage = e.system.disk_usage()
    images = usage["Images"]
    active = [i for i in images if i["Containers"] > 0]
    total = usage["LayersSize"]
    used_layers = _layers_of(e, [i["Id"] for i in active])
    reclaimable = total - used_layers
    if ns.verbose:
        return _df_verbose(e, usage, ns.format)
    rows = [
        {
            "Type": "Images",
            "TotalCount": str(len(images)),
            "Active": str(len(active)),
            "Size": human_size(total, 4),
            "Reclaimable": _percent(reclaimable, total),
        },
        _containers_row(e),
        _volumes_row(usage["Volumes"]),
        _build_cache_row(usage["BuildCache"]),
    ]
    default = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
    headers = {
        "Type": "TYPE",
        "TotalCount": "TOTAL",
        "Active": "ACTIVE",
        "Size": "SIZE",
        "Reclaimable": "RECLAIMABLE",
    }
    write(render_rows(rows, ns.format, default, headers))
    return 0


def _containers_row(e: Engine) -> dict[str, str]:
    """The Containers row: writable-layer sizes; reclaimable = containers not running."""
    from dockyard.golang.units import human_size

    containers = e.containers.list_containers(show_all=True)
    running = [c for c in containers if c.status in ("running", "paused", "restarting")]
    sizes = {c.id: e.containers.size(c) for c in containers}
    total = sum(sizes.values())
    idle = sum(sizes[c.id] for c in containers if c not in running)
    return {
        "Type": "Containers",
        "TotalCount": str(len(containers)),
        "Active": str(len(running)),
        "Size": human_size(total, 4),
        "Reclaimable": _percent(idle, total),
    }


def _volumes_row(volumes: list[dict[str, Any]]) -> dict[str, str]:
    """The Local Volumes row: sizes of every volume, reclaimable = unused ones."""
    from dockyard.golang.units import human_size

    sizes = [v["UsageData"] for v in volumes]
    total = sum(u["Size"] for u in sizes if u["Size"] != -1)
    unused = sum(u["Size"] for u in sizes if u["Size"] != -1 and u["RefCount"] == 0)
    return {
        "Type": "Local Volumes",
        "TotalCount": str(len(volumes)),
        "Active": str(sum(1 for u in sizes if u["RefCount"] > 0)),
        "Size": human_size(total, 4),
        "Reclaimable": _percent(unused, total),
    }


def _build_cache_row(records: list[dict[str, Any]]) -> dict[str, str]:
    """docker's Build Cache row: shared records are counted elsewhere; the bytes of
    records in use (and not shared) are not reclaimable."""
    from dockyard.engine.builds import summarize
    from dockyard.golang.units import human_size

    total, active, size, reclaimable = summarize(records)
    return {
        "Type": "Build Cache",
        "TotalCount": str(total),
        "Active": str(active),
        "Size": human_size(size, 4),
        "Reclaimable": human_size(reclaimable, 4),
    }


def _build_cache_verbose(records: list[dict[str, Any]]) -> str:
    """``Build cache usage: <size>`` and one line per record (docker's columns)."""
    import time

    from dockyard.engine.builds import summarize
    from dockyard.golang.units import human_duration, human_size
    from dockyard.timeutil import parse_rfc3339

    now = time.time()
    # docker's CLI lists them least recently used first
    records = sorted(records, key=lambda r: parse_rfc3339(r["LastUsedAt"] or r["CreatedAt"]))
    rows = [
        {
            "ID": r["ID"][:12] + ("*" if r["InUse"] else ""),
            "CacheType": r["Type"],
            "Size": human_size(r["Size"], 3),
            "CreatedSince": human_duration(now - parse_rfc3339(r["CreatedAt"])) + " ago",
            "LastUsedSince": human_duration(now - parse_rfc3339(r["LastUsedAt"])) + " ago"
            if r["LastUsedAt"]
            else "",
            "UsageCount": str(r["UsageCount"]),
            "Shared": str(bool(r["Shared"])).lower(),
        }
        for r in records
    ]
    out = f"\nBuild cache usage: {human_size(summarize(records)[2], 4)}\n\n"
    return out + render_rows(
        rows,
        None,
        "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}"
        "\t{{.UsageCount}}\t{{.Shared}}",
        {
            "ID": "CACHE ID",
            "CacheType": "CACHE TYPE",
            "Size": "SIZE",
            "CreatedSince": "CREATED",
            "LastUsedSince": "LAST USED",
            "UsageCount": "USAGE",
            "Shared": "SHARED",
        },
    )


def _layers_of(e: Engine, image_ids: list[str]) -> int:
    if not image_ids:
        return 0
    marks = ",".join("?" * len(image_ids))
    row = e.db.query_one(
        "SELECT COALESCE(SUM(size), 0) AS total FROM layers WHERE chain_id IN"
        f" (SELECT DISTINCT chain_id FROM image_layers WHERE image_id IN ({marks}))",
        image_ids,
    )
    return int(row["total"]) if row else 0


def _percent(part: int, total: int) -> str:
    from dockyard.golang.units import human_size

    if total <= 0:
        return str(human_size(part, 4))
    return f"{human_size(part, 4)} ({int(part * 100 / total)}%)"


def _df_verbose(e: Engine, usage: dict[str, Any], fmt: str | None) -> int:
    from dockyard.cli.commands.image import image_rows
    from dockyard.golang.units import human_size

    images = {i.id: i for i in e.images.all()}
    summaries = {s["Id"]: s for s in usage["Images"]}
    rows = image_rows(list(images.values()), digests=False, trunc=True)
    by_short = {k.removeprefix("sha256:")[:12]: k for k in images}
    for row in rows:
        summary = summaries[by_short[row["ID"]]]
        row["SharedSize"] = human_size(summary["SharedSize"], 4)
        row["UniqueSize"] = human_size(summary["Size"] - summary["SharedSize"], 4)
        row["Containers"] = str(summary["Containers"])
    out = "Images space usage:\n\n"
    default = (
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
        "\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"
    )
    from dockyard.cli.commands.image import IMAGE_HEADERS

    out += render_rows(rows, None, default, IMAGE_HEADERS)
    out += "\nContainers space usage:\n\n"
    out += (
        "CONTAINER ID   IMAGE     COMMAND   LOCAL VOLUMES   SIZE      CREATED   STATUS    NAMES\n"
    )
    out += "\nLocal Volumes space usage:\n\n"
    out += render_rows(
        [
            {
                "Name": v["Name"],
                "Links": str(v["UsageData"]["RefCount"]),
                "Size": human_size(v["UsageData"]["Size"], 4),
            }
            for v in sorted(usage["Volumes"], key=lambda v: str(v["Name"]))
        ],
        None,
        "table {{.Name}}\t{{.Links}}\t{{.Size}}",
        {"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"},
    )
    out += _build_cache_verbose(usage["BuildCache"])
    del fmt
    write(out)
    return 0


def cmd_prune(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.cli.commands.image import prune_report
    from dockyard.engine.filters import Filters

    p = CommandParser(name, "[OPTIONS]", "Remove unused data")
    p.flag("-a", "--all", help="Remove all unused images not just dangling ones")
    p.multi("--filter", metavar="filter", help='Provide filter values (e.g. "label=<key>=<value>")')
    p.flag("-f", "--force", help="Do not prompt for confirmation")
    p.flag("--volumes", help="Prune anonymous volumes")
    ns = p.parse(argv, max_args=0)
    filters = Filters.from_cli(ns.filter)
    if not ns.force:
        images_line = (
            "  - all images without at least one container associated to them"
            if ns.all
            else "  - all dangling images"
        )
        warning = (
            "WARNING! This will remove:\n"
            "  - all stopped containers\n"
            "  - all networks not used by at least one container\n"
            + (
                "  - all anonymous volumes not used by at least one container\n"
                if ns.volumes
                else ""
            )
            + images_line
            + "\n"
            + "  - unused build cache\n"
        )
        if not confirm(f"{warning}\nAre you sure you want to continue? [y/N] "):
            return 0
    from dockyard.golang.units import human_size

    e = engine()
    # Docker's order: stopped containers, (networks,) volumes, images, build cache.
    containers, reclaimed = e.containers.prune(filters)
    out = ""
    if containers:
        out += "Deleted Containers:\n" + "".join(c + "\n" for c in containers) + "\n"
    if ns.volumes:
        volumes = e.volumes.prune(filters=filters)
        reclaimed += volumes.reclaimed
        if volumes.deleted:
            out += "Deleted Volumes:\n" + "".join(v + "\n" for v in volumes.deleted) + "\n"
    report = e.images.prune(all_images=ns.all, filters=filters)
    reclaimed += report.reclaimed + e.system.collect_orphans().reclaimed
    images = prune_report(report.deleted, 0)
    out += images[: images.rindex("Total reclaimed space:")]
    if not filters.has("label") and not filters.has("label!"):  # cache records have no labels
        until = filters.get("until")
        cache = e.builds.prune(
            all_entries=ns.all, until=filters.timestamp(until[-1]) if until else None
        )
        reclaimed += cache.reclaimed
        if cache.ids:
            out += "Deleted build cache objects:\n" + "".join(i + "\n" for i in cache.ids)
            out += "\n"
    write(out + f"Total reclaimed space: {human_size(reclaimed, 4)}\n")
    return 0


def cmd_info(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS]", "Display system-wide information")
    p.option("-f", "--format", help="Format output using a custom template")
    ns = p.parse(argv, max_args=0)
    info = engine().system.info()
    if ns.format:
        if ns.format == "json":
            import json

            write(json.dumps(info, separators=(",", ":")) + "\n")
        else:
            write(render_object(info, ns.format))
        return 0
    write(_info_text(info))
    return 0


def _info_text(info: dict[str, Any]) -> str:
    from dockyard.golang.units import bytes_size

    lines = [
        "Client:",
        f" Version:    {info['ServerVersion']}",
        " Context:    default",
        f" Debug Mode: {str(info['Debug']).lower()}",
        "",
        "Server:",
        f" Containers: {info['Containers']}",
        f"  Running: {info['ContainersRunning']}",
        f"  Paused: {info['ContainersPaused']}",
        f"  Stopped: {info['ContainersStopped']}",
        f" Images: {info['Images']}",
        f" Server Version: {info['ServerVersion']}",
        f" Storage Driver: {info['Driver']}",
    ]
    lines += [f"  {k}: {v}" for k, v in info["DriverStatus"]]
    lines += [
        f" Logging Driver: {info['LoggingDriver']}",
        f" Cgroup Driver: {info['CgroupDriver']}",
        f" Cgroup Version: {info['CgroupVersion']}",
        " Plugins:",
        f"  Volume: {' '.join(info['Plugins']['Volume'])}",
        f"  Network: {' '.join(info['Plugins']['Network'])}",
        f"  Log: {' '.join(info['Plugins']['Log'])}",
        f" Swarm: {info['Swarm']['LocalNodeState']}",
        f" Runtimes: {' '.join(sorted(info['Runtimes']))}",
        f" Default Runtime: {info['DefaultRuntime']}",
        " Security Options:",
        "  seccomp",
        "   Profile: default",
        f" Kernel Version: {info['KernelVersion']}",
        f" Operating System: {info['OperatingSystem']}",
        f" OSType: {info['OSType']}",
        f" Architecture: {info['Architecture']}",
        f" CPUs: {info['NCPU']}",
        f" Total Memory: {bytes_size(info['MemTotal'])}",
        f" Name: {info['Name']}",
        f" ID: {info['ID']}",
        f" Docker Root Dir: {info['DockerRootDir']}",
        f" Debug Mode: {str(info['Debug']).lower()}",
        f" Experimental: {str(info['ExperimentalBuild']).lower()}",
        " Insecure Registries:",
    ]
    lines += [f"  {r}" for r in info["InsecureRegistries"]]
    mirrors = info["RegistryConfig"]["Mirrors"]
    if mirrors:
        lines.append(" Registry Mirrors:")
        lines += [f"  {m}" for m in mirrors]
    lines.append(f" Live Restore Enabled: {str(info['LiveRestoreEnabled']).lower()}")
    return "\n".join(lines) + "\n\n"


def cmd_version(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard import __version__

    p = CommandParser(name, "[OPTIONS]", "Show the dockyard version information")
    p.option("-f", "--format", help="Format output using a custom template")
    ns = p.parse(argv, max_args=0)
    server = engine().system.version()
    arch = server["Arch"]
    client = {
        "Platform": {"Name": "dockyard"},
        "Version": __version__,
        "ApiVersion": server["ApiVersion"],
        "DefaultAPIVersion": server["ApiVersion"],
        "GitCommit": "",
        "GoVersion": "python" + platform.python_version(),
        "Os": "linux",
        "Arch": arch,
        "BuildTime": "",
        "Context": "default",
    }
    data = {"Client": client, "Server": server}
    if ns.format:
        if ns.format == "json":
            import json

            write(json.dumps(data, separators=(",", ":")) + "\n")
        else:
            write(render_object(data, ns.format))
        return 0
    experimental = str(server["Experimental"]).lower()
    write(
        "Client:\n"
        f" Version:           {client['Version']}\n"
        f" API version:       {client['ApiVersion']}\n"
        f" Go version:        {client['GoVersion']}\n"
        " Git commit:        \n"
        " Built:             \n"
        f" OS/Arch:           linux/{arch}\n"
        " Context:           default\n"
        "\n"
        "Server: dockyard\n"
        " Engine:\n"
        f"  Version:          {server['Version']}\n"
        f"  API version:      {server['ApiVersion']} (minimum version {server['MinAPIVersion']})\n"
        f"  Go version:       {server['GoVersion']}\n"
        "  Git commit:       \n"
        "  Built:            \n"
        f"  OS/Arch:          linux/{arch}\n"
        f"  Experimental:     {experimental}\n"
    )
    sys.stdout.flush()
    return 0
