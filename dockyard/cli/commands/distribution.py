"""Registry commands: pull, push, login, logout, search -- output as Docker's CLI prints it."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable

from dockyard.cli.errors import ClientError
from dockyard.cli.output import render_rows, write
from dockyard.cli.parser import CommandParser
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import Any, TextIO

    from dockyard.engine import Engine
    from dockyard.engine.distribution import ProgressEvent

EngineFactory = Callable[[], "Engine"]

PASSWORD_ON_CLI_WARNING = "WARNING! Using --password via the CLI is insecure. Use --password-stdin."
UNENCRYPTED_WARNING = (
    "WARNING! Your credentials are stored unencrypted in '{path}'.\n"
    "Configure a credential helper to remove this warning. See\n"
    "https://docs.docker.com/go/credential-store/\n"
)


# --------------------------------------------------------------------- progress


class ProgressPrinter:
    """Docker's jsonmessage display: per-layer lines rewritten in place on a terminal
    (with bars), plain status lines otherwise (progress updates are dropped)."""

    def __init__(self, out: TextIO, *, terminal: bool | None = None) -> None:
        self.out = out
        self.terminal = out.isatty() if terminal is None else terminal
        self.ids: dict[str, int] = {}
        self.starts: dict[str, float] = {}
        self.lock = threading.Lock()
        self.width = shutil.get_terminal_size((200, 24)).columns if self.terminal else 0

    def __call__(self, ev: ProgressEvent) -> None:
        with self.lock:
            if self.terminal:
                self._terminal(ev)
            elif not ev.total:
                self.out.write(f"{ev.id}: {ev.status}\n" if ev.id else f"{ev.status}\n")
                self.out.flush()

    def _terminal(self, ev: ProgressEvent) -> None:
        if not ev.id:
            self.ids.clear()
            self.out.write(ev.status + "\n")
            self.out.flush()
            return
        line = self.ids.get(ev.id)
        if line is None:
            line = self.ids[ev.id] = len(self.ids)
            self.out.write("\n")
        diff = len(self.ids) - line
        parts = [f"\x1b[{diff}A" if diff else "", "\x1b[2K\r", f"{ev.id}: {ev.status} "]
        if ev.total:
            parts.append(self.bar(ev))
        parts.append("\r")
        if diff:
            parts.append(f"\x1b[{diff}B")
        self.out.write("".join(parts))
        self.out.flush()

    def bar(self, ev: ProgressEvent) -> str:
        """jsonmessage.JSONProgress.String(): ``[====>    ]  1.2MB/10MB 3s``."""
        from dockyard.golang.units import human_size

        start = self.starts.setdefault(ev.id, time.time())
        percentage = min(int(ev.current / ev.total * 100) // 2, 50) if ev.total else 0
        box = ""
        if self.width > 110:
            box = f"[{'=' * percentage}>{' ' * max(50 - percentage, 0)}] "
        current = human_size(ev.current, 4)
        numbers = f"{current:>8}/{human_size(ev.total, 4)}"
        if ev.current > ev.total:
            numbers = f"{current:>8}"
        left = ""
        if 0 < ev.current < ev.total and self.width > 50:
            elapsed = time.time() - start
            remaining = int(elapsed / ev.current * (ev.total - ev.current))
            left = " " + _go_duration(remaining)
        return box + numbers + left


def _go_duration(seconds: int) -> str:
    """Go's Duration.String() for whole seconds: ``0s``, ``42s``, ``1m5s``, ``2h0m0s``."""
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{secs}s"


# --------------------------------------------------------------------- pull


