"""Registry commands: ``registry serve`` and ``registry garbage-collect``.

Both take distribution's ``config.yml`` (as a positional argument or
``--config``); flags override what the file says.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from dockyard.cli.errors import ClientError
from dockyard.cli.parser import CommandParser
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from dockyard.engine import Engine
    from dockyard.registry.server.config import Settings

EngineFactory = Callable[[], "Engine"]


def _settings(config_args: list[str], config_flag: str | None) -> Settings:
    from dockyard.registry.server import config

    if config_args and config_flag:
        raise ClientError("conflicting options: the configuration file given twice")
    path = config_flag or (config_args[0] if config_args else None)
    import os

    try:
        return config.from_environment(path, dict(os.environ))
    except InvalidArgument as err:
        raise ClientError(err.message) from None


def cmd_serve(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(
        name, "[OPTIONS] [CONFIG]", "Run an image registry (the OCI distribution API)"
    )
    p.option("-c", "--config", metavar="file",
             help="Registry configuration file (distribution's config.yml)")
    p.option("--addr", metavar="host:port",
             help='Address to listen on (default "0.0.0.0:5000")')
    p.option("--storage", metavar="dir",
             help='Directory to keep images in (default "/var/lib/dockyard-registry")')
    p.option("--tls-cert", metavar="file", help="TLS certificate (PEM); serve HTTPS")
    p.option("--tls-key", metavar="file", help="TLS private key (PEM)")
    p.option("--htpasswd", metavar="file",
             help="Require users and bcrypt passwords from this htpasswd file")
    p.option("--realm", metavar="name", help='Basic auth realm (default "Registry Realm")')
    p.flag("--read-only", help="Refuse pushes and deletes")
    p.flag("--enable-delete", help="Allow deleting manifests, tags and blobs")
    ns = p.parse(argv, max_args=1)
    settings = _settings(ns.args, ns.config)
    if ns.addr:
        settings.addr = ns.addr
    if ns.storage:
        settings.root = ns.storage
    if ns.tls_cert:
        settings.tls_certificate = ns.tls_cert
    if ns.tls_key:
        settings.tls_key = ns.tls_key
    if ns.htpasswd:
        settings.htpasswd_path = ns.htpasswd
        settings.token = None
    if ns.realm:
        settings.htpasswd_realm = ns.realm
    if ns.read_only:
        settings.read_only = True
    if ns.enable_delete:
        settings.delete_enabled = True

    from dockyard.registry.server import serve

    try:
        return serve.run(settings)
    except InvalidArgument as err:
        raise ClientError(err.message) from None
    except KeyboardInterrupt:
        return 0


def cmd_garbage_collect(engine: EngineFactory, argv: list[str], name: str) -> int:
    p = CommandParser(
        name, "[OPTIONS] [CONFIG]",
        "Delete blobs no manifest references (stop the registry or make it read-only first)",
    )
    p.option("-c", "--config", metavar="file", help="Registry configuration file")
    p.option("--storage", metavar="dir", help="Registry storage directory")
    p.option("--root", metavar="dir", help="Same as --storage")
    p.flag("-d", "--dry-run", help="Only print what would be deleted")
    p.flag("-m", "--delete-untagged", help="Also delete manifests that no tag points to")
    ns = p.parse(argv, max_args=1)
    root = ns.storage or ns.root
    if not root and not ns.args and not ns.config:
        raise ClientError(
            f'"dockyard {name}" requires a configuration file or --storage DIR.\n'
            f"See 'dockyard {name} --help'."
        )
    settings = _settings(ns.args, ns.config)
    if root:
        settings.root = root

    import os

    from dockyard.registry.server.driver import FilesystemDriver
    from dockyard.registry.server.gc import collect
    from dockyard.registry.server.store import RegistryStore

    if not os.path.isdir(settings.root):
        raise ClientError(f"storage directory {settings.root} does not exist")
    store = RegistryStore(FilesystemDriver(settings.root))

    def emit(line: str) -> None:
        sys.stdout.write(line + "\n")

    collect(store, dry_run=ns.dry_run, delete_untagged=ns.delete_untagged, emit=emit)
    sys.stdout.flush()
    return 0
