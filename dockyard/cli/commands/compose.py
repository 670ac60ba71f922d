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
from dockyard.cli.parser import PROG, CommandParser
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


# Compose v2's one-line descriptions (cobra's ``Short``), for ``compose --help``
COMMAND_HELP = {
    "attach": "Attach local standard input, output, and error streams to a service's running "
    "container",
    "build": "Build or rebuild services",
    "config": "Parse, resolve and render compose file in canonical format",
    "cp": "Copy files/folders between a service container and the local filesystem",
    "create": "Creates containers for a service",
    "down": "Stop and remove containers, networks",
    "events": "Receive real time events from containers",
    "exec": "Execute a command in a running container",
    "images": "List images used by the created containers",
    "kill": "Force stop service containers",
    "logs": "View output from containers",
    "ls": "List running compose projects",
    "pause": "Pause services",
    "port": "Print the public port for a port binding",
    "ps": "List containers",
    "pull": "Pull service images",
    "push": "Push service images",
    "restart": "Restart service containers",
    "rm": "Removes stopped service containers",
    "run": "Run a one-off command on a service",
    "scale": "Scale services ",
    "start": "Start services",
    "stop": "Stop services",
    "top": "Display the running processes",
    "unpause": "Unpause services",
    "up": "Create and start containers",
    "version": "Show the Docker Compose version information",
    "wait": "Block until containers of all (or specified) services stop.",
    "watch": "Watch build context for service and rebuild/refresh containers when files are "
    "updated",
}


class _ComposeParser(CommandParser):
    """The global parser; its help is the Docker CLI's cobra template for a command
    with sub-commands: options sorted and wrapped as pflag does, then the commands."""

    def print_help(self) -> None:
        try:
            width = os.get_terminal_size(0).columns  # the Docker CLI measures stdin
        except OSError:
            width = 80
        commands = sorted(name for name in SUBCOMMANDS if name in COMMAND_HELP)
        pad = max([11, *(len(name) for name in SUBCOMMANDS)])
        text = (
            f"\n{self.usage_text()}\n\n{self.description}\n\nOptions:\n"
            + flag_usages(self, width - 1)
            + "\nCommands:\n"
            + "".join(f"  {name.ljust(pad)} {COMMAND_HELP[name]}\n" for name in commands)
            + f"\nRun '{PROG} {self.command} COMMAND --help' for more information on a command.\n"
        )
        sys.stdout.write(text)


def flag_usages(parser: CommandParser, cols: int) -> str:
    """pflag's ``FlagUsagesWrapped``: flags sorted by name, types as metavars, non-zero
    defaults appended, usage wrapped at ``cols``."""
    lines = []
    for flag in sorted((f for f in parser._flags if not f.hidden), key=lambda f: f.long):
        line = f"  -{flag.short}, --{flag.long}" if flag.short else f"      --{flag.long}"
        if flag.kind != "bool":
            line += f" {flag.metavar}"
        usage = flag.help
        if flag.kind == "value" and flag.default not in (None, ""):
            usage += (
                f' (default "{flag.default}")'
                if flag.metavar == "string"
                else (f" (default {flag.default})")
            )
        lines.append((line, usage))
    maxlen = max(len(line) for line, _ in lines) + 1
    return "".join(
        f"{line} {' ' * (maxlen - len(line))} {_wrap(maxlen + 2, cols, usage)}\n"
        for line, usage in lines
    )


def _wrap(indent: int, cols: int, text: str) -> str:
    """pflag's ``wrap``: fill to ``cols`` with a slop of 5, continuation lines
    indented by ``indent`` (16 and on a new line when the column is too narrow)."""
    room = cols - indent
    out = ""
    if room < 24:
        indent = 16
        room = cols - indent
        out = "\n" + " " * indent
    if room < 24:
        return text.replace("\n", out)
    slop = 5
    room -= slop
    first, text = _wrap_n(room, slop, text)
    out += first.replace("\n", "\n" + " " * indent)
    while text:
        part, text = _wrap_n(room, slop, text)
        out += "\n" + " " * indent + part.replace("\n", "\n" + " " * indent)
    return out


def _wrap_n(width: int, slop: int, text: str) -> tuple[str, str]:
    if width + slop > len(text):
        return text, ""
    cut = max(text.rfind(c, 0, width) for c in " \t\n")
    if cut <= 0:
        return text, ""
    newline = text.rfind("\n", 0, width)
    if 0 < newline < cut:
        return text[:newline], text[newline + 1 :]
    return text[:cut], text[cut + 1 :]


def _global_parser() -> CommandParser:
    p = _ComposeParser(
        "compose", "[OPTIONS] COMMAND", "Define and run multi-container applications with Docker"
    )
    p.multi("-f", "--file", metavar="stringArray", help="Compose configuration files")
    p.option("-p", "--project-name", help="Project name")
    p.multi("--profile", metavar="stringArray", help="Specify a profile to enable")
    p.multi("--env-file", metavar="stringArray", help="Specify an alternate environment file")
    p.option(
        "--project-directory",
        help="Specify an alternate working directory\n"
        "(default: the path of the, first specified, Compose file)",
    )
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


# ------------------------------------------------------------------- engine side


def _bound(cmd: ComposeCommand, *, progress: bool = True) -> Any:
    """The project loaded and bound to the engine (dockyard.compose.engine.project)."""
    from dockyard.compose.engine.progress import Progress
    from dockyard.compose.engine.project import ComposeProject

    mode = cmd.flags.progress or "auto"
    if mode not in ("auto", "tty", "plain", "json", "quiet"):
        raise ClientError(f"unsupported --progress value {mode!r}")
    if mode == "json":
        mode = "plain"
    if mode == "auto" and cmd.flags.ansi == "never":
        mode = "plain"
    bound = ComposeProject(
        cmd.engine(), _project_or_name(cmd), Progress(mode if progress else "quiet")
    )
    bound.ansi = cmd.flags.ansi
    return bound


def _project_or_name(cmd: ComposeCommand) -> Project:
    """The loaded project; without a compose file but with ``-p`` (or
    COMPOSE_PROJECT_NAME), an empty one of that name, so that ``down``, ``ps``, ``logs``,
    ``stop``... work on what exists, as Compose allows."""
    from dockyard.compose.errors import ComposeError
    from dockyard.compose.loader import Project, check_project_name

    try:
        return cmd.project()
    except ComposeError as exc:
        name = cmd.flags.project_name or os.environ.get("COMPOSE_PROJECT_NAME")
        if exc.exit_code != 14 or not name or cmd.flags.file:
            raise
    return Project(
        name=check_project_name(name),
        working_dir=os.getcwd(),
        config_files=[],
        environment=dict(os.environ),
        model={"name": name, "services": {}},
        disabled_services={},
        profiles=[],
        warnings=[],
    )


