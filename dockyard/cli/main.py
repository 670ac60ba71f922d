"""The ``dockyard`` command: global options, command dispatch, error reporting.

Only the module of the command being run is imported, so start-up stays lean.
"""

from __future__ import annotations

import os
import sys

from dockyard.errors import DockyardError, UsageError

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from collections.abc import Callable  # ~1 ms: the warm CLI's client goes without

    from dockyard.engine import Engine

# command words -> "module:function"; a function receives (engine_factory, argv, name).
COMMANDS: dict[str, str] = {
    "images": "image:cmd_ls",
    "image ls": "image:cmd_ls",
    "image list": "image:cmd_ls",
    "image inspect": "image:cmd_inspect",
    "image history": "image:cmd_history",
    "history": "image:cmd_history",
    "image tag": "image:cmd_tag",
    "tag": "image:cmd_tag",
    "image rm": "image:cmd_rm",
    "image remove": "image:cmd_rm",
    "rmi": "image:cmd_rm",
    "image prune": "image:cmd_prune",
    "image import": "image:cmd_import",
    "import": "image:cmd_import",
    "image save": "image:cmd_save",
    "save": "image:cmd_save",
    "image load": "image:cmd_load",
    "load": "image:cmd_load",
    "inspect": "image:cmd_inspect_any",
    "volume create": "volume:cmd_create",
    "volume ls": "volume:cmd_ls",
    "volume list": "volume:cmd_ls",
    "volume inspect": "volume:cmd_inspect",
    "volume rm": "volume:cmd_rm",
    "volume remove": "volume:cmd_rm",
    "volume prune": "volume:cmd_prune",
    "run": "container:cmd_run",
    "container run": "container:cmd_run",
    "start": "container:cmd_start",
    "container start": "container:cmd_start",
    "stop": "container:cmd_stop",
    "container stop": "container:cmd_stop",
    "kill": "container:cmd_kill",
    "container kill": "container:cmd_kill",
    "wait": "container:cmd_wait",
    "container wait": "container:cmd_wait",
    "logs": "container:cmd_logs",
    "container logs": "container:cmd_logs",
    "container-exited": "container:cmd_container_exited",
    "exec": "exec:cmd_exec",
    "container exec": "exec:cmd_exec",
    "attach": "attach:cmd_attach",
    "container attach": "attach:cmd_attach",
    "pause": "manage:cmd_pause",
    "container pause": "manage:cmd_pause",
    "unpause": "manage:cmd_unpause",
    "container unpause": "manage:cmd_unpause",
    "top": "manage:cmd_top",
    "container top": "manage:cmd_top",
    "stats": "manage:cmd_stats",
    "container stats": "manage:cmd_stats",
    "update": "manage:cmd_update",
    "container update": "manage:cmd_update",
    "restart": "manage:cmd_restart",
    "container restart": "manage:cmd_restart",
    "cp": "filesystem:cmd_cp",
    "container cp": "filesystem:cmd_cp",
    "diff": "filesystem:cmd_diff",
    "container diff": "filesystem:cmd_diff",
    "export": "filesystem:cmd_export",
    "container export": "filesystem:cmd_export",
    "commit": "filesystem:cmd_commit",
    "container commit": "filesystem:cmd_commit",
    "create": "container:cmd_create",
    "container create": "container:cmd_create",
    "ps": "container:cmd_ps",
    "container ls": "container:cmd_ps",
    "container list": "container:cmd_ps",
    "container ps": "container:cmd_ps",
    "rm": "container:cmd_rm",
    "container rm": "container:cmd_rm",
    "container remove": "container:cmd_rm",
    "rename": "container:cmd_rename",
    "container rename": "container:cmd_rename",
    "container inspect": "container:cmd_inspect",
    "container prune": "container:cmd_prune",
    "system df": "system:cmd_df",
    "system prune": "system:cmd_prune",
    "system info": "system:cmd_info",
    "system events": "events:cmd_events",
    "events": "events:cmd_events",
    "info": "system:cmd_info",
    "version": "system:cmd_version",
    "compose": "compose:cmd_compose",
    "network create": "network:cmd_create",
    "network ls": "network:cmd_ls",
    "network list": "network:cmd_ls",
    "network inspect": "network:cmd_inspect",
    "network rm": "network:cmd_rm",
    "network remove": "network:cmd_rm",
    "network prune": "network:cmd_prune",
    "network connect": "network:cmd_connect",
    "network disconnect": "network:cmd_disconnect",
    "port": "network:cmd_port",
    "container port": "network:cmd_port",
    "pull": "distribution:cmd_pull",
    "image pull": "distribution:cmd_pull",
    "push": "distribution:cmd_push",
    "image push": "distribution:cmd_push",
    "login": "distribution:cmd_login",
    "logout": "distribution:cmd_logout",
    "search": "distribution:cmd_search",
    "registry serve": "registry:cmd_serve",
    "registry garbage-collect": "registry:cmd_garbage_collect",
    "build": "build:cmd_build",
    "image build": "build:cmd_build",
    "builder build": "build:cmd_build",
    "builder prune": "build:cmd_builder_prune",
    "serve": "serve:cmd_serve",
}
GROUPS = {"builder", "container", "image", "network", "registry", "system", "volume"}

