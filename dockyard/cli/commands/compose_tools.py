"""``compose push``, ``cp``, ``attach`` and ``watch``: the sub-commands that move images
and files or connect to a service's container (the engine side is in
dockyard.compose.engine.transfer and .watch)."""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING, Any

from dockyard.cli.errors import ClientError
from dockyard.cli.output import write
from dockyard.cli.parser import CommandParser

if TYPE_CHECKING:
    from dockyard.cli.commands.compose import ComposeCommand


def _int_flag(p: CommandParser, flag: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        p.fail(
            f'invalid argument "{value}" for "{flag}" flag: strconv.ParseInt: parsing'
            f' "{value}": invalid syntax'
        )


def compose_push(cmd: ComposeCommand, argv: list[str]) -> int:
    from dockyard.cli.commands.compose import _bound, _run_engine

    p = CommandParser("compose push", "[OPTIONS] [SERVICE...]", "Push service images")
    p.flag("--ignore-push-failures", help="Push what it can and ignores images with push failures")
    p.flag("--include-deps", help="Also push images of services declared as dependencies")
    p.flag("-q", "--quiet", help="Push without printing progress information")
    ns = p.parse(argv)

    def act() -> int:
        from dockyard.compose.engine import transfer

        cp = _bound(cmd, progress=not ns.quiet)
        names = cp.select(list(ns.args), with_deps=ns.include_deps)
        warnings = transfer.push(cp, names, ignore_failures=ns.ignore_push_failures, quiet=ns.quiet)
        for message in warnings:
            sys.stderr.write(f"WARN[0000] {message}\n")
        return 0

    return int(_run_engine(act))


def compose_cp(cmd: ComposeCommand, argv: list[str]) -> int:
    from dockyard.cli.commands.compose import _bound, _run_engine

    p = CommandParser(
        "compose cp",
        "[OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n\tdocker compose cp [OPTIONS] SRC_PATH|-"
        " SERVICE:DEST_PATH",
        "Copy files/folders between a service container and the local filesystem",
    )
    p.option(
        "--index",
        default="0",
        metavar="int",
        help="Index of the container if service has multiple replicas",
    )
    p.flag("--all", help="Include containers created by the run command")
    p.flag("-L", "--follow-link", help="Always follow symbol link in SRC_PATH")
    p.flag("-a", "--archive", help="Archive mode (copy all uid/gid information)")
    ns = p.parse(argv, min_args=2, max_args=2)
    index = _int_flag(p, "--index", ns.index)
    source, destination = ns.args
    if source == "":
        raise ClientError("source can not be empty")
    if destination == "":
        raise ClientError("destination can not be empty")

    def act() -> int:
        from dockyard.compose.engine import transfer

        cp = _bound(cmd)
        request = transfer.CopyRequest(
            source=source,
            destination=destination,
            index=index,
            all=ns.all,
            follow_link=ns.follow_link,
            archive=ns.archive,
        )
        transfer.copy(cp, request)
        return 0

    return int(_run_engine(act))


def compose_attach(cmd: ComposeCommand, argv: list[str]) -> int:
    """Compose's Attach is the docker CLI's RunAttach on the chosen container: the same
    loop as ``dockyard attach`` (its checks, detach keys and signal proxy)."""
    from dockyard.cli.commands.compose import _bound, _run_engine

    p = CommandParser(
        "compose attach",
        "[OPTIONS] SERVICE",
        "Attach local standard input, output, and error streams to a service's running container",
    )
    p.option(
        "--index",
        default="0",
        metavar="int",
        help="index of the container if service has multiple replicas.",
    )
    p.option("--detach-keys", help="Override the key sequence for detaching from a container.")
    p.flag("--no-stdin", help="Do not attach STDIN")
    p.flag("--sig-proxy", default=True, help="Proxy all received signals to the process")
    ns = p.parse(argv, min_args=1)
    index = _int_flag(p, "--index", ns.index)

    def act() -> int:
        from dockyard.cli.commands.attach import cmd_attach
        from dockyard.compose.engine import transfer

        cp = _bound(cmd, progress=False)
        container = transfer.attach_target(cp, ns.args[0], index)
        args = []
        if ns.detach_keys is not None:
            args += ["--detach-keys", ns.detach_keys]
        if ns.no_stdin:
            args.append("--no-stdin")
        if not ns.sig_proxy:
            args.append("--sig-proxy=false")
        args.append(container.id)
        return cmd_attach(lambda: cp.engine, args, "compose attach")

    return int(_run_engine(act))


def compose_watch(cmd: ComposeCommand, argv: list[str]) -> int:
    from dockyard.cli.commands.compose import _bound, _run_engine

    p = CommandParser(
        "compose watch",
        "[SERVICE...]",
        "Watch build context for service and rebuild/refresh containers when files are updated",
    )
    p.flag("--quiet", help="hide build output")
    p.flag("--prune", default=True, help="Prune dangling images on rebuild")
    p.flag("--no-up", help="Do not build & start services before watching")
    ns = p.parse(argv)

    def act() -> int:
        from dockyard.compose.engine import watch

        cp = _bound(cmd)
        services = list(ns.args)
        names = cp.select(services)

        def log(line: str) -> None:
            write(line + "\n")
            sys.stdout.flush()

        def warn(line: str) -> None:
            sys.stderr.write(f"WARN[0000] {line}")
            if not line.endswith("\n"):
                sys.stderr.write("\n")

        # Compose brings the project up first and only then finds nothing to watch
        if not ns.no_up:
            _up_for_watch(cp, services, names, quiet=ns.quiet)
        rule_list, paths = watch.rules(cp, names, warn)
        if not paths:
            raise ClientError(
                "none of the selected services is configured for watch, consider setting a"
                " 'develop' section"
            )
        watcher = watch.Watcher(cp, rule_list, log, quiet_build=ns.quiet, prune=ns.prune)
        watcher.initial_sync()
        return _watch_loop(
            watcher, paths, log, warn, skip=lambda d: watch.ignored_directory(rule_list, d)
        )

    return int(_run_engine(act))


def _up_for_watch(cp: Any, services: list[str], names: list[str], *, quiet: bool) -> None:
    """``up`` without attaching: services with build and develop are always built
    (pull_policy build), the others as their policy says."""
    from dockyard.compose.engine.project import UpOptions

    rebuilt = [
        n
        for n in names
        if cp.model.services[n].build is not None
        and isinstance(cp.model.services[n].raw.get("develop"), dict)
    ]
    images = {}
    if rebuilt:
        images.update(cp.ensure_images(rebuilt, build=True))
    images.update(cp.ensure_images([n for n in names if n not in rebuilt]))
    cp.ensure_networks(names)
    cp.ensure_volumes()
    containers = list(cp.converge(names, images, UpOptions(services=services)))
    cp.start_containers(containers)


def _watch_loop(watcher: Any, paths: list[str], log: Any, warn: Any, *, skip: Any) -> int:
    from dockyard.compose.engine.filewatch import PollingWatcher
    from dockyard.errors import DockyardError

    stopping: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        poller = PollingWatcher(paths, skip=skip)
        log("Watch enabled")
        while not stopping:
            changed = poller.next_batch(lambda: bool(stopping))
            if not changed:
                continue
            try:
                watcher.handle(changed)
            except DockyardError as exc:
                warn(f"Error handling changed files: {exc.message}")
        log("Watch disabled")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 130 if stopping and stopping[0] == signal.SIGINT else 0
