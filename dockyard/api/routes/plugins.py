"""Plugins: dockyard runs none, so the list is empty and every name is unknown, as on
a dockerd without plugins (``docker plugin ls``, docker-py's ``plugins.list()``)."""

from __future__ import annotations

from aiohttp import web

from dockyard.api.http import Router, filters_param, json_response
from dockyard.errors import NotFound

PLUGIN_FILTERS = ("capability", "enable")


def setup(router: Router) -> None:
    router.get("/plugins", list_plugins)
    router.get("/plugins/{name}/json", inspect)


async def list_plugins(request: web.Request) -> web.Response:
    filters_param(request).validate(PLUGIN_FILTERS)
    return json_response([])


async def inspect(request: web.Request) -> web.Response:
    raise NotFound(f'plugin "{request.match_info["name"]}" not found')
