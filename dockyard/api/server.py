"""Listening and running: ``-H`` addresses (unix, tcp, fd:// for systemd socket
activation), TLS, the socket's group, and a clean stop on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import signal
import socket
import ssl
import stat
from dataclasses import dataclass, field

from aiohttp import web

from dockyard.config import Options
from dockyard.errors import InvalidArgument, SystemFailure

log = logging.getLogger("dockyard.api")
SD_LISTEN_FDS_START = 3
SHUTDOWN_TIMEOUT = 2.0


@dataclass
class TLSOptions:
    verify: bool = False
    enabled: bool = False
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None

    def context(self) -> ssl.SSLContext | None:
        if not (self.enabled or self.verify):
            return None
        if not self.cert or not self.key:
            raise InvalidArgument("TLS needs --tlscert and --tlskey")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(self.cert, self.key)
            if self.verify:
                if not self.cacert:
                    raise InvalidArgument("--tlsverify needs --tlscacert")
                ctx.load_verify_locations(self.cacert)
                ctx.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as exc:
            raise InvalidArgument(f"could not load the TLS files: {exc}") from None
        return ctx


@dataclass
class Listener:
    address: str
    sock: socket.socket
    tls: bool
    unix_path: str | None = None
    unix_inode: tuple[int, int] | None = None  # unlink only the socket file we made


@dataclass
class ServeConfig:
    hosts: list[str] = field(default_factory=list)
    tls: TLSOptions = field(default_factory=TLSOptions)
    group: str | None = None


def default_host(options: Options) -> str:
    return f"unix://{os.path.join(options.run_root, 'dockyard.sock')}"


def systemd_sockets() -> list[socket.socket]:
    """The sockets systemd passed us (LISTEN_FDS), if they are meant for this process."""
    if os.environ.get("LISTEN_PID") not in (None, str(os.getpid())):
        return []
    try:
        count = int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return []
    sockets = []
    for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count):
        os.set_inheritable(fd, False)
        sockets.append(socket.socket(fileno=fd))
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    return sockets


def _group_id(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        if name.isdigit():
            return int(name)
        raise InvalidArgument(f"group {name} not found") from None


def _unix_listener(address: str, path: str, group: str | None) -> Listener:
    if not path:
        raise InvalidArgument(f"Invalid bind address format: {address}")
    gid = _group_id(group) if group else 0  # bad input fails before anything is made
    os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
    if os.path.exists(path) or os.path.islink(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise InvalidArgument(f"{path} exists and is not a socket")
        from dockyard.runtime.monitor.client import connect

        try:
            connect(path, 1.0).close()
        except OSError:
            os.unlink(path)  # stale: nobody listens
        else:
            raise SystemFailure(f"another server is listening on {path}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    dfd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_CLOEXEC)
    try:  # through the directory's fd: a path longer than sun_path still binds
        sock.bind(f"/proc/self/fd/{dfd}/{os.path.basename(path)}" if len(path) > 100 else path)
    except OSError as exc:
        sock.close()
        raise SystemFailure(f"listen unix {path}: bind: {exc.strerror}") from None
    finally:
        os.umask(old)
        os.close(dfd)
    try:
        if group:
            os.chown(path, -1, gid)
        os.chmod(path, 0o660)
        sock.listen(512)
        st = os.stat(path)
    except OSError as exc:
        sock.close()
        os.unlink(path)
        raise SystemFailure(f"listen unix {path}: {exc.strerror}") from None
    return Listener(address, sock, False, path, (st.st_dev, st.st_ino))


def _tcp_listener(address: str, rest: str, tls: bool) -> Listener:
    host, sep, port_text = rest.rstrip("/").rpartition(":")
    if not sep:
        host, port_text = rest.rstrip("/"), "2376" if tls else "2375"
    host = host.strip("[]") or "0.0.0.0"
    try:
        port = int(port_text)
    except ValueError:
        raise InvalidArgument(f"Invalid bind address format: {address}") from None
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, sockaddr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(sockaddr)
    except OSError as exc:
        sock.close()
        raise SystemFailure(f"listen tcp {host}:{port}: bind: {exc.strerror}") from None
    sock.listen(512)
    if not tls:
        log.warning(
            "binding to %s without TLS: anyone who can reach it has root on this host", address
        )
    return Listener(address, sock, tls)


def open_listeners(config: ServeConfig, options: Options) -> list[Listener]:
    hosts = config.hosts or []
    activated = systemd_sockets()
    if not hosts:
        hosts = ["fd://"] if activated else [default_host(options)]
    tls = config.tls.enabled or config.tls.verify
    listeners: list[Listener] = []
    try:
        for address in hosts:
            if address.startswith("fd://"):
                if not activated:
                    raise InvalidArgument("no sockets found via socket activation")
                wanted = address.removeprefix("fd://")
                for sock in activated:
                    if not wanted or str(sock.fileno()) == wanted:
                        sock.setblocking(False)
                        listeners.append(
                            Listener(address, sock, tls and sock.family != socket.AF_UNIX)
                        )
            elif address.startswith("unix://"):
                listeners.append(
                    _unix_listener(address, address.removeprefix("unix://"), config.group)
                )
            elif address.startswith("tcp://"):
                listeners.append(_tcp_listener(address, address.removeprefix("tcp://"), tls))
            elif address.startswith("/"):
                listeners.append(_unix_listener(address, address, config.group))
            else:
                raise InvalidArgument(f"Invalid bind address format: {address}")
    except BaseException:
        close_listeners(listeners)
        raise
    return listeners


def close_listeners(listeners: list[Listener]) -> None:
    for listener in listeners:
        with contextlib.suppress(OSError):
            listener.sock.close()
        if listener.unix_path:
            with contextlib.suppress(OSError):
                st = os.stat(listener.unix_path)
                if (st.st_dev, st.st_ino) == listener.unix_inode:
                    os.unlink(listener.unix_path)


class BadRequestFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a NUL in a header, a broken request
    line) with a traceback, though it is the client's error and gets a 400: one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = "bad request from %s: %s"
            record.args = (remote, " ".join(str(exc.message).split()))
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _quiet_bad_requests() -> None:
    # every registry request at INFO is httpx's default, not dockerd's
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, BadRequestFilter) for f in logger.filters):
        logger.addFilter(BadRequestFilter())


async def _serve(options: Options, config: ServeConfig, listeners: list[Listener]) -> None:
    from dockyard.api.app import make_app
    from dockyard.api.context import ApiContext

    _quiet_bad_requests()
    context = ApiContext(options)
    app = make_app(context)
    access = logging.getLogger("dockyard.api.access") if options.debug else None
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT, access_log=access)
    await runner.setup()
    ssl_context = config.tls.context()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        for listener in listeners:
            site = web.SockSite(
                runner, listener.sock, ssl_context=ssl_context if listener.tls else None
            )
            await site.start()
            log.info("API listening on %s", listener.address)
        await stop.wait()
        log.info("stopping: containers keep running")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
        context.close()


def serve(options: Options, config: ServeConfig) -> None:
    """Listen on every address and answer until SIGTERM; then stop cleanly."""
    if config.tls.enabled or config.tls.verify:
        config.tls.context()  # bad TLS files fail before we bind anything
    listeners = open_listeners(config, options)
    try:
        asyncio.run(_serve(options, config, listeners))
    finally:
        close_listeners(listeners)
