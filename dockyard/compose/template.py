"""Variable substitution in compose values: ``$V``, ``${V}``, ``${V:-d}``, ``${V-d}``,
``${V:?e}``, ``${V?e}``, ``${V:+r}``, ``${V+r}`` and ``$$``, with nested templates in
the default, error and replacement parts (as compose-go's template package).

A ``$`` followed by anything else is an invalid template, as in Docker Compose.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable

from dockyard.compose.errors import ComposeError

Lookup = Callable[[str], "str | None"]

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InvalidTemplate(ComposeError):
    def __init__(self, template: str) -> None:
        super().__init__(f"Invalid template: {json.dumps(template)}")
        self.template = template


class MissingRequired(ComposeError):
    def __init__(self, variable: str, reason: str) -> None:
        text = f"required variable {variable} is missing a value"
        super().__init__(f"{text}: {reason}" if reason else text)
        self.variable = variable


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``${`` at ``start`` (``${`` nests, any ``}`` closes)."""
    depth = 0
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def substitute(template: str, lookup: Lookup, unset: list[str] | None = None) -> str:
    """``template`` with its variables replaced; names of unset plain variables are
    appended to ``unset`` (Compose warns about them and uses an empty string)."""
    if "$" not in template:
        return template
    out: list[str] = []
    i = 0
    length = len(template)
    while i < length:
        dollar = template.find("$", i)
        if dollar < 0:
            out.append(template[i:])
            break
        out.append(template[i:dollar])
        nxt = template[dollar + 1 : dollar + 2]
        if nxt == "$":
            out.append("$")
            i = dollar + 2
            continue
        if nxt == "{":
            end = _closing_brace(template, dollar)
            if end < 0:
                raise InvalidTemplate(template)
            out.append(_braced(template[dollar + 2 : end], template, lookup, unset))
            i = end + 1
            continue
        match = _NAME.match(template, dollar + 1)
        if match is None:
            raise InvalidTemplate(template)
        out.append(_plain(match.group(), lookup, unset))
        i = match.end()
    return "".join(out)


def _plain(name: str, lookup: Lookup, unset: list[str] | None) -> str:
    value = lookup(name)
    if value is None:
        if unset is not None:
            unset.append(name)
        return ""
    return value


def _braced(body: str, template: str, lookup: Lookup, unset: list[str] | None) -> str:
    match = _NAME.match(body)
    if match is None:
        raise InvalidTemplate(template)
    name = match.group()
    rest = body[match.end() :]
    if not rest:
        return _plain(name, lookup, unset)
    operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
    if operator is None:
        raise InvalidTemplate(template)
    argument = substitute(rest[len(operator) :], lookup, unset)
    value = lookup(name)
    if operator == ":-":
        return value if value else argument
    if operator == "-":
        return argument if value is None else value
    if operator == ":+":
        return argument if value else ""
    if operator == "+":
        return argument if value is not None else ""
    if (operator == ":?" and not value) or (operator == "?" and value is None):
        raise MissingRequired(name, argument)
    assert value is not None
    return value


def variables(template: str) -> list[str]:
    """Names a template refers to (used by ``config --variables``-style listings)."""
    names: list[str] = []

    def record(name: str) -> str | None:
        names.append(name)
        return "x"

    with contextlib.suppress(ComposeError):
        substitute(template, record)
    return names
