"""``serve``: the Docker Engine API on a unix socket (and TCP, with TLS)."""

from __future__ import annotations

import os
import sys

from dockyard.cli.parser import CommandParser

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.engine import Engine

    EngineFactory = Callable[[], Engine]


def cmd_serve(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(name, "[OPTIONS]", "Serve the Docker Engine API")
    p.multi(
        "-H",
        "--host",
        metavar="list",
        help="Daemon socket(s) to listen on (default unix://<run-root>/dockyard.sock)",
    )
    p.option("-G", "--group", help="Group for the unix socket")
    p.flag("--tls", help="Use TLS; implied by --tlsverify")
    p.flag("--tlsverify", help="Use TLS and verify the remote")
    p.option("--tlscacert", help="Trust certs signed only by this CA")
    p.option("--tlscert", help="Path to TLS certificate file")
    p.option("--tlskey", help="Path to TLS key file")
    ns = p.parse(argv, max_args=0)
    import logging

    from dockyard.api.server import ServeConfig, TLSOptions, serve

    e = engine()
    options = e.options
    e.close()
    level = "DEBUG" if options.debug else options.log_level.upper()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("dockyard").setLevel(
        getattr(logging, level if level != "FATAL" else "CRITICAL", logging.INFO)
    )
    cert_path = os.environ.get("DOCKER_CERT_PATH", "")

    def default(value: str | None, file: str) -> str | None:
        if value:
            return str(value)
        candidate = os.path.join(cert_path, file) if cert_path else ""
        return candidate if candidate and os.path.exists(candidate) else None

    tls = TLSOptions(
        verify=bool(ns.tlsverify),
        enabled=bool(ns.tls),
        cacert=default(ns.tlscacert, "ca.pem"),
        cert=default(ns.tlscert, "cert.pem"),
        key=default(ns.tlskey, "key.pem"),
    )
    hosts = list(ns.host) or list(options.daemon.get("hosts") or [])
    group = ns.group or options.daemon.get("group") or None
    from dockyard.cli.errors import ClientError
    from dockyard.errors import DockyardError

    try:
        serve(options, ServeConfig(hosts=hosts, tls=tls, group=group))
    except DockyardError as exc:  # the server's own failure: no "from daemon" prefix
        raise ClientError(f"failed to start the API server: {exc.message}") from None
    return 0
