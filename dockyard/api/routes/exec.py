"""Exec: create, start (hijacked, or detached), resize, inspect."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.api.http import Router, ctx, expect_type, json_object, json_response, size_params
from dockyard.errors import Conflict, InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine import Engine


def setup(router: Router) -> None:
    router.post("/containers/{id}/exec", create)
    router.post("/exec/{id}/start", start)
    router.post("/exec/{id}/resize", resize)
    router.get("/exec/{id}/json", inspect)


async def create(request: web.Request) -> web.Response:
    from dockyard.engine.execs import check_running, parse_detach_keys

    target = request.match_info["id"]
    body = await json_object(request, required=True)
    cmd = body.get("Cmd")
    if isinstance(cmd, str):
        cmd = [cmd]
    if not cmd:
        raise InvalidArgument("No exec command specified")
    if not isinstance(cmd, list) or not all(isinstance(c, str) for c in cmd):
        raise InvalidArgument("invalid type for Cmd")
    body["Cmd"] = cmd
    expect_type(body.get("Env"), list, "Env")
    for key in ("User", "WorkingDir", "DetachKeys"):
        expect_type(body.get(key), str, key)
    if body.get("DetachKeys"):
        parse_detach_keys(body["DetachKeys"])

    def run(e: Engine) -> str:
        container = e.containers.get(target)
        e.lifecycle.refresh(container)
        check_running(container, target)
        return container.id

    container_id = await ctx(request).run(run)
    instance = ctx(request).execs.create(container_id, body)
    return json_response({"Id": instance.id}, status=201)


async def start(request: web.Request) -> web.StreamResponse:
    from dockyard.api.execs import claim, run_worker
    from dockyard.api.hijack import RAW_TYPE, STREAM_TYPE, HijackedResponse, hijack
    from dockyard.api.versions import server_headers

    context = ctx(request)
    body = await json_object(request)
    instance = context.execs.get(request.match_info["id"])
    detach = bool(body.get("Detach"))
    tty = bool(body.get("Tty", instance.config.get("Tty")))
    size = body.get("ConsoleSize")
    if isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size):
        instance.config["ConsoleSize"] = size

    def running(e: Engine) -> None:
        from dockyard.engine.execs import check_running

        container = e.containers.get(instance.container_id)
        e.lifecycle.refresh(container)
        check_running(container, instance.container_id)

    await context.run(running)
    claim(instance)
    if detach:
        await run_worker(context.execs, instance, context.options, None, detach=True, tty=tty)
        return web.Response(status=200)
    headers = server_headers(bool(context.options.daemon.get("experimental")))
    conn = await hijack(request, RAW_TYPE if tty else STREAM_TYPE, headers)
    try:
        await run_worker(context.execs, instance, context.options, conn, detach=False, tty=tty)
    finally:
        conn.close()
    return HijackedResponse()


async def resize(request: web.Request) -> web.Response:
    height, width = size_params(request)
    instance = ctx(request).execs.get(request.match_info["id"])
    if not instance.running:
        raise Conflict(f"Exec {instance.id} is not running")
    instance.resize(height, width)
    return web.Response(status=200)


async def inspect(request: web.Request) -> web.Response:
    instance = ctx(request).execs.get(request.match_info["id"])
    result: dict[str, Any] = instance.inspect()
    return json_response(result)
