"""Containers: create, list, inspect, start, stop, kill, restart, pause, unpause, wait,
attach, logs, top, stats, changes, export, resize, rename, update, prune, delete."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.api.http import (
    Router,
    bool_param,
    ctx,
    expect_type,
    filters_param,
    int_param,
    json_object,
    json_response,
    json_stream_start,
    no_content,
    size_params,
    str_param,
    write_json_line,
)
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotModified

if TYPE_CHECKING:
    from dockyard.api.attach import AttachOptions, Connection, MonitorLink, PendingAttach
    from dockyard.api.context import ApiContext
    from dockyard.engine import Engine
    from dockyard.engine.containers import Container

ACTIVE = ("running", "paused", "restarting")
REPLAY_DELAY = 0.05  # seconds between an attach's headers and its replayed logs
CONFIG_LISTS = ("Cmd", "Entrypoint", "Env", "OnBuild", "Shell")


def setup(router: Router) -> None:
    router.post("/containers/create", create)
    router.get("/containers/json", list_containers)
    router.post("/containers/prune", prune)
    router.get("/containers/{id}/json", inspect)
    router.post("/containers/{id}/start", start)
    router.post("/containers/{id}/stop", stop)
    router.post("/containers/{id}/kill", kill)
    router.post("/containers/{id}/restart", restart)
    router.post("/containers/{id}/pause", pause)
    router.post("/containers/{id}/unpause", unpause)
    router.post("/containers/{id}/wait", wait)
    router.post("/containers/{id}/attach", attach)
    router.get("/containers/{id}/attach/ws", attach_ws)
    router.get("/containers/{id}/logs", logs)
    router.get("/containers/{id}/top", top)
    router.get("/containers/{id}/stats", stats)
    router.get("/containers/{id}/changes", changes)
    router.get("/containers/{id}/export", export)
    router.post("/containers/{id}/resize", resize)
    router.post("/containers/{id}/rename", rename)
    router.post("/containers/{id}/update", update)
    router.delete("/containers/{id}", remove)


def _get(engine: Engine, name: str) -> Container:
    return engine.containers.get(name)


# ------------------------------------------------------------------ create


def split_create_body(
    body: dict[str, Any],
) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The create body → (image, Config, HostConfig, NetworkingConfig), type-checked."""
    from dockyard.api import bodies

    config = dict(body)
    bodies.check(config.get("HostConfig"), bodies.HOST_CONFIG, "HostConfig")
    bodies.check(config.get("NetworkingConfig"), bodies.NETWORKING_CONFIG, "NetworkingConfig")
    bodies.check(config, bodies.CONTAINER_CONFIG, "Config")
    if isinstance(config.get("HostConfig"), dict):
        bodies.check_cpusets(config["HostConfig"])
    host = expect_type(config.pop("HostConfig", None), dict, "HostConfig") or {}
    networking = expect_type(config.pop("NetworkingConfig", None), dict, "NetworkingConfig") or {}
    image = config.get("Image")
    if not image:
        raise InvalidArgument("config cannot be empty in order to create a container")
    if not isinstance(image, str):
        raise InvalidArgument("invalid type for Image")
    for key in CONFIG_LISTS:
        value = config.get(key)
        if isinstance(value, str):
            config[key] = [value]  # strslice: a string is a one-element list
        elif value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise InvalidArgument(f"invalid type for {key}")
    for key in ("Labels", "ExposedPorts", "Volumes"):
        expect_type(config.get(key), dict, key)
    for key in ("Binds", "CapAdd", "CapDrop", "Dns", "DnsSearch", "DnsOptions", "ExtraHosts"):
        value = host.get(key)
        if value is not None and not isinstance(value, list):
            raise InvalidArgument(f"invalid type for HostConfig.{key}")
    expect_type(host.get("Mounts"), list, "HostConfig.Mounts")
    expect_type(host.get("RestartPolicy"), dict, "HostConfig.RestartPolicy")
    if host.get("NetworkMode") == "bridge" and not _network_service_present():
        host["NetworkMode"] = "default"
    config.pop("HostConfig", None)
    return image, config, host, networking


def _network_service_present() -> bool:
    import importlib.util

    return importlib.util.find_spec("dockyard.engine.networks") is not None


