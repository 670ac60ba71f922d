"""``build`` / ``image build`` / ``builder build`` and ``builder prune``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from dockyard.cli.errors import ClientError
from dockyard.cli.output import confirm, write
from dockyard.cli.parser import CommandParser
from dockyard.errors import DockyardError, InvalidArgument, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.build.builder import BuildRequest
    from dockyard.build.dockerignore import Matcher
    from dockyard.engine import Engine

EngineFactory = Callable[[], "Engine"]

PRUNE_WARNING = "WARNING! This will remove all dangling build cache."
PRUNE_ALL_WARNING = "WARNING! This will remove all build cache."


def _build_parser(name: str) -> CommandParser:
    p = CommandParser(name, "[OPTIONS] PATH | URL | -", "Start a build")
    p.multi("--add-host", metavar="list", help='Add a custom host-to-IP mapping ("host:ip")')
    p.multi("--build-arg", metavar="stringArray", help="Set build-time variables")
    p.multi("--cache-from", metavar="stringArray", help="External cache sources", hidden=True)
    p.multi("--cache-to", metavar="stringArray", help="Cache export destinations", hidden=True)
    p.option("--cgroup-parent", help="Set the parent cgroup for the RUN instructions", hidden=True)
    p.option("-f", "--file", help='Name of the Dockerfile (default: "PATH/Dockerfile")')
    p.option("--iidfile", help="Write the image ID to a file")
    p.multi("--label", metavar="stringArray", help="Set metadata for an image")
    p.flag("--load", help='Shorthand for "--output=type=docker"')
    p.option(
        "--network", default="default", help="Set the networking mode for the RUN instructions"
    )
    p.flag("--no-cache", help="Do not use cache when building the image")
    p.multi("--no-cache-filter", metavar="stringArray", help="Do not cache specified stages")
    p.multi("-o", "--output", metavar="stringArray", help="Output destination", hidden=True)
    p.option("--platform", help="Set target platform for build")
    p.option(
        "--progress",
        default="auto",
        help='Set type of progress output ("auto", "quiet", "plain", "tty", "rawjson")',
    )
    p.flag("--pull", help="Always attempt to pull all referenced images")
    p.flag("-q", "--quiet", help="Suppress the build output and print image ID on success")
    p.flag(
        "--rm",
        default=True,
        help="Remove intermediate containers after a successful build",
        hidden=True,
    )
    p.flag("--force-rm", help="Always remove intermediate containers", hidden=True)
    p.multi(
        "--secret",
        metavar="stringArray",
        help='Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")',
    )
    p.option("--shm-size", help="Shared memory size for build containers", metavar="bytes")
    p.multi(
        "--ssh",
        metavar="stringArray",
        help="SSH agent socket or keys to expose to the build"
        ' (format: "default|<id>[=<socket>|<key>[,<key>]]")',
    )
    p.multi(
        "-t", "--tag", metavar="stringArray", help='Name and optionally a tag (format: "name:tag")'
    )
    p.option("--target", help="Set the target build stage to build")
    p.multi("--ulimit", metavar="ulimit", help="Ulimit options")
    return p


def cmd_build(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.build.builder import BuildFailed, excerpt
    from dockyard.build.dockerfile.errors import DockerfileParseError
    from dockyard.build.progress import Progress
    from dockyard.oci import reference as refs

    p = _build_parser(name)
    ns = p.parse(argv, min_args=1, max_args=1)
    for tag in ns.tag:
        try:
            refs.parse_reference(tag)
        except InvalidArgument:
            raise UsageError(
                f'invalid argument "{tag}" for "-t, --tag" flag: invalid reference format\n'
                f"See '{_program()} {name} --help'."
            ) from None
    mode = "quiet" if ns.quiet else ns.progress
    progress = Progress(mode)
    with _prepared_request(ns) as request:
        import signal

        def terminated(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        old = signal.signal(signal.SIGTERM, terminated)
        # Ctrl-C cancels the build even when the shell started us with SIGINT ignored
        # (a background job in a script), as the docker CLI's signal.Notify does.
        old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            from dockyard.build.builder import Builder

            result = Builder(engine(), request, progress).build()
        except BuildFailed as err:
            progress.close(False)
            sys.stderr.write(_failure_text(err, mode))
            return 1
        except DockerfileParseError as err:
            progress.close(False)
            shown = excerpt(request.dockerfile, request.dockerfile_name, err.line, err.end_line)
            sys.stderr.write((shown + "\n" if shown else "") + f"ERROR: failed to solve: {err}\n")
            return 1
        except DockyardError as err:
            progress.close(False)
            if isinstance(err, ClientError):
                raise
            sys.stderr.write(f"ERROR: failed to solve: {err}\n")
            return 1
        finally:
            signal.signal(signal.SIGTERM, old)
            signal.signal(signal.SIGINT, old_int)
    progress.close(True)
    if ns.iidfile:
        with open(ns.iidfile, "w") as f:
            f.write(result.image_id)
    if ns.quiet:
        write(result.image_id + "\n")
    return 0


def _program() -> str:
    return "dockyard"


def _failure_text(err: Any, mode: str) -> str:
    out = ""
    if err.step and mode != "quiet":
        out += f"------\n > {err.step}:\n" + "".join(line + "\n" for line in err.logs)
        out += "------\n"
    if err.excerpt:
        out += err.excerpt + "\n"
    return out + f"ERROR: failed to solve: {err.message}\n"


class _prepared_request:
    """The BuildRequest from the flags, with its context prepared (and cleaned up)."""

    def __init__(self, ns: Any) -> None:
        self.ns = ns
        self.cleanup: list[Callable[[], None]] = []

    def __enter__(self) -> BuildRequest:
        try:
            return self._make()
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        for fn in reversed(self.cleanup):
            fn()

    def _make(self) -> BuildRequest:
        from dockyard.build.builder import BuildRequest

        ns = self.ns
        if ns.platform:
            _check_platform(ns.platform)
        if ns.network not in ("default", "none", "host", ""):
            raise InvalidArgument(f"network mode {ns.network!r} not supported by buildkit")
        context_dir, dockerfile_text, dockerfile_name, matcher = self._context()
        return BuildRequest(
            dockerfile=dockerfile_text,
            dockerfile_name=dockerfile_name,
            context_dir=context_dir,
            matcher=matcher,
            tags=list(ns.tag),
            build_args=_build_args(ns.build_arg),
            target=ns.target or "",
            no_cache=ns.no_cache,
            no_cache_filter=[v for item in ns.no_cache_filter for v in item.split(",") if v],
            pull=ns.pull,
            labels=_labels(ns.label),
            network=ns.network or "default",
            secrets=self._secrets(ns.secret),
            ssh=_ssh(ns.ssh),
            platform="linux/amd64",
            shm_size=_shm_size(ns.shm_size),
            ulimits=_ulimits(ns.ulimit),
            extra_hosts=_hosts(ns.add_host),
        )

    def _context(self) -> tuple[str | None, str, str, Matcher | None]:
        from dockyard.build.context import load_context

        loaded = load_context(self.ns.args[0], dockerfile=self.ns.file, stdin=sys.stdin.buffer)
        self.cleanup.append(loaded.cleanup)
        text = loaded.dockerfile.decode("utf-8", "surrogateescape")
        name = (
            os.path.basename(loaded.dockerfile_name)
            if loaded.dockerfile_name != "-"
            else "Dockerfile"
        )
        return loaded.root, text, name, loaded.matcher if loaded.ignore_patterns else None

    def _secrets(self, specs: list[str]) -> dict[str, str]:
        """``--secret`` as buildx reads it: ``id=…[,src=file|,env=VAR][,type=file|env]``;
        with neither src nor env, the variable named by the id if it is set, else the
        file of that name (BuildKit's secretsprovider). Values from the environment
        go to a private file removed after the build."""
        import tempfile

        secrets: dict[str, str] = {}
        for spec in specs:
            secret_id, src, env = _parse_secret(spec)
            if not env and not src:
                if secret_id in os.environ:
                    env = secret_id
                else:
                    src = secret_id
            if env:
                fd, path = tempfile.mkstemp(prefix="dockyard-secret-")
                with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
                    f.write(os.environ.get(env, ""))
                self.cleanup.append(lambda p=path: os.unlink(p))  # type: ignore[misc]
                secrets[secret_id] = path
                continue
            try:
                size = os.stat(src).st_size
            except OSError as err:
                raise ClientError(f"failed to stat {src}: stat {src}: {_go_errno(err)}") from None
            if size > 500 * 1024:
                raise ClientError(f"secret {secret_id} too big. max size 500KB")
            secrets[secret_id] = os.path.abspath(src)
        return secrets


def _parse_secret(spec: str) -> tuple[str, str, str]:
    """(id, file, env var) of one ``--secret``, with buildx's errors."""
    import csv

    try:
        fields = next(csv.reader([spec]), [])
    except csv.Error as err:
        raise ClientError(f"failed to parse csv secret: {err}") from None
    secret_id = src = env = kind = ""
    for field in fields:
        key, sep, value = field.partition("=")
        key = key.strip().lower()
        if not sep:
            raise ClientError(f"invalid field '{field}' must be a key=value pair")
        if key == "type":
            if value not in ("file", "env"):
                raise ClientError(f'unsupported secret type "{value}"')
            kind = value
        elif key == "id":
            secret_id = value
        elif key in ("source", "src"):
            src = value
        elif key == "env":
            env = value
        else:
            raise ClientError(f"unexpected key '{key}' in '{field}'")
    if kind == "env" and not env:
        env, src = src, ""
    if not secret_id:
        raise ClientError("secret missing ID")
    return secret_id, src, env


def _go_errno(err: OSError) -> str:
    import errno

    if err.errno == errno.ENOENT:
        return "no such file or directory"
    return (err.strerror or str(err)).lower()


def _check_platform(value: str) -> None:
    """``--platform``: linux/amd64 (in any of its spellings) builds; a malformed one
    gets containerd's parse error; any other platform is refused before anything
    runs, because dockyard has no emulator to run its RUN steps with."""
    from dockyard.oci.platform import format_platform, normalize, parse_platform

    for item in value.split(","):
        try:
            platform = normalize(parse_platform(item.strip()))
        except InvalidArgument as err:
            raise ClientError(f"failed to parse platform {item.strip()}: {err}") from None
        shown = format_platform(platform)
        if (platform.os, platform.architecture) != ("linux", "amd64"):
            raise ClientError(
                f"ERROR: failed to solve: no emulator for platform {shown}: this host runs"
                " linux/amd64 and dockyard builds for it only"
            )


def _build_args(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep:
            env = os.environ.get(key)
            if env is None:
                continue  # docker: a bare name takes the client's environment, if set
            value = env
        out[key] = value
    return out


def _labels(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        key, _, value = v.partition("=")
        out[key] = value
    return out


def _ssh(values: list[str]) -> dict[str, list[str]]:
    """``--ssh default|<id>[=<socket>|<key>[,<key>]]``: no path means $SSH_AUTH_SOCK."""
    out: dict[str, list[str]] = {}
    for v in values:
        ssh_id, _, joined = v.partition("=")
        paths = [p for p in joined.split(",") if p] if joined else []
        if not paths:
            sock = os.environ.get("SSH_AUTH_SOCK", "")
            if not sock:
                raise ClientError("invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set")
            paths = [sock]
        out[ssh_id or "default"] = [os.path.abspath(p) for p in paths]
    return out


def _shm_size(value: str | None) -> int:
    if not value:
        return 0
    from dockyard.golang.units import ram_in_bytes

    try:
        return ram_in_bytes(value)
    except (InvalidArgument, ValueError):
        raise ClientError(f'invalid argument "{value}" for "--shm-size" flag') from None


def _ulimits(values: list[str]) -> list[dict[str, Any]]:
    out = []
    for v in values:
        name, _, limits = v.partition("=")
        soft, _, hard = limits.partition(":")
        try:
            out.append({"Name": name, "Soft": int(soft), "Hard": int(hard or soft)})
        except ValueError:
            raise ClientError(f'invalid argument "{v}" for "--ulimit" flag') from None
    return out


def _hosts(values: list[str]) -> list[str]:
    out = []
    for v in values:
        host, sep, ip = v.partition(":") if "=" not in v else v.partition("=")
        if not sep or not host or not ip:
            raise ClientError(
                f'invalid argument "{v}" for "--add-host" flag: bad format for add-host: "{v}"'
            )
        out.append(f"{host}:{ip}")
    return out


# ----------------------------------------------------------------- builder prune


def cmd_builder_prune(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.golang.units import human_size

    p = CommandParser(name, "[OPTIONS]", "Remove build cache")
    p.flag("-a", "--all", help="Remove all unused build cache, not just dangling ones")
    p.multi("--filter", metavar="filter", help='Provide filter values (e.g. "until=24h")')
    p.flag("-f", "--force", help="Do not prompt for confirmation")
    p.option("--keep-storage", metavar="bytes", help="Amount of disk space to keep for cache")
    p.option(
        "--reserved-space",
        metavar="bytes",
        help="Amount of disk space always allowed to keep for cache",
        hidden=True,
    )
    ns = p.parse(argv, max_args=0)
    until, filters = _prune_filters(ns.filter)
    keep = 0
    if ns.keep_storage or ns.reserved_space:
        from dockyard.golang.units import ram_in_bytes

        value = ns.keep_storage or ns.reserved_space
        try:
            keep = ram_in_bytes(value)
        except (InvalidArgument, ValueError):
            raise ClientError(f'invalid argument "{value}" for "--keep-storage" flag') from None
    if not ns.force:
        warning = PRUNE_ALL_WARNING if ns.all else PRUNE_WARNING
        if not confirm(f"{warning}\nAre you sure you want to continue? [y/N] "):
            return 0
    result = engine().builds.prune(
        all_entries=ns.all, until=until, keep_storage=keep, filters=filters
    )
    out = ""
    if result.ids:
        ids = "".join(i + "\n" for i in result.ids)
        out = "Deleted build cache objects:\n" + ids + "\n"
    write(out + f"Total reclaimed space: {human_size(result.reclaimed, 4)}\n")
    return 0


def _prune_filters(values: list[str]) -> tuple[float | None, dict[str, str]]:
    """``until`` (or its old name ``unused-for``) and BuildKit's record filters;
    like dockerd, one value per filter and no others (``label`` included: build
    cache records have no labels)."""
    import time

    from dockyard.engine.builds import PRUNE_FILTERS

    until: float | None = None
    filters: dict[str, str] = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep:
            raise ClientError(f"bad format of filter (expected name=value): {v}")
        key = key.strip().lower()
        if key in ("until", "unused-for", "unusedfor"):
            if until is not None:
                raise ClientError("filters expect only one value")
            from dockyard.golang.units import parse_timestamp

            try:
                secs, _nanos = parse_timestamp(value, time.time())
            except (InvalidArgument, ValueError):
                raise ClientError(f"invalid filter '{key}={value}'") from None
            until = float(secs)
        elif key in PRUNE_FILTERS:
            if key in filters:
                raise ClientError("filters expect only one value")
            filters[key] = value
        else:
            raise ClientError(f"invalid filter '{key}'")
    return until, filters