def _timeout(p: CommandParser, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        p.fail(
            f'invalid argument "{value}" for "-t, --timeout" flag: strconv.ParseInt: parsing'
            f' "{value}": invalid syntax'
        )


def _failure(exc: DockyardError) -> ClientError:
    error = ClientError(exc.message)
    error.exit_code = exc.exit_code if exc.exit_code != 125 else 1
    return error


def _run_engine(action: Callable[[], int]) -> int:
    """Compose prints engine errors without dockyard's daemon prefix."""
    from dockyard.compose.errors import ComposeError

    try:
        return action()
    except ComposeError:
        raise
    except DockyardError as exc:
        raise _failure(exc) from None


def _scale(p: CommandParser, values: list[str]) -> dict[str, int]:
    result = {}
    for value in values:
        service, sep, number = value.partition("=")
        if not sep or not number.isdigit():
            p.fail(f"invalid scale value {value!r}: expected SERVICE=NUM")
        result[service] = int(number)
    return result


def compose_up(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser("compose up", "[OPTIONS] [SERVICE...]", "Create and start containers")
    p.flag("-d", "--detach", help="Detached mode: Run containers in the background")
    p.flag("--build", help="Build images before starting containers")
    p.flag("--no-build", help="Don't build an image, even if it's policy")
    p.option(
        "--pull", default="policy", help='Pull image before running ("always"|"missing"|"never")'
    )
    p.flag(
        "--force-recreate", help="Recreate containers even if their configuration hasn't changed"
    )
    p.flag("--no-recreate", help="If containers already exist, don't recreate them")
    p.flag("--no-deps", help="Don't start linked services")
    p.flag(
        "--remove-orphans", help="Remove containers for services not defined in the Compose file"
    )
    p.multi("--scale", metavar="scale", help="Scale SERVICE to NUM instances")
    p.flag("--wait", help="Wait for services to be running|healthy. Implies detached mode.")
    p.option(
        "--wait-timeout",
        metavar="int",
        help="Maximum duration to wait for the project to be running|healthy",
    )
    p.flag("--no-start", help="Don't start the services after creating them")
    p.flag("--abort-on-container-exit", help="Stops all containers if any container was stopped")
    p.flag(
        "--abort-on-container-failure",
        help="Stops all containers if any container exited with failure",
    )
    p.option("--exit-code-from", help="Return the exit code of the selected service container")
    p.multi(
        "--attach",
        metavar="stringArray",
        help="Restrict attaching to the specified services. Incompatible with"
        " --attach-dependencies.",
    )
    p.multi(
        "--no-attach",
        metavar="stringArray",
        help="Do not attach (stream logs) to the specified services",
    )
    p.flag("--attach-dependencies", help="Automatically attach to log output of dependent services")
    p.flag("--no-color", help="Produce monochrome output")
    p.flag("--no-log-prefix", help="Don't print prefix in logs")
    p.flag("--timestamps", help="Show timestamps")
    p.flag("-y", "--yes", help="Assume yes")
    p.option(
        "-t",
        "--timeout",
        metavar="int",
        help="Use this timeout in seconds for container"
        " shutdown when attached or when containers are already running",
    )
    p.flag(
        "-w",
        "--watch",
        help="Watch source code and rebuild/refresh containers when files are updated.",
    )
    ns = p.parse(argv)
    if ns.exit_code_from:
        ns.abort_on_container_exit = True
    if ns.attach and ns.attach_dependencies:
        raise ClientError("cannot combine --attach and --attach-dependencies")
    if ns.abort_on_container_exit and ns.abort_on_container_failure:
        raise ClientError(
            "--abort-on-container-failure cannot be combined with --abort-on-container-exit"
        )
    if ns.wait and (ns.attach_dependencies or ns.abort_on_container_exit or ns.attach):
        raise ClientError(
            "--wait cannot be combined with --abort-on-container-exit, --attach or"
            " --attach-dependencies"
        )
    if ns.detach and (
        ns.attach_dependencies
        or ns.abort_on_container_exit
        or ns.abort_on_container_failure
        or ns.attach
        or ns.watch
    ):
        raise ClientError(
            "--detach cannot be combined with --abort-on-container-exit,"
            " --abort-on-container-failure, --attach, --attach-dependencies or --watch"
        )
    if ns.force_recreate and ns.no_recreate:
        raise ClientError("--force-recreate and --no-recreate are incompatible")
    if ns.build and ns.no_build:
        raise ClientError("--build and --no-build are incompatible")
    from dockyard.compose.engine.project import UpOptions

    options = UpOptions(
        services=list(ns.args),
        no_deps=ns.no_deps,
        build=ns.build,
        no_build=ns.no_build,
        pull=ns.pull,
        force_recreate=ns.force_recreate,
        no_recreate=ns.no_recreate,
        remove_orphans=ns.remove_orphans,
        scale=_scale(p, ns.scale),
        start=not ns.no_start,
        timeout=_timeout(p, ns.timeout),
        wait=ns.wait,
        wait_timeout=float(ns.wait_timeout or 0),
    )

    def act() -> int:
        cp = _bound(cmd)
        if ns.watch and not any(
            isinstance(cp.model.services[n].raw.get("develop"), dict)
            for n in cp.select(options.services)
        ):
            raise ClientError(
                "none of the selected services is configured for watch, see"
                " https://docs.docker.com/compose/how-tos/file-watch/"
            )
        containers = _create_all(cp, options)
        if not options.start:
            return 0
        if ns.detach or ns.wait:
            cp.start_containers(containers)
            if ns.wait:
                cp.wait_running_or_healthy(
                    [cp.engine.containers.get(c.id) for c in containers], options.wait_timeout
                )
            return 0
        return _attached_up(cp, containers, ns, options)

    return _run_engine(act)


def _create_all(cp: Any, options: Any) -> list[Any]:
    names = cp.select(options.services, with_deps=not options.no_deps)
    for name, count in options.scale.items():
        cp.service(name)
        if count < 0:
            raise ClientError(f"invalid scale for {name}: {count}")
    orphans = cp.orphans()
    if orphans and options.remove_orphans:
        for container in orphans:
            cp.stop_and_remove(container, options.timeout)
    elif orphans:
        found = ", ".join(c.name for c in orphans)
        cp.progress.text(
            f"WARN[0000] Found orphan containers ([{found}]) for this project. If you removed"
            " or renamed this service in your compose file, you can run this command with the"
            " --remove-orphans flag to clean it up."
        )
    images = cp.ensure_images(
        names, build=options.build, no_build=options.no_build, pull=options.pull
    )
    cp.ensure_networks(names)
    cp.ensure_volumes()
    return list(cp.converge(names, images, options))


def _attach_set(cp: Any, ns: Any, options: Any) -> set[str]:
    """The services whose logs an attached ``up`` streams, as Compose chooses them:
    ``--attach`` as given; else the services named (with ``--attach-dependencies``
    their dependencies too; none named: all) unless ``attach: false``; minus
    ``--no-attach``."""
    if ns.attach:
        unknown = sorted(set(ns.attach) - set(cp.model.services))
        if unknown:
            raise ClientError("cannot attach to services not included in up: " + ", ".join(unknown))
        chosen = set(ns.attach)
    else:
        names = options.services
        if names and ns.attach_dependencies:
            names = cp.select(names)
        chosen = {
            name
            for name in (names or cp.model.services)
            if cp.model.services[name].raw.get("attach", True) is not False
        }
    return chosen - set(ns.no_attach)


def _attached_up(cp: Any, containers: list[Any], ns: Any, options: Any) -> int:
    import queue
    import signal
    import time

    from dockyard.compose.engine.logs import Exit, LogPrinter, follow_container
    from dockyard.compose.engine.state import service_of, short_name
    from dockyard.engine.logs import LogSelection

    attach_services = _attach_set(cp, ns, options)
    attached = [c for c in containers if service_of(c) in attach_services]
    names = [short_name(c, cp.name) for c in attached]
    printer = LogPrinter(
        [*names, "#watch"] if ns.watch else names,
        color=not ns.no_color
        and (cp.ansi == "always" or (cp.ansi == "auto" and sys.stdout.isatty())),
        prefix=not ns.no_log_prefix,
        timestamps=ns.timestamps,
    )
    exits: queue.Queue[Exit] = queue.Queue()
    following: set[str] = set()
    ids = {c.id for c in attached}

    def follow(container: Any, since_ns: int = 0) -> None:
        if container.id not in ids or container.id in following:
            return
        following.add(container.id)
        follow_container(
            cp.engine.options,
            container.id,
            short_name(container, cp.name),
            printer,
            LogSelection(since_ns=since_ns),
            follow=True,
            exits=exits,
        )

    interrupted: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        interrupted.append(signum)
        if len(interrupted) > 1:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_signal)
    previous_term = signal.signal(signal.SIGTERM, on_signal)
    printer.text("Attaching to " + ", ".join(names))
    try:
        now_ns = time.time_ns()
        for container in attached:
            if container.status in ("running", "paused", "restarting"):
                follow(container, now_ns)
        cp.start_containers(containers, on_started=lambda c: follow(c, now_ns))
        for container in attached:
            follow(container, now_ns)
        live = None
        if ns.watch:
            live = _live_watch(cp, options, printer, attach_services, ids, follow)
        return _watch(cp, attached, exits, printer, interrupted, ns, options, live)
    except KeyboardInterrupt:
        printer.text("Gracefully stopping... (press Ctrl+C again to force)")
        interrupted.append(signal.SIGINT)
        for container in cp.containers(sorted(attach_services)):
            if container.status in ("running", "paused", "restarting"):
                with _suppress():
                    cp.engine.lifecycle.kill(container)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)


