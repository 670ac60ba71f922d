"""A small structural type checker: the building blocks of :mod:`dockyard.compose.schema`.

Node kinds mirror what a compose file needs: scalar types, objects with named, pattern
and extension (``x-``) keys, arrays (optionally of unique items), one-of alternatives,
enums and patterns. Errors read like Docker Compose's schema errors:
``services.web Additional property foo is not allowed``, ``services.web.ports.0 must be
a string`` (path, then what is wrong).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class SchemaViolation(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '(root)'} {message}")
        self.path = path or "(root)"
        self.message = message


_TYPE_NAMES = {"object": "mapping", "array": "list"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if math.isfinite(value) and value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _matches_type(value: Any, wanted: str) -> bool:
    actual = _json_type(value)
    return actual == wanted or (wanted == "number" and actual == "integer")


def human_types(types: Sequence[str]) -> str:
    names = [_TYPE_NAMES.get(t, t) for t in types]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _search(pattern: str, text: str) -> bool:
    """ECMA-style ``pattern`` search: a final ``$`` does not match before a newline."""
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        source = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
        compiled = _PATTERNS[pattern] = re.compile(source)
    return compiled.search(text) is not None


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


class Node:
    def check(self, value: Any, path: str) -> None:
        raise NotImplementedError

    def accepts(self, value: Any) -> bool:
        try:
            self.check(value, "")
        except SchemaViolation:
            return False
        return True


class AnyValue(Node):
    def check(self, value: Any, path: str) -> None:
        return None


@dataclass
class Scalar(Node):
    """Values of the given JSON types; constraints apply to values of a matching type."""

    types: tuple[str, ...]
    enum: tuple[Any, ...] = ()
    pattern: str = ""
    minimum: float | None = None
    maximum: float | None = None

    def check(self, value: Any, path: str) -> None:
        if not any(_matches_type(value, t) for t in self.types):
            raise SchemaViolation(path, f"must be a {human_types(self.types)}")
        if self.enum and value not in self.enum:
            allowed = ", ".join(json.dumps(v) for v in self.enum)
            raise SchemaViolation(path, f"must be one of the following: {allowed}")
        if self.pattern and isinstance(value, str) and not _search(self.pattern, value):
            raise SchemaViolation(path, f"Does not match pattern '{self.pattern}'")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                raise SchemaViolation(path, f"Must be greater than or equal to {self.minimum:g}")
            if self.maximum is not None and value > self.maximum:
                raise SchemaViolation(path, f"Must be less than or equal to {self.maximum:g}")


def _unique_key(value: Any) -> str:
    def norm(v: Any) -> Any:
        if isinstance(v, bool):
            return ["bool", v]
        if isinstance(v, int | float):
            return ["num", float(v)]
        if isinstance(v, dict):
            return {str(k): norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v

    return json.dumps(norm(value), sort_keys=True)


@dataclass
class Array(Node):
    items: Node = field(default_factory=AnyValue)
    unique: bool = False
    also_null: bool = False

    def check(self, value: Any, path: str) -> None:
        if value is None and self.also_null:
            return
        if not isinstance(value, list):
            raise SchemaViolation(path, "must be a list")
        for index, item in enumerate(value):
            self.items.check(item, _join(path, index))
        if self.unique:
            seen: set[str] = set()
            for item in value:
                key = _unique_key(item)
                if key in seen:
                    raise SchemaViolation(path, "array items must be unique")
                seen.add(key)


@dataclass
class Object(Node):
    """A mapping. ``extra`` governs keys that are neither named nor match a pattern:
    ``None`` allows anything, ``False`` rejects them, a Node checks their values.
    ``x`` adds the ``^x-`` extension pattern."""

    props: dict[str, Node] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    patterns: tuple[tuple[str, Node], ...] = ()
    extra: Node | bool | None = False
    x: bool = True
    also: tuple[str, ...] = ()  # other JSON types accepted as they are (e.g. "null")

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            if _json_type(value) in self.also:
                return
            raise SchemaViolation(path, f"must be a {human_types(('object', *self.also))}")
        for name in self.required:
            if name not in value:
                raise SchemaViolation(path, f"{name} is required")
        for key, item in value.items():
            key = str(key)
            child = _join(path, key)
            known = False
            node = self.props.get(key)
            if node is not None:
                known = True
                node.check(item, child)
            for pattern, pnode in self.patterns:
                if _search(pattern, key):
                    known = True
                    pnode.check(item, child)
            if self.x and key.startswith("x-"):
                known = True
            if known:
                continue
            if self.extra is False:
                raise SchemaViolation(path, f"Additional property {key} is not allowed")
            if isinstance(self.extra, Node):
                self.extra.check(item, child)


class OneOf(Node):
    """Exactly one alternative must accept the value."""

    def __init__(self, *options: Node) -> None:
        self.options = options

    def check(self, value: Any, path: str) -> None:
        errors: list[SchemaViolation] = []
        passed = 0
        for option in self.options:
            try:
                option.check(value, path)
                passed += 1
            except SchemaViolation as exc:
                errors.append(exc)
        if passed == 1:
            return
        if passed > 1:
            raise SchemaViolation(path, "must validate one and only one schema (oneOf)")
        # report the error of the alternative that got furthest into the value
        here = path or "(root)"

        def progress(e: SchemaViolation) -> tuple[int, int]:
            return (len(e.path) if e.path != here else 0, not e.message.startswith("must be a"))

        deepest = max(errors, key=progress)
        if deepest.path == here and deepest.message.startswith("must be a"):
            wanted = [_alt_types(o) for o in self.options]
            flat = [t for group in wanted for t in group]
            raise SchemaViolation(path, f"must be a {human_types(_dedupe(flat))}")
        raise deepest


def _dedupe(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _alt_types(node: Node) -> list[str]:
    if isinstance(node, Scalar):
        return list(node.types)
    if isinstance(node, Array):
        return ["array"]
    if isinstance(node, Object):
        return ["object", *node.also]
    if isinstance(node, OneOf):
        return [t for o in node.options for t in _alt_types(o)]
    return []
