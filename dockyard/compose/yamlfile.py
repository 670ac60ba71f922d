"""YAML as Docker Compose reads it (go-yaml v3 rules).

PyYAML speaks YAML 1.1: ``yes``/``on`` are booleans, ``8000:80`` is a base-60 number
and ``2001-01-01`` a date. go-yaml v3 decoding into ``any`` keeps all of those as
strings, and so must we or ``ports: [80:80]`` and ``environment: {DEBUG: yes}`` would
change meaning. Duplicate keys are an error (as in go-yaml); merge keys (``<<``) and
anchors work; the ``!reset`` and ``!override`` tags of the merge chapter are kept as
markers for :mod:`dockyard.compose.merge`.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dockyard.compose.errors import ComposeError


class Reset:
    """A value tagged ``!reset``: the merge removes the key."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Reset()"


class Override:
    """A value tagged ``!override``: the merge replaces instead of merging."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Override({self.value!r})"


_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT = re.compile(r"^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class ComposeLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars and duplicate-key detection."""


ComposeLoader.yaml_implicit_resolvers = {}


for _first in "tTfF":
    ComposeLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, [_first])
ComposeLoader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
ComposeLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
ComposeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
ComposeLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


def _int(loader: ComposeLoader, node: ScalarNode) -> int | float:
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    lower = digits.lower()
    if lower.startswith("0x"):
        return sign * int(lower[2:], 16)
    if lower.startswith("0o"):
        return sign * int(lower[2:], 8)
    if lower.startswith("0b"):
        return sign * int(lower[2:], 2)
    if len(digits) > 1 and digits.startswith("0"):
        # Go's ParseInt(base 0) reads 0777 as octal; 08 is not octal and becomes a float
        try:
            return sign * int(digits, 8)
        except ValueError:
            return float(text)
    return sign * int(digits)


def _float(loader: ComposeLoader, node: ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith("inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text.endswith("nan"):
        return float("nan")
    return float(text)


def _timestamp_as_string(loader: ComposeLoader, node: ScalarNode) -> str:
    return str(loader.construct_scalar(node))


def _reset(loader: ComposeLoader, node: Node) -> Reset:
    return Reset()


def _override(loader: ComposeLoader, node: Node) -> Override:
    if isinstance(node, MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    assert isinstance(node, ScalarNode)
    return Override(loader.construct_scalar(node))


def _mapping(loader: ComposeLoader, node: MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise ConstructorError(
                None, None, "found unhashable key", key_node.start_mark
            ) from None
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ComposeError(
                f"yaml: unmarshal errors:\n  line {line}: mapping key {_go_quote(key)} "
                f"already defined at line {seen[key]}"
            )
        seen[key] = line
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
    return result


def _go_quote(value: Any) -> str:
    import json

    return json.dumps(str(value))


ComposeLoader.add_constructor("tag:yaml.org,2002:int", _int)
ComposeLoader.add_constructor("tag:yaml.org,2002:float", _float)
ComposeLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_string)
ComposeLoader.add_constructor("tag:yaml.org,2002:map", _mapping)
ComposeLoader.add_constructor("!reset", _reset)
ComposeLoader.add_constructor("!override", _override)


def parse_documents(text: str, filename: str) -> list[Any]:
    """Every YAML document in ``text``; errors name the file and the line."""
    try:
        return [doc for doc in yaml.load_all(text, Loader=ComposeLoader)]
    except ComposeError as exc:
        raise ComposeError(f"parsing {filename}: {exc.message}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ComposeError(f"parsing {filename}: yaml: {line}{problem}") from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"parsing {filename}: yaml: {exc}") from None
