"""The aiohttp application: version check, dockerd's headers, errors as
``{"message": ...}`` (one place), and the route modules."""

from __future__ import annotations

import importlib
import logging

from aiohttp import web
from aiohttp.typedefs import Middleware

from dockyard.api.context import ApiContext
from dockyard.api.http import CTX_KEY, Handler, Router, json_response
from dockyard.api.versions import check_version, server_headers
from dockyard.errors import DockyardError

log = logging.getLogger("dockyard.api")

# One module per area; each has ``setup(router: Router) -> None``. Networks, build and
# distribution (pull/push) plug in by adding their module here.
ROUTE_MODULES = (
    "dockyard.api.routes.system",
    "dockyard.api.routes.containers",
    "dockyard.api.routes.archive",
    "dockyard.api.routes.exec",
    "dockyard.api.routes.images",
    "dockyard.api.routes.volumes",
    "dockyard.api.routes.networks",
    "dockyard.api.routes.build",
    "dockyard.api.routes.plugins",
    "dockyard.api.routes.distribution",
)
MAX_BODY = 64 << 30  # image loads and archive uploads stream; JSON bodies have their own limit


def error_response(status: int, message: str) -> web.Response:
    return json_response({"message": message}, status=status)


def make_middleware() -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response: web.StreamResponse
        try:
            version = request.match_info.get("api_version")
            if version:
                check_version(version[1:])
            response = await handler(request)
        except DockyardError as exc:
            status = exc.http_status if 300 <= exc.http_status < 600 else 500
            response = error_response(status, exc.message)
        except web.HTTPNotFound:
            response = error_response(404, "page not found")
        except web.HTTPMethodNotAllowed:
            response = error_response(405, "method not allowed")
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = error_response(exc.status, exc.text or exc.reason)
        except ConnectionError:  # the client went away: nobody to answer
            from dockyard.api.hijack import HijackedResponse

            response = HijackedResponse()
        except Exception as exc:  # a bug: answer as dockerd would, log the traceback
            log.exception("%s %s", request.method, request.path)
            response = error_response(500, f"{type(exc).__name__}: {exc}")
        return response

    return middleware


def make_app(context: ApiContext) -> web.Application:
    experimental = bool(context.options.daemon.get("experimental"))
    app = web.Application(middlewares=[make_middleware()], client_max_size=MAX_BODY)
    app[CTX_KEY] = context
    headers = server_headers(experimental)

    async def add_headers(_: web.Request, response: web.StreamResponse) -> None:
        for key, value in headers.items():
            response.headers[key] = value

    app.on_response_prepare.append(add_headers)
    router = Router(app)
    for name in ROUTE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # an area that has not landed yet
            raise
        module.setup(router)

    async def on_shutdown(_: web.Application) -> None:
        await context.events.close()
        context.execs.close_all()

    app.on_shutdown.append(on_shutdown)
    return app
