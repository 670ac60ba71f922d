"""``/containers/{id}/archive``: HEAD (stat), GET (a tar of a path), PUT (extract a tar)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.api.http import Router, bool_param, ctx, str_param
from dockyard.errors import DockyardError, InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine import Engine

STAT_HEADER = "X-Docker-Container-Path-Stat"


def setup(router: Router) -> None:
    router.head("/containers/{id}/archive", head)
    router.get("/containers/{id}/archive", get)
    router.put("/containers/{id}/archive", put)


def _path(request: web.Request) -> str:
    path = str_param(request, "path")
    if not path:
        raise InvalidArgument("bad parameter: 'path' cannot be empty")
    return path


def _stat(engine: Engine, target: str, path: str) -> dict[str, Any]:
    from dockyard.engine.pathstat import path_stat

    return path_stat(engine, engine.containers.get(target), path)


def _header(value: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


async def head(request: web.Request) -> web.Response:
    path = _path(request)
    found = await ctx(request).run(_stat, request.match_info["id"], path)
    return web.Response(status=200, headers={STAT_HEADER: _header(found)})


async def get(request: web.Request) -> web.StreamResponse:
    from dockyard.api.bridge import ResponseWriter
    from dockyard.engine import fsops

    context = ctx(request)
    target = request.match_info["id"]
    path = _path(request)
    found = await context.run(_stat, target, path)
    response = web.StreamResponse(
        headers={"Content-Type": "application/x-tar", STAT_HEADER: _header(found)}
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    loop = asyncio.get_running_loop()

    def run(e: Engine) -> None:
        out = ResponseWriter(response, loop)
        fsops.copy_out_stream(e, e.containers.get(target), path, out, follow=False)
        out.flush()

    await context.run(run)
    await response.write_eof()
    return response


async def put(request: web.Request) -> web.Response:
    from dockyard.api.bridge import buffered_reader
    from dockyard.engine import fsops

    context = ctx(request)
    target = request.match_info["id"]
    path = _path(request)
    copy_ids = bool_param(request, "copyUIDGID")
    loop = asyncio.get_running_loop()

    def run(e: Engine) -> None:
        container = e.containers.get(target)
        stream = buffered_reader(request, loop)
        try:
            fsops.copy_in_stream(e, container, stream, path, path, archive=copy_ids)
        except fsops.LocalError as exc:
            raise InvalidArgument(exc.message) from None
        except DockyardError:
            raise
        except (ValueError, EOFError) as exc:
            raise InvalidArgument(f"invalid tar stream: {exc}") from None

    await context.run(run)
    return web.Response(status=200)
