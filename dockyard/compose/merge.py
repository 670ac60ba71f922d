"""Merging compose files (``-f a -f b``, ``extends``, ``include``) as the Compose
Specification's merge chapter and compose-go's override rules say.

Mappings merge key by key; sequences append, except: ``command``, ``entrypoint`` and
``healthcheck.test`` are replaced; ``ports``, ``volumes``, ``secrets``, ``configs`` (and
a few string lists) are unique by a key and an entry with the same key replaces the
older one; ``environment``, ``labels`` and the other list-or-mapping keys merge as
mappings; ``!reset`` removes a value and ``!override`` replaces it whole.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from dockyard.compose.yamlfile import Override, Reset

_REPLACE = {
    "services.*.command",
    "services.*.entrypoint",
    "services.*.healthcheck.test",
}
_AS_MAPPING = {
    "networks.*.labels",
    "volumes.*.labels",
    "secrets.*.labels",
    "configs.*.labels",
    "services.*.annotations",
    "services.*.build.args",
    "services.*.build.additional_contexts",
    "services.*.build.labels",
    "services.*.deploy.labels",
    "services.*.environment",
    "services.*.labels",
    "services.*.sysctls",
    "services.*.volumes.*.volume.labels",
}


def list_or_dict_to_dict(value: Any) -> dict[str, Any]:
    """``["A=1", "B"]`` → ``{"A": "1", "B": None}``; a mapping stays as it is."""
    if isinstance(value, dict):
        return dict(value)
    result: dict[str, Any] = {}
    for item in value or []:
        key, eq, val = str(item).partition("=")
        result[key] = val if eq else None
    return result


def _port_key(item: Any) -> str:
    if isinstance(item, dict):
        return "{}:{}:{}/{}".format(
            item.get("host_ip", ""),
            item.get("published", ""),
            item.get("target", ""),
            item.get("protocol", "tcp"),
        )
    return str(item)


def _volume_key(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("target", ""))
    parts = str(item).split(":")
    if len(parts) == 1:
        return parts[0]
    return parts[1]


def _mount_key(default_dir: str) -> Callable[[Any], str]:
    def key(item: Any) -> str:
        if isinstance(item, dict):
            target = item.get("target")
            if target:
                return posixpath.join(default_dir, str(target))
            return posixpath.join(default_dir, str(item.get("source", "")))
        return posixpath.join(default_dir, str(item))

    return key


def _env_file_key(item: Any) -> str:
    return str(item.get("path")) if isinstance(item, dict) else str(item)


def _plain_key(item: Any) -> str:
    return str(item)


def _device_key(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("target") or item.get("source"))
    parts = str(item).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


_UNIQUE: dict[str, Callable[[Any], str]] = {
    "services.*.ports": _port_key,
    "services.*.volumes": _volume_key,
    "services.*.secrets": _mount_key("/run/secrets"),
    "services.*.configs": _mount_key("/"),
    "services.*.env_file": _env_file_key,
    "services.*.devices": _device_key,
    "services.*.expose": _plain_key,
    "services.*.cap_add": _plain_key,
    "services.*.cap_drop": _plain_key,
    "services.*.dns": _plain_key,
    "services.*.dns_opt": _plain_key,
    "services.*.dns_search": _plain_key,
    "services.*.tmpfs": _plain_key,
    "services.*.links": _plain_key,
    "services.*.profiles": _plain_key,
    "services.*.extra_hosts": _plain_key,
    "services.*.build.tags": _plain_key,
    "services.*.build.extra_hosts": _plain_key,
    "services.*.networks.*.aliases": _plain_key,
    "services.*.networks.*.link_local_ips": _plain_key,
}


def _pattern(path: tuple[str, ...]) -> str:
    """``("services", "web", "ports")`` → ``"services.*.ports"``: every name that is a
    user-chosen key (service, network, volume names) becomes ``*``."""
    parts = list(path)
    if len(parts) >= 2 and parts[0] in ("services", "networks", "volumes", "secrets", "configs"):
        parts[1] = "*"
    if (
        len(parts) >= 4
        and parts[0] == "services"
        and parts[2] in ("networks", "volumes", "ulimits")
    ):
        parts[3] = "*"
    return ".".join(parts)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _depends_on_map(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    return {name: {"condition": "service_started", "required": True} for name in _as_list(value)}


def _networks_map(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    return {name: None for name in _as_list(value)}


def _build_map(value: Any) -> Any:
    return {"context": value} if isinstance(value, str) else value


def _driver_changes(base: Any, override: Any) -> bool:
    """A logging override with another driver drops the old driver's options."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return False
    old, new = base.get("driver"), override.get("driver")
    return bool(old and new and old != new)


