"""Volumes: create, list, inspect, delete, prune."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.api.http import (
    Router,
    bool_param,
    ctx,
    expect_type,
    filters_param,
    json_object,
    json_response,
    no_content,
    string_map,
)

if TYPE_CHECKING:
    from dockyard.engine import Engine


def setup(router: Router) -> None:
    router.get("/volumes", list_volumes)
    router.post("/volumes/create", create)
    router.post("/volumes/prune", prune)
    router.get("/volumes/{name}", inspect)
    router.delete("/volumes/{name}", remove)


async def list_volumes(request: web.Request) -> web.Response:
    filters = filters_param(request)

    def run(e: Engine) -> list[dict[str, Any]]:
        return [v.inspect() for v in e.volumes.list(filters)]

    return json_response({"Volumes": await ctx(request).run(run), "Warnings": []})


async def create(request: web.Request) -> web.Response:
    body = await json_object(request)
    name = expect_type(body.get("Name"), str, "Name") or None
    driver = expect_type(body.get("Driver"), str, "Driver") or "local"
    labels = string_map(body.get("Labels"), "Labels")
    options = string_map(body.get("DriverOpts"), "DriverOpts")

    def run(e: Engine) -> dict[str, Any]:
        volume = e.volumes.create(name, driver, labels, options)
        return volume.inspect()

    return json_response(await ctx(request).run(run), status=201)


async def inspect(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    return json_response(await ctx(request).run(lambda e: e.volumes.get(name).inspect()))


async def remove(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    force = bool_param(request, "force")
    await ctx(request).run(lambda e: e.volumes.remove(name, force=force))
    return no_content()


async def prune(request: web.Request) -> web.Response:
    filters = filters_param(request)

    def run(e: Engine) -> dict[str, Any]:
        report = e.volumes.prune(filters=filters)
        return {"VolumesDeleted": report.deleted or None, "SpaceReclaimed": report.reclaimed}

    return json_response(await ctx(request).run(run))
