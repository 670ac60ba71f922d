"""Images: list, inspect, history, tag, delete, get (save), load, prune, search,
create (pull, or import with fromSrc) and push."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from aiohttp import web

from dockyard.api.http import (
    Router,
    bool_param,
    ctx,
    filters_param,
    int_param,
    json_object,
    json_response,
    json_stream_start,
    str_param,
    write_json_line,
)
from dockyard.errors import DockyardError, InvalidArgument, Unsupported

if TYPE_CHECKING:
    from dockyard.engine import Engine
    from dockyard.registry.client.credentials import AuthConfig

NAME = "{name:.+}"


def setup(router: Router) -> None:
    router.get("/images/json", list_images)
    router.post("/images/load", load)
    router.get("/images/get", get_many)
    router.post("/images/prune", prune)
    router.get("/images/search", search)
    router.post("/images/create", create)
    router.get(f"/images/{NAME}/json", inspect)
    router.get(f"/images/{NAME}/history", history)
    router.get(f"/images/{NAME}/get", get_one)
    router.post(f"/images/{NAME}/tag", tag)
    router.post(f"/images/{NAME}/push", push)
    router.delete(f"/images/{NAME}", remove)
    router.post("/commit", commit)


async def list_images(request: web.Request) -> web.Response:
    from dockyard.api.views import image_summary

    show_all = bool_param(request, "all")
    filters = filters_param(request)
    reference = str_param(request, "filter") or None  # the pre-1.25 form

    def run(e: Engine) -> list[dict[str, Any]]:
        images = e.images.list_images(show_all=show_all, filters=filters, reference=reference)
        counts: dict[str, int] = {}
        for row in e.db.query("SELECT image_id, COUNT(*) AS n FROM containers GROUP BY image_id"):
            counts[row["image_id"]] = int(row["n"])
        return [image_summary(e, i, {i.id: counts.get(i.id, 0)}) for i in images]

    return json_response(await ctx(request).run(run))


async def inspect(request: web.Request) -> web.Response:
    from dockyard.api.views import image_inspect

    name = request.match_info["name"]
    return json_response(await ctx(request).run(image_inspect, name))


async def history(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    return json_response(await ctx(request).run(lambda e: e.images.history(name)))


async def tag(request: web.Request) -> web.Response:
    from dockyard.oci import reference as refs

    source = request.match_info["name"]
    repo = str_param(request, "repo")
    tag_name = str_param(request, "tag")
    if not repo:
        raise InvalidArgument("repository name must have at least one component")
    target = f"{repo}:{tag_name}" if tag_name else repo
    try:
        refs.parse_reference(target)
    except InvalidArgument as exc:
        raise InvalidArgument(
            f"Error parsing reference: {target!r} is not a valid repository/tag: {exc}"
        ) from None
    await ctx(request).run(lambda e: e.images.tag(source, target))
    return web.Response(status=201)


async def commit(request: web.Request) -> web.Response:
    """``POST /commit`` (docker commit): the container's changes as a new image."""
    import inspect as pyinspect

    from dockyard.api import bodies
    from dockyard.engine import fsops
    from dockyard.oci import reference as refs

    target = str_param(request, "container")
    repo = str_param(request, "repo")
    tag_name = str_param(request, "tag")
    reference = (f"{repo}:{tag_name}" if tag_name else repo) if repo else None
    if reference is not None:
        try:
            refs.parse_reference(reference)
        except InvalidArgument as exc:
            raise InvalidArgument(f"invalid reference format: {exc.message}") from None
    config = await json_object(request)
    bodies.check(config, bodies.CONTAINER_CONFIG, "Config")
    extra: dict[str, Any] = {}
    if any(v not in (None, "", [], {}, False, 0) for v in config.values()):
        # dockerd merges such a config over the container's; this engine cannot yet
        if "config" not in pyinspect.signature(fsops.commit).parameters:
            raise InvalidArgument(
                "a container config in the commit body is not supported: use changes"
            )
        extra["config"] = config
    options: dict[str, Any] = {
        "reference": reference,
        "author": str_param(request, "author"),
        "message": str_param(request, "comment"),
        "changes": [c for c in request.query.getall("changes", []) if c.strip()],
        "pause": bool_param(request, "pause", True),
    }

    def run(e: Engine) -> str:
        container = e.containers.get(target)
        return fsops.commit(e, container, **options, **extra)

    return json_response({"Id": await ctx(request).run(run)}, status=201)


