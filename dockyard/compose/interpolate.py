"""Interpolation of a whole compose file (values only, never keys), with Compose's
error wording and its casts of interpolated strings at typed paths."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dockyard.compose.errors import ComposeError
from dockyard.compose.template import InvalidTemplate, substitute
from dockyard.compose.yamlfile import Override


def _bool(value: str) -> bool:
    lower = value.lower()
    if lower in ("y", "yes", "true", "on"):
        return True
    if lower in ("n", "no", "false", "off"):
        return False
    raise ComposeError(f"failed to cast to expected type: invalid boolean: {value}")


def _int(value: str) -> int:
    try:
        return int(value, 10)
    except ValueError:
        raise ComposeError(
            f'failed to cast to expected type: strconv.Atoi: parsing "{value}": invalid syntax'
        ) from None


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ComposeError(
            f'failed to cast to expected type: strconv.ParseFloat: parsing "{value}": '
            "invalid syntax"
        ) from None


# Paths whose interpolated strings Compose converts (``*`` any key, ``[]`` any item).
_CASTS: list[tuple[str, Any]] = [
    ("services.*.configs.[].mode", _int),
    ("services.*.cpu_count", _int),
    ("services.*.cpu_percent", _float),
    ("services.*.cpu_period", _int),
    ("services.*.cpu_quota", _int),
    ("services.*.cpu_rt_period", _int),
    ("services.*.cpu_rt_runtime", _int),
    ("services.*.cpus", _float),
    ("services.*.cpu_shares", _int),
    ("services.*.init", _bool),
    ("services.*.deploy.replicas", _int),
    ("services.*.deploy.update_config.parallelism", _int),
    ("services.*.deploy.update_config.max_failure_ratio", _float),
    ("services.*.deploy.rollback_config.parallelism", _int),
    ("services.*.deploy.rollback_config.max_failure_ratio", _float),
    ("services.*.deploy.restart_policy.max_attempts", _int),
    ("services.*.deploy.placement.max_replicas_per_node", _int),
    ("services.*.healthcheck.retries", _int),
    ("services.*.healthcheck.disable", _bool),
    ("services.*.oom_kill_disable", _bool),
    ("services.*.oom_score_adj", _int),
    ("services.*.pids_limit", _int),
    ("services.*.ports.[].target", _int),
    ("services.*.privileged", _bool),
    ("services.*.read_only", _bool),
    ("services.*.scale", _int),
    ("services.*.secrets.[].mode", _int),
    ("services.*.stdin_open", _bool),
    ("services.*.tty", _bool),
    ("services.*.ulimits.*", _int),
    ("services.*.ulimits.*.hard", _int),
    ("services.*.ulimits.*.soft", _int),
    ("services.*.volumes.[].read_only", _bool),
    ("services.*.volumes.[].volume.nocopy", _bool),
    ("services.*.depends_on.*.required", _bool),
    ("services.*.depends_on.*.restart", _bool),
    ("networks.*.external", _bool),
    ("networks.*.internal", _bool),
    ("networks.*.attachable", _bool),
    ("networks.*.enable_ipv6", _bool),
    ("networks.*.enable_ipv4", _bool),
    ("volumes.*.external", _bool),
    ("secrets.*.external", _bool),
    ("configs.*.external", _bool),
]
_CAST_PATTERNS = [
    (re.compile("^" + re.escape(p).replace(r"\*", r"[^.]+") + "$"), f) for p, f in _CASTS
]


def _caster(path: str) -> Any:
    for pattern, cast in _CAST_PATTERNS:
        if pattern.match(path):
            return cast
    return None


def interpolate(
    data: Any, env: Mapping[str, str], unset: list[str] | None = None, path: str = ""
) -> Any:
    """A copy of ``data`` with every string value interpolated from ``env``."""
    if isinstance(data, str):
        try:
            value = substitute(data, env.get, unset)
        except InvalidTemplate as exc:
            raise ComposeError(
                f"invalid interpolation format for {path}.\n"
                f"You may need to escape any $ with another $.\n{exc.template}"
            ) from None
        except ComposeError as exc:
            raise ComposeError(f"error while interpolating {path}: {exc.message}") from None
        cast = _caster(path) if value != data else None
        if cast is not None:
            try:
                return cast(value)
            except ComposeError as exc:
                raise ComposeError(f"error while interpolating {path}: {exc.message}") from None
        return value
    if isinstance(data, dict):
        return {
            key: interpolate(value, env, unset, f"{path}.{key}" if path else str(key))
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [interpolate(item, env, unset, f"{path}.[]") for item in data]
    if isinstance(data, Override):
        return Override(interpolate(data.value, env, unset, path))
    return data
