"""``.env`` files as Docker Compose reads them: ``KEY=VALUE`` lines, ``export``
prefixes, ``#`` comments, single quotes (literal), double quotes (escapes, ``${VAR}``
expansion), unquoted values (trimmed, `` #`` comment stripped, expanded)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from dockyard.compose.errors import ComposeError
from dockyard.compose.template import InvalidTemplate, substitute

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-\[\]]*$")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}


def parse_env_file(
    text: str, filename: str, lookup: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables in ``text``; ``${VAR}`` in values is expanded from ``lookup``
    (the OS environment), then from the variables defined above it."""
    result: dict[str, str] = {}
    outer = lookup or {}

    def get(name: str) -> str | None:
        # compose-go's dotenv asks the lookup first, then what the file set above
        found = outer.get(name)
        if found is not None:
            return found
        return result.get(name)

    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = _split_assignment(line)
        if not sep:
            # a bare name takes its value from the environment, if any
            if not _KEY.match(key):
                raise ComposeError(
                    f"failed to read {filename}: line {i}: unexpected character "
                    f"{_first_bad(key)!r} in variable name {key!r}"
                )
            found = outer.get(key)
            if found is not None:
                result[key] = found
            continue
        key = key.strip()
        if not _KEY.match(key):
            raise ComposeError(
                f"failed to read {filename}: line {i}: unexpected character "
                f"{_first_bad(key)!r} in variable name {key!r}"
            )
        value = value.lstrip()
        if value[:1] in ("'", '"'):
            quote = value[0]
            body = value[1:]
            while _closing_quote(body, quote) < 0 and i < len(lines):
                body += "\n" + lines[i]
                i += 1
            end = _closing_quote(body, quote)
            if end < 0:
                raise ComposeError(
                    f"failed to read {filename}: line {i}: unterminated quoted value"
                )
            body = body[:end]
            if quote == "'":
                result[key] = body
            else:
                result[key] = _expand(_unescape(body), get)
            continue
        comment = value.find(" #")
        if comment >= 0:
            value = value[:comment]
        result[key] = _expand(value.strip(), get)
    return result


_LENIENT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def _expand(value: str, get: Callable[[str], str | None]) -> str:
    """Expand variables like Compose's dotenv reader: full templates where they parse,
    otherwise only plain ``$NAME``/``${NAME}`` (a stray ``$`` is kept, as in
    ``PASSWORD=pa$1``)."""
    try:
        return substitute(value, get)
    except InvalidTemplate:
        return _LENIENT.sub(lambda m: get(m.group(1) or m.group(2)) or "", value)


def _split_assignment(line: str) -> tuple[str, str, str]:
    eq = line.find("=")
    colon = line.find(":")
    if colon >= 0 and (eq < 0 or colon < eq) and line[colon + 1 : colon + 2] in (" ", ""):
        return line[:colon], ":", line[colon + 1 :]
    return line.partition("=")


def _first_bad(key: str) -> str:
    for ch in key:
        if not (ch.isalnum() or ch in "_.-[]"):
            return ch
    return key[:1]


def _closing_quote(body: str, quote: str) -> int:
    i = 0
    while i < len(body):
        if body[i] == "\\" and quote == '"':
            i += 2
            continue
        if body[i] == quote:
            return i
        i += 1
    return -1


def _unescape(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "$":
                out.append("$$")
            else:
                out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def read_env_file(path: str, lookup: Mapping[str, str] | None = None) -> dict[str, str]:
    with open(path, encoding="utf-8") as handle:
        return parse_env_file(handle.read(), path, lookup)


def parse_raw_env_file(
    text: str, filename: str, lookup: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``format: raw``: the lines as ``docker run --env-file`` reads them (docker/cli's
    kvfile, which Compose registers as the raw format): no quotes, no expansion,
    trailing blanks kept; a bare name takes its value from ``lookup`` if set there."""
    result: dict[str, str] = {}
    outer = lookup or {}
    for line in text.removeprefix("\ufeff").split("\n"):
        line = line.removesuffix("\r").lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not key:
            raise ComposeError(
                f"failed to parse env_file {filename}: no variable name on line '{line}'"
            )
        if " " in key or "\t" in key:
            raise ComposeError(
                f"failed to parse env_file {filename}: variable '{key}' contains whitespaces"
            )
        if sep:
            result[key] = value
            continue
        found = outer.get(key)
        if found is not None:
            result[key] = found
    return result


def read_env_file_format(
    path: str, env_format: str | None, lookup: Mapping[str, str] | None = None
) -> dict[str, str]:
    """An ``env_file`` entry in its ``format`` (the default dotenv, or ``raw``)."""
    if env_format in (None, "", ".env"):
        return read_env_file(path, lookup)
    if env_format != "raw":
        raise ComposeError(f'unsupported env_file format "{env_format}"')
    with open(path, encoding="utf-8") as handle:
        return parse_raw_env_file(handle.read(), path, lookup)
