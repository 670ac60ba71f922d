"""``--change`` / ``-c`` for import and commit: Dockerfile instructions applied to a config.

Docker accepts CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD,
STOPSIGNAL, USER, VOLUME and WORKDIR here, with the Dockerfile's JSON and
shell forms, and answers ``X is not a valid change command`` for anything else.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from dockyard.errors import InvalidArgument

VALID = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "HEALTHCHECK",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
)


def empty_container_config() -> dict[str, Any]:
    """Docker's container config with every field at its zero value."""
    return {
        "Hostname": "",
        "Domainname": "",
        "User": "",
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
        "Tty": False,
        "OpenStdin": False,
        "StdinOnce": False,
        "Env": None,
        "Cmd": None,
        "Image": "",
        "Volumes": None,
        "WorkingDir": "",
        "Entrypoint": None,
        "OnBuild": None,
        "Labels": None,
    }


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """Apply each change line to a copy of ``config`` (a container config dict)."""
    result = dict(config)
    for line in changes:
        line = line.strip()
        if not line:
            continue
        word, _, rest = line.partition(" ")
        if "\t" in word:
            word, _, more = word.partition("\t")
            rest = more + " " + rest
        instruction = word.upper()
        rest = rest.strip()
        if instruction not in VALID:
            raise InvalidArgument(f"{word.lower()} is not a valid change command")
        _APPLY[instruction](result, rest)
    return result


def _json_or_shell(rest: str) -> list[str]:
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", rest]


def _json_or_words(rest: str) -> list[str]:
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return rest.split()


def _pairs(rest: str, instruction: str) -> list[tuple[str, str]]:
    """``k=v k2="v 2"`` pairs, or the legacy ``k v`` single pair."""
    words = shlex.split(rest, posix=True) if rest else []
    if not words:
        raise InvalidArgument(f"{instruction} requires at least one argument")
    if "=" not in words[0]:
        key, _, value = rest.partition(" ")
        if not value.strip():
            raise InvalidArgument(f"{instruction} names can not be blank")
        return [(key, value.strip())]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise InvalidArgument(
                f'Syntax error - can\'t find = in "{word}". Must be of the form: name=value'
            )
        pairs.append((key, value))
    return pairs


def _cmd(c: dict[str, Any], rest: str) -> None:
    c["Cmd"] = _json_or_shell(rest)


def _entrypoint(c: dict[str, Any], rest: str) -> None:
    c["Entrypoint"] = _json_or_shell(rest)


def _env(c: dict[str, Any], rest: str) -> None:
    env = list(c.get("Env") or [])
    for key, value in _pairs(rest, "ENV"):
        env = [e for e in env if e.partition("=")[0] != key]
        env.append(f"{key}={value}")
    c["Env"] = env


def _label(c: dict[str, Any], rest: str) -> None:
    labels = dict(c.get("Labels") or {})
    labels.update(_pairs(rest, "LABEL"))
    c["Labels"] = labels


def _expose(c: dict[str, Any], rest: str) -> None:
    ports = dict(c.get("ExposedPorts") or {})
    for word in rest.split():
        port, _, proto = word.partition("/")
        if not port.split("-")[0].isdigit():
            raise InvalidArgument(f"invalid containerPort: {port}")
        ports[f"{port}/{(proto or 'tcp').lower()}"] = {}
    c["ExposedPorts"] = ports


def _user(c: dict[str, Any], rest: str) -> None:
    c["User"] = rest


def _workdir(c: dict[str, Any], rest: str) -> None:
    import posixpath

    current = c.get("WorkingDir") or "/"
    c["WorkingDir"] = posixpath.normpath(posixpath.join(current, rest))


def _volume(c: dict[str, Any], rest: str) -> None:
    volumes = dict(c.get("Volumes") or {})
    for path in _json_or_words(rest):
        volumes[path] = {}
    c["Volumes"] = volumes


def _onbuild(c: dict[str, Any], rest: str) -> None:
    word = rest.split(" ", 1)[0].upper()
    if word in ("ONBUILD", "FROM", "MAINTAINER"):
        raise InvalidArgument(f"{word} isn't allowed as an ONBUILD trigger")
    c["OnBuild"] = [*(c.get("OnBuild") or []), rest]


def _stopsignal(c: dict[str, Any], rest: str) -> None:
    c["StopSignal"] = rest


def _healthcheck(c: dict[str, Any], rest: str) -> None:
    words = rest.split()
    if words and words[0].upper() == "NONE":
        c["Healthcheck"] = {"Test": ["NONE"]}
        return
    from dockyard.timeutil import parse_go_duration

    check: dict[str, Any] = {}
    names = {
        "--interval": "Interval",
        "--timeout": "Timeout",
        "--start-period": "StartPeriod",
        "--start-interval": "StartInterval",
    }
    while words and words[0].startswith("--"):
        flag, _, value = words.pop(0).partition("=")
        if flag in names:
            check[names[flag]] = int(parse_go_duration(value) * 1e9)
        elif flag == "--retries":
            check["Retries"] = int(value)
        else:
            raise InvalidArgument(f"Unknown flag: {flag.lstrip('-')}")
    if not words or words[0].upper() != "CMD":
        raise InvalidArgument('Unknown type "" in HEALTHCHECK (try CMD)')
    command = rest[rest.upper().index("CMD") + 3 :].strip()
    parsed = _json_or_shell(command)
    check["Test"] = ["CMD", *parsed] if command.startswith("[") else ["CMD-SHELL", command]
    c["Healthcheck"] = check


_APPLY = {
    "CMD": _cmd,
    "ENTRYPOINT": _entrypoint,
    "ENV": _env,
    "EXPOSE": _expose,
    "HEALTHCHECK": _healthcheck,
    "LABEL": _label,
    "ONBUILD": _onbuild,
    "STOPSIGNAL": _stopsignal,
    "USER": _user,
    "VOLUME": _volume,
    "WORKDIR": _workdir,
}