async def remove(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    force = bool_param(request, "force")
    noprune = bool_param(request, "noprune")

    def run(e: Engine) -> list[dict[str, str]]:
        results = e.images.remove(name, force=force, prune=not noprune)
        return [{r.action: r.value} for r in results]

    return json_response(await ctx(request).run(run))


async def prune(request: web.Request) -> web.Response:
    filters = filters_param(request)

    def run(e: Engine) -> dict[str, Any]:
        report = e.images.prune(all_images=False, filters=filters)
        deleted = [{r.action: r.value} for r in report.deleted]
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": report.reclaimed}

    return json_response(await ctx(request).run(run))


# ------------------------------------------------------------------ save / load


async def _save(request: web.Request, names: list[str]) -> web.StreamResponse:
    from dockyard.api.bridge import ResponseWriter

    context = ctx(request)
    if not names:
        raise InvalidArgument("no images given")

    def check(e: Engine) -> None:
        for name in names:
            e.images.resolve(name) if ":" in name or "@" in name else _exists(e, name)

    await context.run(check)
    response = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    loop = asyncio.get_running_loop()

    def run(e: Engine) -> None:
        out = ResponseWriter(response, loop)
        e.save_images(names, cast("BinaryIO", out))
        out.flush()

    await context.run(run)
    await response.write_eof()
    return response


def _exists(e: Engine, name: str) -> None:
    """A bare repository name may mean all its tags (``save busybox``) or an ID prefix."""
    from dockyard.oci import reference as refs

    try:
        parsed = refs.parse_any_reference(name)
    except InvalidArgument:
        parsed = None
    if parsed is not None and not isinstance(parsed, str) and parsed.is_name_only:
        rows = e.db.query(
            "SELECT 1 FROM refs WHERE name >= ? AND name < ? LIMIT 1",
            (parsed.name + ":", parsed.name + ";"),
        )
        if rows:
            return
    e.images.resolve(name)


async def get_one(request: web.Request) -> web.StreamResponse:
    return await _save(request, [request.match_info["name"]])


async def get_many(request: web.Request) -> web.StreamResponse:
    return await _save(request, request.query.getall("names", []))


async def load(request: web.Request) -> web.StreamResponse:
    from dockyard.api.bridge import buffered_reader

    context = ctx(request)
    loop = asyncio.get_running_loop()

    def run(e: Engine) -> list[str]:
        try:
            return e.load_images(buffered_reader(request, loop))
        except DockyardError:
            raise
        except (ValueError, EOFError, KeyError, OSError) as exc:
            raise InvalidArgument(f"invalid archive: {exc}") from None

    lines = await context.run(run)
    response = await json_stream_start(request)
    for line in lines:
        await write_json_line(response, {"stream": line + "\n"})
    return response


# ------------------------------------------------------------------ registry


def _distribution(engine: Engine) -> Any:
    service = getattr(engine, "distribution", None)
    if service is None:
        raise Unsupported("pulling and pushing are not implemented by this dockyard yet")
    return service


async def _progress_stream(
    request: web.Request, work: Callable[[Engine, Callable[[Any], None]], list[str]]
) -> web.StreamResponse:
    """Run ``work`` (pull or push) on a worker thread and stream its progress as
    Docker's JSON messages. As dockerd, the stream starts with the first message: an
    error before it (a missing manifest, denied access) is a plain JSON error with
    its status; an error after the start is the stream's last message."""
    context = ctx(request)
    await context.run(_distribution)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any] | DockyardError | None] = asyncio.Queue()

    def emit(event: Any) -> None:
        message: dict[str, Any] = {"status": event.status}
        if event.id:
            message["id"] = event.id
        if event.total:
            message["progressDetail"] = {"current": event.current, "total": event.total}
        loop.call_soon_threadsafe(queue.put_nowait, message)

    def run(e: Engine) -> None:
        try:
            for line in work(e, emit):
                loop.call_soon_threadsafe(queue.put_nowait, {"status": line})
        except DockyardError as exc:
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    task = loop.run_in_executor(context.pool, lambda: run(context.engine()))
    first = await queue.get()
    if isinstance(first, DockyardError):
        await task
        raise first
    response = await json_stream_start(request)
    message: dict[str, Any] | DockyardError | None = first
    while message is not None:
        if isinstance(message, DockyardError):
            text = message.message
            message = {"errorDetail": {"message": text}, "error": text}
        await write_json_line(response, message)
        message = await queue.get()
    await task
    return response