def merge(base: Any, override: Any, path: tuple[str, ...] = ()) -> Any:
    """``override`` merged onto ``base`` (neither is modified)."""
    if isinstance(override, Reset):
        return Reset()
    if isinstance(override, Override):
        return strip_tags(override.value)
    if isinstance(base, Reset | Override):
        base = None if isinstance(base, Reset) else base.value
    pattern = _pattern(path)
    if pattern in _REPLACE or base is None:
        return strip_tags(override)
    if override is None and not isinstance(base, dict | list):
        return None
    if pattern in _AS_MAPPING:
        return _merge_mappings(list_or_dict_to_dict(base), list_or_dict_to_dict(override), path)
    if pattern == "services.*.depends_on":
        return _merge_mappings(_depends_on_map(base), _depends_on_map(override), path)
    if pattern == "services.*.networks":
        return _merge_mappings(_networks_map(base), _networks_map(override), path)
    if pattern == "services.*.build":
        return _merge_mappings(_build_map(base), _build_map(override), path)
    if pattern == "services.*.logging" and _driver_changes(base, override):
        return strip_tags(override)
    if pattern.startswith("services.*.ulimits.") and type(base) is not type(override):
        return strip_tags(override)
    unique = _UNIQUE.get(pattern)
    if unique is not None:
        return _merge_unique(_as_list(base), _as_list(override), unique, path)
    if isinstance(base, dict) and isinstance(override, dict):
        return _merge_mappings(base, override, path)
    if isinstance(base, list) and isinstance(override, list):
        return [strip_tags(v) for v in base] + [strip_tags(v) for v in override]
    return strip_tags(override)


def _merge_mappings(
    base: dict[str, Any], override: dict[str, Any], path: tuple[str, ...]
) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if key in result:
            result[key] = merge(result[key], value, (*path, str(key)))
        else:
            result[key] = strip_tags(value) if not isinstance(value, Reset) else Reset()
    return {k: v for k, v in result.items() if not isinstance(v, Reset)}


def _merge_unique(
    base: list[Any], override: list[Any], key: Callable[[Any], str], path: tuple[str, ...]
) -> list[Any]:
    result: list[Any] = []
    index: dict[str, int] = {}
    for item in [*base, *override]:
        item = strip_tags(item)
        k = key(item)
        if k in index:
            old = result[index[k]]
            if isinstance(old, dict) and isinstance(item, dict):
                result[index[k]] = _merge_mappings(old, item, path)
            else:
                result[index[k]] = item
        else:
            index[k] = len(result)
            result.append(item)
    return result


def strip_tags(value: Any) -> Any:
    """``value`` without ``!reset``/``!override`` markers (a reset inside a mapping or a
    sequence removes that entry; ``!override`` without a base is just its value)."""
    if isinstance(value, Override):
        return strip_tags(value.value)
    if isinstance(value, dict):
        return {k: strip_tags(v) for k, v in value.items() if not isinstance(v, Reset)}
    if isinstance(value, list):
        return [strip_tags(v) for v in value if not isinstance(v, Reset)]
    if isinstance(value, Reset):
        return None
    return value
