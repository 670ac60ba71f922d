"""``dockyard compose``: the global compose flags and the sub-command dispatcher.

Each sub-command is a function ``(ComposeCommand, argv) -> int`` in ``SUBCOMMANDS``;
the project is loaded lazily through :meth:`ComposeCommand.project` so sub-commands
that need no project (``version``) stay cheap. ``config`` lives here; the engine-backed
sub-commands (up, down, ps, ...) are added to ``SUBCOMMANDS`` by later work.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dockyard.cli.errors import ClientError
from dockyard.cli.output import write
from dockyard.cli.parser import CommandParser
from dockyard.errors import DockyardError, UsageError

if TYPE_CHECKING:
    from dockyard.compose.loader import Project
    from dockyard.engine import Engine

EngineFactory = Callable[[], "Engine"]


class ComposeCommand:
    """The parsed global flags and, on demand, the loaded project."""

    def __init__(self, engine: EngineFactory, flags: Any) -> None:
        self.engine = engine
        self.flags = flags
        self._project: Project | None = None

    def project(
        self,
        *,
        interpolate: bool = True,
        normalize: bool = True,
        resolve_paths: bool = True,
        consistency: bool = True,
    ) -> Project:
        from dockyard.compose.loader import ProjectOptions, load_project

        options = ProjectOptions(
            config_files=list(self.flags.file),
            project_name=self.flags.project_name or None,
            project_directory=self.flags.project_directory or None,
            env_files=list(self.flags.env_file),
            profiles=[p for value in self.flags.profile for p in value.split(",") if p],
            environ=dict(os.environ),
            interpolate=interpolate,
            normalize=normalize,
            resolve_paths=resolve_paths,
            consistency=consistency,
        )
        project = load_project(options)
        for warning in project.warnings:
            sys.stderr.write(f"WARN[0000] {warning}\n")
        return project


def _global_parser() -> CommandParser:
    p = CommandParser(
        "compose", "[OPTIONS] COMMAND", "Define and run multi-container applications with Docker"
    )
    p.multi("-f", "--file", metavar="stringArray", help="Compose configuration files")
    p.option("-p", "--project-name", help="Project name")
    p.multi("--profile", metavar="stringArray", help="Specify a profile to enable")
    p.multi("--env-file", metavar="stringArray", help="Specify an alternate environment file")
    p.option("--project-directory", help="Specify an alternate working directory")
    p.option(
        "--ansi",
        default="auto",
        help='Control when to print ANSI control characters ("never"|"always"|"auto")',
    )
    p.option("--progress", help="Set type of progress output (auto, tty, plain, json, quiet)")
    p.option(
        "--parallel", default="-1", metavar="int", help="Control max parallelism, -1 for unlimited"
    )
    p.flag("--compatibility", help="Run compose in backward compatibility mode")
    p.flag("--dry-run", help="Execute command in dry run mode")
    p.flag("--all-resources", help="Include all resources, even those not used by services")
    return p


def cmd_compose(engine: EngineFactory, argv: list[str], name: str) -> int:
    parser = _global_parser()
    flags = parser.parse(argv, interspersed=False)
    if flags.ansi not in ("never", "always", "auto"):
        raise UsageError(f"invalid --ansi value {flags.ansi!r}").with_code(1)
    if not flags.args:
        parser.print_help()
        return 0
    sub, rest = flags.args[0], flags.args[1:]
    handler = SUBCOMMANDS.get(sub)
    if handler is None:
        raise ClientError(f'unknown docker command: "compose {sub}"')
    from dockyard.compose.errors import ComposeError

    try:
        return handler(ComposeCommand(engine, flags), rest)
    except ComposeError as exc:
        for warning in exc.warnings:
            sys.stderr.write(f"WARN[0000] {warning}\n")
        # Compose prints loader errors as they are, without a daemon prefix
        raise ClientError(exc.message).with_code(exc.exit_code) from None
    except DockyardError:
        raise


# ------------------------------------------------------------------- config


def compose_config(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser(
        "compose config",
        "[OPTIONS] [SERVICE...]",
        "Parse, resolve and render compose file in canonical format",
    )
    p.option("--format", default="yaml", help="Format the output. Values: [yaml | json]")
    p.flag("-q", "--quiet", help="Only validate the configuration, don't print anything")
    p.flag("--services", help="Print the service names, one per line.")
    p.flag("--volumes", help="Print the volume names, one per line.")
    p.flag("--networks", help="Print the network names, one per line.")
    p.flag("--profiles", help="Print the profile names, one per line.")
    p.flag("--images", help="Print the image names, one per line.")
    p.option("--hash", help="Print the service config hash, one per line.")
    p.flag("--no-interpolate", help="Don't interpolate environment variables")
    p.flag("--no-normalize", help="Don't normalize compose model")
    p.flag("--no-path-resolution", help="Don't resolve file paths")
    p.flag("--no-consistency", help="Don't check model consistency")
    p.flag("--resolve-image-digests", help="Pin image tags to digests")
    p.flag("--environment", help="Print environment used for interpolation.")
    p.option("-o", "--output", help="Save to file (default to stdout)")
    ns = p.parse(argv)
    if ns.format not in ("yaml", "json"):
        raise ClientError(f"unsupported format {ns.format!r}")
    project = cmd.project(
        interpolate=not ns.no_interpolate,
        normalize=not ns.no_normalize,
        resolve_paths=not ns.no_path_resolution,
        consistency=not ns.no_consistency,
    )
    services = project.services
    if ns.args:
        missing = [s for s in ns.args if s not in services]
        if missing:
            raise ClientError(f"no such service: {missing[0]}")
    if ns.quiet:
        return 0
    if ns.services:
        write("".join(f"{s}\n" for s in sorted(services)))
        return 0
    if ns.volumes:
        write("".join(f"{v}\n" for v in sorted(project.model.get("volumes") or {})))
        return 0
    if ns.networks:
        write("".join(f"{n}\n" for n in sorted(project.model.get("networks") or {})))
        return 0
    if ns.profiles:
        write("".join(f"{p}\n" for p in project.all_profiles()))
        return 0
    if ns.images:
        write("".join(f"{image_name(project.name, s, services[s])}\n" for s in sorted(services)))
        return 0
    if ns.environment:
        write("".join(f"{k}={v}\n" for k, v in sorted(project.environment.items())))
        return 0
    if ns.hash is not None:
        from dockyard.compose.planner import config_hash

        wanted = sorted(services) if ns.hash == "*" else ns.hash.split(",")
        lines = []
        for service in wanted:
            if service not in services:
                raise ClientError(f"no such service: {service}")
            lines.append(f"{service} {config_hash(services[service])}\n")
        write("".join(lines))
        return 0
    model = project.model
    if ns.args:
        from dockyard.compose.planner import with_dependencies

        keep = with_dependencies(services, ns.args)
        model = {**model, "services": {s: services[s] for s in services if s in keep}}
    from dockyard.compose.output import to_json, to_yaml

    text = to_json(model) + "\n" if ns.format == "json" else to_yaml(model)
    if ns.output:
        with open(ns.output, "w", encoding="utf-8") as handle:
            handle.write(text)
        return 0
    write(text)
    return 0


def image_name(project: str, service: str, spec: dict[str, Any]) -> str:
    """The image a service runs: its ``image``, else ``<project>-<service>``."""
    image = spec.get("image")
    return str(image) if image else f"{project}-{service}"


def compose_version(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser("compose version", "[OPTIONS]", "Show the Docker Compose version information")
    p.option("-f", "--format", help="Format the output. Values: [pretty | json]")
    p.flag("--short", help="Shows only Compose's version number")
    ns = p.parse(argv, max_args=0)
    from dockyard import __version__ as version

    if ns.short:
        write(f"{version}\n")
    elif ns.format == "json":
        write(f'{{"version":"{version}"}}\n')
    else:
        write(f"dockyard compose version {version}\n")
    return 0


SUBCOMMANDS: dict[str, Callable[[ComposeCommand, list[str]], int]] = {
    "config": compose_config,
    "convert": compose_config,
    "version": compose_version,
}
