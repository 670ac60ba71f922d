"""Small HTTP helpers for routes: query parameters as dockerd reads them, JSON bodies
with a size limit, JSON answers, and a router that adds the ``/v1.xx`` prefix."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.api.context import ApiContext
from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine.filters import Filters

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_JSON_BODY = 16 << 20
VERSION_PREFIX = r"/{api_version:v[0-9]+(?:\.[0-9]+)?}"
CTX_KEY = web.AppKey("ctx", ApiContext)


class Router:
    """Registers each route twice: ``/path`` and ``/v1.xx/path``, as dockerd does.

    A module set up later may take over a route an earlier one registered (say, a
    distribution module replacing a placeholder): the route calls whichever handler
    was registered last.
    """

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.handlers: dict[tuple[str, str], Handler] = {}

    def add(self, method: str, path: str, handler: Handler) -> None:
        key = (method, path)
        known = key in self.handlers
        self.handlers[key] = handler
        if known:
            return

        async def dispatch(request: web.Request) -> web.StreamResponse:
            return await self.handlers[key](request)

        for prefix in ("", VERSION_PREFIX):
            self.app.router.add_route(method, prefix + path, dispatch)

    def get(self, path: str, handler: Handler) -> None:
        self.add("GET", path, handler)

    def post(self, path: str, handler: Handler) -> None:
        self.add("POST", path, handler)

    def put(self, path: str, handler: Handler) -> None:
        self.add("PUT", path, handler)

    def delete(self, path: str, handler: Handler) -> None:
        self.add("DELETE", path, handler)

    def head(self, path: str, handler: Handler) -> None:
        self.add("HEAD", path, handler)


def ctx(request: web.Request) -> ApiContext:
    return request.app[CTX_KEY]


def api_version(request: web.Request) -> tuple[int, int]:
    """The version the client asked for (the path prefix), else the server's."""
    from dockyard.api.versions import API_VERSION, parse_version

    given = request.match_info.get("api_version")
    return parse_version(given[1:] if given else API_VERSION)


# ------------------------------------------------------------------ query


def bool_param(request: web.Request, name: str, default: bool = False) -> bool:
    """dockerd's ``BoolValue``: absent is the default; "", "0", "no", "false", "none" are false."""
    if name not in request.query:
        return default
    value = request.query[name].strip().lower()
    return value not in ("", "0", "no", "false", "none")


def str_param(request: web.Request, name: str, default: str = "") -> str:
    return request.query.get(name, default)


def int_param(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(
            f'invalid value for {name}: strconv.Atoi: parsing "{value}": invalid syntax'
        ) from None


def size_params(request: web.Request) -> tuple[int, int]:
    """A resize's ``h`` and ``w``: numbers a terminal can take (0 to 65535), else 400."""
    sizes = []
    for name, what in (("h", "height"), ("w", "width")):
        value = int_param(request, name, 0) or 0
        if not 0 <= value <= 0xFFFF:
            raise InvalidArgument(
                f'invalid resize {what} "{request.query.get(name)}": value out of range'
            )
        sizes.append(value)
    return sizes[0], sizes[1]


def filters_param(request: web.Request, name: str = "filters") -> Filters:
    from dockyard.engine.filters import Filters

    return Filters.from_json(request.query.get(name, ""))


# ------------------------------------------------------------------ bodies


async def json_body(request: web.Request, *, required: bool = False) -> Any:
    """The request's JSON body (None when empty and not required); 400 on bad JSON."""
    if request.content_length is not None and request.content_length > MAX_JSON_BODY:
        raise InvalidArgument("request body is too large")
    data = await request.content.read(MAX_JSON_BODY + 1)
    if len(data) > MAX_JSON_BODY:
        raise InvalidArgument("request body is too large")
    if not data.strip():
        if required:
            raise InvalidArgument("invalid JSON: request body is empty")
        return None
    try:
        return json.loads(data)
    except ValueError as exc:
        raise InvalidArgument(f"invalid JSON: {exc}") from None


async def json_object(request: web.Request, *, required: bool = False) -> dict[str, Any]:
    body = await json_body(request, required=required)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidArgument("invalid JSON: expected an object")
    return body


def expect_type(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if value is not None and not isinstance(value, kind):
        raise InvalidArgument(f"invalid type for {what}")
    return value


# ------------------------------------------------------------------ answers


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(value, separators=(",", ":")).encode() + b"\n",
        status=status,
        content_type="application/json",
    )


def no_content() -> web.Response:
    return web.Response(status=204)


async def json_stream_start(request: web.Request) -> web.StreamResponse:
    """A streamed JSON answer (events, pull progress, stats): headers go out at once."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    return response


async def write_json_line(response: web.StreamResponse, value: Any) -> None:
    await response.write(json.dumps(value, separators=(",", ":")).encode() + b"\n")


def string_map(value: Any, what: str) -> dict[str, str]:
    """A JSON object of strings (labels, options), or InvalidArgument naming ``what``."""
    expect_type(value, dict, what)
    out: dict[str, str] = {}
    for k, v in (value or {}).items():
        if not isinstance(v, str):
            raise InvalidArgument(f"invalid type for {what}")
        out[str(k)] = v
    return out