async def create(request: web.Request) -> web.Response:
    body = await json_object(request, required=True)
    name = str_param(request, "name") or None
    image, config, host, networking = split_create_body(body)

    def run(e: Engine) -> Container:
        return e.containers.create(image, config, host, networking, name=name)

    container = await ctx(request).run(run)
    return json_response({"Id": container.id, "Warnings": []}, status=201)


# ------------------------------------------------------------------ read


async def list_containers(request: web.Request) -> web.Response:
    from dockyard.api.views import container_summary

    show_all = bool_param(request, "all")
    size = bool_param(request, "size")
    limit = int_param(request, "limit", -1)
    filters = filters_param(request)

    def run(e: Engine) -> list[dict[str, Any]]:
        found = e.containers.list_containers(
            show_all=show_all, filters=filters, limit=limit if limit is not None else -1
        )
        return [container_summary(e, c, size=size) for c in found]

    return json_response(await ctx(request).run(run))


async def inspect(request: web.Request) -> web.Response:
    from dockyard.api.views import container_inspect

    size = bool_param(request, "size")
    target = request.match_info["id"]

    def run(e: Engine) -> dict[str, Any]:
        return container_inspect(e, _get(e, target), size=size)

    result = await ctx(request).run(run)
    result["ExecIDs"] = ctx(request).execs.for_container(result["Id"]) or None
    return json_response(result)


async def top(request: web.Request) -> web.Response:
    from dockyard.engine import control

    target = request.match_info["id"]
    ps_args = str_param(request, "ps_args")

    def run(e: Engine) -> tuple[list[str], list[list[str]]]:
        return control.top(e, _get(e, target), ps_args)

    titles, processes = await ctx(request).run(run)
    return json_response({"Titles": titles, "Processes": processes})


async def changes(request: web.Request) -> web.Response:
    from dockyard.engine import fsops

    target = request.match_info["id"]
    kinds = {"C": 0, "A": 1, "D": 2}

    def run(e: Engine) -> list[dict[str, Any]] | None:
        found = fsops.changes(e, _get(e, target))
        return [{"Path": c.path, "Kind": kinds[str(c.kind)]} for c in found] or None

    return json_response(await ctx(request).run(run))


async def export(request: web.Request) -> web.StreamResponse:
    from dockyard.api.bridge import ResponseWriter
    from dockyard.engine import fsops

    target = request.match_info["id"]
    container = await ctx(request).run(_get, target)
    response = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    loop = asyncio.get_running_loop()

    def run(e: Engine) -> None:
        out = ResponseWriter(response, loop)
        fsops.export(e, container, out)
        out.flush()

    await ctx(request).run(run)
    await response.write_eof()
    return response


# ------------------------------------------------------------------ lifecycle


async def start(request: web.Request) -> web.Response:
    context = ctx(request)
    target = request.match_info["id"]
    await json_object(request)  # a HostConfig here is refused by dockerd >= 1.24; ignored
    found = await context.run(_get, target)
    async with _life_lock(context, found.id):
        return await _start(context, found.id)


def _life_lock(context: ApiContext, container_id: str) -> asyncio.Lock:
    """Starts, restarts, removes, pauses and unpauses of one container one at a time,
    as dockerd's container lock makes them: a second start sees it running (304)
    instead of racing the first for its bundle and veths; a remove or a pause waits
    for a restart rather than meeting it halfway. (Not stop and kill: they must not
    wait behind a stop's timeout.)"""
    return context.attaches.container_lock("life:" + container_id)


