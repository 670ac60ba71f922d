"""The command line and environment, merged from the run config and the image config.

Follows moby's ``merge`` (create time) and ``CreateDaemonEnvironment`` (start time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.errors import InvalidArgument

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _strs(v: Any) -> list[str] | None:
    """A Go ``StrSlice``: None when absent, a string becomes a one-item list."""
    if v is None:
        return None
    if isinstance(v, str):
        return [v]
    return [str(x) for x in v]


def command(config: Mapping[str, Any], image: Mapping[str, Any]) -> list[str]:
    """Entrypoint + Cmd; the run's values win over the image's as ``docker run`` does.

    An explicitly empty entrypoint (``--entrypoint ""``, sent as ``[""]`` or
    ``[]``) drops the image's entrypoint; then the image's Cmd still applies
    unless the run gives one.
    """
    entrypoint = _strs(config.get("Entrypoint"))
    cmd = _strs(config.get("Cmd"))
    if not entrypoint:
        if not cmd:
            cmd = _strs(image.get("Cmd"))
        if entrypoint is None:
            entrypoint = _strs(image.get("Entrypoint"))
    if entrypoint == [""]:
        entrypoint = None
    args = [*(entrypoint or ()), *(cmd or ())]
    if not args:
        raise InvalidArgument("No command specified")
    return args


def merge_env(run_env: Sequence[str] | None, image_env: Sequence[str] | None) -> list[str]:
    """The run's Env followed by the image's entries whose keys it does not set."""
    run = list(run_env or ())
    if not run:
        return list(image_env or ())
    keys = {e.partition("=")[0] for e in run}
    return run + [e for e in image_env or () if e.partition("=")[0] not in keys]


def replace_or_append_env(defaults: list[str], overrides: Sequence[str]) -> list[str]:
    """moby's ``ReplaceOrAppendEnvValues``: a bare ``KEY`` (no ``=``) removes KEY."""
    out: list[str | None] = list(defaults)
    index = {e.partition("=")[0]: i for i, e in enumerate(defaults)}
    for value in overrides:
        key, eq, _ = value.partition("=")
        if not eq:
            if value in index:
                out[index[value]] = None
            continue
        if key in index:
            out[index[key]] = value
        else:
            out.append(value)
    return [e for e in out if e]


def environment(
    config: Mapping[str, Any], image: Mapping[str, Any], *, hostname: str, home: str | None
) -> list[str]:
    """PATH, HOSTNAME and (with a tty) TERM, overridden by the merged Env; then HOME.

    HOME is what runc adds when the environment lacks it (the user's home
    directory from /etc/passwd, else ``/``); writing it here keeps every runtime alike.
    """
    base = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"]
    if config.get("Tty"):
        base.append("TERM=xterm")
    env = replace_or_append_env(base, merge_env(config.get("Env"), image.get("Env")))
    if home is not None and not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={home}")
    return env
