"""``--security-opt`` parsing (moby's ``parseSecurityOpt``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import NamedTuple

from dockyard.errors import InvalidArgument

SECCOMP_UNCONFINED = "unconfined"
SECCOMP_BUILTIN = "builtin"

_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


class SecurityOptions(NamedTuple):
    no_new_privileges: bool = False
    seccomp_profile: str = ""  # "", "unconfined", "builtin" or a JSON profile
    apparmor_profile: str = ""
    label_opts: tuple[str, ...] = ()
    writable_cgroups: bool | None = None
    unconfined_systempaths: bool = False


def _parse_bool(v: str, opt: str) -> bool:
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise InvalidArgument(f"invalid --security-opt 2: {_quote(opt)}")


def _quote(s: str) -> str:
    """Go's ``%q`` for printable text."""
    return json.dumps(s, ensure_ascii=False)


def parse_security_opts(opts: Sequence[str] | None) -> SecurityOptions:
    """Parse ``HostConfig.SecurityOpt``.

    ``systempaths=unconfined`` is a Docker CLI option (it clears MaskedPaths and
    ReadonlyPaths); accepted here too so API callers can pass it through.
    """
    nnp = False
    seccomp = ""
    apparmor = ""
    labels: list[str] = []
    writable: bool | None = None
    systempaths = False
    for opt in opts or ():
        if opt == "no-new-privileges":
            nnp = True
            continue
        if opt == "writable-cgroups":
            writable = True
            continue
        if opt == "disable":
            labels.append("disable")
            continue
        if "=" in opt:
            k, _, v = opt.partition("=")
        elif ":" in opt:
            k, _, v = opt.partition(":")
        else:
            raise InvalidArgument(f"invalid --security-opt 1: {_quote(opt)}")
        if k == "label":
            labels.append(v)
        elif k == "apparmor":
            apparmor = v
        elif k == "seccomp":
            seccomp = v
        elif k == "no-new-privileges":
            nnp = _parse_bool(v, opt)
        elif k == "writable-cgroups":
            writable = _parse_bool(v, opt)
        elif k == "systempaths" and v == "unconfined":
            systempaths = True
        else:
            raise InvalidArgument(f"invalid --security-opt 2: {_quote(opt)}")
    return SecurityOptions(nnp, seccomp, apparmor, tuple(labels), writable, systempaths)
