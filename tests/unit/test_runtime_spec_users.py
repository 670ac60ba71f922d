"""User resolution; cases follow moby/sys/user's GetExecUser and GetAdditionalGroups tests."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.spec.users import (
    get_additional_groups,
    get_exec_user,
    resolve_process_user,
)

PASSWD = """\
root:x:0:0:root user:/root:/bin/bash
adm:x:42:43:adm:/var/adm:/bin/false
111:x:222:333::/var/garbage
odd:x:111:112::/home/odd:::::
user7456:x:7456:100:Vasya:/home/user7456
this is just some garbage data
"""

GROUP = """\
# comment line
root:x:0:root
adm:x:43:
grp:x:1234:root,adm
grp:x:2345:root
444:x:555:111
odd:x:444:
anothergrp:x:6780:user7456
"""


@pytest.mark.parametrize(
    ("spec", "uid", "gid", "sgids", "home"),
    [
        ("", 0, 0, (0, 1234, 2345), "/root"),
        ("root", 0, 0, (0, 1234, 2345), "/root"),
        ("0", 0, 0, (0, 1234, 2345), "/root"),
        ("adm", 42, 43, (1234,), "/var/adm"),
        ("42", 42, 43, (1234,), "/var/adm"),
        ("adm:1234", 42, 1234, (), "/var/adm"),
        ("42:1234", 42, 1234, (), "/var/adm"),
        ("adm:grp", 42, 1234, (), "/var/adm"),
        ("root:adm", 0, 43, (), "/root"),
        ("odd", 111, 112, (), "/home/odd"),
        ("odd:odd", 111, 444, (), "/home/odd"),
        # A numeric user name is always treated as a uid.
        ("111", 111, 112, (), "/home/odd"),
        ("111:444", 111, 444, (), "/home/odd"),  # gid 444, not the group named "444"
        # Numeric ids missing from the files are allowed.
        ("1000", 1000, 0, (), ""),
        ("1000:1000", 1000, 1000, (), ""),
        ("user7456", 7456, 100, (6780,), "/home/user7456"),
    ],
)
def test_exec_user(spec: str, uid: int, gid: int, sgids: tuple[int, ...], home: str) -> None:
    eu = get_exec_user(spec, PASSWD, GROUP)
    assert (eu.uid, eu.gid, eu.additional_gids, eu.home) == (uid, gid, sgids, home)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("notauser", "unable to find user notauser: no matching entries in passwd file"),
        ("root:notagroup", "unable to find group notagroup: no matching entries in group file"),
        ("-5", "uids and gids must be in range 0-2147483647"),
        ("0:-3", "uids and gids must be in range 0-2147483647"),
        ("2147483648", "uids and gids must be in range 0-2147483647"),
    ],
)
def test_exec_user_errors(spec: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        get_exec_user(spec, PASSWD, GROUP)
    assert str(e.value) == message


def test_missing_files_allow_numeric_ids_only() -> None:
    eu = get_exec_user("", None, None)
    assert (eu.uid, eu.gid, eu.additional_gids, eu.home) == (0, 0, (), "")
    eu = get_exec_user("1000:1000", None, None)
    assert (eu.uid, eu.gid) == (1000, 1000)
    with pytest.raises(InvalidArgument, match="unable to find user nobody"):
        get_exec_user("nobody", None, None)
    with pytest.raises(InvalidArgument, match="unable to find group staff"):
        get_exec_user("0:staff", None, None)


def test_go_style_numbers() -> None:
    assert get_exec_user("+42", PASSWD, GROUP).uid == 42
    with pytest.raises(InvalidArgument, match="unable to find user 4 2"):
        get_exec_user("4 2", PASSWD, GROUP)


def test_additional_groups() -> None:
    assert get_additional_groups(["adm", "6780"], GROUP) == [43, 6780]
    assert get_additional_groups(["grp"], GROUP) == [1234]  # first match wins
    assert get_additional_groups(["9999"], GROUP) == [9999]
    assert get_additional_groups(["9999"], None) == [9999]
    with pytest.raises(InvalidArgument) as e:
        get_additional_groups(["nogroup"], GROUP)
    assert str(e.value) == "Unable to find group nogroup: no matching entries in group file"
    with pytest.raises(InvalidArgument, match="range"):
        get_additional_groups(["-1"], GROUP)


def test_process_user_matches_dockers_additional_gids() -> None:
    # moby's getUser: primary gid first, then /etc/group membership, then --group-add.
    user, home = resolve_process_user("adm", ["anothergrp", "7"], PASSWD, GROUP)
    assert user == {"uid": 42, "gid": 43, "additionalGids": [43, 1234, 6780, 7]}
    assert home == "/var/adm"
    user, home = resolve_process_user("1000", [], PASSWD, GROUP)
    assert user == {"uid": 1000, "gid": 0, "additionalGids": [0]}
    assert home == "/"
