"""The registry's settings: distribution's ``config.yml`` (a subset), then flags.

Understood keys::

    version: 0.1
    storage:
      filesystem: {rootdirectory: /var/lib/dockyard-registry}
      delete: {enabled: false}
      maintenance: {readonly: {enabled: false}}
    http:
      addr: 0.0.0.0:5000            # ":5000" means every address
      tls: {certificate: FILE, key: FILE}
    auth:
      htpasswd: {realm: NAME, path: FILE}
      token: {realm: URL, service: NAME, issuer: NAME, rootcertbundle: FILE}

distribution's ``REGISTRY_*`` environment variables for these keys override the
file (``REGISTRY_HTTP_ADDR``, ``REGISTRY_AUTH=htpasswd``,
``REGISTRY_AUTH_HTPASSWD_PATH``, ``REGISTRY_HTTP_TLS_CERTIFICATE``, ...); flags
override both.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.registry.server.auth import TokenSettings

DEFAULT_ADDR = "0.0.0.0:5000"
DEFAULT_ROOT = "/var/lib/dockyard-registry"
DEFAULT_REALM = "Registry Realm"


@dataclass
class Settings:
    addr: str = DEFAULT_ADDR
    root: str = DEFAULT_ROOT
    tls_certificate: str | None = None
    tls_key: str | None = None
    htpasswd_realm: str = DEFAULT_REALM
    htpasswd_path: str | None = None
    token: TokenSettings | None = None
    read_only: bool = False
    delete_enabled: bool = False
    unknown: list[str] = field(default_factory=list)


def _section(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _string(data: Any, *path: str) -> str | None:
    value = _section(data, *path)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidArgument(f"configuration: {'.'.join(path)} must be a string")
    return str(value)


def _bool(data: Any, *path: str) -> bool:
    value = _section(data, *path)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidArgument(f"configuration: {'.'.join(path)} must be true or false")
    return value


# distribution's REGISTRY_* environment overrides that map onto the keys above.
_ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "REGISTRY_HTTP_ADDR": ("http", "addr"),
    "REGISTRY_HTTP_TLS_CERTIFICATE": ("http", "tls", "certificate"),
    "REGISTRY_HTTP_TLS_KEY": ("http", "tls", "key"),
    "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": ("storage", "filesystem", "rootdirectory"),
    "REGISTRY_STORAGE_DELETE_ENABLED": ("storage", "delete", "enabled"),
    "REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED": (
        "storage", "maintenance", "readonly", "enabled"),
    "REGISTRY_AUTH_HTPASSWD_REALM": ("auth", "htpasswd", "realm"),
    "REGISTRY_AUTH_HTPASSWD_PATH": ("auth", "htpasswd", "path"),
    "REGISTRY_AUTH_TOKEN_REALM": ("auth", "token", "realm"),
    "REGISTRY_AUTH_TOKEN_SERVICE": ("auth", "token", "service"),
    "REGISTRY_AUTH_TOKEN_ISSUER": ("auth", "token", "issuer"),
    "REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE": ("auth", "token", "rootcertbundle"),
}


def apply_environment(data: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """Overlay distribution's ``REGISTRY_*`` variables (as in Docker's "deploy a
    registry" guide: ``REGISTRY_AUTH=htpasswd``, ``REGISTRY_HTTP_TLS_KEY``, ...)."""
    auth = environ.get("REGISTRY_AUTH")
    if auth:
        existing = data.get("auth") if isinstance(data.get("auth"), dict) else {}
        data["auth"] = {auth: (existing or {}).get(auth) or {}}
    for variable, path in _ENVIRONMENT.items():
        if variable not in environ:
            continue
        value: Any = environ[variable]
        if path[-1] == "enabled":
            value = value.strip().lower() in ("1", "true", "yes", "on")
        node = data
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        node[path[-1]] = value
    return data


def from_environment(path: str | None, environ: dict[str, str]) -> Settings:
    """Settings from an optional config file with the environment laid over it."""
    data = _read(path) if path else {}
    return from_mapping(apply_environment(data, environ))


def load(path: str) -> Settings:
    """Settings from a distribution-style YAML file."""
    return from_mapping(_read(path))


def _read(path: str) -> dict[str, Any]:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as err:
        raise InvalidArgument(f"configuration error: {err.strerror}: {path}") from None
    except yaml.YAMLError as err:
        raise InvalidArgument(f"configuration error in {path}: {err}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidArgument(f"configuration error in {path}: not a mapping")
    return data


def from_mapping(data: dict[str, Any]) -> Settings:
    settings = Settings()
    storage = _section(data, "storage") or {}
    if not isinstance(storage, dict):
        raise InvalidArgument("configuration: storage must be a mapping")
    drivers = [k for k in storage if k not in ("delete", "maintenance", "cache", "redirect")]
    for driver in drivers:
        if driver != "filesystem":
            raise InvalidArgument(f"configuration: storage driver {driver!r} is not supported")
    root = _string(data, "storage", "filesystem", "rootdirectory")
    if root:
        settings.root = root
    settings.delete_enabled = _bool(data, "storage", "delete", "enabled")
    settings.read_only = _bool(data, "storage", "maintenance", "readonly", "enabled")
    addr = _string(data, "http", "addr")
    if addr:
        settings.addr = addr
    settings.tls_certificate = _string(data, "http", "tls", "certificate")
    settings.tls_key = _string(data, "http", "tls", "key")
    htpasswd = _section(data, "auth", "htpasswd")
    if htpasswd is not None:
        settings.htpasswd_path = _string(data, "auth", "htpasswd", "path")
        settings.htpasswd_realm = _string(data, "auth", "htpasswd", "realm") or DEFAULT_REALM
        if not settings.htpasswd_path:
            raise InvalidArgument("configuration: auth.htpasswd.path is required")
    token = _section(data, "auth", "token")
    if token is not None:
        values = {
            key: _string(data, "auth", "token", key)
            for key in ("realm", "service", "issuer", "rootcertbundle")
        }
        missing = [k for k, v in values.items() if not v]
        if missing:
            raise InvalidArgument(f"configuration: auth.token needs {', '.join(missing)}")
        settings.token = TokenSettings(**{k: str(v) for k, v in values.items()})
    auth = _section(data, "auth")
    if isinstance(auth, dict):
        other = [k for k in auth if k not in ("htpasswd", "token")]
        if other:
            raise InvalidArgument(f"configuration: auth {other[0]!r} is not supported")
        if len(auth) > 1:
            raise InvalidArgument("configuration: more than one auth method configured")
    return settings


def parse_addr(addr: str) -> tuple[str, int]:
    """``host:port`` (``:port`` for all addresses, ``[v6]:port``) -> (host, port)."""
    host, sep, port_text = addr.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise InvalidArgument(f"invalid listen address {addr!r}: expected HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        host = "0.0.0.0"
    elif host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise InvalidArgument(
                f"invalid listen address {addr!r}: {host!r} is not an IP address"
            ) from None
    return host, int(port_text)
