"""Engine options: global command-line flags, environment and daemon.json.

Precedence, as dockerd's: a command-line flag beats the environment, which beats
daemon.json, which beats the built-in default. daemon.json accepts Docker's keys;
keys dockyard does not act on yet are kept (and shown by ``info`` where Docker
shows them) rather than refused, but a key Docker itself does not know is refused
with dockerd's message, and invalid JSON stops the command with a clear error.
"""

from __future__ import annotations

import json
import os

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import Any

DEFAULT_ROOT = "/var/lib/dockyard"
DEFAULT_RUN_ROOT = "/run/dockyard"
DEFAULT_CONFIG_FILE = "/etc/dockyard/daemon.json"
STORAGE_DRIVERS = ("overlay", "vfs")
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")

# Docker's daemon.json keys (dockerd --validate knows these). Keys dockyard acts
# on today are in ACTED_ON; the rest are accepted for compatibility.
DOCKER_DAEMON_KEYS = frozenset(
    [
        "allow-nondistributable-artifacts",
        "api-cors-header",
        "authorization-plugins",
        "bip",
        "bip6",
        "bridge",
        "builder",
        "cdi-spec-dirs",
        "cgroup-parent",
        "containerd",
        "containerd-namespace",
        "containerd-plugin-namespace",
        "data-root",
        "debug",
        "default-address-pools",
        "default-cgroupns-mode",
        "default-gateway",
        "default-gateway-v6",
        "default-ipc-mode",
        "default-network-opts",
        "default-runtime",
        "default-shm-size",
        "default-ulimits",
        "dns",
        "dns-opts",
        "dns-search",
        "exec-opts",
        "exec-root",
        "experimental",
        "features",
        "fixed-cidr",
        "fixed-cidr-v6",
        "group",
        "host-gateway-ip",
        "hosts",
        "icc",
        "init",
        "init-path",
        "insecure-registries",
        "ip",
        "ip-forward",
        "ip-masq",
        "ip6tables",
        "iptables",
        "ipv6",
        "labels",
        "live-restore",
        "log-driver",
        "log-format",
        "log-level",
        "log-opts",
        "max-concurrent-downloads",
        "max-concurrent-uploads",
        "max-download-attempts",
        "metrics-addr",
        "mtu",
        "no-new-privileges",
        "node-generic-resources",
        "oom-score-adjust",
        "pidfile",
        "raw-logs",
        "registry-mirrors",
        "runtimes",
        "seccomp-profile",
        "selinux-enabled",
        "shutdown-timeout",
        "storage-driver",
        "storage-opts",
        "swarm-default-advertise-addr",
        "tls",
        "tlscacert",
        "tlscert",
        "tlskey",
        "tlsverify",
        "userland-proxy",
        "userland-proxy-path",
        "userns-remap",
        "proxies",
        "http-proxy",
        "https-proxy",
        "no-proxy",
        "default-runtime-opts",
    ]
)


class Options:
    """Everything that locates and configures one engine instance.

    A plain class, not a dataclass: it is built on every command's start-up path.
    """

    def __init__(
        self,
        root: str = DEFAULT_ROOT,
        run_root: str = DEFAULT_RUN_ROOT,
        storage_driver: str | None = None,
        debug: bool = False,
        log_level: str = "info",
        config_file: str = DEFAULT_CONFIG_FILE,
        daemon: dict[str, Any] | None = None,
    ) -> None:
        self.root = root
        self.run_root = run_root
        self.storage_driver = storage_driver
        self.debug = debug
        self.log_level = log_level
        self.config_file = config_file
        self.daemon: dict[str, Any] = daemon if daemon is not None else {}

    @property
    def registry_mirrors(self) -> list[str]:
        return list(self.daemon.get("registry-mirrors", []))

    @property
    def insecure_registries(self) -> list[str]:
        return list(self.daemon.get("insecure-registries", []))


def load_daemon_json(path: str, *, required: bool) -> dict[str, Any]:
    """Read daemon.json; a missing default file is an empty config."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        if required:
            raise InvalidArgument(
                f"unable to configure the dockyard engine with file {path}: "
                "open: no such file or directory"
            ) from None
        return {}
    except OSError as exc:
        raise InvalidArgument(
            f"unable to configure the dockyard engine with file {path}: {exc.strerror}"
        ) from None
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(
            f"unable to configure the dockyard engine with file {path}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise InvalidArgument(
            f"unable to configure the dockyard engine with file {path}: "
            "the top level must be a JSON object"
        )
    unknown = sorted(k for k in data if k not in DOCKER_DAEMON_KEYS)
    if unknown:
        raise InvalidArgument(
            f"unable to configure the dockyard engine with file {path}: the following "
            f"directives don't match any configuration option: {', '.join(unknown)}"
        )
    return data


def runtime_args(daemon: dict[str, Any], name: str) -> list[str]:
    """daemon.json ``runtimes.<name>.runtimeArgs``: global flags given before every verb."""
    entry = (daemon.get("runtimes") or {}).get(name)
    args = entry.get("runtimeArgs") if isinstance(entry, dict) else None
    if args is None:
        return []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise InvalidArgument(f"runtimes.{name}.runtimeArgs must be a list of strings")
    return list(args)


def resolve_options(
    *,
    root: str | None = None,
    run_root: str | None = None,
    storage_driver: str | None = None,
    debug: bool = False,
    log_level: str | None = None,
    config_file: str | None = None,
    environ: dict[str, str] | None = None,
) -> Options:
    """Combine flags, environment and daemon.json into :class:`Options`."""
    env = os.environ if environ is None else environ
    explicit_config = config_file or env.get("DOCKYARD_CONFIG_FILE")
    path = explicit_config or DEFAULT_CONFIG_FILE
    daemon = load_daemon_json(path, required=bool(explicit_config))
    opts = Options(config_file=path, daemon=daemon)
    opts.root = root or env.get("DOCKYARD_ROOT") or daemon.get("data-root") or DEFAULT_ROOT
    opts.run_root = (
        run_root or env.get("DOCKYARD_RUN") or daemon.get("exec-root") or DEFAULT_RUN_ROOT
    )
    driver = storage_driver or env.get("DOCKYARD_STORAGE_DRIVER") or daemon.get("storage-driver")
    if driver == "overlay2":
        driver = "overlay"
    if driver is not None and driver not in STORAGE_DRIVERS:
        raise InvalidArgument(f"error initializing graphdriver: driver not supported: {driver}")
    opts.storage_driver = driver
    opts.debug = debug or bool(daemon.get("debug", False))
    level = log_level or daemon.get("log-level") or ("debug" if opts.debug else "info")
    if level not in LOG_LEVELS:
        raise InvalidArgument(f"Unable to parse logging level: {level}")
    opts.log_level = level
    return opts
