"""POST /build (a tar context; the classic builder's JSON stream) and /build/prune.

The builder reports BuildKit-style vertices; :class:`ClassicProgress` turns them
into the messages the classic builder sends (``Step 1/3 : FROM busybox``, the
steps' output, `` ---> Using cache``), which is what the docker CLI prints with
``DOCKER_BUILDKIT=0`` and what docker-py and Compose read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.api.http import (
    Router,
    bool_param,
    ctx,
    int_param,
    json_response,
    json_stream_start,
    str_param,
    write_json_line,
)
from dockyard.build.progress import Progress, Vertex
from dockyard.errors import DockyardError, InvalidArgument

if TYPE_CHECKING:
    from dockyard.build.builder import BuildRequest
    from dockyard.engine import Engine

log = logging.getLogger("dockyard.api")
Emit = Callable[[dict[str, Any]], None]
_STEP = re.compile(r"^\[(?:\S+ )?(\d+)/(\d+)\] (.*)$", re.DOTALL)


def setup(router: Router) -> None:
    router.post("/build", build)
    router.post("/build/prune", prune)


# ------------------------------------------------------------------ progress


def _shown_instruction(text: str) -> str:
    """``FROM docker.io/library/busybox:latest`` → ``FROM busybox:latest``."""
    if not text.startswith("FROM "):
        return text
    from dockyard.oci import reference as refs

    name, sep, rest = text[5:].partition(" ")
    with contextlib.suppress(InvalidArgument):
        name = refs.parse_reference(name).familiar()
    return f"FROM {name}{sep}{rest}"


class ClassicVertex(Vertex):
    def __init__(self, progress: ClassicProgress, number: int, name: str) -> None:
        super().__init__(progress, number, name)
        self.emit = progress.emit
        self.quiet = progress.quiet
        self.step = _STEP.match(name)
        if self.step and not self.quiet:
            index, total, text = self.step.groups()
            self.emit({"stream": f"Step {index}/{total} : {_shown_instruction(text)}\n"})

    def _emit(self, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        self.logs.append(text)
        if self.step and not self.quiet:
            self.emit({"stream": text + "\n"})

    def miss(self, reason: str) -> None:
        self.miss_reason = reason

    def note(self, text: str) -> None:
        pass

    def done(self) -> None:
        self.flush()

    def cached(self) -> None:
        if self.step and not self.quiet:
            self.emit({"stream": " ---> Using cache\n"})

    def error(self, message: str) -> None:
        self.flush()


class ClassicProgress(Progress):
    def __init__(self, emit: Emit, quiet: bool) -> None:
        super().__init__("quiet")
        self.emit = emit
        self.quiet = quiet

    def vertex(self, name: str) -> Vertex:
        with self._lock:
            v = ClassicVertex(self, self._next, name)
            self._next += 1
            self.vertices.append(v)
        return v


# ------------------------------------------------------------------ parameters


def _json_map(request: web.Request, name: str) -> dict[str, str]:
    text = str_param(request, name)
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"invalid {name} parameter: {exc}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {name} parameter: expected an object")
    out: dict[str, str] = {}
    for key, item in value.items():
        if item is None:
            continue  # a build arg with no value: dockerd leaves it unset
        if not isinstance(item, str):
            raise InvalidArgument(f"invalid {name} parameter: values must be strings")
        out[str(key)] = item
    return out


def _extra_hosts(request: web.Request) -> list[str]:
    out = []
    for value in request.query.getall("extrahosts", []):
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            host, sep, ip = item.partition(":") if "=" not in item else item.partition("=")
            if not sep or not host or not ip:
                raise InvalidArgument(f'invalid extra host "{item}"')
            out.append(f"{host}:{ip}")
    return out


def _request_options(request: web.Request) -> dict[str, Any]:
    """The BuildRequest fields the query gives (all checked before the body is read)."""
    from dockyard.oci import reference as refs

    if str_param(request, "version") == "2":
        raise InvalidArgument(
            "BuildKit sessions are not supported by this server; build with DOCKER_BUILDKIT=0"
        )
    if str_param(request, "remote"):
        raise InvalidArgument("remote build contexts are not supported by this server")
    tags = [t for t in request.query.getall("t", []) if t]
    for t in tags:
        try:
            refs.parse_reference(t)
        except InvalidArgument:
            raise InvalidArgument(f"invalid reference format: {t}") from None
    platform = str_param(request, "platform")
    if platform and platform not in ("linux/amd64", "linux/x86_64", "linux"):
        raise InvalidArgument(f'"{platform}": unsupported platform (dockyard builds linux/amd64)')
    network = str_param(request, "networkmode") or "default"
    if network not in ("default", "none", "host", "bridge"):
        raise InvalidArgument(f"network mode {network!r} is not supported for builds")
    shm = int_param(request, "shmsize", 0) or 0
    if shm < 0:
        raise InvalidArgument("shmsize must be positive")
    return {
        "tags": tags,
        "build_args": _json_map(request, "buildargs"),
        "target": str_param(request, "target"),
        "no_cache": bool_param(request, "nocache"),
        "pull": bool_param(request, "pull"),
        "labels": _json_map(request, "labels"),
        "network": "default" if network == "bridge" else network,
        "platform": "linux/amd64",
        "shm_size": shm,
        "extra_hosts": _extra_hosts(request),
    }


# ------------------------------------------------------------------ build


def _familiar_tag(tag: str) -> str:
    from dockyard.oci import reference as refs

    try:
        return refs.parse_reference(tag).with_default_tag().familiar()
    except InvalidArgument:
        return tag


def _error(message: str) -> dict[str, Any]:
    return {"errorDetail": {"message": message}, "error": message}


async def build(request: web.Request) -> web.StreamResponse:
    from dockyard.api.bridge import buffered_reader
    from dockyard.build.builder import Builder, BuildFailed, BuildRequest
    from dockyard.build.context import load_context

    options = _request_options(request)
    quiet = bool_param(request, "q")
    dockerfile = str_param(request, "dockerfile") or None
    context = ctx(request)
    loop = asyncio.get_running_loop()

    def prepare() -> tuple[BuildRequest, Callable[[], None]]:
        loaded = load_context("-", dockerfile=dockerfile, stdin=buffered_reader(request, loop))
        try:
            name = loaded.dockerfile_name.rsplit("/", 1)[-1] or "Dockerfile"
            req = BuildRequest(
                dockerfile=loaded.dockerfile.decode("utf-8", "surrogateescape"),
                dockerfile_name=name,
                context_dir=loaded.root,
                matcher=loaded.matcher if loaded.ignore_patterns else None,
                **options,
            )
        except BaseException:
            loaded.cleanup()
            raise
        return req, loaded.cleanup

    build_request, cleanup = await context.run_plain(prepare)
    try:
        response = await json_stream_start(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        def emit(message: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, message)

        def run(e: Engine) -> None:
            try:
                result = Builder(e, build_request, ClassicProgress(emit, quiet)).build()
                emit({"aux": {"ID": result.image_id}})
                if quiet:
                    emit({"stream": result.image_id + "\n"})
                else:
                    short = result.image_id.removeprefix("sha256:")[:12]
                    emit({"stream": f"Successfully built {short}\n"})
                    for tag in build_request.tags:
                        emit({"stream": f"Successfully tagged {_familiar_tag(tag)}\n"})
            except BuildFailed as exc:
                emit(_error(exc.message))
            except DockyardError as exc:
                emit(_error(exc.message))
            except Exception as exc:  # a bug: the stream has begun, so say it there
                log.exception("build failed")
                emit(_error(f"{type(exc).__name__}: {exc}"))
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        task = loop.run_in_executor(context.pool, lambda: run(context.engine()))
        while (message := await queue.get()) is not None:
            await write_json_line(response, message)
        await task
    finally:
        await context.run_plain(cleanup)
    return response


# ------------------------------------------------------------------ prune


def _prune_filters(request: web.Request) -> tuple[float | None, dict[str, str]]:
    import time

    from dockyard.api.http import filters_param
    from dockyard.engine.builds import PRUNE_FILTERS
    from dockyard.timeutil import parse_timestamp

    filters = filters_param(request)
    until: float | None = None
    wanted: dict[str, str] = {}
    for key, values in filters.values.items():
        if len(values) != 1:
            raise InvalidArgument("filters expect only one value")
        value = values[0]
        if key in ("until", "unused-for", "unusedfor"):
            try:
                until = parse_timestamp(value, time.time())
            except (InvalidArgument, ValueError):
                raise InvalidArgument(f"invalid filter '{key}={value}'") from None
        elif key in PRUNE_FILTERS:
            wanted[key] = value
        else:
            raise InvalidArgument(f"invalid filter '{key}'")
    return until, wanted


async def prune(request: web.Request) -> web.Response:
    all_entries = bool_param(request, "all")
    keep = int_param(request, "keep-storage", 0) or 0
    until, filters = _prune_filters(request)

    def run(e: Engine) -> dict[str, Any]:
        result = e.builds.prune(
            all_entries=all_entries, until=until, keep_storage=keep, filters=filters
        )
        return {"CachesDeleted": result.ids or None, "SpaceReclaimed": result.reclaimed}

    return json_response(await ctx(request).run(run))
