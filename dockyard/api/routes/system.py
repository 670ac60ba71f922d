"""_ping, version, info, events, system/df, auth."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.api.events import EVENT_FILTERS, matches, message
from dockyard.api.http import (
    Router,
    ctx,
    expect_type,
    filters_param,
    json_object,
    json_response,
    json_stream_start,
    str_param,
    write_json_line,
)
from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine import Engine


def setup(router: Router) -> None:
    router.get("/_ping", ping)
    router.head("/_ping", ping)
    router.get("/version", version)
    router.get("/info", info)
    router.get("/events", events)
    router.get("/system/df", disk_usage)
    router.post("/auth", auth)


async def ping(request: web.Request) -> web.Response:
    headers = {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}
    body = b"" if request.method == "HEAD" else b"OK"
    return web.Response(body=body, headers=headers, content_type="text/plain")


async def version(request: web.Request) -> web.Response:
    return json_response(await ctx(request).run(lambda e: e.system.version()))


def _info(engine: Engine) -> dict[str, Any]:
    result = engine.system.info()
    counts = {"running": 0, "paused": 0, "stopped": 0}
    for container in engine.containers.all():
        engine.lifecycle.refresh(container)
        status = container.status
        if status in ("running", "restarting"):
            counts["running"] += 1
        elif status == "paused":
            counts["paused"] += 1
        else:
            counts["stopped"] += 1
    result["ContainersRunning"] = counts["running"]
    result["ContainersPaused"] = counts["paused"]
    result["ContainersStopped"] = counts["stopped"]
    return result


async def info(request: web.Request) -> web.Response:
    return json_response(await ctx(request).run(_info))


def _disk_usage(engine: Engine) -> dict[str, Any]:
    from dockyard.api.views import container_summary
    from dockyard.oci import reference as refs

    usage = engine.system.disk_usage()
    for image in usage["Images"]:
        image["RepoTags"] = [refs.parse_reference(t).familiar() for t in image["RepoTags"]]
        image["RepoDigests"] = [refs.parse_reference(d).familiar() for d in image["RepoDigests"]]
    usage["Containers"] = [
        container_summary(engine, c, size=True)
        for c in engine.containers.list_containers(show_all=True)
    ]
    return usage


async def disk_usage(request: web.Request) -> web.Response:
    return json_response(await ctx(request).run(_disk_usage))


async def auth(request: web.Request) -> web.Response:
    """Check credentials against a registry, as dockerd's /auth does: the client keeps
    them (the docker CLI in its config.json), the server stores nothing."""
    body = await json_object(request, required=True)
    for key in ("username", "password", "serveraddress", "email", "auth", "identitytoken"):
        expect_type(body.get(key), str, key)
    username = body.get("username") or ""
    password = body.get("password") or ""
    if not username and body.get("auth"):
        username, password = _decode_auth(body["auth"])
    server = body.get("serveraddress") or None

    def login(e: Engine) -> None:
        distribution = e.distribution
        verify = getattr(distribution, "verify_login", None)
        if verify is None:  # an engine from before the check and the store were apart
            distribution.login(server, username, password)
        else:
            verify(server, username, password)

    await ctx(request).run(login)
    return json_response({"Status": "Login Succeeded"})  # IdentityToken is omitempty


def _decode_auth(value: str) -> tuple[str, str]:
    """The ``auth`` field: base64 of ``user:password``."""
    import base64
    import binascii

    try:
        text = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidArgument("invalid auth configuration: malformed auth") from None
    username, sep, password = text.partition(":")
    if not sep:
        raise InvalidArgument("invalid auth configuration: malformed auth")
    return username, password


def _timestamp_ns(value: str, now: float) -> int:
    from dockyard.timeutil import parse_timestamp

    try:
        return int(parse_timestamp(value, now) * 1e9)
    except (ValueError, InvalidArgument) as exc:
        raise InvalidArgument(f"invalid timestamp {value!r}: {exc}") from None


async def events(request: web.Request) -> web.StreamResponse:
    filters = filters_param(request)
    filters.validate(EVENT_FILTERS)
    now = time.time()
    since = str_param(request, "since")
    until = str_param(request, "until")
    since_ns = _timestamp_ns(since, now) if since else None
    until_ns = _timestamp_ns(until, now) if until else None
    if since_ns is not None and until_ns is not None and until_ns < since_ns:
        raise InvalidArgument("`since` time cannot be after `until` time")
    hub = ctx(request).events
    sub = await hub.subscribe()
    try:
        response = await json_stream_start(request)
        if since_ns is not None:
            for row in await hub.history(since_ns, until_ns, sub.after):
                event = message(row)
                if matches(event, filters):
                    await write_json_line(response, event)
        if until_ns is not None and until_ns <= time.time_ns():
            return response
        while request.transport is not None and not request.transport.is_closing():
            timeout = 1.0  # look at the connection now and then
            if until_ns is not None:
                timeout = min(timeout, max(0.0, (until_ns - time.time_ns()) / 1e9))
                if timeout == 0.0:
                    return response
            try:
                item = await asyncio.wait_for(sub.next(), timeout)
            except TimeoutError:
                continue
            if item is None:
                return response
            _, event = item
            if until_ns is not None and event["timeNano"] > until_ns:
                return response
            if matches(event, filters):
                await write_json_line(response, event)
        return response
    finally:
        sub.close()
