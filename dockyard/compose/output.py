"""``docker compose config`` output: YAML as go-yaml v3 writes it (2-space indent,
sequences indented under their key, strings that would read back as another type
double-quoted) or indented JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from dockyard.compose.order import BUILD, NETWORK, SERVICE, ordered
from dockyard.compose.yamlfile import _BOOL, _FLOAT, _INT, _NULL

_OLD_BOOL = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?$"
)


def _needs_quotes(value: str) -> bool:
    """go-yaml double-quotes a string that a reader would take for another type."""
    if value == "" or _OLD_BOOL.match(value) or _BASE60.match(value):
        return True
    for pattern in (_BOOL, _NULL, _INT, _FLOAT, _TIMESTAMP):
        if pattern.match(value):
            return True
    return value == "<<"


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


# go-yaml writes "=" plain: it has no YAML 1.1 "value" type to confuse it with
_Dumper.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeDumper.yaml_implicit_resolvers.items()
}


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


def _file_modes(model: dict[str, Any], for_yaml: bool = False) -> dict[str, Any]:
    """compose-go (v2.10+) writes a secret's or config's ``mode`` as an octal string
    (FileMode's marshallers: ``"0440"``); ``config`` resolves the environment with
    its env_file list discarded; a bind's ``create_host_path`` is an opt-out bool
    marshalled ``omitzero``, so true is not written."""
    services = model.get("services")
    if not isinstance(services, dict):
        return model
    changed: dict[str, Any] = {}
    for name, service in services.items():
        fixed = _omit_empty(service)
        fixed.pop("env_file", None)
        if for_yaml and isinstance(service.get("ulimits"), dict):
            # UlimitsConfig.MarshalYAML: a single 0 is written as soft/hard
            fixed["ulimits"] = {
                k: {"soft": 0, "hard": 0} if v == 0 else v for k, v in service["ulimits"].items()
            }
        if isinstance(service.get("volumes"), list):
            fixed["volumes"] = [_without_opt_out(v) for v in service["volumes"]]
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


def _omit_empty(service: dict[str, Any]) -> dict[str, Any]:
    """ServiceConfig's ``omitempty`` scalars: false, 0 and "" are not written."""
    from dockyard.compose.confighash import SCALAR_KINDS, SERVICE, is_empty

    kinds = {name: kind for name, kind, omitempty in SERVICE if omitempty}
    return {
        key: value
        for key, value in service.items()
        if not (
            isinstance(kinds.get(key), str)
            and kinds[key] in SCALAR_KINDS
            and is_empty(kinds[key], value)
        )
    }


def _without_opt_out(volume: Any) -> Any:
    """A bind's opt-out ``create_host_path`` (true is not written); a tmpfs size is
    UnitBytes, written as a decimal string."""
    if not isinstance(volume, dict):
        return volume
    bind = volume.get("bind")
    if isinstance(bind, dict) and bind.get("create_host_path") is True:
        volume = {**volume, "bind": {k: v for k, v in bind.items() if k != "create_host_path"}}
    tmpfs = volume.get("tmpfs")
    if isinstance(tmpfs, dict) and "size" in tmpfs:
        from dockyard.compose.confighash import _bytes

        volume = {**volume, "tmpfs": {**tmpfs, "size": str(_bytes(tmpfs["size"]))}}
    return volume


def to_yaml(model: dict[str, Any]) -> str:
    return yaml.dump(
        _file_modes(model, for_yaml=True),
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
    networks = data.get("networks")
    if isinstance(networks, dict):
        # NetworkConfig.Ipam is a struct value: encoding/json always writes it
        data["networks"] = {
            name: ordered({"ipam": {}, **spec}, NETWORK) if isinstance(spec, dict) else spec
            for name, spec in networks.items()
        }
    # Project.MarshalJSON marshals a map: keys sorted, models left out
    top = {k: v for k, v in data.items() if k != "models"}
    text = json.dumps(dict(sorted(top.items())), indent=2, ensure_ascii=False)
    # encoding/json's HTML-safe escaping (these characters only occur in strings)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _json_rank(key: str) -> int:
    try:
        return SERVICE.index(key)
    except ValueError:
        return len(SERVICE) + (1 if key.startswith("x-") else 0)


_ = BUILD
