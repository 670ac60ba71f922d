"""Image commands: images/ls, inspect, history, tag, rmi, prune, import, save, load."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from dockyard.cli.errors import ClientError
from dockyard.cli.output import Row, confirm, dump_json, render_object, render_rows, write
from dockyard.cli.parser import CommandParser
from dockyard.engine.views import inspect_image
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.oci import reference as refs

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import Any, BinaryIO

    from dockyard.engine import Engine
    from dockyard.engine.images import DeleteResult, Image
    from dockyard.engine.layerstore import Layer

EngineFactory = Callable[[], "Engine"]

IMAGE_HEADERS = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
    "VirtualSize": "VIRTUAL SIZE",
    "Containers": "CONTAINERS",
}


def _short_id(image_id: str, trunc: bool) -> str:
    return image_id.removeprefix("sha256:")[:12] if trunc else image_id


def image_rows(
    images: list[Image],
    *,
    digests: bool,
    trunc: bool,
    now: float | None = None,
    created_at_column: bool = True,
) -> list[dict[str, Any]]:
    """One row per repository:tag (``<none>`` for dangling), as ``docker images`` lists.

    ``created_at_column=False`` skips the local-time CreatedAt field that only a
    custom ``--format`` can show (it is the costliest field of a long listing).
    """
    from dockyard.golang.timefmt import created_at
    from dockyard.golang.units import human_duration, human_size

    now = time.time() if now is None else now
    rows: list[dict[str, Any]] = []
    for image in images:
        size = human_size(image.size)
        base = Row(
            {
                "Containers": "N/A",
                "CreatedAt": created_at(int(image.created_unix)) if created_at_column else "",
                "CreatedSince": human_duration(now - image.created_unix) + " ago",
                "ID": _short_id(image.id, trunc),
                "SharedSize": "N/A",
                "Size": size,
                "UniqueSize": "N/A",
                "VirtualSize": human_size(image.size, 4),
            }
        )
        digests_by_repo: dict[str, list[str]] = {}
        for d in image.repo_digests:
            repo, _, digest = refs.split_canonical(d)
            digests_by_repo.setdefault(repo, []).append(digest or "")
        seen_repos: set[str] = set()
        for full in image.repo_tags:
            repo, tag, _ = refs.split_canonical(full)
            seen_repos.add(repo)
            repo_digests = digests_by_repo.get(repo) or ["<none>"]
            for digest in repo_digests if digests else repo_digests[:1]:
                rows.append(Row(base, Repository=repo, Tag=tag or "<none>", Digest=digest))
        for repo, repo_digests in digests_by_repo.items():
            if repo in seen_repos:
                continue
            for digest in repo_digests if digests else repo_digests[:1]:
                rows.append(Row(base, Repository=repo, Tag="<none>", Digest=digest))
        if not image.repo_tags and not image.repo_digests:
            rows.append(Row(base, Repository="<none>", Tag="<none>", Digest="<none>"))
    return rows


def cmd_ls(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine.filters import Filters

    p = CommandParser(name, "[OPTIONS] [REPOSITORY[:TAG]]", "List images")
    p.flag("-a", "--all", help="Show all images (default hides intermediate images)")
    p.flag("--digests", help="Show digests")
    p.multi("-f", "--filter", metavar="filter", help="Filter output based on conditions provided")
    p.option("--format", help="Format output using a custom template")
    p.flag("--no-trunc", help="Don't truncate output")
    p.flag("-q", "--quiet", help="Only show image IDs")
    p.flag("--tree", hidden=True)
    ns = p.parse(argv, max_args=1)
    filters = Filters.from_cli(ns.filter)
    images = engine().images.list_images(
        show_all=ns.all, filters=filters, reference=ns.args[0] if ns.args else None
    )
    if ns.quiet:
        seen: list[str] = []
        for image in images:
            short = _short_id(image.id, not ns.no_trunc)
            if short not in seen:
                seen.append(short)
        write("".join(s + "\n" for s in seen))
        return 0
    rows = image_rows(
        images,
        digests=ns.digests,
        trunc=not ns.no_trunc,
        created_at_column=ns.format not in (None, "", "table"),
    )
    if ns.digests:
        default = (
            "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
        )
    else:
        default = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    write(render_rows(rows, ns.format, default, IMAGE_HEADERS))
    return 0


def _inspect(
    engine: EngineFactory,
    names: list[str],
    fmt: str | None,
    missing: Callable[[str, NotFound], str],
) -> int:
    e = engine()
    found: list[dict[str, Any]] = []
    errors: list[str] = []
    for name in names:
        try:
            found.append(inspect_image(e, name))
        except NotFound as exc:
            errors.append(missing(name, exc))
    if fmt:
        for item in found:
            write(render_object(item, fmt) if fmt != "json" else dump_json([item]))
    else:
        write(dump_json(found))
    for message in errors:
        sys.stderr.write(message + "\n")
    return 1 if errors else 0


def cmd_inspect(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(
        name, "[OPTIONS] IMAGE [IMAGE...]", "Display detailed information on one or more images"
    )
    p.option("-f", "--format", help="Format output using a custom template")
    p.option("--platform", help="Inspect a specific platform")
    ns = p.parse(argv, min_args=1)
    return _inspect(
        engine,
        ns.args,
        ns.format,
        lambda _, exc: f"Error response from daemon: {exc.message}",
    )


def cmd_inspect_any(engine: EngineFactory, argv: list[str], name: str) -> int:
    """``inspect``: containers first, then images, as Docker looks them up."""
    from dockyard.engine.views import inspect_container

    p = CommandParser(
        name, "[OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on Docker objects"
    )
    p.option("-f", "--format", help="Format output using a custom template")
    p.flag("-s", "--size", help="Display total file sizes if the type is container")
    p.option("--type", help="Only inspect objects of the given type")
    ns = p.parse(argv, min_args=1)
    known = (
        "container",
        "image",
        "network",
        "volume",
        "node",
        "service",
        "task",
        "secret",
        "config",
        "plugin",
    )
    if ns.type is not None and ns.type not in known:
        raise ClientError(f'"{ns.type}" is not a valid value for --type')
    e = engine()
    found: list[dict[str, Any]] = []
    errors: list[str] = []
    for target in ns.args:
        if ns.type in (None, "container"):
            container = e.containers.try_get(target)
            if container is not None:
                found.append(inspect_container(e, container, ns.size))
                continue
        if ns.type in (None, "image"):
            try:
                found.append(inspect_image(e, target))
                continue
            except NotFound:
                pass
        if ns.type in (None, "volume"):
            try:
                found.append(e.volumes.get(target).inspect())
                continue
            except NotFound:
                pass
        kind = "object" if ns.type is None else ns.type
        errors.append(f"Error: No such {kind}: {target}")
    if ns.format and ns.format != "json":
        write("".join(render_object(item, ns.format) for item in found))
    else:
        write(dump_json(found))
    for message in errors:
        sys.stderr.write(message + "\n")
    return 1 if errors else 0


def cmd_history(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.golang.units import human_duration, human_size

    p = CommandParser(name, "[OPTIONS] IMAGE", "Show the history of an image")
    p.option("--format", help="Format output using a custom template")
    p.flag("-H", "--human", default=True, help="Print sizes and dates in human readable format")
    p.flag("--no-trunc", help="Don't truncate output")
    p.flag("-q", "--quiet", help="Only show image IDs")
    p.option("--platform", help="Show history for the given platform")
    ns = p.parse(argv, min_args=1, max_args=1)
    human = bool(ns.human)
    history = engine().images.history(ns.args[0])
    now = time.time()
    if ns.quiet:
        write("".join(_short_id(h["Id"], not ns.no_trunc) + "\n" for h in history))
        return 0
    from dockyard.golang.timefmt import format_rfc3339, local_zone

    rows = []
    for h in history:
        created_by = h["CreatedBy"].replace("\t", " ")
        if not ns.no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        image_id = h["Id"] if h["Id"] == "<missing>" else _short_id(h["Id"], not ns.no_trunc)
        created = int(h["Created"])
        created_at = format_rfc3339(created, local_zone(created)[1])
        rows.append(
            Row(
                ID=image_id,
                CreatedSince=(human_duration(now - created) + " ago") if human else created_at,
                CreatedAt=created_at,
                CreatedBy=created_by,
                Size=human_size(h["Size"]) if human else str(h["Size"]),
                Comment=h["Comment"],
            )
        )
    created_column = "{{.CreatedSince}}" if human else "{{.CreatedAt}}"
    default = (
        f"table {{{{.ID}}}}\t{created_column}\t{{{{.CreatedBy}}}}\t{{{{.Size}}}}\t{{{{.Comment}}}}"
    )
    headers = {
        "ID": "IMAGE",
        "CreatedSince": "CREATED",
        "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY",
        "Size": "SIZE",
        "Comment": "COMMENT",
    }
    write(render_rows(rows, ns.format, default, headers))
    return 0


def cmd_tag(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(
        name,
        "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
        "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    )
    ns = p.parse(argv, min_args=2, max_args=2)
    source, target = ns.args
    for value in (source, target):
        try:
            refs.parse_any_reference(value)
        except InvalidArgument as exc:
            raise ClientError(
                f'Error parsing reference: "{value}" is not a valid repository/tag: {exc}'
            ) from None
    engine().images.tag(source, target)
    return 0


def cmd_rm(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images")
    p.flag("-f", "--force", help="Force removal of the image")
    p.flag("--no-prune", help="Do not delete untagged parents")
    p.option("--platform", hidden=True)
    ns = p.parse(argv, min_args=1)
    e = engine()
    failed = False
    for image_name in ns.args:
        try:
            results = e.images.remove(image_name, force=ns.force, prune=not ns.no_prune)
        except DockyardError as exc:
            sys.stderr.write(f"Error response from daemon: {exc.message}\n")
            failed = True
            continue
        write("".join(f"{r.action}: {r.value}\n" for r in results))
    return 1 if failed else 0


def cmd_prune(engine: EngineFactory, argv: list[str], name: str) -> int:
    from dockyard.engine.filters import Filters

    p = CommandParser(name, "[OPTIONS]", "Remove unused images")
    p.flag("-a", "--all", help="Remove all unused images, not just dangling ones")
    p.multi("--filter", metavar="filter", help='Provide filter values (e.g. "until=<timestamp>")')
    p.flag("-f", "--force", help="Do not prompt for confirmation")
    ns = p.parse(argv, max_args=0)
    filters = Filters.from_cli(ns.filter)
    if not ns.force:
        warning = (
            "WARNING! This will remove all images without at least one container"
            " associated to them."
            if ns.all
            else "WARNING! This will remove all dangling images."
        )
        if not confirm(f"{warning}\nAre you sure you want to continue? [y/N] "):
            return 0
    report = engine().images.prune(all_images=ns.all, filters=filters)
    write(prune_report(report.deleted, report.reclaimed))
    return 0


def prune_report(deleted: list[DeleteResult], reclaimed: int) -> str:
    """What ``image prune`` and ``system prune`` print for the images they removed."""
    from dockyard.golang.units import human_size

    out = ""
    if deleted:
        out += "Deleted Images:\n" + "".join(f"{r.action.lower()}: {r.value}\n" for r in deleted)
        out += "\n"
    return out + f"Total reclaimed space: {human_size(reclaimed, 4)}\n"


def cmd_import(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(
        name,
        "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
        "Import the contents from a tarball to create a filesystem image",
    )
    p.multi("-c", "--change", help="Apply Dockerfile instruction to the created image")
    p.option("-m", "--message", default="", help="Set commit message for imported image")
    p.option("--platform", help="Set platform if server is multi-platform capable")
    ns = p.parse(argv, min_args=1, max_args=2)
    source = ns.args[0]
    repo_tag = ns.args[1] if len(ns.args) > 1 else None
    if repo_tag is not None:
        try:
            refs.parse_reference(repo_tag)
        except InvalidArgument as exc:
            raise ClientError(str(exc)) from None
    e = engine()
    with _open_source(source) as stream:
        image_id = e.import_image(
            stream,
            # Docker's CLI streams a file as it does stdin: the history says "-".
            source=source if source.startswith(("http://", "https://")) else "-",
            reference=repo_tag,
            changes=ns.change,
            message=ns.message,
            platform=ns.platform,
        )
    write(image_id + "\n")
    return 0


class _open_source:
    """A file, ``-`` (stdin) or an http(s) URL, as a binary stream."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.stream: BinaryIO | None = None
        self._closer: Any = None

    def __enter__(self) -> BinaryIO:
        if self.source == "-":
            self.stream = sys.stdin.buffer
        elif self.source.startswith(("http://", "https://")):
            from dockyard.cli.http_source import open_url

            self.stream, self._closer = open_url(self.source)
        else:
            try:
                self.stream = open(self.source, "rb")
            except FileNotFoundError:
                raise ClientError(f"open {self.source}: no such file or directory") from None
            except IsADirectoryError:
                raise ClientError(f"read {self.source}: is a directory") from None
            self._closer = self.stream
        return self.stream

    def __exit__(self, *exc: object) -> None:
        if self._closer is not None:
            self._closer.close()