def _live_watch(
    cp: Any,
    options: Any,
    printer: Any,
    attach_services: set[str],
    ids: set[str],
    follow: Callable[[Any, int], None],
) -> Callable[[], list[Any]]:
    """``up --watch``: the watch rules run inside the attached loop (one poll per
    turn); containers a rebuild recreated are followed like the first ones. Watch
    messages carry Compose's ``⦿`` prefix."""
    import time

    from dockyard.compose.engine import watch
    from dockyard.compose.engine.filewatch import PollingWatcher
    from dockyard.compose.engine.state import service_of

    indent = " " * printer.width + " ⦿ " if printer.prefix else ""

    def log(line: str) -> None:
        printer.text(indent + line)

    rule_list, paths = watch.rules(
        cp, cp.select(options.services), lambda line: log(line.rstrip("\n"))
    )
    watcher = watch.Watcher(cp, rule_list, log)
    watcher.initial_sync()
    poller = PollingWatcher(paths, skip=lambda d: watch.ignored_directory(rule_list, d))
    log("Watch enabled")

    def turn() -> list[Any]:
        changed = poller.tick()
        if not changed:
            return []
        try:
            watcher.handle(changed)
        except DockyardError as exc:
            log(f"Error handling changed files: {exc.message}")
        fresh = [
            c
            for c in cp.containers(sorted(attach_services))
            if c.id not in ids and service_of(c) in attach_services
        ]
        now_ns = time.time_ns()
        for container in fresh:
            ids.add(container.id)
            follow(container, now_ns)
        return fresh

    return turn


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        return isinstance(exc, DockyardError)


def _watch(
    cp: Any,
    attached: list[Any],
    exits: Any,
    printer: Any,
    interrupted: list[int],
    ns: Any,
    options: Any,
    live: Callable[[], list[Any]] | None = None,
) -> int:
    import queue

    from dockyard.compose.engine.state import service_of

    remaining = {c.id for c in attached}
    by_id = {c.id: c for c in attached}
    result = 0
    aborting = False
    exit_from = ns.exit_code_from
    while remaining:
        if interrupted and not aborting:
            aborting = True
            printer.text("Gracefully stopping... (press Ctrl+C again to force)")
            cp.stop(cp.containers(), options.timeout)
            result = 130
        if live is not None and not aborting:
            for container in live():
                remaining.add(container.id)
                by_id[container.id] = container
        try:
            event = exits.get(timeout=0.1)
        except queue.Empty:
            continue
        remaining.discard(event.container_id)
        service = service_of(by_id[event.container_id])
        if not aborting:
            printer.text(f"{event.name} exited with code {event.code}")
        failed = ns.abort_on_container_failure and event.code != 0
        if ns.abort_on_container_exit or failed:
            if not aborting:
                aborting = True
                printer.text("Aborting on container exit...")
                cp.stop(cp.containers(), options.timeout)
            if exit_from is None:
                exit_from = service
            if exit_from == service:
                result = event.code
    return result