GLOBAL_HELP = """
Usage:  dockyard [OPTIONS] COMMAND

A Docker-compatible container engine

Common Commands:
  run         Create and run a new container from an image
  exec        Execute a command in a running container
  ps          List containers
  build       Build an image from a Dockerfile
  pull        Download an image from a registry
  push        Upload an image to a registry
  images      List images
  login       Log in to a registry
  logout      Log out from a registry
  search      Search Docker Hub for images
  import      Import the contents of a tarball to create a filesystem image
  info        Display system-wide information
  version     Show the dockyard version information

Management Commands:
  builder     Manage builds
  compose     Define and run multi-container applications
  container   Manage containers
  image       Manage images
  network     Manage networks
  registry    Run and maintain a private registry
  system      Manage dockyard
  volume      Manage volumes

Commands:
  events      Get real time events from the server
  history     Show the history of an image
  inspect     Return low-level information on Docker objects
  load        Load an image from a tar archive or STDIN
  rmi         Remove one or more images
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  serve       Serve the Docker Engine API (for the docker CLI, docker-py, Compose)
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE

Global Options:
      --config-file string     Engine configuration file (default "/etc/dockyard/daemon.json")
  -D, --debug                  Enable debug mode
  -l, --log-level string       Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
      --root string            Root directory of persistent state (default "/var/lib/dockyard")
      --run-root string        Root directory of execution state (default "/run/dockyard")
      --storage-driver string  Storage driver to use ("overlay"|"vfs")
  -v, --version                Print version information and quit

Run 'dockyard COMMAND --help' for more information on a command.
"""

_VALUE_OPTIONS = {
    "--root": "root",
    "--run-root": "run_root",
    "--storage-driver": "storage_driver",
    "--log-level": "log_level",
    "-l": "log_level",
    "--config-file": "config_file",
    "--config": "client_config",
    "-H": "host",
    "--host": "host",
    "--context": "context",
    "-c": "context",
}


def split_global(argv: list[str]) -> tuple[dict[str, str | bool], list[str]]:
    """Take the global options off the front of ``argv``."""
    opts: dict[str, str | bool] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, value = arg.partition("=")
        if name in _VALUE_OPTIONS:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: {name}")
                value = argv[i]
            opts[_VALUE_OPTIONS[name]] = value
        elif arg in ("-D", "--debug"):
            opts["debug"] = True
        elif arg in ("-v", "--version"):
            opts["version"] = True
        elif arg in ("-h", "--help"):
            opts["help"] = True
        else:
            raise UsageError(
                f"unknown flag: {name}\nSee 'dockyard --help'."
                if arg.startswith("--")
                else f"unknown shorthand flag: {arg[1:2]!r} in {arg}\nSee 'dockyard --help'."
            )
        i += 1
    return opts, argv[i:]