def cmd_save(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(
        name,
        "[OPTIONS] IMAGE [IMAGE...]",
        "Save one or more images to a tar archive (streamed to STDOUT by default)",
    )
    p.option("-o", "--output", help="Write to a file, instead of STDOUT")
    p.option("--platform", hidden=True)
    ns = p.parse(argv, min_args=1)
    e = engine()
    for image_name in ns.args:
        e.images.resolve(image_name) if not _is_repo_name(e, image_name) else None
    if ns.output is None:
        if sys.stdout.isatty():
            raise ClientError(
                "cowardly refusing to save to a terminal. Use the -o flag or redirect"
            )
        e.save_images(ns.args, sys.stdout.buffer)
        return 0
    directory = os.path.dirname(os.path.abspath(ns.output))
    if not os.path.isdir(directory):
        raise ClientError(
            f'failed to save image: invalid output path: directory "{directory}" does not exist'
        )
    tmp = f"{ns.output}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as out:
            e.save_images(ns.args, out)
        os.replace(tmp, ns.output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return 0


def _is_repo_name(e: Engine, name: str) -> bool:
    try:
        parsed = refs.parse_any_reference(name)
    except InvalidArgument:
        return False
    if isinstance(parsed, str) or not parsed.is_name_only:
        return False
    return bool(
        e.db.query(
            "SELECT 1 FROM refs WHERE name >= ? AND name < ? LIMIT 1",
            (parsed.name + ":", parsed.name + ";"),
        )
    )


def cmd_load(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS]", "Load an image from a tar archive or STDIN")
    p.option("-i", "--input", help="Read from tar archive file, instead of STDIN")
    p.flag("-q", "--quiet", help="Suppress the load output")
    p.option("--platform", hidden=True)
    ns = p.parse(argv, max_args=0)
    e = engine()
    progress = _layer_progress if sys.stdout.isatty() and not ns.quiet else None
    if ns.input is None:
        if sys.stdin.isatty():
            raise ClientError("requested load from stdin, but stdin is empty")
        lines = e.load_images(sys.stdin.buffer, progress)
    else:
        try:
            with open(ns.input, "rb") as f:
                lines = e.load_images(f, progress)
        except FileNotFoundError:
            raise ClientError(f"open {ns.input}: no such file or directory") from None
    write("".join(line + "\n" for line in lines))
    return 0


def _layer_progress(layer: Layer) -> None:
    """Docker's per-layer line on a terminal, shown as each layer is in place."""
    from dockyard.golang.units import human_size

    size = human_size(layer.blob_size, 4)
    write(f"{layer.diff_id[7:19]}: Loading layer [{'=' * 50}>]  {size}/{size}\n")