async def _start(context: ApiContext, container_id: str) -> web.Response:
    from dockyard.api.attach import MonitorLink, attach_socket
    from dockyard.runtime.monitor import protocol

    container = await context.run(_get, container_id)
    await context.run(lambda e: e.lifecycle.refresh(container))
    if container.status in ACTIVE:
        raise NotModified("")
    waiting = context.attaches.take(container.id)

    def run(e: Engine) -> None:
        fresh = _get(e, container.id)
        try:
            e.lifecycle.start(fresh, wait_for_attach=bool(waiting))
        except DockyardError as exc:
            if fresh.host_config.get("AutoRemove"):  # as dockerd: --rm holds for a failed start
                with contextlib.suppress(DockyardError):
                    e.containers.remove(fresh.id, volumes=True)
            if exc.exit_code in (126, 127):  # the command is at fault, not the daemon
                raise InvalidArgument(exc.message) from None
            raise

    try:
        await context.run(run)
    except BaseException:
        for entry in waiting:
            if not entry.link.done():
                entry.link.set_result(None)
        raise
    if waiting:
        path = await context.run(attach_socket, container.id)
        links: list[MonitorLink] = []
        for entry in waiting:
            try:
                link = await MonitorLink.open(path)
            except OSError:
                entry.link.set_result(None)
                continue
            links.append(link)
            entry.link.set_result(link)
        if links:
            await links[0].send(protocol.START, b"")
        else:  # every attach went away: the monitor still waits for its start
            link = await MonitorLink.open(path)
            await link.send(protocol.START, b"")
            link.close()
    return no_content()


async def stop(request: web.Request) -> web.Response:
    target = request.match_info["id"]
    timeout = int_param(request, "t")
    sig = str_param(request, "signal")

    def run(e: Engine) -> bool:
        container = _get(e, target)
        e.lifecycle.refresh(container)
        if container.status not in ACTIVE:
            return False
        if sig:
            container.config["StopSignal"] = sig  # this call only
        e.lifecycle.stop(container, timeout)
        return True

    if not await ctx(request).run(run):
        raise NotModified("")
    return no_content()


async def kill(request: web.Request) -> web.Response:
    from dockyard.engine.lifecycle import _signal_number

    target = request.match_info["id"]
    sig_name = str_param(request, "signal") or "SIGKILL"

    def run(e: Engine) -> None:
        container = _get(e, target)
        try:
            sig = _signal_number(sig_name)
        except DockyardError as exc:
            raise InvalidArgument(exc.message) from None
        e.lifecycle.kill(container, sig)

    await ctx(request).run(run)
    return no_content()


async def restart(request: web.Request) -> web.Response:
    from dockyard.engine import control

    target = request.match_info["id"]
    timeout = int_param(request, "t")
    sig = str_param(request, "signal") or None

    def run(e: Engine) -> None:
        control.restart(e, _get(e, target), timeout, sig)

    context = ctx(request)
    found = await context.run(_get, target)
    async with _life_lock(context, found.id):
        await context.run(run)
    return no_content()


def _freeze(engine: Engine, target: str, action: str) -> None:
    """pause/unpause; a container that ended meanwhile (killed while we asked the
    runtime) is a 409 "not running", as dockerd's container lock makes it."""
    from dockyard.engine import control
    from dockyard.errors import SystemFailure

    container = _get(engine, target)
    change = control.pause if action == "pause" else control.unpause
    try:
        change(engine, container)
    except SystemFailure:
        if engine.lifecycle.wait_exited(container.id, 2):
            raise Conflict(f"Container {container.id} is not running") from None
        raise


async def pause(request: web.Request) -> web.Response:
    context = ctx(request)
    found = await context.run(_get, request.match_info["id"])
    async with _life_lock(context, found.id):  # not halfway through a restart
        await context.run(_freeze, found.id, "pause")
    return no_content()


async def unpause(request: web.Request) -> web.Response:
    context = ctx(request)
    found = await context.run(_get, request.match_info["id"])
    async with _life_lock(context, found.id):
        await context.run(_freeze, found.id, "unpause")
    return no_content()


# ------------------------------------------------------------------ wait


def _status(engine: Engine, container_id: str) -> tuple[str, int] | None:
    container = engine.containers.try_get(container_id)
    if container is None:
        return None
    engine.lifecycle.refresh(container)
    return container.status, int(container.state.get("ExitCode") or 0)


