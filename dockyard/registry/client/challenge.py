"""``WWW-Authenticate`` challenges (RFC 7235), as registries send them.

``Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="…"``
or ``Basic realm="basic-realm"``; several challenges may share one header.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "bearer", "basic"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def _skip_space(s: str, i: int) -> int:
    while i < len(s) and s[i] in " \t":
        i += 1
    return i


def _token(s: str, i: int) -> tuple[str, int]:
    start = i
    while i < len(s) and s[i] not in ' \t,="':
        i += 1
    return s[start:i], i


def _quoted(s: str, i: int) -> tuple[str, int]:
    """A quoted-string starting at ``s[i] == '"'``; returns (value, index after it)."""
    out: list[str] = []
    i += 1
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    return "".join(out), i


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge in one header value; malformed tails are ignored, as Go's parser does."""
    challenges: list[Challenge] = []
    i = 0
    s = header
    while i < len(s):
        i = _skip_space(s, i)
        scheme, i = _token(s, i)
        if not scheme:
            i += 1
            continue
        params: dict[str, str] = {}
        while True:
            i = _skip_space(s, i)
            start = i
            key, j = _token(s, i)
            j = _skip_space(s, j)
            if not key or j >= len(s) or s[j] != "=":
                i = start
                break
            j = _skip_space(s, j + 1)
            if j < len(s) and s[j] == '"':
                value, j = _quoted(s, j)
            else:
                value, j = _token(s, j)
            params[key.lower()] = value
            j = _skip_space(s, j)
            i = j
            if i < len(s) and s[i] == ",":
                i += 1
                continue
            break
        challenges.append(Challenge(scheme.lower(), params))
        i = _skip_space(s, i)
        if i < len(s) and s[i] == ",":
            i += 1
    return challenges


def parse_challenge_headers(values: list[str]) -> list[Challenge]:
    result: list[Challenge] = []
    for value in values:
        result.extend(parse_challenges(value))
    return result