def cmd_pull(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry")
    p.flag("-a", "--all-tags", help="Download all tagged images in the repository")
    p.flag("--disable-content-trust", default=True, help="Skip image verification")
    p.option("--platform", help="Set platform if server is multi-platform capable")
    p.flag("-q", "--quiet", help="Suppress verbose output")
    ns = p.parse(argv, min_args=1, max_args=1)
    from dockyard.oci import reference as refs

    text = ns.args[0]
    try:
        ref = refs.parse_reference(text)
    except InvalidArgument as exc:
        raise ClientError(str(exc)) from None
    if ns.all_tags and not ref.is_name_only:
        raise ClientError("tag can't be used with --all-tags/-a")
    printer = ProgressPrinter(sys.stdout)
    if not ns.quiet and not ns.all_tags and ref.is_name_only:
        write("Using default tag: latest\n")
    results = engine().distribution.pull(
        text,
        platform=ns.platform or os.environ.get("DOCKER_DEFAULT_PLATFORM") or None,
        all_tags=ns.all_tags,
        progress=None if ns.quiet else printer,
    )
    if ns.all_tags:
        shown, full = ref.familiar_name, ref.name
    else:
        final = ref.docker_ref()
        shown, full = final.familiar(), str(final)
    if not ns.quiet:
        updated = any(r.updated for r in results)
        status = "Downloaded newer image" if updated else "Image is up to date"
        write(f"Status: {status} for {shown}\n")
    write(full + "\n")
    return 0


def ensure_image(engine: Engine, name: str, policy: str, platform: str | None, out: TextIO) -> str:
    """The implicit pull of ``run``/``create`` (``--pull always|missing|never``).

    Returns the image ID. Like Docker's CLI, it says ``Unable to find image … locally``
    and shows the pull's progress on ``out`` (stderr), ending with the Status line.
    """
    printer = ProgressPrinter(out)

    def missing(ref: Any) -> None:
        out.write(f"Unable to find image '{ref.familiar()}' locally\n")
        out.flush()

    before = engine.images.try_resolve(name)
    image_id = engine.distribution.ensure(name, policy, platform, printer, missing)
    if policy == "always" or before is None:
        from dockyard.oci import reference as refs

        ref = refs.parse_reference(name).docker_ref()
        status = "Image is up to date" if before == image_id else "Downloaded newer image"
        out.write(f"Status: {status} for {ref.familiar()}\n")
        out.flush()
    return image_id


# --------------------------------------------------------------------- push


def cmd_push(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS] NAME[:TAG]", "Upload an image to a registry")
    p.flag("-a", "--all-tags", help="Push all tags of an image to the repository")
    p.flag("--disable-content-trust", default=True, help="Skip image signing")
    p.option("--platform", hidden=True)
    p.flag("-q", "--quiet", help="Suppress verbose output")
    ns = p.parse(argv, min_args=1, max_args=1)
    from dockyard.oci import reference as refs

    text = ns.args[0]
    try:
        ref = refs.parse_reference(text)
    except InvalidArgument as exc:
        raise ClientError(str(exc)) from None
    if ns.all_tags and not ref.is_name_only:
        raise ClientError("tag can't be used with --all-tags/-a")
    if not ns.quiet and not ns.all_tags and ref.is_name_only:
        write("Using default tag: latest\n")
    printer = ProgressPrinter(sys.stdout)
    engine().distribution.push(text, all_tags=ns.all_tags, progress=None if ns.quiet else printer)
    if ns.quiet:
        write(str(ref) + "\n")
    return 0


# --------------------------------------------------------------------- login, logout


def cmd_login(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS] [SERVER]", "Authenticate to a registry.")
    p.option("-u", "--username", default="", help="Username")
    p.option("-p", "--password", default="", help="Password or Personal Access Token (PAT)")
    p.flag("--password-stdin", help="Take the Password or Personal Access Token (PAT) from stdin")
    ns = p.parse(argv, max_args=1)
    server = ns.args[0] if ns.args else None
    username, password = ns.username.strip(), ns.password
    if password:
        sys.stderr.write(PASSWORD_ON_CLI_WARNING + "\n")
        if ns.password_stdin:
            raise ClientError(
                "conflicting options: cannot specify both --password and --password-stdin"
            )
    if ns.password_stdin:
        if not username:
            raise ClientError("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\n").rstrip("\r")
    service = engine().distribution
    if not username and not password:
        from dockyard.engine.distribution import registry_domain
        from dockyard.registry.client.credentials import server_key

        stored = service.credentials.get(server_key(registry_domain(server)))
        if not stored.empty:
            username, password = stored.username, stored.password
        elif not sys.stdin.isatty():
            raise ClientError("Error: Cannot perform an interactive login from a non TTY device")
    if not username or not password:
        if not sys.stdin.isatty():
            raise ClientError("Error: Cannot perform an interactive login from a non TTY device")
        if not username:
            sys.stdout.write("Username: ")
            sys.stdout.flush()
            username = sys.stdin.readline().strip()
        if not password:
            password = _read_password("Password: ")
        if not username:
            raise ClientError("Error: Non-null Username Required")
        if not password:
            raise ClientError("Error: Password Required")
    unencrypted = service.login(server, username, password)
    if unencrypted:
        sys.stderr.write(UNENCRYPTED_WARNING.format(path=service.credentials.path) + "\n")
    write("Login Succeeded\n")
    return 0


def _read_password(prompt: str) -> str:
    """A line from the terminal on stdin with echo off, as the docker CLI reads it
    (stdin's own terminal, not /dev/tty: a warm CLI command process has no
    controlling terminal)."""
    import termios

    sys.stdout.write(prompt)
    sys.stdout.flush()
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    quiet = list(saved)
    quiet[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)
    try:
        line = sys.stdin.readline()
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
        sys.stdout.write("\n")
        sys.stdout.flush()
    return line.rstrip("\n")


def cmd_logout(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[SERVER]", "Log out from a registry.")
    ns = p.parse(argv, max_args=1)
    key, found = engine().distribution.logout(ns.args[0] if ns.args else None)
    if not found:
        write(f"Not logged in to {key}\n")
        return 0
    write(f"Removing login credentials for {key}\n")
    return 0


# --------------------------------------------------------------------- search

SEARCH_HEADERS = {
    "Name": "NAME",
    "Description": "DESCRIPTION",
    "StarCount": "STARS",
    "IsOfficial": "OFFICIAL",
    "IsAutomated": "AUTOMATED",
}
SEARCH_TABLE = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"


def cmd_search(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS] TERM", "Search Docker Hub for images")
    p.multi("-f", "--filter", metavar="filter", help="Filter output based on conditions provided")
    p.option("--format", help="Pretty-print search using a Go template")
    p.option("--limit", default="25", metavar="int", help="Max number of search results")
    p.flag("--no-trunc", help="Don't truncate output")
    ns = p.parse(argv, min_args=1, max_args=1)
    try:
        limit = int(ns.limit)
    except ValueError:
        raise ClientError(
            f'invalid argument "{ns.limit}" for "--limit" flag: strconv.ParseInt: parsing'
            f' "{ns.limit}": invalid syntax'
        ).with_code(125) from None
    if limit < 1 or limit > 100:
        raise InvalidArgument(f"limit {limit} is outside the range of [1, 100]")
    filters = _search_filters(ns.filter)
    results = engine().distribution.search(ns.args[0], limit)
    rows: list[dict[str, Any]] = []
    for r in results:
        stars = int(r.get("star_count") or 0)
        official = bool(r.get("is_official"))
        automated = bool(r.get("is_automated"))
        if "stars" in filters and stars < filters["stars"]:
            continue
        if "is-official" in filters and official != bool(filters["is-official"]):
            continue
        if "is-automated" in filters and automated != bool(filters["is-automated"]):
            continue
        description = str(r.get("description") or "").replace("\n", " ")
        if not ns.no_trunc and len(description) > 45:
            description = description[:44] + "…"
        rows.append(
            {
                "Name": str(r.get("name") or ""),
                "Description": description,
                "StarCount": str(stars),
                "IsOfficial": "[OK]" if official else "",
                "IsAutomated": "[OK]" if automated else "",
            }
        )
    write(render_rows(rows, ns.format, SEARCH_TABLE, SEARCH_HEADERS))
    return 0


def _search_filters(values: list[str]) -> dict[str, int]:
    result: dict[str, int] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep:
            raise InvalidArgument(f"bad format of filter (expected name=value): {value}")
        if key == "stars":
            try:
                result[key] = int(val)
            except ValueError:
                raise InvalidArgument(f"invalid filter 'stars={val}'") from None
        elif key in ("is-official", "is-automated"):
            if val.lower() not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"invalid filter '{key}={val}'")
            result[key] = 1 if val.lower() in ("true", "1") else 0
        else:
            raise InvalidArgument(f"invalid filter '{key}'")
    return result