async def wait(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    target = request.match_info["id"]
    condition = str_param(request, "condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise InvalidArgument(f"invalid condition: {condition!r}")
    sub = await context.events.subscribe()
    try:
        container = await context.run(_get, target)
        cid = container.id
        code = int(container.state.get("ExitCode") or 0)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if condition == "not-running" and container.status not in ACTIVE:
            return json_response({"StatusCode": code, "Error": None})
        # dockerd answers with the headers at once and the body when the wait is over
        await response.prepare(request)
        ticks = 0
        while request.transport is not None and not request.transport.is_closing():
            try:
                item = await asyncio.wait_for(sub.next(), 1.0)
            except TimeoutError:
                item = None
                ticks += 1
            if item is not None:
                _, event = item
                if event["Type"] != "container" or event["Actor"]["ID"] != cid:
                    continue
                action = event["Action"]
                if action == "die":
                    code = int(event["Actor"]["Attributes"].get("exitCode") or 0)
                    if condition != "removed":
                        break
                elif action == "destroy":
                    break
                continue
            # now and then, the record itself (a monitor that was killed sends no event)
            status = await context.run(_status, cid)
            if status is None:
                break
            if condition == "not-running" and status[0] not in ACTIVE:
                code = status[1]
                break
        # the exit callback tidies up after its event: a start right after us must not meet it
        await context.run(lambda e: e.lifecycle.wait_exited(cid, 5))
        await write_json_line(response, {"StatusCode": code, "Error": None})
        await response.write_eof()
        return response
    finally:
        sub.close()


# ------------------------------------------------------------------ attach


async def _attach_setup(
    request: web.Request, multiplex: bool
) -> tuple[Container, AttachOptions, bool, bool]:
    """(container, options, stream, logs) of an attach request, checked."""
    from dockyard.api.attach import AttachOptions
    from dockyard.engine.execs import parse_detach_keys

    context = ctx(request)
    container = await context.run(_get, request.match_info["id"])
    if container.status == "paused":
        raise Conflict("You cannot attach to a paused container, unpause it first")
    keys = str_param(request, "detachKeys") or context.options.daemon.get("detach-keys") or ""
    opts = AttachOptions(
        stdin=bool_param(request, "stdin"),
        stdout=bool_param(request, "stdout"),
        stderr=bool_param(request, "stderr"),
        tty=bool(container.config.get("Tty")),
        stdin_once=bool(container.config.get("StdinOnce")),
        detach_keys=parse_detach_keys(keys or "ctrl-p,ctrl-q"),
        multiplex=multiplex,
    )
    return container, opts, bool_param(request, "stream"), bool_param(request, "logs")


async def _attach_event(context: ApiContext, container: Container) -> None:
    # as dockerd, whatever is streamed; before the client hears of the attach, so
    # that it comes before a start the client makes then
    await context.run(lambda e: e.events.container("attach", container))


async def _attach_session(
    context: ApiContext,
    container: Container,
    conn: Connection,
    opts: AttachOptions,
    stream: bool,
    replay: bool,
    entry: PendingAttach | None,
) -> None:
    """Replay the logs (``logs``), then proxy to the monitor (``stream``)."""
    from dockyard.api import logs as logfile
    from dockyard.api.attach import proxy

    link: MonitorLink | None = None
    raw = opts.tty or not opts.multiplex
    try:
        if replay:
            directory = await context.run(lambda e: e.containers.container_dir(container.id))
            query = logfile.LogQuery(stdout=opts.stdout, stderr=opts.stderr)
            records = []
            with contextlib.suppress(DockyardError):  # a driver that cannot be read: none
                reader = logfile.open_reader(
                    directory, container.id, container.host_config.get("LogConfig") or {}, query
                )
                try:
                    records = await context.run_plain(logfile.existing, reader, query)
                finally:
                    reader.close()
            if records:
                # docker-py reads the upgrade's headers through a buffered reader and
                # then the raw socket: bytes that arrive with the headers are lost to it
                await asyncio.sleep(REPLAY_DELAY)
            for record in records:
                await conn.write(logfile.encode(record, query, raw))
        if stream:
            if entry is None:
                link = await _open_link(context, container.id)
            else:
                link = await _wait_for_start(context, entry, conn)
            if link is not None:
                opts.records_exit = True
                ended = await proxy(conn, link, opts)
                if ended == "exited" and link.exit_code is not None:
                    await context.run(_record_exit, container.id)
    finally:
        if entry is not None:
            context.attaches.forget(entry)
        if link is not None:
            link.close()


async def attach(request: web.Request) -> web.StreamResponse:
    from dockyard.api.hijack import RAW_TYPE, STREAM_TYPE, HijackedResponse, hijack
    from dockyard.api.versions import server_headers

    context = ctx(request)
    container, opts, stream, replay = await _attach_setup(request, multiplex=True)
    headers = server_headers(bool(context.options.daemon.get("experimental")))
    # Registered before the client can learn the attach is in place (and start the
    # container): the start route then holds the process until we are connected.
    entry = None
    if stream and container.status not in ACTIVE:
        entry = context.attaches.wait_for_start(container.id)
    try:
        await _attach_event(context, container)
        conn = await hijack(request, RAW_TYPE if opts.tty else STREAM_TYPE, headers)
    except BaseException:
        if entry is not None:
            context.attaches.forget(entry)
        raise
    try:
        await _attach_session(context, container, conn, opts, stream, replay, entry)
    finally:
        conn.close()
    return HijackedResponse()


async def attach_ws(request: web.Request) -> web.StreamResponse:
    """``/containers/{id}/attach/ws``: as the hijacked attach, over a websocket; the
    output is never multiplexed (stdout and stderr as they come), in binary frames
    from API 1.28 on (text frames before, as dockerd)."""
    from dockyard.api.http import api_version
    from dockyard.api.websocket import WebSocketConnection

    context = ctx(request)
    container, opts, stream, replay = await _attach_setup(request, multiplex=False)
    ws = web.WebSocketResponse()
    if not ws.can_prepare(request).ok:
        raise InvalidArgument("the attach/ws route takes a websocket handshake")
    entry = None
    if stream and container.status not in ACTIVE:
        entry = context.attaches.wait_for_start(container.id)
    try:
        await _attach_event(context, container)
        await ws.prepare(request)
    except BaseException:
        if entry is not None:
            context.attaches.forget(entry)
        raise
    conn = WebSocketConnection(ws, binary=api_version(request) >= (1, 28))
    session = asyncio.ensure_future(
        _attach_session(context, container, conn, opts, stream, replay, entry)
    )
    lost = asyncio.ensure_future(conn.lost.wait())
    try:
        await asyncio.wait({session, lost}, return_when=asyncio.FIRST_COMPLETED)
        if not session.done():  # the client went: nobody to attach for
            session.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await session
    finally:
        lost.cancel()
        await conn.aclose()
    return ws


def _record_exit(engine: Engine, container_id: str) -> None:
    """Record the end now that the monitor has reported it, rather than wait for its
    callback (a new process) to start up; the monitor skips the callback then."""
    record = getattr(engine.lifecycle, "exited_if_reported", None)
    if record is not None:
        record(container_id)


async def _open_link(context: ApiContext, container_id: str) -> MonitorLink | None:
    from dockyard.api.attach import MonitorLink, attach_socket

    try:
        return await MonitorLink.open(await context.run(attach_socket, container_id))
    except OSError:
        return None  # it has ended meanwhile


async def _wait_for_start(
    context: ApiContext, entry: PendingAttach, conn: Connection
) -> MonitorLink | None:
    """The link the start route hands over; or, when the container was started by
    someone else (the CLI), a link of our own once it runs; None if the client left."""
    lost = asyncio.ensure_future(conn.lost.wait())
    try:
        while True:
            waiters: set[asyncio.Future[Any]] = {entry.link, lost}
            await asyncio.wait(waiters, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            if entry.link.done():
                return entry.link.result()
            if lost.done():
                return None
            if entry.taken:
                continue  # being started through us: the link is on its way
            found = await context.run(_status, entry.container_id)
            if found is None:
                return None
            if found[0] in ACTIVE and not entry.link.done():
                context.attaches.forget(entry)
                return await _open_link(context, entry.container_id)
    finally:
        lost.cancel()


async def resize(request: web.Request) -> web.Response:
    from dockyard.api.attach import attach_socket

    target = request.match_info["id"]
    height, width = size_params(request)

    def run(e: Engine) -> None:
        from dockyard.runtime.monitor.client import AttachClient

        container = _get(e, target)
        e.lifecycle.refresh(container)
        if container.status not in ACTIVE:
            raise Conflict(f"Container {container.id} is not running")
        try:
            with AttachClient(attach_socket(e, container.id), timeout=5) as client:
                client.resize(height, width)
                client.detach()
                while client.sock.recv(65536):  # the monitor hangs up once it has done both
                    pass
        except OSError as exc:
            raise Conflict(f"cannot resize container {container.id}: {exc}") from None

    context = ctx(request)
    async with context.attaches.container_lock("resize:" + target):
        await context.run(run)
    return web.Response(status=200)


# ------------------------------------------------------------------ logs


async def logs(request: web.Request) -> web.StreamResponse:
    from dockyard.api import logs as logfile
    from dockyard.errors import Unsupported
    from dockyard.timeutil import parse_timestamp

    context = ctx(request)
    target = request.match_info["id"]
    query = logfile.LogQuery(
        stdout=bool_param(request, "stdout"),
        stderr=bool_param(request, "stderr"),
        timestamps=bool_param(request, "timestamps"),
    )
    if not query.stdout and not query.stderr:
        raise InvalidArgument("Bad parameters: you must choose at least one stream")
    try:
        since = str_param(request, "since")
        until = str_param(request, "until")
        query.since = parse_timestamp(since) if since and since != "0" else None
        query.until = parse_timestamp(until) if until and until != "0" else None
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    tail = str_param(request, "tail", "all")
    if tail not in ("", "all"):
        try:
            query.tail = max(-1, int(tail))
        except ValueError:
            query.tail = -1
    follow = bool_param(request, "follow")
    container = await context.run(_get, target)
    tty = bool(container.config.get("Tty"))
    directory = await context.run(lambda e: e.containers.container_dir(container.id))
    try:
        reader = logfile.open_reader(
            directory, container.id, container.host_config.get("LogConfig") or {}, query
        )
    except DockyardError as exc:
        raise Unsupported(exc.message) from None
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/vnd.docker.raw-stream"
            if tty
            else "application/vnd.docker.multiplexed-stream"
        }
    )
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        records = await context.run_plain(logfile.existing, reader, query)
        await response.write(b"".join(logfile.encode(r, query, tty) for r in records))
        if follow and container.status in ACTIVE:
            await _follow(request, response, container.id, reader, query, tty)
    finally:
        reader.close()
    await response.write_eof()
    return response


async def _follow(
    request: web.Request,
    response: web.StreamResponse,
    container_id: str,
    reader: Any,
    query: Any,
    tty: bool,
) -> None:
    from dockyard.api import logs as logfile

    context = ctx(request)
    last_check = time.monotonic()
    ended = False
    while request.transport is not None and not request.transport.is_closing():
        chosen = await context.run_plain(logfile.poll, reader, query)
        if chosen:
            await response.write(b"".join(logfile.encode(r, query, tty) for r in chosen))
        if ended or reader.finished:
            return
        if query.until is not None and time.time() > query.until:
            return
        if time.monotonic() - last_check > 0.25:
            last_check = time.monotonic()
            status = await context.run(_status, container_id)
            ended = status is None or status[0] not in ACTIVE
            if ended:
                continue  # one last read of what it wrote before it ended
        await asyncio.sleep(0.05)


# ------------------------------------------------------------------ stats


def stats_json(sample: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """control.sample's reading as the Engine API's stats object."""
    from dockyard.timeutil import rfc3339_nano

    def cpu(s: dict[str, Any] | None) -> dict[str, Any]:
        if s is None:
            return {
                "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
            }
        return {
            "cpu_usage": {
                "total_usage": s["cpu"],
                "usage_in_kernelmode": 0,
                "usage_in_usermode": 0,
            },
            "system_cpu_usage": s["system"],
            "online_cpus": s["online"],
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        }

    read, written = sample["blk"]
    rx, tx = sample["net"]
    result: dict[str, Any] = {
        "read": rfc3339_nano(sample.get("time", time.time())),
        "preread": rfc3339_nano(previous["time"]) if previous else "0001-01-01T00:00:00Z",
        "pids_stats": {"current": sample["pids"]} if sample["running"] else {},
        "blkio_stats": {
            "io_service_bytes_recursive": [
                {"major": 0, "minor": 0, "op": "read", "value": read},
                {"major": 0, "minor": 0, "op": "write", "value": written},
            ]
            if sample["running"]
            else None,
            "io_serviced_recursive": None,
            "io_queue_recursive": None,
            "io_service_time_recursive": None,
            "io_wait_time_recursive": None,
            "io_merged_recursive": None,
            "io_time_recursive": None,
            "sectors_recursive": None,
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu(sample),
        "precpu_stats": cpu(previous),
        "memory_stats": {"usage": sample["mem"], "stats": {}, "limit": sample["limit"]}
        if sample["running"]
        else {},
        "name": "/" + sample["name"],
        "id": sample["id"],
    }
    if sample["running"]:
        result["networks"] = {
            "eth0": {
                "rx_bytes": rx,
                "rx_packets": 0,
                "rx_errors": 0,
                "rx_dropped": 0,
                "tx_bytes": tx,
                "tx_packets": 0,
                "tx_errors": 0,
                "tx_dropped": 0,
            }
        }
    return result


async def stats(request: web.Request) -> web.StreamResponse:
    from dockyard.engine import control

    context = ctx(request)
    target = request.match_info["id"]
    stream = bool_param(request, "stream", True)
    one_shot = bool_param(request, "one-shot")
    container = await context.run(_get, target)

    def take(e: Engine) -> dict[str, Any]:
        fresh = e.containers.try_get(container.id) or container
        reading = control.sample(e, fresh)
        reading["time"] = time.time()
        return reading

    previous: dict[str, Any] | None = None
    if not stream:
        if not one_shot:
            previous = await context.run(take)
            await asyncio.sleep(1.0)
        return json_response(stats_json(await context.run(take), previous))
    response = await json_stream_start(request)
    while request.transport is not None and not request.transport.is_closing():
        reading = await context.run(take)
        await write_json_line(response, stats_json(reading, previous))
        previous = reading
        if not reading["running"]:
            break
        await asyncio.sleep(1.0)
    return response


# ------------------------------------------------------------------ change


async def rename(request: web.Request) -> web.Response:
    target = request.match_info["id"]
    new = str_param(request, "name")
    if not new:
        raise InvalidArgument("Neither old nor new names may be empty")
    await ctx(request).run(lambda e: e.containers.rename(target, new))
    return no_content()


async def update(request: web.Request) -> web.Response:
    from dockyard.engine import control

    target = request.match_info["id"]
    from dockyard.api import bodies

    body = await json_object(request, required=True)
    bodies.check(body, {**bodies.RESOURCES, "RestartPolicy": bodies.RESTART_POLICY}, "UpdateConfig")
    bodies.check_cpusets(body)
    policy = expect_type(body.pop("RestartPolicy", None), dict, "RestartPolicy")
    resources = {k: v for k, v in body.items() if v is not None and v != "" and v != 0}
    if body.get("PidsLimit") is not None:  # 0 means unlimited here; null, unchanged
        resources["PidsLimit"] = body["PidsLimit"]
    for key, value in resources.items():
        if not isinstance(value, (int, str, list, dict)) or isinstance(value, bool):
            raise InvalidArgument(f"invalid type for {key}")

    def run(e: Engine) -> None:
        from dockyard.errors import SystemFailure

        control.validate_update(resources)
        container = _get(e, target)
        try:
            control.update(e, container, resources, policy)
        except SystemFailure:
            # its cgroup went away under us: it ended meanwhile (as dockerd, a stopped
            # container's update is only recorded, so record it)
            if not e.lifecycle.wait_exited(container.id, 2):
                raise
            control.update(e, _get(e, container.id), resources, policy)

    await ctx(request).run(run)
    return json_response({"Warnings": []})


async def prune(request: web.Request) -> web.Response:
    filters = filters_param(request)
    removed, reclaimed = await ctx(request).run(lambda e: e.containers.prune(filters))
    return json_response({"ContainersDeleted": removed or None, "SpaceReclaimed": reclaimed})


async def remove(request: web.Request) -> web.Response:
    target = request.match_info["id"]
    force = bool_param(request, "force")
    volumes = bool_param(request, "v")
    if bool_param(request, "link"):
        raise InvalidArgument("Conflict, cannot remove the default link name of the container")

    context = ctx(request)
    found = await context.run(_get, target)
    async with _life_lock(context, found.id):
        await context.run(lambda e: e.containers.remove(found.id, force=force, volumes=volumes))
    return no_content()
