"""``docker compose config`` output: YAML as go-yaml v3 writes it (2-space indent,
sequences indented under their key, strings that would read back as another type
double-quoted) or indented JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from dockyard.compose.order import BUILD, SERVICE
from dockyard.compose.yamlfile import _BOOL, _FLOAT, _INT, _NULL

_OLD_BOOL = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


def _needs_quotes(value: str) -> bool:
    """go-yaml v3 quotes a string that a reader would take for another type."""
    if value == "" or _OLD_BOOL.match(value) or _BASE60.match(value):
        return True
    for pattern in (_BOOL, _NULL, _INT, _FLOAT):
        if pattern.match(value):
            return True
    return value in ("<<", "=") or (value[0] in "!&*%@`|>'\"#[]{},?:-" and not value[1:2].isalnum())


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if _needs_quotes(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _none(dumper: yaml.SafeDumper, value: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "null")


_Dumper.add_representer(str, _str)
_Dumper.add_representer(type(None), _none)


def _file_modes(model: dict[str, Any]) -> dict[str, Any]:
    """compose-go (v2.10+) writes a secret's or config's ``mode`` as an octal string
    (FileMode's marshallers: ``"0440"``)."""
    services = model.get("services")
    if not isinstance(services, dict):
        return model
    changed: dict[str, Any] = {}
    for name, service in services.items():
        fixed = dict(service)
        for key in ("secrets", "configs"):
            if isinstance(service.get(key), list):
                fixed[key] = [
                    {**item, "mode": "0" + format(item["mode"], "o")}
                    if isinstance(item, dict) and isinstance(item.get("mode"), int)
                    else item
                    for item in service[key]
                ]
        changed[name] = fixed
    return {**model, "services": changed}


def to_yaml(model: dict[str, Any]) -> str:
    return yaml.dump(
        _file_modes(model),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,
        indent=2,
    )


def to_json(model: dict[str, Any]) -> str:
    """JSON as compose-go's ``json.MarshalIndent``: ``command``/``entrypoint`` are always
    present (null when unset)."""
    data = _file_modes(model)
    services = {}
    for name, service in (data.get("services") or {}).items():
        s = dict(service)
        for key in ("command", "entrypoint"):
            s.setdefault(key, None)
        services[name] = {k: s[k] for k in [*SERVICE, *s] if k in s}
        services[name] = dict(sorted(services[name].items(), key=lambda kv: _json_rank(kv[0])))
    if services:
        data["services"] = services
    return json.dumps(data, indent=2, ensure_ascii=False)


def _json_rank(key: str) -> int:
    try:
        return SERVICE.index(key)
    except ValueError:
        return len(SERVICE) + (1 if key.startswith("x-") else 0)


_ = BUILD