def find_command(rest: list[str]) -> tuple[str, list[str]]:
    if not rest:
        return "", []
    if rest[0] in GROUPS:
        if len(rest) == 1 or rest[1] in ("--help", "-h"):
            return rest[0], []
        key = f"{rest[0]} {rest[1]}"
        if key not in COMMANDS:
            raise UsageError(
                f"dockyard: '{rest[1]}' is not a dockyard command.\nSee 'dockyard {rest[0]} --help'"
            ).with_code(1)
        return key, rest[2:]
    if rest[0] not in COMMANDS:
        raise UsageError(
            f"dockyard: '{rest[0]}' is not a dockyard command.\nSee 'dockyard --help'"
        ).with_code(1)
    return rest[0], rest[1:]


def make_engine_factory(opts: dict[str, str | bool]) -> Callable[[], Engine]:
    engine: list[Engine] = []

    def factory() -> Engine:
        if not engine:
            from dockyard.config import resolve_options
            from dockyard.engine import Engine

            options = resolve_options(
                root=_str(opts.get("root")),
                run_root=_str(opts.get("run_root")),
                storage_driver=_str(opts.get("storage_driver")),
                debug=bool(opts.get("debug")),
                log_level=_str(opts.get("log_level")),
                config_file=_str(opts.get("config_file")),
            )
            if options.debug or options.log_level != "info":
                from dockyard import log

                log.configure(options.log_level)
            engine.append(Engine(options))
        return engine[0]

    factory.engine = engine  # type: ignore[attr-defined]  # for _finish
    return factory


def _finish(factory: Callable[[], Engine]) -> None:
    """Close the engine's database now (a clean close checkpoints the WAL, so the next
    command opens it without a recovery) and freeze what is left: the interpreter's
    exit then skips collecting every module's objects (~5-10 ms per command)."""
    import gc

    engine = getattr(factory, "engine", None)
    if engine:
        engine[0].close()
    gc.freeze()


def _str(value: str | bool | None) -> str | None:
    return value if isinstance(value, str) else None


def main(argv: list[str] | None = None) -> int:
    """The ``dockyard`` command: run ``argv`` (default: this process's command line).

    Run as the program itself (no ``argv``), the command goes to the run root's warm
    process when one answers (see :mod:`dockyard.cli.warm`); when none does, it runs
    here and a warm process is started for the next command."""
    if argv is not None:
        return run(argv)
    from dockyard.cli import warm

    run_root = warm.client_run_root(sys.argv[1:]) if warm.enabled() else None
    if run_root is None:
        return run(sys.argv[1:])
    try:
        warm.exit_now(warm.run_in_warm_process(sys.argv, run_root))
    except warm.Declined:
        return run(sys.argv[1:])
    except warm.Absent:
        pass
    try:
        return run(sys.argv[1:])
    finally:
        warm.start(run_root)


def run(argv: list[str]) -> int:
    """Run the command line ``argv`` in this process."""
    try:
        opts, rest = split_global(argv)
        if opts.get("version"):
            from dockyard import __version__

            sys.stdout.write(f"Dockyard version {__version__}\n")
            return 0
        name, args = find_command(rest)
        if not name:
            sys.stdout.write(GLOBAL_HELP.lstrip("\n"))
            return 0
        if name in GROUPS:
            _group_help(name)
            return 0
        module_name, func_name = COMMANDS[name].split(":")
        import importlib

        module = importlib.import_module(f"dockyard.cli.commands.{module_name}")
        handler = getattr(module, func_name)
        factory = make_engine_factory(opts)
        try:
            code: int = handler(factory, args, name)
        finally:
            _finish(factory)
        return code
    except DockyardError as exc:
        from dockyard.cli.errors import report

        return report(exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141


def _group_help(group: str) -> None:
    commands = sorted(k.split(" ", 1)[1] for k in COMMANDS if k.startswith(group + " "))
    sys.stdout.write(
        f"\nUsage:  dockyard {group} COMMAND\n\nManage {group}s\n\nCommands:\n"
        + "".join(f"  {c}\n" for c in commands)
        + f"\nRun 'dockyard {group} COMMAND --help' for more information on a command.\n"
    )


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