def compose_events(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser(
        "compose events", "[OPTIONS] [SERVICE...]", "Receive real time events from containers"
    )
    p.flag("--json", help="Output events as a stream of json objects")
    ns = p.parse(argv)

    def act() -> int:
        import json
        import time

        cp = _bound(cmd, progress=False)
        for name in ns.args:
            cp.service(name)
        db = cp.engine.db
        row = db.query_one("SELECT MAX(seq) AS seq FROM events")
        last = int(row["seq"] or 0) if row is not None else 0
        services: dict[str, str] = {}

        def service_for(container_id: str) -> str | None:
            if container_id not in services:
                for c in cp.containers(oneoff=None):
                    services[c.id] = _service_of(c)
            return services.get(container_id)

        try:
            while True:
                rows = db.query(
                    "SELECT seq, time_nano, action, actor_id, attributes FROM events"
                    " WHERE seq > ? AND type = 'container' ORDER BY seq",
                    (last,),
                )
                for r in rows:
                    last = r["seq"]
                    service = service_for(r["actor_id"])
                    if service is None or (ns.args and service not in ns.args):
                        continue
                    attributes = json.loads(r["attributes"] or "{}")
                    stamp = r["time_nano"] / 1e9
                    if ns.json:
                        from dockyard.timeutil import rfc3339_nano

                        item = {
                            "time": rfc3339_nano(stamp),
                            "type": "container",
                            "service": service,
                            "id": r["actor_id"],
                            "action": r["action"],
                            "attributes": attributes,
                        }
                        write(json.dumps(item, separators=(",", ":")) + "\n")
                    else:
                        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))
                        micro = int(r["time_nano"] // 1000 % 1_000_000)
                        attrs = ", ".join(f"{k}={v}" for k, v in sorted(attributes.items()))
                        write(
                            f"{when}.{micro:06d} container {r['action']} {r['actor_id']}"
                            f" ({attrs})\n"
                        )
                time.sleep(0.1)
        except KeyboardInterrupt:
            return 130

    return _run_engine(act)


def compose_scale(cmd: ComposeCommand, argv: list[str]) -> int:
    """Compose's Scale: the replica counts applied to the model, then create (diverged
    containers recreated) and start, for those services (and, without ``--no-deps``,
    their dependencies)."""
    p = CommandParser("compose scale", "[SERVICE=REPLICAS...]", "Scale services ")
    p.flag("--no-deps", help="Don't start linked services")
    ns = p.parse(argv, min_args=1)
    from dockyard.compose.engine.project import UpOptions

    scale: dict[str, int] = {}
    for value in ns.args:
        key, sep, number = value.partition("=")
        if not sep or not key or not number:
            raise ClientError(f"invalid scale specifier: {value}")
        try:
            scale[key] = int(number)
        except ValueError:
            raise ClientError(
                f"invalid scale specifier: can't parse replica value as int: {value}"
            ) from None
    options = UpOptions(services=sorted(scale), no_deps=ns.no_deps, scale=scale)

    def act() -> int:
        cp = _bound(cmd)
        cp.start_containers(_create_all(cp, options))
        return 0

    return _run_engine(act)


def compose_create(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser(
        "compose create", "[OPTIONS] [SERVICE...]", "Creates containers for a service"
    )
    p.flag("--build", help="Build images before starting containers")
    p.flag("--no-build", help="Don't build an image, even if it's policy")
    p.option("--pull", default="policy", help="Pull image before running")
    p.flag(
        "--force-recreate", help="Recreate containers even if their configuration hasn't changed"
    )
    p.flag("--no-recreate", help="If containers already exist, don't recreate them")
    p.flag(
        "--remove-orphans", help="Remove containers for services not defined in the Compose file"
    )
    p.multi("--scale", metavar="scale", help="Scale SERVICE to NUM instances")
    p.flag("-y", "--yes", help="Assume yes")
    ns = p.parse(argv)
    from dockyard.compose.engine.project import UpOptions

    options = UpOptions(
        services=list(ns.args),
        build=ns.build,
        no_build=ns.no_build,
        pull=ns.pull,
        force_recreate=ns.force_recreate,
        no_recreate=ns.no_recreate,
        remove_orphans=ns.remove_orphans,
        scale=_scale(p, ns.scale),
        start=False,
    )
    return _run_engine(lambda: (_create_all(_bound(cmd), options), 0)[1])


def compose_down(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser(
        "compose down", "[OPTIONS] [SERVICES]", "Stop and remove containers, networks"
    )
    p.flag(
        "-v",
        "--volumes",
        help='Remove named volumes declared in the "volumes" section'
        " of the Compose file and anonymous volumes attached to containers",
    )
    p.option(
        "--rmi",
        help='Remove images used by services. "local" remove only images that'
        ' don\'t have a custom tag ("local"|"all")',
    )
    p.flag(
        "--remove-orphans", help="Remove containers for services not defined in the Compose file"
    )
    p.option("-t", "--timeout", metavar="int", help="Specify a shutdown timeout in seconds")
    ns = p.parse(argv)
    if ns.rmi not in (None, "local", "all"):
        raise ClientError(f"invalid value for --rmi: {ns.rmi}")
    timeout = _timeout(p, ns.timeout)

    def act() -> int:
        cp = _bound(cmd)
        services = ns.args or None
        if services:
            for name in services:
                cp.service(name)
        known = set(cp.model.services)
        fileless = not cp.project.config_files
        containers = [
            c
            for c in cp.containers(services, oneoff=None)
            if ns.remove_orphans or services or fileless or _service_of(c) in known
        ]
        if not services and not ns.remove_orphans and not fileless:
            left = [c for c in cp.orphans()]
            if left:
                cp.progress.text(
                    "WARN[0000] Found orphan containers (["
                    + ", ".join(c.name for c in left)
                    + "]) for this project. If you removed or renamed this service in your"
                    " compose file, you can run this command with the --remove-orphans flag to"
                    " clean it up."
                )
        cp.stop(containers, timeout)
        for container in containers:
            cp.stop_and_remove(
                cp.engine.containers.try_get(container.id) or container,
                timeout,
                volumes=ns.volumes,
            )
        if services:
            return 0
        cp.remove_networks()
        if ns.volumes:
            cp.remove_volumes()
        if ns.rmi:
            _remove_images(cp, ns.rmi, containers)
        return 0

    return _run_engine(act)


def _service_of(container: Any) -> str:
    from dockyard.compose.engine.state import service_of

    return service_of(container)


def _remove_images(cp: Any, mode: str, removed: list[Any]) -> None:
    """``down --rmi``: the images the services use (``local``: only those compose named
    ``<project>-<service>`` itself), from the file and from the removed containers."""
    from dockyard.compose.engine.project import service_image

    wanted: list[str] = []
    for service in cp.model.services.values():
        if mode == "all" or not service.image:
            wanted.append(service_image(cp.name, service))
    for container in removed:
        image = str(container.config.get("Image") or "")
        if mode == "all" or image == f"{cp.name}-{_service_of(container)}":
            wanted.append(image)
    for ref in dict.fromkeys(wanted):
        if not ref or cp.engine.images.try_resolve(ref) is None:
            continue
        cp.progress.event("Image", ref, "Removing")
        try:
            cp.engine.images.remove(ref)
        except DockyardError as exc:
            cp.progress.text(f"WARN[0000] {exc.message}")
            continue
        cp.progress.event("Image", ref, "Removed")


def _ps_rows(cp: Any, containers: list[Any]) -> list[dict[str, Any]]:
    from dockyard.cli.commands.container import container_rows
    from dockyard.compose.engine.state import labels_of

    rows = container_rows(cp.engine, containers, trunc=True, size=False)
    result = []
    for c, row in zip(containers, rows, strict=True):
        labels = labels_of(c)
        ports = (c.spec.get("NetworkSettings") or {}).get("Ports") or {}
        publishers = []
        for key, bindings in sorted(ports.items()):
            number, _, proto = key.partition("/")
            for b in bindings or [{}]:
                publishers.append(
                    {
                        "URL": b.get("HostIp", ""),
                        "TargetPort": int(number),
                        "PublishedPort": int(b.get("HostPort") or 0),
                        "Protocol": proto,
                    }
                )
        health = (c.state.get("Health") or {}).get("Status", "")
        item = dict(row)
        item.update(
            Name=c.name,
            Names=c.name,
            Service=labels.get("com.docker.compose.service", ""),
            Project=labels.get("com.docker.compose.project", ""),
            ExitCode=int(c.state.get("ExitCode") or 0),
            Health=health,
            Publishers=publishers,
            Command=row["Command"],
        )
        result.append(item)
    return result


def compose_ps(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser("compose ps", "[OPTIONS] [SERVICE...]", "List containers")
    p.flag(
        "-a",
        "--all",
        help="Show all stopped containers (including those created by the run command)",
    )
    p.flag("-q", "--quiet", help="Only display IDs")
    p.option("--format", default="table", help="Format output using a custom template")
    p.flag("--services", help="Display services")
    p.multi(
        "--status",
        metavar="stringArray",
        help="Filter services by status. Values:"
        " [paused | restarting | removing | running | dead | created | exited]",
    )
    p.option("--filter", help="Filter services by a property (supported filters: status)")
    p.flag("--no-trunc", help="Don't truncate output")
    p.flag("--orphans", default=True, help="Include orphaned services (not declared by project)")
    ns = p.parse(argv)

    def act() -> int:
        import json

        from dockyard.cli.output import Row, render_rows

        cp = _bound(cmd, progress=False)
        for name in ns.args:
            cp.service(name)
        statuses = list(ns.status)
        if ns.filter:
            key, sep, value = ns.filter.partition("=")
            if key != "status" or not sep:
                raise ClientError(f"unknown filter {key}")
            statuses.append(value)
        containers = cp.containers(ns.args or None, oneoff=None)
        if statuses:
            containers = [c for c in containers if c.status in statuses]
        elif not ns.all:
            containers = [c for c in containers if c.status in ("running", "paused", "restarting")]
        if not ns.orphans:
            known = set(cp.model.services)
            containers = [c for c in containers if _service_of(c) in known]
        if ns.quiet:
            write("".join((c.id if ns.no_trunc else c.id[:12]) + "\n" for c in containers))
            return 0
        if ns.services:
            names = sorted({_service_of(c) for c in containers})
            write("".join(n + "\n" for n in names))
            return 0
        rows = _ps_rows(cp, containers)
        if ns.format == "json":
            write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))
            return 0
        headers = {
            "Name": "NAME",
            "Image": "IMAGE",
            "Command": "COMMAND",
            "Service": "SERVICE",
            "RunningFor": "CREATED",
            "Status": "STATUS",
            "Ports": "PORTS",
            "ID": "CONTAINER ID",
            "State": "STATE",
            "Project": "PROJECT",
            "Health": "HEALTH",
            "ExitCode": "EXIT CODE",
        }
        default = (
            "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}"
            "\t{{.Status}}\t{{.Ports}}"
        )
        write(render_rows([Row(r) for r in rows], ns.format, default, headers))
        return 0

    return _run_engine(act)


def compose_logs(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser("compose logs", "[OPTIONS] [SERVICE...]", "View output from containers")
    p.flag("-f", "--follow", help="Follow log output")
    p.flag("-t", "--timestamps", help="Show timestamps")
    p.option(
        "-n",
        "--tail",
        default="all",
        help="Number of lines to show from the end of the logs for each container",
    )
    p.option("--since", help="Show logs since timestamp or relative")
    p.option("--until", help="Show logs before a timestamp or relative")
    p.flag("--no-color", help="Produce monochrome output")
    p.flag("--no-log-prefix", help="Don't print prefix in logs")
    p.option(
        "--index", metavar="int", help="index of the container if service has multiple replicas"
    )
    ns = p.parse(argv)

    def act() -> int:
        import queue

        from dockyard.compose.engine.logs import Exit, LogPrinter, follow_container, merged_entries
        from dockyard.compose.engine.state import number_of, short_name
        from dockyard.engine.logs import LogSelection, log_path, read_logs
        from dockyard.timeutil import parse_timestamp

        cp = _bound(cmd, progress=False)
        for name in ns.args:
            cp.service(name)
        containers = cp.containers(ns.args or None, oneoff=None)
        if ns.index is not None:
            containers = [c for c in containers if number_of(c) == int(ns.index)]
        try:
            tail = int(ns.tail) if ns.tail != "all" else -1
        except ValueError:
            tail = -1
        selection = LogSelection(
            tail=tail,
            since_ns=int(parse_timestamp(ns.since) * 1e9) if ns.since else 0,
            until_ns=int(parse_timestamp(ns.until) * 1e9) if ns.until else 0,
        )
        names = [short_name(c, cp.name) for c in containers]
        printer = LogPrinter(
            names,
            color=not ns.no_color and sys.stdout.isatty(),
            prefix=not ns.no_log_prefix,
            timestamps=ns.timestamps,
        )
        if not ns.follow:
            sources = []
            for c, name in zip(containers, names, strict=True):
                path = log_path(
                    cp.engine.containers.container_dir(c.id),
                    c.id,
                    c.host_config.get("LogConfig") or {},
                )
                sources.append((name, list(read_logs(path, selection))))
            for name, entry in merged_entries(sources):
                printer.entry(name, entry)
            return 0
        exits: queue.Queue[Exit] = queue.Queue()
        for c, name in zip(containers, names, strict=True):
            follow_container(
                cp.engine.options, c.id, name, printer, selection, follow=True, exits=exits
            )
        remaining = len(containers)
        try:
            while remaining:
                exits.get()
                remaining -= 1
        except KeyboardInterrupt:
            return 130
        return 0

    return _run_engine(act)


def _target(cp: Any, service: str, index: int) -> Any:
    from dockyard.compose.engine.state import number_of

    cp.service(service)
    containers = [
        c for c in cp.containers([service]) if c.status in ("running", "paused", "restarting")
    ]
    for c in containers:
        if number_of(c) == index:
            return c
    if not containers:
        raise ClientError(f'service "{service}" is not running')
    raise ClientError(f'service "{service}" is not running container #{index}')


def compose_exec(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser(
        "compose exec",
        "[OPTIONS] SERVICE COMMAND [ARGS...]",
        "Execute a command in a running container",
    )
    p.flag("-d", "--detach", help="Detached mode: Run command in the background")
    p.multi("-e", "--env", metavar="stringArray", help="Set environment variables")
    p.option(
        "--index",
        default="1",
        metavar="int",
        help="Index of the container if service has multiple replicas",
    )
    p.flag(
        "-T",
        "--no-TTY",
        help="Disable pseudo-TTY allocation. By default `docker compose exec` allocates a TTY.",
    )
    p.flag("--privileged", help="Give extended privileges to the process")
    p.option("-u", "--user", help="Run the command as this user")
    p.option("-w", "--workdir", help="Path to workdir directory for this command")
    p.flag("-i", "--interactive", default=True, help="Keep STDIN open even if not attached")
    p.flag("-t", "--tty", default=True, help="Allocate a pseudo-TTY")
    ns = p.parse(argv, min_args=2, interspersed=False)

    def act() -> int:
        from dockyard.engine.execs import (
            DetachedFromExec,
            ExecRequest,
            ExecStartFailed,
            run_exec,
        )

        cp = _bound(cmd, progress=False)
        container = _target(cp, ns.args[0], int(ns.index))
        tty = not ns.no_TTY and not ns.detach and os.isatty(0)
        size = None
        if tty:
            term = os.get_terminal_size(0)
            size = (term.lines, term.columns)
        request = ExecRequest(
            cmd=ns.args[1:],
            env=[e if "=" in e else f"{e}={os.environ.get(e, '')}" for e in ns.env],
            user=ns.user or "",
            workdir=ns.workdir or "",
            privileged=ns.privileged,
            tty=tty,
            interactive=ns.interactive and not ns.detach,
            detach=ns.detach,
            console_size=size,
        )
        sys.stdout.flush()
        try:
            return run_exec(cp.engine, container.id, request)
        except (ExecStartFailed, DetachedFromExec) as exc:
            raise ClientError(exc.message).with_code(exc.exit_code) from None

    return _run_engine(act)


def compose_run(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser(
        "compose run", "[OPTIONS] SERVICE [COMMAND] [ARGS...]", "Run a one-off command on a service"
    )
    p.flag("-d", "--detach", help="Run container in background and print container ID")
    p.flag("--rm", help="Automatically remove the container when it exits")
    p.option("--name", help="Assign a name to the container")
    p.option("--entrypoint", help="Override the entrypoint of the image")
    p.multi("-e", "--env", metavar="stringArray", help="Set environment variables")
    p.multi("-l", "--label", metavar="stringArray", help="Add or override a label")
    p.option("-u", "--user", help="Run as specified username or uid")
    p.option("-w", "--workdir", help="Working directory inside the container")
    p.flag("--no-deps", help="Don't start linked services")
    p.multi(
        "-p", "--publish", metavar="stringArray", help="Publish a container's port(s) to the host"
    )
    p.flag(
        "-P",
        "--service-ports",
        help="Run command with all service's ports enabled and mapped to the host",
    )
    p.flag("-T", "--no-TTY", help="Disable pseudo-TTY allocation (default: auto-detected)")
    p.multi("-v", "--volume", metavar="stringArray", help="Bind mount a volume")
    p.flag("-i", "--interactive", default=True, help="Keep STDIN open even if not attached")
    p.flag("-t", "--tty", default=True, help="Allocate a pseudo-TTY")
    p.flag("--build", help="Build image before starting container")
    p.flag(
        "--remove-orphans", help="Remove containers for services not defined in the Compose file"
    )
    p.option("--pull", default="policy", help="Pull image before running")
    p.flag("--quiet-pull", help="Pull without printing progress information")
    p.flag(
        "--use-aliases",
        help="Use the service's network aliases in the network(s) the container connects to",
    )
    ns = p.parse(argv, min_args=1, interspersed=False)

    def act() -> int:
        from dockyard.compose.engine.project import UpOptions

        cp = _bound(cmd)
        service_name = ns.args[0]
        service = cp.service(service_name)
        if not ns.no_deps and service.depends_on:
            deps = [d for d in cp.select([service_name]) if d != service_name]
            options = UpOptions(services=deps, no_recreate=True, pull=ns.pull)
            containers = _create_all(cp, options)
            cp.start_containers(containers)
        images = cp.ensure_images([service_name], build=ns.build, pull=ns.pull)
        cp.ensure_networks([service_name])
        cp.ensure_volumes()
        cp.wait_dependencies(service)
        tty = not ns.no_TTY and sys.stdin.isatty() and not ns.detach
        interactive = not ns.detach
        name = ns.name or cp.oneoff_name(service_name)

        def adjust(request: Any) -> None:
            _adjust_run(request, ns, tty=tty, interactive=interactive)

        container = cp.create_container(
            service,
            1,
            images[service_name],
            name=name,
            oneoff=True,
            publish=ns.service_ports,
            adjust=adjust,
        )
        if ns.detach:
            cp.engine.lifecycle.start(container)
            write(container.name + "\n")
            return 0
        return _run_attached(cp, container, tty=tty, interactive=interactive)

    return _run_engine(act)


def _adjust_run(request: Any, ns: Any, *, tty: bool, interactive: bool) -> None:
    from dockyard.compose import convert as L

    config, host = request.config, request.host
    if len(ns.args) > 1:
        config["Cmd"] = ns.args[1:]
    if ns.entrypoint is not None:
        import shlex

        config["Entrypoint"] = shlex.split(ns.entrypoint) or [""]
        if len(ns.args) == 1:
            config["Cmd"] = None
    env = list(config.get("Env") or [])
    for value in ns.env:
        key = value.partition("=")[0]
        item = value if "=" in value else f"{value}={os.environ.get(value, '')}"
        env = [e for e in env if e.partition("=")[0] != key] + [item]
    config["Env"] = env or None
    labels = dict(config.get("Labels") or {})
    for value in ns.label:
        key, _, val = value.partition("=")
        labels[key] = val
    labels[L.ONEOFF] = "True"
    labels[L.SERVICE] = ns.args[0]
    config["Labels"] = labels
    if ns.user:
        config["User"] = ns.user
    if ns.workdir:
        config["WorkingDir"] = ns.workdir
    config["Tty"] = tty
    config["OpenStdin"] = interactive
    config["AttachStdin"] = interactive
    config["StdinOnce"] = interactive
    host["AutoRemove"] = bool(ns.rm)
    if ns.rm:
        host["RestartPolicy"] = {"Name": "no", "MaximumRetryCount": 0}
    if ns.volume:
        host["Binds"] = [*(host.get("Binds") or []), *ns.volume]
    if ns.publish:
        bindings = dict(host.get("PortBindings") or {})
        exposed = dict(config.get("ExposedPorts") or {})
        for value in ns.publish:
            spec, _, proto = value.partition("/")
            parts = spec.split(":")
            container_port = parts[-1]
            host_port = parts[-2] if len(parts) >= 2 else ""
            ip = parts[0] if len(parts) == 3 else ""
            key = f"{container_port}/{proto or 'tcp'}"
            exposed[key] = {}
            bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": host_port})
        host["PortBindings"] = bindings
        config["ExposedPorts"] = exposed
    # a one-off container answers to its own name only, not the service's
    for endpoint in (request.networking.get("EndpointsConfig") or {}).values():
        if not ns.use_aliases:
            endpoint["Aliases"] = [request.name]


def _run_attached(cp: Any, container: Any, *, tty: bool, interactive: bool) -> int:
    from dockyard.cli.attach import attach_and_wait

    engine = cp.engine
    try:
        engine.lifecycle.start(container, wait_for_attach=True)
    except DockyardError:
        if container.host_config.get("AutoRemove"):
            engine.containers.remove(container.id, volumes=True, force=True)
        raise
    code = attach_and_wait(engine, container.id, stdin=interactive, tty=tty, start=True)
    if container.host_config.get("AutoRemove"):
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            fresh = engine.containers.try_get(container.id)
            if fresh is None:
                break
            engine.lifecycle.refresh(fresh)
            if fresh.status not in ("running", "paused", "restarting"):
                engine.lifecycle.exited_if_reported(container.id)
            time.sleep(0.02)
    return code


def _simple(
    command: str,
    description: str,
    action: Callable[[Any, list[Any], Any], None],
    *,
    with_timeout: bool = False,
    with_signal: bool = False,
    oneoff: bool | None = False,
) -> Callable[[ComposeCommand, list[str]], int]:
    def handler(cmd: ComposeCommand, argv: list[str]) -> int:
        p = CommandParser(f"compose {command}", "[OPTIONS] [SERVICE...]", description)
        if with_timeout:
            p.option("-t", "--timeout", metavar="int", help="Specify a shutdown timeout in seconds")
        if with_signal:
            p.option("-s", "--signal", default="SIGKILL", help="SIGNAL to send to the container")
            p.flag(
                "--remove-orphans",
                help="Remove containers for services not defined in the Compose file",
            )
        p.flag("--dry-run", help="Execute command in dry run mode")
        ns = p.parse(argv)
        if with_timeout:
            ns.timeout = _timeout(p, ns.timeout)

        def act() -> int:
            cp = _bound(cmd)
            for name in ns.args:
                cp.service(name)
            containers = cp.containers(ns.args or None, oneoff=oneoff)
            action(cp, containers, ns)
            return 0

        return _run_engine(act)

    return handler


def _do_start(cp: Any, containers: list[Any], ns: Any) -> None:
    if not containers:
        raise ClientError(
            "service " + (ns.args[0] if ns.args else "") + " has no container to start"
            if ns.args
            else "no containers to start"
        )
    cp.start_containers(containers)


def _do_stop(cp: Any, containers: list[Any], ns: Any) -> None:
    cp.stop(containers, ns.timeout)


def _do_restart(cp: Any, containers: list[Any], ns: Any) -> None:
    from dockyard.engine.control import restart

    for c in containers:
        cp.progress.event("Container", c.name, "Restarting")
        restart(cp.engine, cp.engine.containers.get(c.id), ns.timeout, None)
        cp.progress.event("Container", c.name, "Started")


def _do_kill(cp: Any, containers: list[Any], ns: Any) -> None:
    from dockyard.engine.lifecycle import _signal_number

    sig = _signal_number(ns.signal)
    running = [c for c in containers if c.status in ("running", "paused", "restarting")]
    if not running:
        raise ClientError("no container to kill")
    for c in running:
        cp.progress.event("Container", c.name, "Killing")
        cp.engine.lifecycle.kill(c, sig)
        cp.progress.event("Container", c.name, "Killed")


def _do_pause(cp: Any, containers: list[Any], ns: Any) -> None:
    from dockyard.engine.control import pause

    for c in containers:
        if c.status != "running":
            continue
        cp.progress.event("Container", c.name, "Pausing")
        pause(cp.engine, c)
        cp.progress.event("Container", c.name, "Paused")


def _do_unpause(cp: Any, containers: list[Any], ns: Any) -> None:
    from dockyard.engine.control import unpause

    for c in containers:
        if c.status != "paused":
            continue
        cp.progress.event("Container", c.name, "Unpausing")
        unpause(cp.engine, c)
        cp.progress.event("Container", c.name, "Unpaused")


def compose_rm(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser("compose rm", "[OPTIONS] [SERVICE...]", "Removes stopped service containers")
    p.flag("-f", "--force", help="Don't ask to confirm removal")
    p.flag("-s", "--stop", help="Stop the containers, if required, before removing")
    p.flag("-v", "--volumes", help="Remove any anonymous volumes attached to containers")
    p.flag("-a", "--all", help="Deprecated - no effect")
    ns = p.parse(argv)

    def act() -> int:
        from dockyard.cli.output import confirm

        cp = _bound(cmd)
        for name in ns.args:
            cp.service(name)
        containers = cp.containers(ns.args or None, oneoff=None)
        if ns.stop:
            cp.stop(containers, None)
            containers = [cp.engine.containers.get(c.id) for c in containers]
        stopped = [c for c in containers if c.status not in ("running", "paused", "restarting")]
        if not stopped:
            sys.stderr.write("No stopped containers\n")
            return 0
        if not ns.force:
            sys.stderr.write("".join(f"Going to remove {c.name}\n" for c in stopped))
            if not confirm("? Are you sure you want to remove containers? (y/N) "):
                return 0
        for c in stopped:
            cp.stop_and_remove(c, None, volumes=ns.volumes)
        return 0

    return _run_engine(act)


def compose_top(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser("compose top", "[SERVICES...]", "Display the running processes")
    ns = p.parse(argv)

    def act() -> int:
        from dockyard.cli.format.tabwriter import format_table
        from dockyard.engine.control import top

        cp = _bound(cmd, progress=False)
        out = []
        for c in cp.containers(ns.args or None):
            if c.status not in ("running", "paused", "restarting"):
                continue
            titles, processes = top(cp.engine, c, "-ef")
            out.append(f"{c.name}\n{format_table([titles, *processes], minwidth=4)}\n")
        write("".join(out))
        return 0

    return _run_engine(act)


def compose_images(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser(
        "compose images", "[OPTIONS] [SERVICE...]", "List images used by the created containers"
    )
    p.option("--format", default="table", help="Format the output. Values: [table | json]")
    p.flag("-q", "--quiet", help="Only display IDs")
    ns = p.parse(argv)

    def act() -> int:
        import json

        from dockyard.cli.output import Row, render_rows
        from dockyard.golang.units import human_size
        from dockyard.oci.reference import parse_normalized_named

        cp = _bound(cmd, progress=False)
        rows = []
        for c in cp.containers(ns.args or None, oneoff=None):
            image = cp.engine.images.get(c.image_id)
            name = str(c.config.get("Image") or "")
            repo, tag = name, "latest"
            try:
                ref = parse_normalized_named(name)
                repo, tag = ref.familiar_name, ref.tag or "latest"
            except DockyardError:
                pass
            rows.append(
                {
                    "ContainerName": c.name,
                    "Repository": repo,
                    "Tag": tag,
                    "ID": c.image_id.removeprefix("sha256:")[:12],
                    "Size": human_size(image.size),
                    "RawSize": image.size,
                }
            )
        if ns.quiet:
            write("".join(sorted({r["ID"] + "\n" for r in rows})))
            return 0
        if ns.format == "json":
            write(
                json.dumps(
                    [
                        {
                            "ID": r["ID"],
                            "ContainerName": r["ContainerName"],
                            "Repository": r["Repository"],
                            "Tag": r["Tag"],
                            "Size": r["RawSize"],
                        }
                        for r in rows
                    ]
                )
                + "\n"
            )
            return 0
        headers = {
            "ContainerName": "CONTAINER",
            "Repository": "REPOSITORY",
            "Tag": "TAG",
            "ID": "IMAGE ID",
            "Size": "SIZE",
        }
        default = "table {{.ContainerName}}\t{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}"
        write(render_rows([Row(r) for r in rows], ns.format, default, headers))
        return 0

    return _run_engine(act)


def compose_pull(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser("compose pull", "[OPTIONS] [SERVICE...]", "Pull service images")
    p.flag("--ignore-pull-failures", help="Pull what it can and ignores images with pull failures")
    p.flag("--include-deps", help="Also pull services declared as dependencies")
    p.flag("-q", "--quiet", help="Pull without printing progress information")
    p.flag("--ignore-buildable", help="Ignore images that can be built")
    p.option("--policy", help='Apply pull policy ("missing"|"always")')
    ns = p.parse(argv)

    def act() -> int:
        cp = _bound(cmd, progress=not ns.quiet)
        names = cp.select(ns.args, with_deps=ns.include_deps)
        failed = False
        for name in names:
            service = cp.model.services[name]
            if service.image is None or (ns.ignore_buildable and service.build is not None):
                continue
            if ns.policy == "missing" and cp.engine.images.try_resolve(service.image):
                continue
            try:
                cp.pull(name)
            except DockyardError as exc:
                if not ns.ignore_pull_failures:
                    raise
                cp.progress.text(f"WARN[0000] {exc.message}")
                failed = True
        return 0 if not failed or ns.ignore_pull_failures else 1

    return _run_engine(act)


def compose_build(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser("compose build", "[OPTIONS] [SERVICE...]", "Build or rebuild services")
    p.flag("--no-cache", help="Do not use cache when building the image")
    p.flag("--pull", help="Always attempt to pull a newer version of the image")
    p.multi("--build-arg", metavar="stringArray", help="Set build-time variables for services")
    p.flag("-q", "--quiet", help="Don't print anything to STDOUT")
    p.flag("--with-dependencies", help="Also build dependencies (transitively)")
    ns = p.parse(argv)

    def act() -> int:
        cp = _bound(cmd)
        args = {}
        for value in ns.build_arg:
            key, sep, val = value.partition("=")
            args[key] = val if sep else os.environ.get(key, "")
        for name in cp.select(ns.args, with_deps=ns.with_dependencies):
            if cp.model.services[name].build is None:
                continue
            cp.build(name, no_cache=ns.no_cache, pull=ns.pull, args=args, quiet=ns.quiet)
        return 0

    return _run_engine(act)


def compose_ls(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser("compose ls", "[OPTIONS]", "List running compose projects")
    p.flag("-a", "--all", help="Show all stopped Compose projects")
    p.flag("-q", "--quiet", help="Only display project names")
    p.option("--format", default="table", help="Format the output. Values: [table | json]")
    p.multi("--filter", metavar="filter", help="Filter output based on conditions provided")
    ns = p.parse(argv, max_args=0)

    def act() -> int:
        import json

        from dockyard.cli.output import Row, render_rows
        from dockyard.compose import convert as L
        from dockyard.compose.engine.state import all_projects, labels_of

        projects = all_projects(cmd.engine())
        name_filter = [f.partition("=")[2] for f in ns.filter if f.startswith("name=")]
        rows = []
        for name in sorted(projects):
            containers = projects[name]
            counts: dict[str, int] = {}
            for c in containers:
                counts[c.status] = counts.get(c.status, 0) + 1
            if not ns.all and "running" not in counts:
                continue
            if name_filter and not any(f in name for f in name_filter):
                continue
            files = labels_of(containers[0]).get(L.CONFIG_FILES, "")
            status = ", ".join(f"{k}({v})" for k, v in sorted(counts.items()))
            rows.append({"Name": name, "Status": status, "ConfigFiles": files})
        if ns.quiet:
            write("".join(r["Name"] + "\n" for r in rows))
            return 0
        if ns.format == "json":
            write(json.dumps(rows) + "\n")
            return 0
        headers = {"Name": "NAME", "Status": "STATUS", "ConfigFiles": "CONFIG FILES"}
        default = "table {{.Name}}\t{{.Status}}\t{{.ConfigFiles}}"
        write(render_rows([Row(r) for r in rows], ns.format, default, headers))
        return 0

    return _run_engine(act)


def compose_port(cmd: ComposeCommand, argv: list[str]) -> int:
    p = CommandParser(
        "compose port", "[OPTIONS] SERVICE PRIVATE_PORT", "Print the public port for a port binding"
    )
    p.option("--protocol", default="tcp", help="tcp or udp")
    p.option(
        "--index",
        default="1",
        metavar="int",
        help="Index of the container if service has multiple replicas",
    )
    ns = p.parse(argv, min_args=2, max_args=2)

    def act() -> int:
        cp = _bound(cmd, progress=False)
        container = _target(cp, ns.args[0], int(ns.index))
        ports = (container.spec.get("NetworkSettings") or {}).get("Ports") or {}
        bindings = ports.get(f"{ns.args[1]}/{ns.protocol}") or []
        if not bindings:
            raise ClientError(
                f"no port {ns.args[1]}/{ns.protocol} for container"
                f" {container.name}: port is not exposed"
            )
        first = bindings[0]
        write(f"{first.get('HostIp') or '0.0.0.0'}:{first.get('HostPort')}\n")
        return 0

    return _run_engine(act)


def compose_wait(cmd: ComposeCommand, argv: list[str]) -> int:
    """Compose's Wait: every running container of the services (one-off ones too)
    waited for at once, each exit reported as it happens; the exit code is the last
    one's. ``--down-project`` then takes the project down (orphans included)."""
    p = CommandParser(
        "compose wait",
        "SERVICE [SERVICE...] [OPTIONS]",
        "Block until containers of all (or specified) services stop.",
    )
    p.flag("--down-project", help="Drops project when the first container stops")
    ns = p.parse(argv, min_args=1)

    def act() -> int:
        import threading

        from dockyard.compose.engine.state import ACTIVE

        cp = _bound(cmd, progress=False)
        running = [c for c in cp.containers(ns.args, oneoff=None) if c.status in ACTIVE]
        if not running:
            raise ClientError(f'no containers for project "{cp.name}"')
        lock = threading.Lock()
        code = [0]

        def wait_one(engine: Any, container: Any) -> None:
            engine.lifecycle.wait_exited(container.id, float("inf"))
            fresh = engine.containers.try_get(container.id)
            status = int((fresh or container).state.get("ExitCode") or 0)
            with lock:
                write(f'container "{container.id}" exited with status code {status}\n')
                sys.stdout.flush()
                code[0] = status

        cp.in_parallel(running, wait_one)
        if ns.down_project:
            compose_down(cmd, ["--remove-orphans"])
        return code[0]

    return _run_engine(act)


def _tool(name: str) -> Callable[[ComposeCommand, list[str]], int]:
    """A sub-command from compose_tools, imported when it runs."""

    def handler(cmd: ComposeCommand, argv: list[str]) -> int:
        from dockyard.cli.commands import compose_tools

        function: Callable[[ComposeCommand, list[str]], int] = getattr(
            compose_tools, f"compose_{name}"
        )
        return function(cmd, argv)

    return handler


SUBCOMMANDS: dict[str, Callable[[ComposeCommand, list[str]], int]] = {
    "config": compose_config,
    "convert": compose_config,
    "version": compose_version,
    "up": compose_up,
    "create": compose_create,
    "down": compose_down,
    "ps": compose_ps,
    "logs": compose_logs,
    "exec": compose_exec,
    "run": compose_run,
    "start": _simple("start", "Start services", _do_start),
    "stop": _simple("stop", "Stop services", _do_stop, with_timeout=True),
    "restart": _simple("restart", "Restart service containers", _do_restart, with_timeout=True),
    "kill": _simple("kill", "Force stop service containers", _do_kill, with_signal=True),
    "pause": _simple("pause", "Pause services", _do_pause),
    "unpause": _simple("unpause", "Unpause services", _do_unpause),
    "rm": compose_rm,
    "top": compose_top,
    "images": compose_images,
    "pull": compose_pull,
    "build": compose_build,
    "ls": compose_ls,
    "port": compose_port,
    "wait": compose_wait,
    "scale": compose_scale,
    "events": compose_events,
    "push": _tool("push"),
    "cp": _tool("cp"),
    "attach": _tool("attach"),
    "watch": _tool("watch"),
}
