"""Where and how a registry is reached: mirrors, https or http, TLS trust, tuning.

Docker's rules: ``docker.io`` is served by ``registry-1.docker.io`` after any
``registry-mirrors``; a registry is *insecure* when ``insecure-registries`` names
it (host, host:port or a CIDR) or its address is loopback (127.0.0.0/8 is in
Docker's default insecure list); an insecure registry is tried over https without
certificate checks, then over plain http. A secure registry trusts the system
CAs plus ``*.crt`` in ``/etc/docker/certs.d/<host>/`` (and dockyard's own
``/etc/dockyard/certs.d``) and presents a ``*.cert``/``*.key`` client pair found there.
"""

from __future__ import annotations

import glob
import ipaddress
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument

DOCKER_HUB_DOMAIN = "docker.io"
DOCKER_HUB_REGISTRY = "registry-1.docker.io"
DEFAULT_CERTS_DIRS = ("/etc/docker/certs.d", "/etc/dockyard/certs.d")
_LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(frozen=True)
class Endpoint:
    """One base URL to try for a registry, with its TLS settings."""

    url: str  # scheme://host[:port], no trailing slash
    tls: ssl.SSLContext | bool  # an SSL context, or False for plain http
    mirror: bool = False

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]


@dataclass
class RegistrySettings:
    """What daemon.json and the environment say about registries."""

    mirrors: list[str] = field(default_factory=list)
    insecure: list[str] = field(default_factory=list)
    certs_dirs: tuple[str, ...] = DEFAULT_CERTS_DIRS
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5
    attempts: int = 5
    backoff: float = 0.5  # seconds before the first retry; doubles, capped at 8 s
    read_timeout: float = 30.0  # a connection that sends nothing this long is stalled

    @classmethod
    def from_daemon(
        cls, daemon: Mapping[str, object], environ: Mapping[str, str] | None = None
    ) -> RegistrySettings:
        env = os.environ if environ is None else environ
        settings = cls(
            mirrors=[str(m).rstrip("/") for m in _list(daemon, "registry-mirrors")],
            insecure=[str(x) for x in _list(daemon, "insecure-registries")],
            max_concurrent_downloads=_positive(daemon, "max-concurrent-downloads", 3),
            max_concurrent_uploads=_positive(daemon, "max-concurrent-uploads", 5),
            attempts=_positive(daemon, "max-download-attempts", 5),
        )
        if env.get("DOCKYARD_CERTS_D"):
            settings.certs_dirs = tuple(env["DOCKYARD_CERTS_D"].split(os.pathsep))
        if env.get("DOCKYARD_REGISTRY_BACKOFF"):
            settings.backoff = float(env["DOCKYARD_REGISTRY_BACKOFF"])
        if env.get("DOCKYARD_REGISTRY_READ_TIMEOUT"):
            settings.read_timeout = float(env["DOCKYARD_REGISTRY_READ_TIMEOUT"])
        for mirror in settings.mirrors:
            if not mirror.startswith(("http://", "https://")):
                raise InvalidArgument(
                    f"invalid mirror: unsupported scheme {mirror.split('://')[0]!r} in {mirror!r}"
                )
        return settings

    def backoff_delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        return float(min(self.backoff * (2 ** (attempt - 1)), 8.0))

    # ------------------------------------------------------------------ trust

    def is_insecure(self, host: str) -> bool:
        name = _strip_port(host)
        if host in self.insecure or name in self.insecure:
            return True
        if name in _LOOPBACK_NAMES:
            return True
        try:
            address = ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            return False
        if address.is_loopback:
            return True
        for entry in self.insecure:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        return False

    def tls_context(self, host: str, *, verify: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        for base in self.certs_dirs:
            directory = os.path.join(base, host)
            if not os.path.isdir(directory):
                continue
            for ca in sorted(glob.glob(os.path.join(directory, "*.crt"))):
                if verify:
                    ctx.load_verify_locations(cafile=ca)
            for cert in sorted(glob.glob(os.path.join(directory, "*.cert"))):
                key = cert[: -len(".cert")] + ".key"
                if not os.path.exists(key):
                    raise InvalidArgument(
                        f"missing key {os.path.basename(key)} for client certificate"
                        f" {os.path.basename(cert)}. CA certificates must use the extension .crt"
                    )
                ctx.load_cert_chain(cert, key)
            for key in sorted(glob.glob(os.path.join(directory, "*.key"))):
                if not os.path.exists(key[: -len(".key")] + ".cert"):
                    raise InvalidArgument(
                        f"missing client certificate {os.path.basename(key)[:-4]}.cert"
                        f" for key {os.path.basename(key)}"
                    )
        return ctx

    # ------------------------------------------------------------------ endpoints

    def endpoints(self, domain: str, *, push: bool = False) -> list[Endpoint]:
        """Base URLs to try for ``domain``, in order (mirrors first, pulls only)."""
        result: list[Endpoint] = []
        if domain == DOCKER_HUB_DOMAIN:
            if not push:
                for mirror in self.mirrors:
                    scheme, _, rest = mirror.partition("://")
                    host = rest.split("/", 1)[0]
                    tls: ssl.SSLContext | bool = False
                    if scheme == "https":
                        tls = self.tls_context(host, verify=not self.is_insecure(host))
                    result.append(Endpoint(f"{scheme}://{host}", tls, mirror=True))
            host = DOCKER_HUB_REGISTRY
            result.append(Endpoint(f"https://{host}", self.tls_context(host, verify=True)))
            return result
        if self.is_insecure(domain):
            result.append(Endpoint(f"https://{domain}", self.tls_context(domain, verify=False)))
            result.append(Endpoint(f"http://{domain}", False))
        else:
            result.append(Endpoint(f"https://{domain}", self.tls_context(domain, verify=True)))
        return result


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _list(daemon: Mapping[str, object], key: str) -> list[object]:
    value = daemon.get(key) or []
    if not isinstance(value, list):
        raise InvalidArgument(f"{key} must be a list")
    return value


def _positive(daemon: Mapping[str, object], key: str, default: int) -> int:
    value = daemon.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgument(f"invalid {key} value: {value!r}, must be a positive integer")
    return value