async def create(request: web.Request) -> web.StreamResponse:
    source = str_param(request, "fromSrc")
    if source:
        return await _import(request, source)
    image = str_param(request, "fromImage")
    tag_name = str_param(request, "tag")
    platform = str_param(request, "platform") or None
    if not image:
        raise InvalidArgument("fromImage or fromSrc must be given")
    name = image
    if tag_name:
        name = f"{image}@{tag_name}" if tag_name.startswith("sha256:") else f"{image}:{tag_name}"
    auth = registry_auth(request)

    def work(e: Engine, emit: Callable[[Any], None]) -> list[str]:
        from dockyard.oci import reference as refs

        before = e.images.try_resolve(name)
        results = _distribution(e).pull(name, platform=platform, progress=emit, auth=auth)
        ref = refs.parse_reference(name).docker_ref()
        updated = any(r.updated for r in results) or before is None
        status = "Downloaded newer image" if updated else "Image is up to date"
        return [f"Status: {status} for {ref.familiar()}"]

    return await _progress_stream(request, work)


async def _import(request: web.Request, source: str) -> web.StreamResponse:
    from dockyard.api.bridge import buffered_reader

    context = ctx(request)
    repo = str_param(request, "repo")
    tag_name = str_param(request, "tag")
    reference = f"{repo}:{tag_name}" if repo and tag_name else repo or None
    changes = request.query.getall("changes", [])
    message = str_param(request, "message")
    platform = str_param(request, "platform") or None
    if source != "-":
        raise Unsupported("importing from a URL is not implemented by the API server yet")
    loop = asyncio.get_running_loop()

    def run(e: Engine) -> str:
        return e.import_image(
            buffered_reader(request, loop),
            source="-",
            reference=reference,
            changes=changes,
            message=message,
            platform=platform,
        )

    image_id = await context.run(run)
    response = await json_stream_start(request)
    await write_json_line(response, {"status": image_id})
    return response


async def push(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    tag_name = str_param(request, "tag")
    target = f"{name}:{tag_name}" if tag_name else name
    auth = registry_auth(request)

    def work(e: Engine, emit: Callable[[Any], None]) -> list[str]:
        results = _distribution(e).push(target, all_tags=not tag_name, progress=emit, auth=auth)
        return [f"{r.tag}: digest: {r.digest} size: {r.size}" for r in results]

    return await _progress_stream(request, work)


def registry_auth(request: web.Request) -> AuthConfig | None:
    """The ``X-Registry-Auth`` header: base64url JSON of the client's credentials for
    this registry (docker sends ``{}``-like empties when it has none)."""
    import base64
    import binascii
    import json

    from dockyard.registry.client.credentials import AuthConfig

    header = request.headers.get("X-Registry-Auth", "").strip()
    if not header:
        return None
    try:
        padded = header + "=" * (-len(header) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        return None  # dockerd ignores a header it cannot read
    if not isinstance(value, dict):
        return None
    auth = AuthConfig(
        username=str(value.get("username") or ""),
        password=str(value.get("password") or ""),
        identity_token=str(value.get("identitytoken") or ""),
        server_address=str(value.get("serveraddress") or ""),
    )
    return None if auth.empty else auth


async def search(request: web.Request) -> web.Response:
    term = str_param(request, "term")
    limit = int_param(request, "limit", 25) or 25
    if not term:
        raise InvalidArgument("term must be given")

    def run(e: Engine) -> list[dict[str, Any]]:
        service = _distribution(e)
        if not hasattr(service, "search"):
            raise Unsupported("search is not implemented by this dockyard yet")
        result: list[dict[str, Any]] = service.search(term, limit)
        return result

    return json_response(await ctx(request).run(run))
