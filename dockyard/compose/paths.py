"""Relative paths in a compose model made absolute (against the project directory, or
the directory of an extended or included file)."""

from __future__ import annotations

import os
import posixpath
from typing import Any

_REMOTE_PREFIXES = ("http://", "https://", "git://", "git@", "ssh://", "github.com/")
_CONTEXT_SCHEMES = ("docker-image://", "service:", "oci-layout://", "target:")


def is_remote(path: str) -> bool:
    return path.startswith(_REMOTE_PREFIXES)


def absolute(base: str, path: str) -> str:
    if path.startswith("~"):
        path = os.path.expanduser(path)
    if posixpath.isabs(path):
        return posixpath.normpath(path)
    return posixpath.normpath(posixpath.join(base, path))


def _context(base: str, value: str) -> str:
    if is_remote(value) or value.startswith(_CONTEXT_SCHEMES):
        return value
    return absolute(base, value)


def split_volume_spec(spec: str) -> list[str]:
    return spec.split(":")


def _is_bind_source(source: str) -> bool:
    return source.startswith((".", "~", "/"))


def _volume(base: str, item: Any) -> Any:
    if isinstance(item, str):
        parts = split_volume_spec(item)
        if len(parts) >= 2 and parts[0].startswith((".", "~")):
            parts[0] = absolute(base, parts[0])
            return ":".join(parts)
        return item
    if (
        isinstance(item, dict)
        and item.get("type") == "bind"
        and isinstance(item.get("source"), str)
    ):
        source = item["source"]
        if source and not posixpath.isabs(source):
            return {**item, "source": absolute(base, source)}
    return item


def resolve_service(service: dict[str, Any], base: str) -> dict[str, Any]:
    """A copy of a raw service with its file-system paths made absolute."""
    result = dict(service)
    build = result.get("build")
    if isinstance(build, str):
        result["build"] = _context(base, build)
    elif isinstance(build, dict):
        build = dict(build)
        build["context"] = _context(base, str(build.get("context", ".")))
        extra = build.get("additional_contexts")
        if isinstance(extra, dict):
            build["additional_contexts"] = {
                k: _context(base, v) if isinstance(v, str) else v for k, v in extra.items()
            }
        result["build"] = build
    env_file = result.get("env_file")
    if isinstance(env_file, str):
        result["env_file"] = absolute(base, env_file)
    elif isinstance(env_file, list):
        result["env_file"] = [
            absolute(base, e)
            if isinstance(e, str)
            else {**e, "path": absolute(base, str(e.get("path", "")))}
            for e in env_file
        ]
    label_file = result.get("label_file")
    if isinstance(label_file, str):
        result["label_file"] = absolute(base, label_file)
    elif isinstance(label_file, list):
        result["label_file"] = [absolute(base, str(f)) for f in label_file]
    if isinstance(result.get("volumes"), list):
        result["volumes"] = [_volume(base, v) for v in result["volumes"]]
    extends = result.get("extends")
    if isinstance(extends, dict) and isinstance(extends.get("file"), str):
        result["extends"] = {**extends, "file": absolute(base, extends["file"])}
    develop = result.get("develop")
    if isinstance(develop, dict) and isinstance(develop.get("watch"), list):
        result["develop"] = {
            **develop,
            "watch": [
                {**w, "path": absolute(base, w["path"])}
                if isinstance(w, dict) and isinstance(w.get("path"), str)
                else w
                for w in develop["watch"]
            ],
        }
    return result


def resolve_model(model: dict[str, Any], base: str) -> dict[str, Any]:
    """A copy of a raw compose model with its relative paths resolved against ``base``."""
    result = dict(model)
    services = result.get("services")
    if isinstance(services, dict):
        result["services"] = {
            name: resolve_service(svc, base) if isinstance(svc, dict) else svc
            for name, svc in services.items()
        }
    for kind in ("secrets", "configs"):
        section = result.get(kind)
        if isinstance(section, dict):
            result[kind] = {
                name: {**obj, "file": absolute(base, obj["file"])}
                if isinstance(obj, dict) and isinstance(obj.get("file"), str)
                else obj
                for name, obj in section.items()
            }
    volumes = result.get("volumes")
    if isinstance(volumes, dict):
        fixed: dict[str, Any] = {}
        for name, vol in volumes.items():
            opts = vol.get("driver_opts") if isinstance(vol, dict) else None
            if (
                isinstance(opts, dict)
                and opts.get("o") == "bind"
                and isinstance(opts.get("device"), str)
                and vol.get("driver", "local") == "local"
            ):
                vol = {**vol, "driver_opts": {**opts, "device": absolute(base, opts["device"])}}
            fixed[name] = vol
        result["volumes"] = fixed
    return result
