"""Run the registry: bind, serve until SIGTERM or SIGINT, then close cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import ssl
import sys
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from dockyard.errors import InvalidArgument
from dockyard.registry.server.app import Options, RegistryApp
from dockyard.registry.server.auth import (
    Authenticator,
    HtpasswdAuthenticator,
    TokenAuthenticator,
)
from dockyard.registry.server.config import Settings, parse_addr
from dockyard.registry.server.driver import FilesystemDriver
from dockyard.registry.server.store import RegistryStore

UPLOAD_MAX_AGE = 7 * 24 * 3600.0  # distribution's uploadpurging defaults: age 168h,
UPLOAD_PURGE_INTERVAL = 24 * 3600.0  # every 24h, first at start-up


async def _purge_uploads(store: RegistryStore) -> None:
    """Remove abandoned upload sessions now and then, as distribution does."""
    while True:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(store.purge_uploads, time.time() - UPLOAD_MAX_AGE)
        await asyncio.sleep(UPLOAD_PURGE_INTERVAL)


def build_app(settings: Settings) -> web.Application:
    store = RegistryStore(FilesystemDriver(settings.root))
    authenticator: Authenticator | None = None
    if settings.htpasswd_path:
        try:
            authenticator = HtpasswdAuthenticator(settings.htpasswd_realm, settings.htpasswd_path)
        except OSError as err:
            raise InvalidArgument(
                f"htpasswd file {settings.htpasswd_path}: {err.strerror}"
            ) from None
    elif settings.token is not None:
        try:
            authenticator = TokenAuthenticator(settings.token)
        except (OSError, ValueError, RuntimeError) as err:
            raise InvalidArgument(f"token auth: {err}") from None
    options = Options(read_only=settings.read_only, delete_enabled=settings.delete_enabled)
    app = RegistryApp(store, options, authenticator).application()
    if not settings.read_only:

        async def purge_in_background(app: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(_purge_uploads(store))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.cleanup_ctx.append(purge_in_background)
    return app


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.tls_certificate and not settings.tls_key:
        return None
    if not settings.tls_certificate or not settings.tls_key:
        raise InvalidArgument("TLS needs both a certificate and a key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.tls_certificate, settings.tls_key)
    except (OSError, ssl.SSLError) as err:
        raise InvalidArgument(f"cannot load TLS certificate and key: {err}") from None
    return context


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise InvalidArgument(f"listen tcp {host}:{port}: bind: {err.strerror}") from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def serve(
    settings: Settings, on_ready: Callable[[str], None] | None = None
) -> None:
    """Serve until SIGTERM/SIGINT. ``on_ready`` gets ``host:port`` once listening."""
    app = build_app(settings)
    context = _ssl_context(settings)
    host, port = parse_addr(settings.addr)
    sock = _bind(host, port)
    bound = sock.getsockname()
    shown = f"[{bound[0]}]:{bound[1]}" if ":" in bound[0] else f"{bound[0]}:{bound[1]}"
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        site = web.SockSite(runner, sock, ssl_context=context, backlog=1024)
        await site.start()
        scheme = "https" if context else "http"
        sys.stderr.write(f"dockyard registry listening on {shown} ({scheme})\n")
        sys.stderr.flush()
        if on_ready is not None:
            on_ready(shown)
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await runner.cleanup()
        sock.close()


def run(settings: Settings) -> int:
    asyncio.run(serve(settings))
    return 0
