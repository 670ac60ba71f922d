"""``--user`` and ``--group-add`` resolved against the image's /etc/passwd and /etc/group.

A port of ``github.com/moby/sys/user`` (``GetExecUser``, ``GetAdditionalGroups``),
which Docker uses: numeric ids need no entry, names must exist, the first
matching line wins, and supplementary groups come from /etc/group membership
only when no group was given explicitly. Missing files (None) are not errors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from dockyard.errors import InvalidArgument

_MAX_ID = 2**31 - 1
_RANGE_ERROR = f"uids and gids must be in range 0-{_MAX_ID}"
_GO_INT = re.compile(r"[+-]?[0-9]+")
_NO_PASSWD = "no matching entries in passwd file"
_NO_GROUP = "no matching entries in group file"


class ExecUser(NamedTuple):
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


class _PasswdEntry(NamedTuple):
    name: str
    uid: int
    gid: int
    home: str


class _GroupEntry(NamedTuple):
    name: str
    gid: int
    members: tuple[str, ...]


def _atoi(s: str) -> int | None:
    """Go's ``strconv.Atoi``: optional sign and decimal digits, 64-bit range."""
    if not _GO_INT.fullmatch(s):
        return None
    n = int(s)
    return n if -(2**63) <= n < 2**63 else None


def _field_int(s: str) -> int:
    n = _atoi(s)
    return 0 if n is None else n


def _parse_passwd(text: str) -> list[_PasswdEntry]:
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        parts = line.split(":")
        parts += [""] * (7 - len(parts))
        out.append(_PasswdEntry(parts[0], _field_int(parts[2]), _field_int(parts[3]), parts[5]))
    return out


def _parse_group(text: str) -> list[_GroupEntry]:
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        parts += [""] * (4 - len(parts))
        members = tuple(parts[3].split(",")) if parts[3] else ()
        out.append(_GroupEntry(parts[0], _field_int(parts[2]), members))
    return out


def _check_range(n: int) -> int:
    if n < 0 or n > _MAX_ID:
        raise InvalidArgument(_RANGE_ERROR)
    return n


def get_exec_user(spec: str, passwd: str | None, group: str | None) -> ExecUser:
    """Resolve a ``user[:group]`` spec; ``additional_gids`` are the supplementary groups."""
    parts = spec.split(":")
    user_arg = parts[0]
    group_arg = parts[1] if len(parts) > 1 else ""
    uid_arg = _atoi(user_arg)
    gid_arg = _atoi(group_arg)

    uid, gid, home = 0, 0, ""
    sgids: tuple[int, ...] = ()
    users = _parse_passwd(passwd) if passwd is not None else []
    if user_arg == "":
        match = [u for u in users if u.uid == 0]
    elif uid_arg is not None:
        match = [u for u in users if u.uid == uid_arg]
    else:
        match = [u for u in users if u.name == user_arg]

    matched_name = ""
    if match:
        matched_name = match[0].name
        uid, gid, home = match[0].uid, match[0].gid, match[0].home
    elif user_arg != "":
        if uid_arg is None:
            raise InvalidArgument(f"unable to find user {user_arg}: {_NO_PASSWD}")
        uid = _check_range(uid_arg)

    if group_arg != "" or matched_name != "":
        groups = _parse_group(group) if group is not None else []
        if group_arg == "":
            found = [g for g in groups if matched_name in g.members]
        elif gid_arg is not None:
            found = [g for g in groups if g.gid == gid_arg]
        else:
            found = [g for g in groups if g.name == group_arg]
        if group_arg != "":
            if found:
                gid = found[0].gid
            else:
                if gid_arg is None:
                    raise InvalidArgument(f"unable to find group {group_arg}: {_NO_GROUP}")
                gid = _check_range(gid_arg)
        elif found:
            sgids = tuple(g.gid for g in found)
    return ExecUser(uid, gid, sgids, home)


def get_additional_groups(names: Sequence[str], group: str | None) -> list[int]:
    """``--group-add`` values (names or numbers) as gids, without duplicates."""
    groups = _parse_group(group) if group is not None else []
    out: list[int] = []
    for ag in names:
        gid: int | None = None
        for g in groups:
            if (g.name == ag or str(g.gid) == ag) and g.gid not in out:
                gid = g.gid
                break
        if gid is None:
            n = _atoi(ag)
            if n is None:
                raise InvalidArgument(f"Unable to find group {ag}: {_NO_GROUP}")
            gid = _check_range(n)
        if gid not in out:
            out.append(gid)
    return out


def resolve_process_user(
    spec: str, group_add: Sequence[str], passwd: str | None, group: str | None
) -> tuple[dict[str, object], str]:
    """The OCI ``process.user`` object and the user's home directory.

    Like moby's ``getUser``: ``additionalGids`` is the primary gid, then the
    supplementary groups from /etc/group, then ``--group-add``.
    """
    eu = get_exec_user(spec, passwd, group)
    extra = get_additional_groups(group_add, group) if group_add else []
    gids = [eu.gid, *eu.additional_gids, *extra]
    user: dict[str, object] = {"uid": eu.uid, "gid": eu.gid, "additionalGids": gids}
    return user, eu.home or "/"
